"""Applications: create, list, read, edit, submit, withdraw and screen through the API."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from applications.models import Application, Call, Status, StatusEvent
from tests.applications import assert_error
from tests.factories import (
    DEMO_PROJECT_INPUTS,
    CompanyFactory,
    company_user,
    member,
    open_call,
    staff_user,
)

LIST = "/api/v1/applications/"


def url(application_id, action=""):
    return f"{LIST}{application_id}/{action + '/' if action else ''}"


def close(call):
    now = timezone.now()
    Call.objects.filter(pk=call.pk).update(opens_at=now - timedelta(days=30),
                                           closes_at=now - timedelta(minutes=1))


COMPUTE_INPUTS = {
    "platform_name": "Qianhai AI Compute",
    "platform_kind": "intelligent_computing_center",
    "authority_consent_ref": "深前管函〔2025〕1号",
    "total_investment": "150000000.00",
    "prior_year_actual_investment": "60000000.00",
}


# ---------------------------------------------------------------- create

def test_a_draft_answers_with_the_estimate(api, call, company, owner):
    response = api.post(LIST, {"call": call.pk, "company": company.pk,
                               "inputs": DEMO_PROJECT_INPUTS}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "draft"
    assert body["inputs"] == DEMO_PROJECT_INPUTS
    estimate = body["estimate"]
    assert estimate["eligible"] is True
    assert estimate["amount"] == "1500000.00"
    assert estimate["capped_by"] is None
    assert estimate["reasons"] == []
    assert estimate["trace"] and all(isinstance(line, str) for line in estimate["trace"])
    assert body["estimate_amount"] == "1500000.00"
    assert body["company"] == company.pk and body["call"] == call.pk
    assert body["measure"] == "demo-project"
    assert body["next_actions"] == ["edit", "submit", "withdraw"]
    assert body["attachments"] == []
    assert Application.objects.get(pk=body["id"]).created_by == owner


def test_an_estimate_names_its_cap_and_reasons(api, call, company):
    response = api.post(LIST, {"call": call.pk, "company": company.pk, "inputs": {
        "actual_investment": "50000000"}}, format="json")

    estimate = response.json()["estimate"]
    assert estimate["amount"] == "2000000.00"
    assert estimate["capped_by"] == "cap"

    empty = api.post(LIST, {"call": open_call("core-algorithm").pk, "company": company.pk},
                     format="json")
    assert empty.status_code == 201, empty.content
    assert empty.json()["estimate"]["eligible"] is False
    assert empty.json()["estimate"]["reasons"] == ["missing_input"]


def test_creating_needs_login(anon, call, company):
    response = anon.post(LIST, {"call": call.pk, "company": company.pk}, format="json")

    assert_error(response, 401, "not_authenticated")


def test_a_call_that_does_not_exist_is_400_naming_call(api, company):
    assert_error(api.post(LIST, {"call": 999999, "company": company.pk}, format="json"),
                 400, "invalid", ["call"])


def test_a_company_one_is_not_a_member_of_is_400_naming_company(api, call):
    theirs = CompanyFactory()

    response = api.post(LIST, {"call": call.pk, "company": theirs.pk}, format="json")

    assert_error(response, 400, "invalid", ["company"])
    assert not Application.objects.exists()


def test_a_viewer_cannot_create(client_for, call, company):
    viewer = client_for(member(company, "viewer"))

    response = viewer.post(LIST, {"call": call.pk, "company": company.pk}, format="json")

    assert_error(response, 403, "forbidden")


@pytest.mark.parametrize(("body", "field"), [
    ({"call": "abc"}, "call"),
    ({"call": 1.5}, "call"),
    ({"call": True}, "call"),
    ({"call": -1}, "call"),
    ({"call": 10**30}, "call"),
    ({"call": None}, "call"),
    ({"company": {"id": 1}}, "company"),
    ({"company": 99999999999999999999}, "company"),
    ({"inputs": []}, "inputs"),
    ({"inputs": "text"}, "inputs"),
    ({"inputs": {"actual_investment": "a lot"}}, "actual_investment"),
    ({"inputs": {"completion_date": "31/12/2025"}}, "completion_date"),
    ({"inputs": {"scene": "moon"}}, "scene"),
])
def test_malformed_input_is_400_naming_the_field(api, call, company, body, field):
    response = api.post(LIST, {"call": call.pk, "company": company.pk, **body}, format="json")

    assert_error(response, 400, "invalid", [field])


@pytest.mark.parametrize("raw", ["[]", "[1, 2]", '"x"', "null", "7", "{bad json"])
def test_a_body_that_is_not_an_object_is_400(api, call, raw):
    response = api.generic("POST", LIST, raw, content_type="application/json")

    assert_error(response, 400, fields=["body"])


def test_a_closed_call_takes_no_new_drafts(api, call, company):
    close(call)

    response = api.post(LIST, {"call": call.pk, "company": company.pk}, format="json")

    assert_error(response, 409, "call_closed")


def test_one_active_application_per_company_and_call(api, call, company, draft):
    response = api.post(LIST, {"call": call.pk, "company": company.pk,
                               "inputs": DEMO_PROJECT_INPUTS}, format="json")

    assert_error(response, 409, "duplicate_application")

    assert api.post(url(draft["id"], "withdraw"), {}, format="json").status_code == 200
    again = api.post(LIST, {"call": call.pk, "company": company.pk}, format="json")
    assert again.status_code == 201, again.content


def test_compute_platforms_are_counted_by_platform_name(api, catalogue, company):
    call = open_call("compute-platform")

    def create(name):
        return api.post(LIST, {"call": call.pk, "company": company.pk,
                               "inputs": {**COMPUTE_INPUTS, "platform_name": name}},
                        format="json")

    assert create("Qianhai AI Compute").status_code == 201
    assert create("Shekou Scheduling Platform").status_code == 201
    assert_error(create("  qianhai   AI COMPUTE"), 409, "duplicate_application")
    assert_error(create("QianhaiAICompute"), 409, "duplicate_application")
    assert Application.objects.count() == 2


def test_renaming_a_platform_into_another_active_one_is_409(api, catalogue, company):
    call = open_call("compute-platform")
    ids = [api.post(LIST, {"call": call.pk, "company": company.pk,
                           "inputs": {**COMPUTE_INPUTS, "platform_name": name}},
                    format="json").json()["id"] for name in ("Alpha", "Beta")]

    response = api.patch(url(ids[1]), {"inputs": {"platform_name": "ALPHA"}}, format="json")

    assert_error(response, 409, "duplicate_application")


# ---------------------------------------------------------------- list and read

def test_the_list_is_scoped_to_ones_companies(api, client_for, call, company, draft):
    other = CompanyFactory()
    theirs = client_for(other.created_by)
    theirs_draft = theirs.post(LIST, {"call": call.pk, "company": other.pk},
                               format="json").json()

    mine = api.get(LIST).json()

    assert set(mine) == {"count", "next", "previous", "results"}
    assert [a["id"] for a in mine["results"]] == [draft["id"]]
    assert [a["id"] for a in theirs.get(LIST).json()["results"]] == [theirs_draft["id"]]
    row = mine["results"][0]
    assert row["company_name"] == company.name
    assert row["status"] == "draft"
    assert row["estimate_amount"] == "1500000.00"


def test_staff_list_submitted_applications_but_not_drafts(client_for, submitted, call):
    other = CompanyFactory()
    client_for(other.created_by).post(LIST, {"call": call.pk, "company": other.pk},
                                      format="json")

    response = client_for(staff_user()).get(LIST)

    assert [a["id"] for a in response.json()["results"]] == [submitted["id"]]


def test_the_list_is_filtered_by_status_and_call(api, catalogue, company, draft, call):
    other_call = open_call("industry-llm")
    api.post(LIST, {"call": other_call.pk, "company": company.pk}, format="json")

    def ids(**query):
        response = api.get(LIST, query)
        assert response.status_code == 200, response.content
        return {a["id"] for a in response.json()["results"]}

    assert len(ids()) == 2
    assert ids(call=call.pk) == {draft["id"]}
    assert ids(status="submitted") == set()
    assert len(ids(status="draft")) == 2
    assert_error(api.get(LIST, {"status": "pending"}), 400, "invalid", ["status"])
    assert_error(api.get(LIST, {"call": "x"}), 400, "invalid", ["call"])


def test_the_list_takes_the_same_queries_for_one_application_or_many(api, catalogue, company):
    def create(code, year):
        call = open_call(code, funding_year=year)
        assert api.post(LIST, {"call": call.pk, "company": company.pk},
                        format="json").status_code == 201

    create("demo-project", 2026)
    with CaptureQueriesContext(connection) as one:
        assert api.get(LIST).json()["count"] == 1
    for year in range(2027, 2032):
        create("demo-project", year)
    with CaptureQueriesContext(connection) as six:
        assert api.get(LIST).json()["count"] == 6

    assert len(six) == len(one) <= 5


def test_detail_is_404_for_another_company(client_for, draft):
    stranger = client_for(CompanyFactory().created_by)

    assert_error(stranger.get(url(draft["id"])), 404, "not_found")
    assert_error(client_for(company_user()).get(url(draft["id"])), 404)


def test_staff_do_not_see_drafts(client_for, draft):
    assert_error(client_for(staff_user()).get(url(draft["id"])), 404)


def test_detail_needs_login(anon, draft):
    assert_error(anon.get(url(draft["id"])), 401, "not_authenticated")


@pytest.mark.parametrize("bad", ["abc", "0x1", "99999999999999999999999", "1.0"])
def test_malformed_ids_in_paths_are_404(api, db, bad):
    assert_error(api.get(f"{LIST}{bad}/"), 404)


def test_detail_shows_a_fresh_estimate(api, draft):
    body = api.get(url(draft["id"])).json()

    assert body["estimate"]["amount"] == "1500000.00"
    assert body["estimate"]["eligible"] is True
    assert body["revision"] == 0
    assert body["submitted_at"] is None
    assert body["amount"] is None


def test_next_actions_depend_on_who_asks(api, client_for, company, draft, submitted):
    viewer = client_for(member(company, "viewer"))
    editor = client_for(member(company, "editor"))
    staff = client_for(staff_user())

    assert viewer.get(url(draft["id"])).json()["next_actions"] == []
    assert editor.get(url(submitted["id"])).json()["next_actions"] == ["withdraw"]
    assert staff.get(url(submitted["id"])).json()["next_actions"] == [
        "accept", "return", "reject"]


def test_submit_is_not_offered_once_the_call_has_closed(api, call, draft):
    close(call)

    assert api.get(url(draft["id"])).json()["next_actions"] == ["edit", "withdraw"]


# ---------------------------------------------------------------- edit

def test_patch_merges_the_inputs_given(api, draft):
    response = api.patch(url(draft["id"]), {"inputs": {
        "actual_investment": "16000000", "project_name": None}}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["inputs"] == {"scene": "port", "actual_investment": "16000000.00",
                              "completion_date": "2025-12-31"}
    assert body["estimate"]["amount"] == "1600000.00"


def test_a_viewer_cannot_edit(client_for, company, draft):
    viewer = client_for(member(company, "viewer"))

    response = viewer.patch(url(draft["id"]), {"inputs": {"scene": "airport"}}, format="json")

    assert_error(response, 403, "forbidden")
    assert Application.objects.get(pk=draft["id"]).inputs["scene"] == "port"


@pytest.mark.parametrize(("method", "path", "body"), [
    ("patch", "", {"inputs": "not an object"}),
    ("post", "attachments/", {"kind": "no-such-kind"}),
    ("post", "withdraw/", {"reason": ["not", "text"]}),
])
def test_a_viewer_is_refused_before_the_body_is_looked_at(client_for, company, draft, method,
                                                          path, body):
    viewer = client_for(member(company, "viewer"))

    response = getattr(viewer, method)(url(draft["id"]) + path, body, format="json")

    assert_error(response, 403, "forbidden")


def test_another_company_cannot_edit(client_for, draft):
    stranger = client_for(CompanyFactory().created_by)

    response = stranger.patch(url(draft["id"]), {"inputs": {"scene": "airport"}},
                              format="json")

    assert_error(response, 404)


def test_a_submitted_application_cannot_be_edited(api, submitted):
    response = api.patch(url(submitted["id"]), {"inputs": {"scene": "airport"}}, format="json")

    assert_error(response, 409, "invalid_transition")


@pytest.mark.parametrize(("body", "field"), [
    ({}, "inputs"),
    ({"inputs": None}, "inputs"),
    ({"inputs": ["scene", "port"]}, "inputs"),
    ({"inputs": {"actual_investment": "-5"}}, "actual_investment"),
])
def test_malformed_patch_is_400_naming_the_field(api, draft, body, field):
    assert_error(api.patch(url(draft["id"]), body, format="json"), 400, "invalid", [field])


def test_put_is_not_offered(api, draft):
    response = api.put(url(draft["id"]), {"inputs": {}}, format="json")

    assert_error(response, 405)


# ---------------------------------------------------------------- submit and withdraw

def test_submitting_an_incomplete_draft_names_everything_missing(api, call, company):
    draft = api.post(LIST, {"call": call.pk, "company": company.pk, "inputs": {
        "project_name": "示范"}}, format="json").json()

    response = api.post(url(draft["id"], "submit"))

    body = assert_error(response, 400, "not_submittable")
    assert {"scene", "actual_investment", "completion_date", "attachments"} <= set(
        body["fields"])
    # The documents are named by their labels in the request's language.
    assert "实际投资证明材料" in body["fields"]["attachments"][0]
    assert "项目建设报告" in body["fields"]["attachments"][0]
    assert Application.objects.get(pk=draft["id"]).status == Status.DRAFT


def test_submitting_after_the_call_closed_is_409_call_closed(api, call, draft, complete):
    complete(api, draft["id"])
    close(call)

    assert_error(api.post(url(draft["id"], "submit")), 409, "call_closed")
    assert Application.objects.get(pk=draft["id"]).status == Status.DRAFT


def test_submitting_twice_is_409(api, submitted):
    assert_error(api.post(url(submitted["id"], "submit")), 409, "invalid_transition")


def test_a_viewer_cannot_submit_or_withdraw(client_for, company, draft, complete, api):
    complete(api, draft["id"])
    viewer = client_for(member(company, "viewer"))

    assert_error(viewer.post(url(draft["id"], "submit")), 403, "forbidden")
    assert_error(viewer.post(url(draft["id"], "withdraw")), 403, "forbidden")


def test_another_company_cannot_submit_or_withdraw(client_for, draft):
    stranger = client_for(CompanyFactory().created_by)

    assert_error(stranger.post(url(draft["id"], "submit")), 404)
    assert_error(stranger.post(url(draft["id"], "withdraw")), 404)


def test_submit_and_withdraw_need_login(anon, draft):
    assert_error(anon.post(url(draft["id"], "submit")), 401)
    assert_error(anon.post(url(draft["id"], "withdraw")), 401)


def test_withdrawing_with_a_reason(api, submitted):
    response = api.post(url(submitted["id"], "withdraw"), {"reason": "项目延期"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "withdrawn"
    assert response.json()["next_actions"] == []
    history = api.get(url(submitted["id"], "history")).json()["results"]
    assert history[-1]["to"] == "withdrawn"
    assert history[-1]["reason"] == "项目延期"
    assert_error(api.post(url(submitted["id"], "withdraw")), 409, "invalid_transition")


def test_withdraw_refuses_a_reason_that_is_not_text(api, draft):
    assert_error(api.post(url(draft["id"], "withdraw"), {"reason": {"a": 1}}, format="json"),
                 400, "invalid", ["reason"])


# ---------------------------------------------------------------- screening

@pytest.mark.parametrize(("action", "reason", "status"), [
    ("accept", "", "accepted"),
    ("return", "请补充审计报告", "returned"),
    ("reject", "不属于前海合作区企业", "rejected"),
])
def test_staff_screen_submitted_applications(client_for, submitted, action, reason, status):
    staff = staff_user()

    response = client_for(staff).post(url(submitted["id"], action), {"reason": reason},
                                      format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == status
    event = Application.objects.get(pk=submitted["id"]).events.last()
    assert (event.by, event.to_status, event.reason) == (staff, status, reason)


@pytest.mark.parametrize("action", ["return", "reject"])
def test_returning_or_rejecting_needs_a_reason(client_for, submitted, action):
    response = client_for(staff_user()).post(url(submitted["id"], action), {"reason": "  "},
                                             format="json")

    assert_error(response, 400, "invalid", ["reason"])


@pytest.mark.parametrize("action", ["accept", "return", "reject"])
def test_company_users_cannot_screen_their_own(api, submitted, action):
    response = api.post(url(submitted["id"], action), {"reason": "我自己批准"}, format="json")

    assert_error(response, 403, "forbidden")
    assert Application.objects.get(pk=submitted["id"]).status == Status.SUBMITTED


@pytest.mark.parametrize("action", ["accept", "return", "reject"])
def test_screening_what_one_cannot_see_is_404(client_for, draft, submitted, action):
    stranger = client_for(CompanyFactory().created_by)
    assert_error(stranger.post(url(submitted["id"], action), {"reason": "x"}, format="json"),
                 404)


@pytest.mark.parametrize("action", ["accept", "return", "reject"])
def test_screening_needs_login(anon, submitted, action):
    assert_error(anon.post(url(submitted["id"], action), {"reason": "x"}, format="json"), 401)


def test_screening_twice_is_409(client_for, submitted):
    staff = client_for(staff_user())
    assert staff.post(url(submitted["id"], "accept")).status_code == 200

    assert_error(staff.post(url(submitted["id"], "reject"), {"reason": "迟了"},
                            format="json"), 409, "invalid_transition")


def test_staff_cannot_screen_a_draft_they_cannot_see(client_for, draft):
    assert_error(client_for(staff_user()).post(url(draft["id"], "accept")), 404)


# ---------------------------------------------------------------- history and revisions

def test_history_and_revisions_need_login_and_visibility(anon, client_for, submitted):
    for action in ("history", "revisions"):
        assert_error(anon.get(url(submitted["id"], action)), 401)
        stranger = client_for(CompanyFactory().created_by)
        assert_error(stranger.get(url(submitted["id"], action)), 404)


def test_staff_read_the_history_of_submitted_applications(client_for, submitted, owner):
    response = client_for(staff_user()).get(url(submitted["id"], "history"))

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert body["results"][0] | {"at": None} == {
        "at": None, "by": owner.email, "from": "draft", "to": "submitted",
        "to_label": body["results"][0]["to_label"], "reason": ""}


# ---------------------------------------------------------------- language

def test_errors_are_in_the_requests_language(api, call):
    response = api.post(LIST, {"call": call.pk, "company": 999999}, format="json",
                        HTTP_ACCEPT_LANGUAGE="zh-hant")

    assert assert_error(response, 400, "invalid")["message"] == "輸入內容無效。"


def test_anonymous_errors_are_in_the_requests_language(anon, db):
    response = anon.get(LIST, HTTP_ACCEPT_LANGUAGE="zh-hant")

    message = assert_error(response, 401)["message"]
    assert any("\u4e00" <= c <= "\u9fff" for c in message), message


def test_a_change_made_by_the_system_shows_no_author(api, submitted):
    StatusEvent.objects.create(application_id=submitted["id"], by=None,
                               from_status="submitted", to_status="accepted")

    history = api.get(url(submitted["id"], "history")).json()["results"]

    assert [(e["to"], e["by"]) for e in history][-1] == ("accepted", None)
