"""公示 (public notice): opening it on working days, signed objections, resolution, finalizing."""

import datetime
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from applications.models import Application, Status
from qianhai_grants.errors import DomainError
from reviews.models import Award, CalendarDay, ObjectionState, QuotaCounter
from reviews.services import decisions, publicity
from tests.factories import application_in
from tests.reviews.test_decisions import reviewed

CST = datetime.timezone(datetime.timedelta(hours=8))
SIGNED = {"name": "王小明", "organization": "深圳市某科技有限公司", "contact": "13800000000",
          "text": "该项目实际投资额与公开信息不符。"}


def at(year, month, day, hour=10):
    return datetime.datetime(year, month, day, hour, tzinfo=CST)


def refused(action) -> DomainError:
    with pytest.raises(DomainError) as caught:
        action()
    return caught.value


@pytest.fixture
def holidays(db):
    from reviews.services.calendar import holidays_load

    holidays_load()


@pytest.fixture
def proposed(demo_call, staff):
    applications = [reviewed(demo_call, score=f"{90 - i}.00") for i in range(3)]
    for application in applications:
        decisions.application_approve(by=staff, application=application)
    return applications


def open_notice(demo_call, staff, when, **kwargs):
    with mock.patch("django.utils.timezone.now", return_value=when):
        return publicity.publicity_open(by=staff, call=demo_call, **kwargs)


def test_opening_publishes_the_proposed_awards_for_five_working_days(proposed, demo_call,
                                                                     staff, holidays):
    notice = open_notice(demo_call, staff, at(2026, 11, 2))  # a Monday

    assert (notice.starts_on, notice.ends_on) == (datetime.date(2026, 11, 2),
                                                  datetime.date(2026, 11, 6))
    assert {e.application_id for e in notice.entries.all()} == {a.pk for a in proposed}
    entry = notice.entries.get(application=proposed[0])
    assert (entry.project, entry.amount) == ("前海港口智能调度示范", Decimal("1500000.00"))
    assert entry.company_name == proposed[0].company.name
    assert {Application.objects.get(pk=a.pk).status for a in proposed} == {Status.IN_PUBLICITY}


def test_the_period_skips_the_national_day_holiday(proposed, demo_call, staff, holidays):
    # 2025: Oct 1-8 off; Sun Sep 28 and Sat Oct 11 are make-up working days.
    notice = open_notice(demo_call, staff, at(2025, 9, 26), working_days=5)

    assert (notice.starts_on, notice.ends_on) == (datetime.date(2025, 9, 26),
                                                  datetime.date(2025, 10, 9))


def test_a_notice_opened_on_a_holiday_starts_on_the_next_working_day(proposed, demo_call, staff,
                                                                      holidays):
    notice = open_notice(demo_call, staff, at(2026, 10, 3), working_days=3)

    assert (notice.starts_on, notice.ends_on) == (datetime.date(2026, 10, 8),
                                                  datetime.date(2026, 10, 10))  # Sat, worked


def test_staff_edits_of_the_calendar_count(proposed, demo_call, staff, holidays):
    CalendarDay.objects.create(date=datetime.date(2026, 11, 4), kind="holiday", name="临时")
    notice = open_notice(demo_call, staff, at(2026, 11, 2), working_days=3)
    assert notice.ends_on == datetime.date(2026, 11, 5)


@pytest.mark.parametrize("days", [0, -1, 61, "5", True, None])
def test_the_number_of_working_days_is_checked(proposed, demo_call, staff, days):
    error = refused(lambda: publicity.publicity_open(by=staff, call=demo_call,
                                                     working_days=days))
    assert (error.status, list(error.fields)) == (400, ["working_days"])


def test_nothing_to_publish_is_a_409(demo_call, staff, holidays):
    assert refused(lambda: publicity.publicity_open(by=staff, call=demo_call)).code == \
        "nothing_to_publish"


def test_objections_must_be_signed(proposed, demo_call, staff, holidays):
    notice = open_notice(demo_call, staff, timezone.now())
    for field in ("name", "organization", "contact", "text"):
        error = refused(lambda field=field: publicity.objection_file(
            publicity=notice, application=proposed[0].pk, **{**SIGNED, field: "  "}))
        assert (error.status, list(error.fields)) == (400, [field])
    error = refused(lambda: publicity.objection_file(publicity=notice, application=999999,
                                                     **SIGNED))
    assert list(error.fields) == ["application"]
    assert not notice.objections.exists()


def test_an_objection_after_the_period_is_refused(proposed, demo_call, staff, holidays):
    notice = open_notice(demo_call, staff, at(2026, 11, 2))
    with mock.patch("django.utils.timezone.now", return_value=at(2026, 11, 7, 0)):
        error = refused(lambda: publicity.objection_file(
            publicity=notice, application=proposed[0].pk, **SIGNED))
    assert (error.status, error.code) == (409, "publicity_closed")


def test_an_upheld_objection_rejects_and_frees_the_slot(proposed, demo_call, staff, holidays):
    notice = open_notice(demo_call, staff, timezone.now())
    objection = publicity.objection_file(publicity=notice, application=proposed[1].pk, **SIGNED)

    publicity.objection_resolve(by=staff, objection=objection, upheld=True, note="经核实属实")

    assert Application.objects.get(pk=proposed[1].pk).status == Status.REJECTED
    assert Award.objects.get(application=proposed[1]).released_at is not None
    assert QuotaCounter.objects.get(measure=demo_call.measure, funding_year=2026).used == 2
    objection.refresh_from_db()
    assert (objection.state, objection.resolved_by) == (ObjectionState.UPHELD, staff)
    assert refused(lambda: publicity.objection_resolve(
        by=staff, objection=objection, upheld=False, note="x")).code == "objection_resolved"


def test_a_dismissed_objection_leaves_the_award(proposed, demo_call, staff, holidays):
    notice = open_notice(demo_call, staff, timezone.now())
    objection = publicity.objection_file(publicity=notice, application=proposed[0].pk, **SIGNED)
    publicity.objection_resolve(by=staff, objection=objection, upheld=False, note="不属实")

    assert Application.objects.get(pk=proposed[0].pk).status == Status.IN_PUBLICITY


@pytest.mark.parametrize(("body", "field"), [({"upheld": "yes", "note": "x"}, "upheld"),
                                             ({"upheld": True, "note": ""}, "note")])
def test_a_resolution_is_checked(proposed, demo_call, staff, holidays, body, field):
    notice = open_notice(demo_call, staff, timezone.now())
    objection = publicity.objection_file(publicity=notice, application=proposed[0].pk, **SIGNED)
    error = refused(lambda: publicity.objection_resolve(by=staff, objection=objection, **body))
    assert list(error.fields) == [field]


def test_finalize_waits_for_the_end_and_for_every_objection(proposed, demo_call, staff,
                                                            holidays):
    notice = open_notice(demo_call, staff, at(2026, 11, 2))
    with mock.patch("django.utils.timezone.now", return_value=at(2026, 11, 6, 23)):
        objection = publicity.objection_file(publicity=notice, application=proposed[2].pk,
                                             **SIGNED)
        assert refused(lambda: publicity.publicity_finalize(by=staff, call=demo_call)).code == \
            "publicity_not_ended"
    with mock.patch("django.utils.timezone.now", return_value=at(2026, 11, 7, 9)):
        assert refused(lambda: publicity.publicity_finalize(by=staff, call=demo_call)).code == \
            "objections_open"
        publicity.objection_resolve(by=staff, objection=objection, upheld=True, note="属实")
        awarded = publicity.publicity_finalize(by=staff, call=demo_call)

    assert sorted(a.pk for a in awarded) == sorted(a.pk for a in proposed[:2])
    assert Application.objects.get(pk=proposed[2].pk).status == Status.REJECTED
    assert all(Award.objects.get(application=a).awarded_at for a in proposed[:2])
    assert refused(lambda: publicity.publicity_finalize(by=staff, call=demo_call)).code == \
        "no_publicity"


def test_an_application_outside_the_notice_cannot_be_objected_to(proposed, demo_call, staff,
                                                                  holidays):
    notice = open_notice(demo_call, staff, timezone.now())
    stranger = application_in(Status.REVIEWED, call=demo_call)
    error = refused(lambda: publicity.objection_file(publicity=notice, application=stranger.pk,
                                                     **SIGNED))
    assert list(error.fields) == ["application"]


def test_the_beat_scan_closes_ended_notices_without_open_objections(proposed, demo_call, staff,
                                                                     holidays):
    from reviews.tasks import close_publicity_periods

    notice = open_notice(demo_call, staff, at(2026, 11, 2))
    with mock.patch("django.utils.timezone.now", return_value=at(2026, 11, 6, 20)):
        objection = publicity.objection_file(publicity=notice, application=proposed[0].pk,
                                             **SIGNED)
        assert close_publicity_periods.delay().get() == 0  # not ended yet
    with mock.patch("django.utils.timezone.now", return_value=at(2026, 11, 7, 1)):
        assert close_publicity_periods.delay().get() == 0  # an objection is open
        publicity.objection_resolve(by=staff, objection=objection, upheld=False, note="不属实")
        assert close_publicity_periods.delay().get() == 1
        assert close_publicity_periods.delay().get() == 0  # twice changes nothing

    assert {Application.objects.get(pk=a.pk).status for a in proposed} == {Status.AWARDED}
    notice.refresh_from_db()
    assert notice.finalized_by is None and notice.finalized_at is not None
