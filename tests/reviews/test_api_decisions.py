"""The decisions API: approve, decline, reserve, the checklist and audit trail of an application,
a call's ranking, rank-and-fill and the reserve list; and the whole way from reviewed
applications to paid awards, through the API alone."""

import datetime
import json
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from applications.models import Application, Status
from qianhai_grants.roles import MANAGEMENT
from reviews.models import Assessment, AuditEntry, Award, Review
from reviews.services import decisions
from tests.factories import (
    CompanyFactory,
    UserFactory,
    application_in,
    open_call,
    reviewer_user,
    staff_user,
)
from tests.reviews.test_decisions import reviewed

CST = datetime.timezone(datetime.timedelta(hours=8))
SIGNED = {"name": "王小明", "organization": "深圳市某科技有限公司", "contact": "13800000000",
          "text": "该项目实际投资额与公开信息不符。"}

# ---------------------------------------------------------------- helpers (shared by the API
# tests of publicity and awards)


def cast(application) -> dict:
    """Everyone who may knock on an application's door: nobody logged in, the applicant's
    owner, another company's owner, a reviewer assigned to it, management and staff."""
    reviewer = reviewer_user()
    Review.objects.create(application=application, reviewer=reviewer)
    return {"anonymous": None, "owner": application.company.created_by,
            "other": CompanyFactory().created_by, "reviewer": reviewer,
            "management": UserFactory(roles=[MANAGEMENT]), "staff": staff_user()}


def client_as(user, language="en") -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
    if user is not None:
        token = Token.objects.get_or_create(user=user)[0]
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def post(user, path, body=None):
    return client_as(user).post(path, json.dumps({} if body is None else body),
                                content_type="application/json")


def get(user, path):
    return client_as(user).get(path)


def assert_error(response, status, code=None):
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert set(body) == {"code", "message", "fields"}, body
    assert body["message"]
    if code is not None:
        assert body["code"] == code, body
    return body


STAFF_ONLY_ON_AN_APPLICATION = [("anonymous", 401), ("owner", 403), ("other", 404),
                                ("reviewer", 403), ("management", 403)]
OFFICE_READ_ON_AN_APPLICATION = [("anonymous", 401), ("owner", 403), ("other", 404),
                                 ("reviewer", 403), ("management", 200), ("staff", 200)]
STAFF_ONLY_ON_A_CALL = [("anonymous", 401), ("owner", 403), ("other", 403), ("reviewer", 403),
                        ("management", 403)]
ERROR_CODES = {401: "not_authenticated", 403: "forbidden", 404: "not_found"}


def status_of(application) -> str:
    return Application.objects.get(pk=application.pk).status


# ---------------------------------------------------------------- approve, decline, reserve

@pytest.mark.parametrize(("who", "expected"), STAFF_ONLY_ON_AN_APPLICATION)
@pytest.mark.parametrize("verb", ["approve", "decline", "reserve"])
def test_only_staff_decide_and_others_learn_nothing_more(demo_call, verb, who, expected):
    application = reviewed(demo_call)
    people = cast(application)

    response = post(people[who], f"/api/v1/applications/{application.pk}/{verb}/",
                    {"reason": "理由"})

    assert_error(response, expected, ERROR_CODES[expected])
    assert status_of(application) == Status.REVIEWED
    assert not Award.objects.exists()


def test_staff_approve_with_the_engines_amount(demo_call, staff):
    application = reviewed(demo_call)

    response = post(staff, f"/api/v1/applications/{application.pk}/approve/",
                    {"reason": "评审第一"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["status"], body["amount"]) == (application.pk, "proposed",
                                                             "1500000.00")
    award = Award.objects.get(application=application)
    assert body["award"]["id"] == award.pk and body["award"]["amount"] == "1500000.00"
    assert body["award"]["released_at"] is None


def test_staff_may_approve_a_lower_amount_given_as_a_string(catalogue, staff):
    call = open_call("core-algorithm")
    application = reviewed(call, inputs={
        "project_title": "多模态推理", "challenge_ref": "JB-2026-01",
        "requested_amount": "4000000.00", "total_budget": "9000000.00"})

    response = post(staff, f"/api/v1/applications/{application.pk}/approve/",
                    {"amount": "2,500,000.00"})

    assert response.json()["amount"] == "2500000.00"
    assert Award.objects.get(application=application).amount == 2500000


@pytest.mark.parametrize("amount", [True, "abc", "-1", "1.234", [], {"a": 1}, "1e400"])
def test_a_malformed_amount_is_a_400_naming_it(demo_call, staff, amount):
    application = reviewed(demo_call)

    body = assert_error(post(staff, f"/api/v1/applications/{application.pk}/approve/",
                             {"amount": amount}), 400, "invalid")

    assert "amount" in body["fields"]
    assert status_of(application) == Status.REVIEWED


@pytest.mark.parametrize("body", [[], "approve", 42, None])
def test_a_body_that_is_not_an_object_is_a_400(demo_call, staff, body):
    application = reviewed(demo_call)

    response = client_as(staff).post(f"/api/v1/applications/{application.pk}/approve/",
                                     json.dumps(body), content_type="application/json")

    assert assert_error(response, 400, "invalid")["fields"] == {"body": ["Expected a JSON object."]}


def test_the_eleventh_approval_is_refused_with_the_quota_code(demo_call, staff):
    applications = [reviewed(demo_call) for _ in range(11)]
    for application in applications[:10]:
        assert post(staff, f"/api/v1/applications/{application.pk}/approve/").status_code == 200

    body = assert_error(post(staff, f"/api/v1/applications/{applications[10].pk}/approve/"),
                        409, "annual_quota_full")

    assert body["fields"] == {}
    assert status_of(applications[10]) == Status.REVIEWED


def test_approving_twice_is_an_invalid_transition(demo_call, staff):
    application = reviewed(demo_call)
    post(staff, f"/api/v1/applications/{application.pk}/approve/")

    assert_error(post(staff, f"/api/v1/applications/{application.pk}/approve/"), 409,
                 "invalid_transition")


def test_declining_needs_a_reason_for_the_company(demo_call, staff):
    application = reviewed(demo_call)

    body = assert_error(post(staff, f"/api/v1/applications/{application.pk}/decline/", {}),
                        400, "invalid")
    assert "reason" in body["fields"]

    response = post(staff, f"/api/v1/applications/{application.pk}/decline/",
                    {"reason": "排名靠后"})
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["award"]) == ("declined", None)


def test_staff_put_a_reviewed_application_on_the_reserve_list(demo_call, staff):
    application = reviewed(demo_call)

    response = post(staff, f"/api/v1/applications/{application.pk}/reserve/")

    assert response.status_code == 200 and response.json()["status"] == "reserve"
    assert_error(post(staff, f"/api/v1/applications/{application.pk}/reserve/"), 409,
                 "invalid_transition")


def test_an_application_that_does_not_exist_or_a_malformed_id_is_a_404(demo_call, staff):
    assert_error(post(staff, "/api/v1/applications/999999/approve/"), 404, "not_found")
    assert post(staff, "/api/v1/applications/abc/approve/").status_code == 404


def test_a_draft_is_invisible_to_staff(demo_call, staff):
    draft = application_in(Status.DRAFT, call=demo_call)

    assert_error(post(staff, f"/api/v1/applications/{draft.pk}/approve/"), 404, "not_found")


# ---------------------------------------------------------------- checklist and audit

@pytest.mark.parametrize(("who", "expected"), OFFICE_READ_ON_AN_APPLICATION)
def test_the_checklist_is_read_in_the_office(demo_call, who, expected):
    application = application_in(Status.SUBMITTED, call=demo_call)
    people = cast(application)

    response = get(people[who], f"/api/v1/applications/{application.pk}/checklist/")

    if expected != 200:
        assert_error(response, expected, ERROR_CODES[expected])
        return
    body = response.json()
    assert body["application"] == application.pk
    items = {item["code"]: item for item in body["items"]}
    assert items["company:in_qianhai"]["ok"] is True
    assert any(code.startswith("document:") and not item["ok"] for code, item in items.items())
    assert body["ok"] is False  # no document is attached


@pytest.mark.parametrize(("who", "expected"), OFFICE_READ_ON_AN_APPLICATION)
def test_the_audit_trail_is_read_in_the_office(demo_call, who, expected):
    application = reviewed(demo_call)
    people = cast(application)
    decisions.application_approve(by=people["staff"], application=application, reason="第一")

    response = get(people[who], f"/api/v1/applications/{application.pk}/audit/")

    if expected != 200:
        assert_error(response, expected, ERROR_CODES[expected])
        return
    rows = [row for row in response.json()["results"]
            if not row["kind"].startswith("row_")]  # PostgreSQL's row history, tested apart
    kinds = [row["kind"] for row in rows]
    assert kinds == ["approved", "status"]
    approved, status = rows
    assert approved["by"] == people["staff"].email and approved["reason"] == "第一"
    assert approved["data"]["amount"] == "1500000.00"
    assert (status["from"], status["to"]) == ("reviewed", "proposed")


def test_the_audit_trail_merges_status_changes_and_actions_in_time_order(demo_call, staff):
    application = reviewed(demo_call)
    t0 = datetime.datetime(2026, 11, 2, 9, tzinfo=CST)
    application.events.create(at=t0, from_status="in_review", to_status="reviewed", by=None)
    AuditEntry.objects.create(at=t0 - datetime.timedelta(hours=1), action="review_submitted",
                              application=application, data={"review": 1})
    AuditEntry.objects.create(at=t0 + datetime.timedelta(hours=1), action="approved",
                              application=application, by=staff)

    rows = get(staff, f"/api/v1/applications/{application.pk}/audit/").json()["results"]
    rows = [row for row in rows if not row["kind"].startswith("row_")]  # PostgreSQL's triggers

    assert [row["kind"] for row in rows] == ["review_submitted", "status", "approved"]
    assert rows[1]["by"] is None and rows[2]["by"] == staff.email


# ---------------------------------------------------------------- ranking

@pytest.mark.parametrize(("who", "expected"), [*STAFF_ONLY_ON_A_CALL[:4],
                                               ("management", 200), ("staff", 200)])
def test_the_ranking_is_read_by_staff_and_management(demo_call, who, expected):
    application = reviewed(demo_call)
    people = cast(application)

    response = get(people[who], f"/api/v1/calls/{demo_call.pk}/ranking/")

    if expected != 200:
        assert_error(response, expected, ERROR_CODES[expected])
    else:
        assert [row["application"] for row in response.json()["results"]] == [application.pk]


def test_the_ranking_orders_by_score_with_the_quota_in_use(demo_call, staff):
    low = reviewed(demo_call, score="70.00")
    high = reviewed(demo_call, score="91.50")
    Assessment.objects.filter(application=high).update(trimmed=True, reviews_count=5)
    decisions.application_approve(by=staff, application=high)
    application_in(Status.IN_REVIEW, call=demo_call)  # not reviewed yet: not ranked

    body = get(staff, f"/api/v1/calls/{demo_call.pk}/ranking/").json()

    assert (body["call"], body["funding_year"]) == (demo_call.pk, 2026)
    assert body["measure"]["code"] == "demo-project" and body["measure"]["name"]
    assert body["quota"] == {"quota": 10, "used": 1, "left": 9}
    first, second = body["results"]
    assert (first["rank"], first["application"], second["application"]) == (1, high.pk, low.pk)
    assert first == {
        "rank": 1, "application": high.pk,
        "company": {"id": high.company_id, "name": high.company.name},
        "project": "前海港口智能调度示范", "score": "91.50", "reviews_count": 5, "trimmed": True,
        "status": "proposed", "estimate": "1500000.00", "amount": "1500000.00",
        "recommended_amount": None}
    assert (second["status"], second["amount"]) == ("reviewed", None)


def test_the_ranking_takes_the_same_queries_for_3_or_30_applications(demo_call, staff):
    client = client_as(staff)
    client.get(f"/api/v1/calls/{demo_call.pk}/ranking/")  # warm up: token, content types

    def queries_for(n):
        while Application.objects.filter(call=demo_call).count() < n:
            reviewed(demo_call, score=f"{50 + n % 40}.00")
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"/api/v1/calls/{demo_call.pk}/ranking/")
        assert len(response.json()["results"]) == n
        return len(queries)

    # The user and token, their roles, the call, the measure's version, the quota's use (two),
    # the ranking itself.
    assert queries_for(3) == queries_for(30) == 7


def test_a_call_that_does_not_exist_is_a_404(db, staff):
    assert_error(get(staff, "/api/v1/calls/424242/ranking/"), 404, "not_found")


# ---------------------------------------------------------------- rank-and-fill, the reserve

@pytest.mark.parametrize(("who", "expected"), STAFF_ONLY_ON_A_CALL)
@pytest.mark.parametrize("verb", ["rank-and-fill", "promote-reserve"])
def test_only_staff_fill_the_quota_from_the_ranking(demo_call, verb, who, expected):
    application = reviewed(demo_call)
    people = cast(application)

    response = post(people[who], f"/api/v1/calls/{demo_call.pk}/{verb}/", {})

    assert_error(response, expected, ERROR_CODES[expected])
    assert status_of(application) == Status.REVIEWED


def test_rank_and_fill_proposes_the_best_and_keeps_a_reserve(demo_call, staff):
    ranked = [reviewed(demo_call, score=f"{90 - i}.00") for i in range(5)]

    response = post(staff, f"/api/v1/calls/{demo_call.pk}/rank-and-fill/",
                    {"count": 2, "reserve": 1})

    assert response.status_code == 200, response.content
    assert response.json() == {"proposed": [ranked[0].pk, ranked[1].pk],
                               "reserve": [ranked[2].pk],
                               "declined": [ranked[3].pk, ranked[4].pk]}


@pytest.mark.parametrize(("body", "field"), [
    ({"count": -1}, "count"), ({"count": "many"}, "count"), ({"reserve": 1.5}, "reserve"),
    ({"count": True}, "count"), ({"count": 10**30}, "count")])
def test_rank_and_fill_names_a_malformed_number(demo_call, staff, body, field):
    reviewed(demo_call)

    assert field in assert_error(post(staff, f"/api/v1/calls/{demo_call.pk}/rank-and-fill/",
                                      body), 400, "invalid")["fields"]


def test_promoting_from_an_empty_reserve_is_refused(demo_call, staff):
    assert_error(post(staff, f"/api/v1/calls/{demo_call.pk}/promote-reserve/"), 409,
                 "reserve_empty")


def test_promoting_takes_the_best_of_the_reserve(demo_call, staff):
    second = reviewed(demo_call, score="80.00")
    best = reviewed(demo_call, score="85.00")
    for application in (second, best):
        decisions.application_reserve(by=staff, application=application)

    response = post(staff, f"/api/v1/calls/{demo_call.pk}/promote-reserve/")

    assert (response.json()["id"], response.json()["status"]) == (best.pk, "proposed")


# ---------------------------------------------------------------- any body, never a 500

FUZZ = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
scalars = (st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30)
           | st.floats(allow_nan=False) | st.text(max_size=20)
           | st.sampled_from(["", "1500000.00", "-0", "1e5", "2026-01-01", "\x00"]))
json_values = st.recursive(scalars, lambda children: st.lists(children, max_size=3)
                           | st.dictionaries(st.text(max_size=6), children, max_size=3),
                           max_leaves=8)


def bodies(*names):
    return st.fixed_dictionaries({}, optional=dict.fromkeys(names, json_values)) | json_values


def check_answer(response, allowed):
    assert response.status_code in allowed, (response.status_code, response.content[:400])
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"code", "message", "fields"}
        if response.status_code == 400:
            assert body["fields"], body


@FUZZ
@given(body=bodies("amount", "reason"))
def test_any_approval_body_is_answered_in_the_error_shape(demo_call, staff, body):
    application = reviewed(demo_call)
    check_answer(post(staff, f"/api/v1/applications/{application.pk}/approve/", body),
                 (200, 400, 409))


@FUZZ
@given(body=bodies("count", "reserve"), verb=st.sampled_from(["rank-and-fill", "decline"]))
def test_any_ranking_or_decline_body_is_answered_in_the_error_shape(demo_call, staff, body,
                                                                    verb):
    application = reviewed(demo_call)
    path = (f"/api/v1/calls/{demo_call.pk}/rank-and-fill/" if verb == "rank-and-fill"
            else f"/api/v1/applications/{application.pk}/decline/")
    check_answer(post(staff, path, body), (200, 400, 409))


# ---------------------------------------------------------------- the whole way, by the API

def at(day, hour=10):
    return datetime.datetime(2026, 11, day, hour, tzinfo=CST)


def test_from_reviewed_applications_to_paid_awards_through_the_api(demo_call, staff):
    from reviews.services.calendar import holidays_load

    holidays_load()
    applications = [reviewed(demo_call, score=f"{90 - i}.00") for i in range(12)]
    top, eleventh, twelfth = applications[:10], applications[10], applications[11]

    # Staff approve the ten best by hand; the eleventh finds the quota full.
    for application in top:
        response = post(staff, f"/api/v1/applications/{application.pk}/approve/")
        assert (response.status_code, response.json()["amount"]) == (200, "1500000.00")
    refusal = assert_error(post(staff, f"/api/v1/applications/{eleventh.pk}/approve/"), 409,
                           "annual_quota_full")
    assert refusal["message"] and refusal["fields"] == {}

    # Rank-and-fill finds no slot: the other two wait on the reserve list, in ranking order.
    outcome = post(staff, f"/api/v1/calls/{demo_call.pk}/rank-and-fill/").json()
    assert outcome == {"proposed": [], "reserve": [eleventh.pk, twelfth.pk], "declined": []}
    ranking = get(staff, f"/api/v1/calls/{demo_call.pk}/ranking/").json()
    assert ranking["quota"] == {"quota": 10, "used": 10, "left": 0}

    # The 公示 opens on Monday 2 November for five working days.
    with mock.patch("django.utils.timezone.now", return_value=at(2)):
        response = post(staff, f"/api/v1/calls/{demo_call.pk}/publicity/", {"working_days": 5})
    assert response.status_code == 201, response.content
    notice = response.json()
    assert (notice["starts_on"], notice["ends_on"]) == ("2026-11-02", "2026-11-06")
    assert len(notice["entries"]) == 10
    objected = top[3]

    # Anyone reads it; an unsigned objection is refused, a signed one taken.
    with mock.patch("django.utils.timezone.now", return_value=at(3)):
        public = get(None, f"/api/v1/publicity/{notice['id']}/").json()
        assert public["is_open"] is True
        unsigned = assert_error(post(None, f"/api/v1/publicity/{notice['id']}/objections/",
                                     {"application": objected.pk, "text": "不符"}), 400)
        assert {"name", "organization", "contact"} <= set(unsigned["fields"])
        filed = post(None, f"/api/v1/publicity/{notice['id']}/objections/",
                     {**SIGNED, "application": objected.pk})
    assert filed.status_code == 201 and set(filed.json()) == {"id", "state"}

    # Finalizing waits for the end of the period and for the objection.
    with mock.patch("django.utils.timezone.now", return_value=at(5)):
        assert_error(post(staff, f"/api/v1/calls/{demo_call.pk}/finalize/"), 409,
                     "publicity_not_ended")
    open_ones = get(staff, "/api/v1/objections/?state=open").json()
    assert [o["id"] for o in open_ones["results"]] == [filed.json()["id"]]
    with mock.patch("django.utils.timezone.now", return_value=at(9)):
        assert_error(post(staff, f"/api/v1/calls/{demo_call.pk}/finalize/"), 409,
                     "objections_open")

    # The objection is upheld: the application is rejected and its slot goes to the reserve.
    resolved = post(staff, f"/api/v1/objections/{filed.json()['id']}/resolve/",
                    {"upheld": True, "note": "投资额核实不符。"})
    assert resolved.json()["state"] == "upheld"
    assert status_of(objected) == Status.REJECTED
    promoted = post(staff, f"/api/v1/calls/{demo_call.pk}/promote-reserve/").json()
    assert (promoted["id"], promoted["status"]) == (eleventh.pk, "proposed")

    with mock.patch("django.utils.timezone.now", return_value=at(9)):
        finalized = post(staff, f"/api/v1/calls/{demo_call.pk}/finalize/")
    assert finalized.status_code == 200
    awarded_ids = sorted(a.pk for a in top if a is not objected)
    assert sorted(finalized.json()["awarded"]) == awarded_ids

    # The company sees its award; the one whose award was undone sees none.
    winner = top[0]
    owner = winner.company.created_by
    mine = get(owner, "/api/v1/awards/").json()
    assert mine["count"] == 1
    award = mine["results"][0]
    assert (award["application"], award["amount"], award["status"]) == (
        winner.pk, "1500000.00", "awarded")
    assert get(objected.company.created_by, "/api/v1/awards/").json()["count"] == 0

    # Paid in two tranches; a third above the award is refused.
    path = f"/api/v1/awards/{award['id']}/payments/"
    first = post(staff, path, {"amount": "500000.00", "paid_on": "2026-11-16",
                               "reference": "FIN-2026-001"})
    assert first.status_code == 201 and first.json()["amount"] == "500000.00"
    assert post(staff, path, {"amount": "1000000", "paid_on": "2026-11-20",
                              "reference": "FIN-2026-002"}).status_code == 201
    assert_error(post(staff, path, {"amount": "0.01", "paid_on": "2026-11-20",
                                    "reference": "FIN-2026-003"}), 409, "payment_exceeds_award")
    detail = get(owner, f"/api/v1/awards/{award['id']}/").json()
    assert (detail["paid"], detail["left_to_pay"]) == ("1500000.00", "0.00")
    assert [p["reference"] for p in detail["payments"]] == ["FIN-2026-001", "FIN-2026-002"]
