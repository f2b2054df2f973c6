"""Every audit action has a label for the office's history."""


def test_every_audit_action_written_by_a_service_has_a_label_people_read():
    # The history on the office's application page shows AUDIT_LABELS; an action without a label
    # would show its raw code to staff in every language.
    import re
    from pathlib import Path

    from reviews.views.office_common import AUDIT_LABELS

    root = Path(__file__).resolve().parents[2]
    written = set()
    for app in ("reviews", "applications", "notices", "measures"):
        for path in (root / app).rglob("*.py"):
            written |= set(re.findall(r'audit\(action="([a-z_]+)"', path.read_text()))
    assert "approved" in written  # the scan finds what services write
    assert written - set(AUDIT_LABELS) == set()
