"""Staff edit the catalogue in the admin: every edit is a new version, old ones stay as they are."""

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.test import Client
from django.utils import timezone

from measures.models import Measure, MeasureVersion
from measures.services import RULE_KEYS
from qianhai_grants.services import roles_ensure
from tests.factories import UserFactory

ADD_URL = "/admin/measures/measureversion/add/"
JSON_KEYS = ("conditions", "fields", "documents")


def change_url(version: MeasureVersion) -> str:
    return f"/admin/measures/measureversion/{version.pk}/change/"


@pytest.fixture
def staff(catalogue):
    roles_ensure()
    return UserFactory(is_staff=True, roles=["staff"])


@pytest.fixture
def staff_client(staff):
    client = Client(raise_request_exception=False)
    client.force_login(staff)
    return client


@pytest.fixture
def demo():
    # The catalogue was loaded yesterday: the admin's effective_from has whole seconds, and an
    # edit must not land before the version loaded a moment ago in this test.
    MeasureVersion.objects.update(effective_from=timezone.now() - timedelta(days=1))
    return Measure.objects.get(code="demo-project")


def snapshot(version: MeasureVersion) -> dict:
    return {f.attname: getattr(version, f.attname) for f in MeasureVersion._meta.concrete_fields}


def form_data(measure: Measure, initial: dict, **changes) -> dict:
    """What the browser posts for the add form, starting from the prefilled initial values."""
    now = timezone.localtime(timezone.now())
    data = {"measure": str(measure.pk), "effective_from_0": now.strftime("%Y-%m-%d"),
            "effective_from_1": now.strftime("%H:%M:%S"), "reason": ""}
    for key in RULE_KEYS:
        value = initial.get(key)
        if key in JSON_KEYS:
            data[key] = json.dumps(value if value is not None else [])
        else:
            data[key] = "" if value is None else str(value)
    data.update({k: str(v) for k, v in changes.items()})
    return data


def prefilled(client, measure) -> dict:
    response = client.get(f"{ADD_URL}?measure={measure.pk}")
    assert response.status_code == 200
    return response.context["adminform"].form.initial


def test_add_page_is_prefilled_with_the_rules_in_force(staff_client, demo):
    response = staff_client.get(f"{ADD_URL}?measure={demo.pk}")

    assert response.status_code == 200
    initial = response.context["adminform"].form.initial
    current = demo.versions.get(number=1)
    for key in RULE_KEYS:
        assert initial[key] == getattr(current, key), key
    assert str(initial["measure"]) == str(demo.pk)
    html = response.content.decode()
    assert re.search(r'name="per_award_cap" value="2000000(\.00)?"', html)
    assert re.search(rf'<option value="{demo.pk}" selected>', html)


def test_posting_a_changed_cap_creates_the_next_version(staff_client, staff, demo):
    first_before = snapshot(demo.versions.get(number=1))
    data = form_data(demo, prefilled(staff_client, demo), per_award_cap="3000000.00",
                     reason="Cap raised by the Authority's decision of 2025-03-01")

    response = staff_client.post(ADD_URL, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert demo.versions.count() == 2
    new = demo.versions.get(number=2)
    assert new.created_by == staff
    assert new.per_award_cap == Decimal("3000000.00")
    assert new.reason == "Cap raised by the Authority's decision of 2025-03-01"
    assert new.source == "admin"
    first = demo.versions.get(number=1)
    for key in RULE_KEYS:
        if key != "per_award_cap":
            assert getattr(new, key) == getattr(first, key), key
    assert snapshot(first) == first_before
    assert LogEntry.objects.filter(object_id=str(new.pk), action_flag=ADDITION,
                                   user=staff).exists()
    # The calculator uses the new cap at once.
    quote = Client().post("/api/v1/measures/demo-project/quote/",
                          {"inputs": {"actual_investment": "40000000"}},
                          content_type="application/json").json()
    assert quote["amount"] == "3000000.00"
    assert quote["version"] == 2


def test_a_second_edit_makes_version_three(staff_client, demo):
    for number, cap in ((2, "2100000.00"), (3, "2200000.00")):
        data = form_data(demo, prefilled(staff_client, demo), per_award_cap=cap,
                         reason=f"Edit {number}")
        assert staff_client.post(ADD_URL, data).status_code == 302
        assert demo.versions.order_by("-number").first().number == number
    # The second edit was prefilled from the first.
    assert prefilled(staff_client, demo)["per_award_cap"] == Decimal("2200000.00")


def test_a_version_without_a_reason_is_refused(staff_client, demo):
    data = form_data(demo, prefilled(staff_client, demo), per_award_cap="3000000.00")

    response = staff_client.post(ADD_URL, data)

    assert response.status_code == 200
    assert "reason" in response.context["adminform"].form.errors
    assert demo.versions.count() == 1


@pytest.mark.parametrize(("changes", "field"), [
    ({"rate": ""}, "rate"),
    ({"rate": "1.5"}, "rate"),
    ({"base_field": "project_name"}, "base_field"),
    ({"per_award_cap": "-1"}, "per_award_cap"),
    ({"award_kind": "fixed"}, "fixed_amount"),
    ({"conditions": json.dumps([{"field": "actual_investment", "op": "approximately",
                                 "reason": "x"}])}, "conditions"),
])
def test_invalid_rules_show_a_form_error_and_create_nothing(staff_client, demo, changes, field):
    data = form_data(demo, prefilled(staff_client, demo), reason="Try", **changes)

    response = staff_client.post(ADD_URL, data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors, errors
    assert 'class="errorlist' in response.content.decode()
    assert demo.versions.count() == 1
    assert MeasureVersion.objects.count() == 14


@pytest.mark.parametrize("raw", ["abc", "", "-1", "999999", "1.5", "99999999999999999999999",
                                 "²"])
def test_add_page_with_a_bad_measure_parameter_does_not_crash(staff_client, raw):
    response = staff_client.get(ADD_URL, {"measure": raw})

    assert response.status_code == 200, raw
    initial = response.context["adminform"].form.initial
    assert "award_kind" not in initial


def test_change_page_of_a_version_is_read_only(staff_client, demo):
    version = demo.versions.get(number=1)

    response = staff_client.get(change_url(version))

    assert response.status_code == 200
    html = response.content.decode()
    for name in ("per_award_cap", "rate", "reason", "award_kind", "effective_from_0"):
        assert f'name="{name}"' not in html, name
    assert "2,000,000.00" in html or "2000000.00" in html  # shown, not editable
    assert response.context["adminform"].form.fields == {}


def test_posting_to_a_version_change_page_changes_nothing(staff_client, demo):
    version = demo.versions.get(number=1)
    before = snapshot(version)
    data = form_data(demo, {k: getattr(version, k) for k in RULE_KEYS},
                     per_award_cap="1.00", rate="0.5", reason="sneaky")

    response = staff_client.post(change_url(version), data)

    assert response.status_code in (200, 302, 403)
    version.refresh_from_db()
    assert snapshot(version) == before
    assert demo.versions.count() == 1


def test_versions_cannot_be_deleted_in_the_admin(staff_client, demo):
    version = demo.versions.get(number=1)

    response = staff_client.post(f"/admin/measures/measureversion/{version.pk}/delete/",
                                 {"post": "yes"})

    assert response.status_code == 403
    assert MeasureVersion.objects.filter(pk=version.pk).exists()


def test_measure_page_lists_its_versions_read_only(staff_client, demo):
    response = staff_client.get(f"/admin/measures/measure/{demo.pk}/change/")

    assert response.status_code == 200
    html = response.content.decode()
    assert change_url(demo.versions.get(number=1)) in html
    assert 'name="versions-0-per_award_cap"' not in html


def test_management_may_read_but_not_add_versions(catalogue, demo):
    roles_ensure()
    client = Client()
    client.force_login(UserFactory(is_staff=True, roles=["management"]))

    assert client.get("/admin/measures/measureversion/").status_code == 200
    assert client.get(ADD_URL).status_code == 403
    response = client.post(ADD_URL, form_data(demo, {k: getattr(demo.versions.get(), k)
                                                      for k in RULE_KEYS}, reason="x"))
    assert response.status_code == 403
    assert demo.versions.count() == 1


def test_a_company_user_cannot_open_the_admin(catalogue):
    client = Client()
    client.force_login(UserFactory(roles=["company"]))

    response = client.get(ADD_URL)

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
