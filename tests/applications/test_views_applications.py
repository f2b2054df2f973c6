"""Request-level tests of the application pages: dashboard, new, edit, estimate, submit,
withdraw, and who may see or change what."""

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from applications import services
from applications.models import Application, Revision, Status
from tests import factories
from tests.factories import DEMO_PROJECT_INPUTS, CompanyFactory, member, open_call


@pytest.fixture(autouse=True)
def _private_root(settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = str(tmp_path / "private")


@pytest.fixture
def call(catalogue):
    return open_call("demo-project")


@pytest.fixture
def company(db):
    return CompanyFactory()


@pytest.fixture
def owner(company):
    return company.created_by


@pytest.fixture
def draft(call, company, owner):
    application, _result = services.application_create(by=owner, call=call, company=company)
    return application


def html(response, status=200) -> str:
    assert response.status_code == status, response.status_code
    return response.content.decode()


def attach_all(client, application):
    for document in application.measure_version.documents:
        response = client.post(f"/applications/{application.pk}/attachments/", {
            "kind": document["kind"], "file": SimpleUploadedFile("x.pdf", factories.tiny_pdf())})
        assert response.status_code == 302, response.content.decode()[:2000]


# ---------------------------------------------------------------- permissions

PAGES = ["/applications/{pk}/", "/applications/{pk}/edit/", "/applications/{pk}/withdraw/"]
POSTS = ["/applications/{pk}/edit/", "/applications/{pk}/estimate/",
         "/applications/{pk}/submit/", "/applications/{pk}/withdraw/",
         "/applications/{pk}/attachments/"]


def test_anonymous_users_are_sent_to_login(client, draft):
    for url in ["/applications/", f"/applications/new/?call={draft.call_id}",
                *(p.format(pk=draft.pk) for p in PAGES)]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next="), url
    for url in POSTS:
        response = client.post(url.format(pk=draft.pk), {})
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_another_companys_members_get_404_everywhere(client, draft):
    outsider = CompanyFactory().created_by
    client.force_login(outsider)

    for url in PAGES:
        assert client.get(url.format(pk=draft.pk)).status_code == 404, url
    for url in POSTS:
        assert client.post(url.format(pk=draft.pk), {"project_name": "x"}).status_code == 404
    assert draft.call.measure.name not in html(client.get("/applications/"))
    draft.refresh_from_db()
    assert draft.inputs == {}


def test_a_viewer_reads_the_application_but_cannot_change_it(client, draft, company):
    viewer = member(company, role="viewer")
    client.force_login(viewer)

    page = html(client.get(f"/applications/{draft.pk}/"))
    assert "/edit/" not in page
    assert f"/applications/{draft.pk}/submit/" not in page
    assert 'enctype="multipart/form-data"' not in page
    assert client.get(f"/applications/{draft.pk}/edit/").status_code == 403
    assert client.get(f"/applications/{draft.pk}/withdraw/").status_code == 403
    for url in POSTS:
        response = client.post(url.format(pk=draft.pk), {"project_name": "changed"})
        assert response.status_code == 403, url
    draft.refresh_from_db()
    assert draft.status == Status.DRAFT
    assert draft.inputs == {}


def test_a_viewer_cannot_start_an_application(client, call, company):
    viewer = member(company, role="viewer")
    client.force_login(viewer)

    page = html(client.get(f"/applications/new/?call={call.pk}"))
    assert 'name="company"' not in page
    response = client.post("/applications/new/", {"call": call.pk, "company": company.pk})
    assert response.status_code == 403
    response = client.post("/applications/new/", {"call": call.pk,
                                                  "company": CompanyFactory().pk})
    assert response.status_code == 404
    assert not Application.objects.exists()


def test_an_unknown_call_is_404(client, owner, db):
    client.force_login(owner)

    assert client.get("/applications/new/?call=999999").status_code == 404
    assert client.get("/applications/new/?call=abc").status_code == 404


# ---------------------------------------------------------------- creating and editing

def test_a_member_creates_a_draft_from_a_call(client, call, company, owner):
    client.force_login(owner)

    page = html(client.get(f"/applications/new/?call={call.pk}"))
    assert company.name in page
    response = client.post("/applications/new/", {"call": call.pk, "company": company.pk})

    application = Application.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/applications/{application.pk}/edit/"
    assert application.status == Status.DRAFT
    assert application.company == company


def test_a_second_draft_for_the_same_call_is_refused_with_a_message(client, draft, owner):
    client.force_login(owner)

    response = client.post("/applications/new/", {"call": draft.call_id,
                                                  "company": draft.company_id},
                           HTTP_ACCEPT_LANGUAGE="en")

    assert "already has an active application" in html(response, 409)
    assert Application.objects.count() == 1


def test_a_partial_draft_is_saved_and_shows_its_estimate(client, draft, owner):
    client.force_login(owner)

    response = client.post(f"/applications/{draft.pk}/edit/",
                           {"project_name": "半成品", "actual_investment": "15000000"})

    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.inputs == {"project_name": "半成品", "actual_investment": "15000000.00"}
    page = html(client.get(f"/applications/{draft.pk}/edit/"))
    assert 'value="半成品"' in page
    assert 'id="estimate"' in page


def test_an_invalid_value_is_shown_on_its_field_in_the_users_language(client, draft, owner):
    client.force_login(owner)

    page = html(client.post(f"/applications/{draft.pk}/edit/",
                            {"project_name": "保留", "actual_investment": "很多",
                             "completion_date": "2025-13-45"},
                            HTTP_ACCEPT_LANGUAGE="en"), 400)

    assert "Enter an amount in yuan" in page
    assert "Enter a date as YYYY-MM-DD." in page
    assert 'value="保留"' in page and 'value="很多"' in page
    draft.refresh_from_db()
    assert draft.inputs == {}


def test_the_htmx_estimate_is_a_fragment(client, draft, owner):
    client.force_login(owner)

    response = client.post(f"/applications/{draft.pk}/estimate/", DEMO_PROJECT_INPUTS,
                           HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en")

    fragment = html(response)
    assert "<html" not in fragment
    assert 'id="estimate"' in fragment
    assert "1,500,000.00" in fragment  # 10% of 15,000,000 (MEASURES.md, demo-project)
    draft.refresh_from_db()
    assert draft.inputs == {}  # an estimate saves nothing


def test_the_edit_form_posts_its_estimate_on_change(client, draft, owner):
    client.force_login(owner)

    page = html(client.get(f"/applications/{draft.pk}/edit/"))

    form = re.search(r"<form[^>]*hx-post=[^>]*>", page).group(0)
    assert f'hx-post="/applications/{draft.pk}/estimate/"' in form
    assert 'hx-trigger="change"' in form


# ---------------------------------------------------------------- the full flow

def test_the_demo_project_from_draft_to_submitted(client, call, company, owner):
    client.force_login(owner)
    client.post("/applications/new/", {"call": call.pk, "company": company.pk})
    application = Application.objects.get()

    partial = {"project_name": DEMO_PROJECT_INPUTS["project_name"]}
    assert client.post(f"/applications/{application.pk}/edit/", partial).status_code == 302
    assert client.post(f"/applications/{application.pk}/edit/",
                       DEMO_PROJECT_INPUTS).status_code == 302
    attach_all(client, application)
    response = client.post(f"/applications/{application.pk}/submit/")

    assert response.status_code == 302
    application.refresh_from_db()
    assert application.status == Status.SUBMITTED
    page = html(client.get(f"/applications/{application.pk}/", HTTP_ACCEPT_LANGUAGE="en"))
    timeline = page.split('class="timeline"', 1)[1].split("</ol>", 1)[0]
    assert "status-submitted" in timeline
    assert timezone.localtime(application.submitted_at).strftime("%Y-%m-%d") in timeline
    assert "Version 1" in page
    assert f"/applications/{application.pk}/edit/" not in page  # read-only now
    dashboard = html(client.get("/applications/", HTTP_ACCEPT_LANGUAGE="en"))
    assert "Wait for screening" in dashboard
    assert "1,500,000.00" in dashboard


def test_submitting_shows_every_reason_at_once(client, draft, owner):
    client.force_login(owner)
    client.post(f"/applications/{draft.pk}/edit/", {"project_name": "只有名称"})

    page = html(client.post(f"/applications/{draft.pk}/submit/",
                            HTTP_ACCEPT_LANGUAGE="en"), 400)

    box = page.split('role="alert"', 1)[1].split("</div>", 1)[0]
    for label in ("Application scene", "Actual project investment", "Completion date"):
        assert f"{label}: This field is required." in box
    assert "Attach:" in box
    draft.refresh_from_db()
    assert draft.status == Status.DRAFT


def test_an_ineligible_model_shows_the_reason_messages(client, catalogue):
    call = open_call("industry-llm")
    company = CompanyFactory()
    owner = company.created_by
    application, _ = services.application_create(by=owner, call=call, company=company, inputs={
        "model_name": "QH-1", "self_developed": False, "publicly_released": True,
        "release_date": "2025-01-01",
        "market_cases": [{"client_name": "甲", "sector": "finance",
                          "contract_date": "2025-02-01", "summary": "x"}]})
    client.force_login(owner)
    attach_all(client, application)

    page = html(client.post(f"/applications/{application.pk}/submit/",
                            HTTP_ACCEPT_LANGUAGE="en"), 400)

    assert "The model must be developed by the applicant itself." in page
    assert "fewer market application cases than the measure requires" in page


def test_save_and_submit_from_the_form_marks_the_missing_fields(client, draft, owner):
    client.force_login(owner)

    page = html(client.post(f"/applications/{draft.pk}/edit/",
                            {"project_name": "名称", "submit": "1"},
                            HTTP_ACCEPT_LANGUAGE="en"), 400)

    assert page.count("This field is required.") >= 3
    assert 'value="名称"' in page
    draft.refresh_from_db()
    assert draft.inputs == {"project_name": "名称"}
    assert draft.status == Status.DRAFT


def test_the_deadline_is_checked_on_the_server(client, draft, owner):
    client.force_login(owner)
    client.post(f"/applications/{draft.pk}/edit/", DEMO_PROJECT_INPUTS)
    attach_all(client, draft)
    type(draft.call).objects.filter(pk=draft.call_id).update(
        closes_at=timezone.now() - timedelta(minutes=1))

    page = html(client.post(f"/applications/{draft.pk}/submit/",
                            HTTP_ACCEPT_LANGUAGE="en"), 409)

    assert "not open for submissions" in page
    draft.refresh_from_db()
    assert draft.status == Status.DRAFT


def test_a_returned_application_shows_the_reason_and_can_be_resubmitted(client, draft, owner):
    client.force_login(owner)
    client.post(f"/applications/{draft.pk}/edit/", DEMO_PROJECT_INPUTS)
    attach_all(client, draft)
    client.post(f"/applications/{draft.pk}/submit/")
    services.application_screen(by=factories.staff_user(), application=draft,
                                to=Status.RETURNED, reason="请补充2025年审计报告。")

    page = html(client.get(f"/applications/{draft.pk}/", HTTP_ACCEPT_LANGUAGE="en"))
    assert "请补充2025年审计报告。" in page
    assert "Make the requested changes and resubmit" in page
    assert "the Qianhai Authority" in page  # staff are not named to the company
    edit = html(client.get(f"/applications/{draft.pk}/edit/"))
    assert "请补充2025年审计报告。" in edit

    changed = {**DEMO_PROJECT_INPUTS, "actual_investment": "18000000.00", "submit": "1"}
    response = client.post(f"/applications/{draft.pk}/edit/", changed)

    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == Status.SUBMITTED
    assert Revision.objects.filter(application=draft).count() == 2
    page = html(client.get(f"/applications/{draft.pk}/", HTTP_ACCEPT_LANGUAGE="en"))
    assert "Version 2" in page
    changes = page.split("Version 2", 1)[1].split("Version 1", 1)[0]
    assert "15,000,000.00" in changes and "18,000,000.00" in changes


def test_a_submitted_application_cannot_be_edited(client, draft, owner):
    client.force_login(owner)
    client.post(f"/applications/{draft.pk}/edit/", DEMO_PROJECT_INPUTS)
    attach_all(client, draft)
    client.post(f"/applications/{draft.pk}/submit/")

    assert client.get(f"/applications/{draft.pk}/edit/")["Location"] == \
        f"/applications/{draft.pk}/"
    response = client.post(f"/applications/{draft.pk}/edit/", {"project_name": "改"})

    assert response.status_code == 409
    draft.refresh_from_db()
    assert draft.inputs["project_name"] == DEMO_PROJECT_INPUTS["project_name"]


def test_withdrawing_asks_first(client, draft, owner):
    client.force_login(owner)

    page = html(client.get(f"/applications/{draft.pk}/withdraw/"))
    draft.refresh_from_db()
    assert draft.status == Status.DRAFT
    assert 'method="post"' in page

    response = client.post(f"/applications/{draft.pk}/withdraw/", {"reason": "不申请了"})

    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == Status.WITHDRAWN
    assert draft.events.get().reason == "不申请了"


# ---------------------------------------------------------------- market cases (rows)

def case_row(i: int) -> dict:
    return {f"market_cases-{i}-client_name": f"客户{i}",
            f"market_cases-{i}-sector": "finance",
            f"market_cases-{i}-contract_date": "2025-03-01",
            f"market_cases-{i}-summary": f"案例{i}"}


def test_market_cases_add_rows_without_js_and_save_ten(client, catalogue):
    call = open_call("industry-llm")
    company = CompanyFactory()
    owner = company.created_by
    application, _ = services.application_create(by=owner, call=call, company=company)
    client.force_login(owner)
    url = f"/applications/{application.pk}/edit/"

    page = html(client.get(url))
    assert 'name="market_cases-0-client_name"' in page
    assert 'name="market_cases-1-client_name"' not in page
    data = {"model_name": "Qianhai-LLM", "self_developed": "true",
            "publicly_released": "true", "release_date": "2025-01-10"}
    for rows in range(1, 10):
        for i in range(rows):
            data.update(case_row(i))
        data["market_cases-TOTAL"] = str(rows)
        page = html(client.post(url, {**data, "add_row": "market_cases"}))
        assert f'name="market_cases-{rows}-client_name"' in page
        assert f'value="客户{rows - 1}"' in page  # nothing typed is lost
    data.update(case_row(9))
    data["market_cases-TOTAL"] = "10"
    application.refresh_from_db()
    assert application.inputs.get("market_cases") is None  # adding rows saves nothing

    assert client.post(url, data).status_code == 302

    application.refresh_from_db()
    cases = application.inputs["market_cases"]
    assert len(cases) == 10
    assert cases[9] == {"client_name": "客户9", "sector": "finance",
                        "contract_date": "2025-03-01", "summary": "案例9"}
    page = html(client.get(url))
    assert 'name="market_cases-10-client_name"' in page  # the saved rows and one empty row
    assert 'name="market_cases-11-client_name"' not in page


def test_market_cases_rows_can_be_removed_and_bad_cells_are_marked(client, catalogue):
    call = open_call("industry-llm")
    company = CompanyFactory()
    owner = company.created_by
    application, _ = services.application_create(by=owner, call=call, company=company)
    client.force_login(owner)
    url = f"/applications/{application.pk}/edit/"
    data = {"market_cases-TOTAL": "3", **case_row(0), **case_row(1), **case_row(2),
            "market_cases-1-DELETE": "on"}

    assert client.post(url, data).status_code == 302
    application.refresh_from_db()
    assert [c["client_name"] for c in application.inputs["market_cases"]] == ["客户0", "客户2"]

    data = {"market_cases-TOTAL": "2", **case_row(0), **case_row(1),
            "market_cases-1-contract_date": "明天"}
    page = html(client.post(url, data, HTTP_ACCEPT_LANGUAGE="en"), 400)
    assert "Row 2, contract_date" in page
    cell = page.split('name="market_cases-1-contract_date"', 1)[1].split("</div>", 1)[0]
    assert "Enter a date as YYYY-MM-DD." in cell
    application.refresh_from_db()
    assert len(application.inputs["market_cases"]) == 2  # the bad save changed nothing


# ---------------------------------------------------------------- dashboard and languages

def test_the_dashboard_lists_each_application_with_the_next_step(client, call, company, owner):
    services.application_create(by=owner, call=call, company=company,
                                inputs={"project_name": "甲"})
    other = CompanyFactory()
    services.application_create(by=other.created_by, call=call, company=other)
    client.force_login(owner)

    page = html(client.get("/applications/", HTTP_ACCEPT_LANGUAGE="en"))

    assert company.name in page
    assert other.name not in page
    assert "Complete and submit" in page
    assert "2026" in page


def test_the_dashboard_query_count_does_not_grow_with_applications(
        client, catalogue, django_assert_max_num_queries):
    company = CompanyFactory()
    owner = company.created_by
    client.force_login(owner)
    services.application_create(by=owner, call=open_call("demo-project"), company=company)
    with django_assert_max_num_queries(20) as one:
        client.get("/applications/")
    for year in (2027, 2028, 2029, 2030):
        services.application_create(by=owner, call=open_call("demo-project", funding_year=year),
                                    company=company)

    with django_assert_max_num_queries(len(one.captured_queries)):
        page = html(client.get("/applications/"))

    assert page.count("status-draft") == 5


def test_a_viewer_has_no_next_step_to_take(client, draft, company):
    client.force_login(member(company, role="viewer"))

    page = html(client.get("/applications/", HTTP_ACCEPT_LANGUAGE="en"))

    assert company.name in page
    assert "Complete and submit" not in page


@pytest.mark.parametrize("how", ["header", "cookie"])
def test_pages_render_in_traditional_chinese(client, draft, owner, how, settings):
    client.force_login(owner)
    if how == "cookie":
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hant"
        headers = {"HTTP_ACCEPT_LANGUAGE": "en"}
    else:
        headers = {"HTTP_ACCEPT_LANGUAGE": "zh-hant"}

    for url in ("/applications/", f"/applications/{draft.pk}/",
                f"/applications/{draft.pk}/edit/", "/calls/"):
        page = html(client.get(url, **headers))
        assert '<html lang="zh-hant">' in page, url
        assert "人工智能應用示範項目資金支持" in page, url  # the measure's Traditional name
    edit = html(client.get(f"/applications/{draft.pk}/edit/", **headers))
    assert "項目名稱" in edit and "實際投資額" in edit
