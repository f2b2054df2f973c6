"""Whole journeys through the API, as an outside client makes them."""

import re

from django.core import mail
from rest_framework.test import APIClient

from applications.models import Application, Revision
from tests.applications import assert_error
from tests.factories import DEMO_PROJECT_INPUTS, open_call, staff_user, tiny_pdf, uscc

PASSWORD = "Qianhai-grants-2026!"


def token_client(email, password=PASSWORD) -> APIClient:
    client = APIClient()
    token = client.post("/api/v1/auth/token/", {"username": email, "password": password},
                        format="json")
    assert token.status_code == 200, token.content
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    return client


def test_register_apply_submit_return_resubmit_withdraw(catalogue, anon, client_for):
    call = open_call("demo-project")
    version = call.measure.versions.order_by("-number").first()

    # register and log in with a token
    registered = anon.post("/api/v1/auth/register/", {
        "email": "founder@qianhai-ai.cn", "password": PASSWORD, "preferred_language": "en"},
        format="json")
    assert registered.status_code == 201, registered.content
    assert len(mail.outbox) == 1
    company_api = token_client("founder@qianhai-ai.cn")

    # the call is open to anyone
    calls = anon.get("/api/v1/calls/", {"status": "open"}).json()["results"]
    assert [c["id"] for c in calls] == [call.pk]

    # a company with a valid USCC
    created = company_api.post("/api/v1/companies/", {
        "name": "前海智能港口科技有限公司", "registration_type": "mainland",
        "registration_number": uscc(4242), "in_qianhai": True}, format="json")
    assert created.status_code == 201, created.content
    company = created.json()
    assert company["my_role"] == "owner"

    # a draft on the open call
    draft = company_api.post("/api/v1/applications/", {
        "call": call.pk, "company": company["id"], "inputs": DEMO_PROJECT_INPUTS},
        format="json")
    assert draft.status_code == 201, draft.content
    application_id = draft.json()["id"]
    assert draft.json()["estimate"]["amount"] == "1500000.00"
    base = f"/api/v1/applications/{application_id}/"

    # without its documents it cannot be submitted
    assert_error(company_api.post(f"{base}submit/"), 400, "not_submittable", ["attachments"])

    # a PDF for each required document of the measure version
    for document in version.documents:
        uploaded = company_api.post(f"{base}attachments/", {
            "kind": document["kind"], "file": _pdf(f"{document['kind']}.pdf")},
            format="multipart")
        assert uploaded.status_code == 201, uploaded.content

    submitted = company_api.post(f"{base}submit/")
    assert submitted.status_code == 200, submitted.content
    assert submitted.json()["status"] == "submitted"
    assert submitted.json()["revision"] == 1
    history = company_api.get(f"{base}history/").json()
    assert [(e["from"], e["to"], e["by"]) for e in history["results"]] == [
        ("draft", "submitted", "founder@qianhai-ai.cn")]

    # staff return it for changes, with a reason
    staff_api = client_for(staff_user())
    assert [a["id"] for a in staff_api.get("/api/v1/applications/",
                                           {"status": "submitted"}).json()["results"]] == [
        application_id]
    returned = staff_api.post(f"{base}return/", {"reason": "请补充2025年度审计报告"},
                              format="json")
    assert returned.status_code == 200, returned.content
    assert returned.json()["status"] == "returned"
    assert company_api.get(base).json()["next_actions"] == ["edit", "submit", "withdraw"]

    # the company corrects one field and submits again
    patched = company_api.patch(base, {"inputs": {"actual_investment": "18000000.00"}},
                                format="json")
    assert patched.status_code == 200, patched.content
    assert patched.json()["estimate"]["amount"] == "1800000.00"
    resubmitted = company_api.post(f"{base}submit/")
    assert resubmitted.status_code == 200, resubmitted.content
    assert resubmitted.json()["revision"] == 2

    revisions = company_api.get(f"{base}revisions/").json()
    assert revisions["count"] == 2
    first, second = revisions["results"]
    assert (first["number"], second["number"]) == (1, 2)
    assert first["changes"] == {}
    assert second["changes"] == {
        "actual_investment": {"from": "15000000.00", "to": "18000000.00"}}
    assert second["inputs"]["actual_investment"] == "18000000.00"
    assert {a["kind"] for a in second["attachments"]} == {
        d["kind"] for d in version.documents}
    assert Revision.objects.filter(application_id=application_id).count() == 2

    history = staff_api.get(f"{base}history/").json()["results"]
    assert [(e["from"], e["to"]) for e in history] == [
        ("draft", "submitted"), ("submitted", "returned"), ("returned", "submitted")]
    assert history[1]["reason"] == "请补充2025年度审计报告"

    # and finally withdraws it
    withdrawn = company_api.post(f"{base}withdraw/", {"reason": "项目调整"}, format="json")
    assert withdrawn.status_code == 200, withdrawn.content
    assert withdrawn.json()["status"] == "withdrawn"
    assert Application.objects.get(pk=application_id).status == "withdrawn"
    assert company_api.get(f"{base}history/").json()["results"][-1]["to"] == "withdrawn"


def test_a_colleague_invited_before_registering_can_view_but_not_edit(catalogue, api, company,
                                                                      draft, anon):
    invited = api.post(f"/api/v1/companies/{company.pk}/members/", {
        "email": "colleague@example.cn", "role": "viewer"}, format="json")
    assert invited.status_code == 201, invited.content
    assert invited.json()["state"] == "invited"

    anon.post("/api/v1/auth/register/", {"email": "colleague@example.cn",
                                         "password": PASSWORD}, format="json")
    colleague = token_client("colleague@example.cn")
    assert colleague.get("/api/v1/companies/").json()["count"] == 0  # not before confirming

    link = re.search(r"http://testserver(/accounts/confirm/[^/]+/[^/]+/)", mail.outbox[-1].body)
    assert anon.get(link.group(1)).status_code in (200, 302)

    assert colleague.get("/api/v1/companies/").json()["results"][0]["my_role"] == "viewer"
    assert colleague.get(f"/api/v1/applications/{draft['id']}/").json()["next_actions"] == []
    assert_error(colleague.patch(f"/api/v1/applications/{draft['id']}/",
                                 {"inputs": {"scene": "airport"}}, format="json"), 403)


def test_a_draft_withdrawn_before_submission_stays_private(api, client_for, draft):
    api.post(f"/api/v1/applications/{draft['id']}/withdraw/")

    staff = client_for(staff_user())

    assert staff.get("/api/v1/applications/").json()["count"] == 0
    assert_error(staff.get(f"/api/v1/applications/{draft['id']}/"), 404)


def _pdf(name):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, tiny_pdf(), content_type="application/pdf")
