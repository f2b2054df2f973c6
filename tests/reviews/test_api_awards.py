"""The awards API: awards scoped to who asks, with the rules and calculation they were decided
with, and their payments."""

import datetime
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import given

from applications.models import Status
from reviews.models import Award, Payment
from reviews.services import decisions, payments, publicity
from tests.factories import open_call
from tests.reviews.test_api_decisions import (
    ERROR_CODES,
    FUZZ,
    assert_error,
    bodies,
    cast,
    check_answer,
    client_as,
    get,
    post,
)
from tests.reviews.test_decisions import reviewed

CST = datetime.timezone(datetime.timedelta(hours=8))
TRANCHE = {"amount": "500000.00", "paid_on": "2026-11-16", "reference": "FIN-2026-001"}


def at(month, day, hour=10):
    return datetime.datetime(2026, month, day, hour, tzinfo=CST)


def award_through_publicity(call, staff, applications):
    """Approve, publish on Monday 2 November 2026 and finalize on Monday 9 November."""
    for application in applications:
        decisions.application_approve(by=staff, application=application)
    with mock.patch("django.utils.timezone.now", return_value=at(11, 2)):
        publicity.publicity_open(by=staff, call=call)
    with mock.patch("django.utils.timezone.now", return_value=at(11, 9)):
        publicity.publicity_finalize(by=staff, call=call)
    return [Award.objects.get(application=a) for a in applications]


@pytest.fixture
def awarded(demo_call, staff):
    """Two final demo-project awards of 1,500,000.00, of two companies."""
    return award_through_publicity(demo_call, staff, [reviewed(demo_call), reviewed(demo_call)])


@pytest.fixture
def people(awarded):
    return cast(awarded[0].application)


# ---------------------------------------------------------------- the list

@pytest.mark.parametrize(("who", "expected"), [
    ("owner", "own"), ("other", "none"), ("reviewer", "none"), ("management", "all"),
    ("staff", "all")])
def test_awards_are_scoped_to_who_asks(awarded, people, who, expected):
    response = get(people[who], "/api/v1/awards/")

    assert response.status_code == 200
    ids = [row["id"] for row in response.json()["results"]]
    assert sorted(ids) == sorted({"own": [awarded[0].pk], "none": [],
                                  "all": [a.pk for a in awarded]}[expected])


def test_anonymous_users_are_told_to_log_in(db):
    assert_error(get(None, "/api/v1/awards/"), 401, "not_authenticated")


def test_a_row_of_the_list(awarded, people):
    (row,) = get(people["owner"], "/api/v1/awards/").json()["results"]

    award = awarded[0]
    assert row["application"] == award.application_id
    assert row["company"] == {"id": award.application.company_id,
                              "name": award.application.company.name}
    assert row["measure"]["code"] == "demo-project"
    assert (row["funding_year"], row["amount"], row["status"]) == (2026, "1500000.00",
                                                                   "awarded")
    assert (row["paid"], row["left_to_pay"]) == ("0.00", "1500000.00")
    assert row["awarded_at"] is not None


def test_a_company_sees_a_proposed_award_but_not_one_undone(demo_call, staff):
    proposed = reviewed(demo_call)
    decisions.application_approve(by=staff, application=proposed)
    later = open_call("demo-project", funding_year=2027)
    undone = reviewed(later, company=proposed.company)
    decisions.application_approve(by=staff, application=undone)
    with mock.patch("django.utils.timezone.now", return_value=at(11, 2)):
        notice = publicity.publicity_open(by=staff, call=later)
    with mock.patch("django.utils.timezone.now", return_value=at(11, 3)):
        objection = publicity.objection_file(
            publicity=notice, application=undone.pk, name="王", organization="某公司",
            contact="138", text="不符")
    publicity.objection_resolve(by=staff, objection=objection, upheld=True, note="成立")

    rows = get(proposed.company.created_by, "/api/v1/awards/").json()["results"]

    assert [(r["application"], r["status"]) for r in rows] == [(proposed.pk, "proposed")]
    staff_rows = get(staff, "/api/v1/awards/").json()["results"]
    released = next(r for r in staff_rows if r["application"] == undone.pk)
    assert (released["status"], released["released_at"] is not None) == ("rejected", True)


def test_awards_are_filtered_by_call_year_and_measure(awarded, catalogue, staff):
    later = open_call("demo-project", funding_year=2027)
    (next_year,) = award_through_publicity(later, staff, [reviewed(later)])

    def ids(query):
        return sorted(r["id"] for r in get(staff, f"/api/v1/awards/{query}").json()["results"])

    assert ids(f"?call={later.pk}") == [next_year.pk]
    assert ids("?funding_year=2026") == sorted(a.pk for a in awarded)
    assert ids("?measure=demo-project") == sorted([next_year.pk, *(a.pk for a in awarded)])
    assert ids("?measure=compute-platform") == []
    for bad in ("?call=abc", "?funding_year=99999999999999999999999"):
        assert assert_error(get(staff, f"/api/v1/awards/{bad}"), 400, "invalid")["fields"]


def test_the_list_takes_the_same_queries_for_2_or_8_awards(demo_call, staff):
    client = client_as(staff)

    def queries_for(n):
        while Award.objects.count() < n:
            decisions.application_approve(by=staff, application=reviewed(demo_call))
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/v1/awards/").json()["count"] == n
        return len(queries)

    # The user and token, their roles, the count, the awards with their applications.
    assert queries_for(2) == queries_for(8) == 4


# ---------------------------------------------------------------- one award

@pytest.mark.parametrize(("who", "expected"), [
    ("anonymous", 401), ("owner", 200), ("other", 404), ("reviewer", 404),
    ("management", 200), ("staff", 200)])
def test_an_award_is_read_by_its_company_and_the_office(awarded, people, who, expected):
    response = get(people[who], f"/api/v1/awards/{awarded[0].pk}/")

    if expected != 200:
        assert_error(response, expected, ERROR_CODES[expected])
    else:
        assert response.json()["id"] == awarded[0].pk


def test_an_award_shows_its_rules_inputs_and_calculation(awarded, people):
    body = client_as(people["owner"], language="en").get(
        f"/api/v1/awards/{awarded[0].pk}/").json()

    assert body["parameters"]["rate"] == "0.1"
    assert body["parameters"]["per_award_cap"] == "2000000.00"
    assert body["inputs"]["actual_investment"] == "15000000.00"
    assert body["capped_by"] == "" and body["status"] == "awarded"
    assert body["trace_steps"][-1]["step"] == "round"
    assert len(body["trace"]) == len(body["trace_steps"])
    assert any(line.startswith("10% x 15000000.00 = 1500000.00") for line in body["trace"])
    assert body["trace"][-1] == "Rounded half-up to the cent: 1500000.00"
    assert body["payments"] == []


def test_an_award_that_does_not_exist_is_a_404(db, staff):
    assert_error(get(staff, "/api/v1/awards/4242/"), 404, "not_found")


# ---------------------------------------------------------------- payments

@pytest.mark.parametrize(("who", "expected"), [
    ("anonymous", 401), ("owner", 403), ("other", 404), ("reviewer", 404),
    ("management", 403), ("staff", 201)])
def test_only_staff_record_payments(awarded, people, who, expected):
    response = post(people[who], f"/api/v1/awards/{awarded[0].pk}/payments/", TRANCHE)

    if expected != 201:
        assert_error(response, expected, ERROR_CODES[expected])
        assert not Payment.objects.exists()
        return
    body = response.json()
    assert (body["award"], body["amount"], body["paid_on"], body["reference"]) == (
        awarded[0].pk, "500000.00", "2026-11-16", "FIN-2026-001")
    assert body["recorded_by"] == people["staff"].email


@pytest.mark.parametrize(("who", "expected"), [
    ("anonymous", 401), ("owner", 200), ("other", 404), ("reviewer", 404),
    ("management", 200), ("staff", 200)])
def test_payments_are_read_by_the_company_and_the_office(awarded, people, staff, who, expected):
    payments.payment_record(by=staff, award=awarded[0], **TRANCHE)

    response = get(people[who], f"/api/v1/awards/{awarded[0].pk}/payments/")

    if expected != 200:
        assert_error(response, expected, ERROR_CODES[expected])
    else:
        assert [p["amount"] for p in response.json()["results"]] == ["500000.00"]


def test_tranches_never_add_up_to_more_than_the_award(awarded, staff):
    path = f"/api/v1/awards/{awarded[0].pk}/payments/"
    assert post(staff, path, TRANCHE).status_code == 201
    assert post(staff, path, {**TRANCHE, "amount": 900000, "reference": "FIN-2"}).status_code \
        == 201

    body = assert_error(post(staff, path, {**TRANCHE, "amount": "100000.01",
                                           "reference": "FIN-3"}), 409, "payment_exceeds_award")

    assert "100000.00" in body["message"]
    assert_error(post(staff, path, {**TRANCHE, "amount": "1.00"}), 409, "duplicate_payment")
    detail = get(staff, f"/api/v1/awards/{awarded[0].pk}/").json()
    assert (detail["paid"], detail["left_to_pay"]) == ("1400000.00", "100000.00")


def test_a_proposed_award_is_not_paid_yet(demo_call, staff):
    application = reviewed(demo_call)
    decisions.application_approve(by=staff, application=application)
    award = Award.objects.get(application=application)

    assert_error(post(staff, f"/api/v1/awards/{award.pk}/payments/", TRANCHE), 409,
                 "not_awarded")
    assert award.application.status == Status.PROPOSED


@pytest.mark.parametrize(("change", "field"), [
    ({"amount": "0"}, "amount"), ({"amount": "-5"}, "amount"), ({"amount": True}, "amount"),
    ({"amount": "1.001"}, "amount"), ({"paid_on": "yesterday"}, "paid_on"),
    ({"paid_on": "2999-01-01"}, "paid_on"), ({"paid_on": 20261116}, "paid_on"),
    ({"reference": ""}, "reference"), ({"reference": "x" * 65}, "reference"),
    ({"reference": None}, "reference")])
def test_a_malformed_payment_is_a_400_naming_the_field(awarded, staff, change, field):
    body = assert_error(post(staff, f"/api/v1/awards/{awarded[0].pk}/payments/",
                             {**TRANCHE, **change}), 400, "invalid")

    assert field in body["fields"]
    assert not Payment.objects.exists()


@FUZZ
@given(body=bodies("amount", "paid_on", "reference"))
def test_any_payment_body_is_answered_in_the_error_shape(awarded, staff, body):
    check_answer(post(staff, f"/api/v1/awards/{awarded[0].pk}/payments/", body),
                 (201, 400, 409))
