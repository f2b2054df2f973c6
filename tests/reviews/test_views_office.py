"""Request-level tests of the back office's pages (/office/): who may open them, what staff see
there, what management reads without acting, the pages in Traditional Chinese, and query counts
pinned on the list pages. The actions are tested in test_views_office_actions.py."""

import re
from types import SimpleNamespace

import pytest
from django.utils import timezone

from applications.models import Application, Revision, Status
from qianhai_grants.roles import MANAGEMENT
from reviews.models import Assessment, Award, ObjectionState, Payment, Review, ReviewState
from reviews.services import decisions, payments, publicity
from tests.factories import (
    CompanyFactory,
    UserFactory,
    application_in,
    company_user,
    open_call,
    reviewer_user,
)
from tests.reviews.test_decisions import reviewed

SIGNED = {"name": "王小明", "organization": "深圳市某科技有限公司", "contact": "13800000000",
          "text": "该项目实际投资额与公开信息不符。"}
ACTION = "data-office-action"


def html(response, status=200) -> str:
    assert response.status_code == status, (response.status_code,
                                            response.content.decode()[:3000])
    return response.content.decode()


def awarded_with_award(call, staff, **kwargs) -> Application:
    """An application whose award is final (approved, then moved on as the 公示 would)."""
    application = reviewed(call, **kwargs)
    decisions.application_approve(by=staff, application=application)
    Application.objects.filter(pk=application.pk).update(status=Status.AWARDED)
    Award.objects.filter(application=application).update(awarded_at=timezone.now())
    return Application.objects.get(pk=application.pk)


@pytest.fixture
def management(db):
    return UserFactory(roles=[MANAGEMENT])


@pytest.fixture
def world(demo_call, staff):
    """A call with an application in each stage the office deals with."""
    submitted = application_in(Status.SUBMITTED, call=demo_call,
                               company=CompanyFactory(name="待审科技有限公司"))
    accepted = application_in(Status.ACCEPTED, call=demo_call)
    to_decide = reviewed(demo_call, score="75.50")
    proposed = [reviewed(demo_call, score=f"{90 - i}.00") for i in range(2)]
    for application in proposed:
        decisions.application_approve(by=staff, application=application)
    notice = publicity.publicity_open(by=staff, call=demo_call)
    objection = publicity.objection_file(publicity=notice, application=proposed[0].pk, **SIGNED)
    awarded = awarded_with_award(demo_call, staff, score="70.00",
                                 company=CompanyFactory(name="已获资助科技有限公司"))
    return SimpleNamespace(call=demo_call, submitted=submitted, accepted=accepted,
                           to_decide=to_decide, proposed=proposed, notice=notice,
                           objection=objection, awarded=awarded)


def pages(w) -> list[str]:
    return ["/office/", "/office/applications/", f"/office/applications/{w.submitted.pk}/",
            f"/office/applications/{w.to_decide.pk}/", f"/office/applications/{w.awarded.pk}/",
            f"/office/applications/{w.accepted.pk}/", "/office/calls/",
            f"/office/calls/{w.call.pk}/", f"/office/publicity/{w.notice.pk}/",
            "/office/awards/"]


def actions(w) -> list[tuple[str, dict]]:
    app = "/office/applications/{}/{}/"
    call = f"/office/calls/{w.call.pk}/"
    return [
        ("/office/applications/accept/", {"ids": [w.submitted.pk]}),
        (app.format(w.submitted.pk, "screen"), {"to": "accepted"}),
        (app.format(w.accepted.pk, "assign"), {"reviewer": "1"}),
        (app.format(w.to_decide.pk, "approve"), {}),
        (app.format(w.to_decide.pk, "decline"), {"reason": "名额已满"}),
        (app.format(w.to_decide.pk, "reserve"), {}),
        (app.format(w.awarded.pk, "payments"), {"amount": "100.00", "paid_on": "2026-01-05",
                                                "reference": "QH-1"}),
        (call + "auto-assign/", {}), (call + "rank-and-fill/", {}), (call + "promote/", {}),
        (call + "publicity/", {"working_days": "5"}), (call + "finalize/", {}),
        (f"/office/publicity/{w.notice.pk}/objections/{w.objection.pk}/resolve/",
         {f"o{w.objection.pk}-upheld": "yes", f"o{w.objection.pk}-note": "属实"}),
    ]


def nothing_changed(w):
    assert Application.objects.get(pk=w.submitted.pk).status == Status.SUBMITTED
    assert Application.objects.get(pk=w.to_decide.pk).status == Status.REVIEWED
    assert Application.objects.get(pk=w.accepted.pk).status == Status.ACCEPTED
    assert not Review.objects.exists()
    assert not Payment.objects.exists()
    assert w.call.publicities.count() == 1
    w.objection.refresh_from_db()
    assert w.objection.state == ObjectionState.OPEN


# ---------------------------------------------------------------- who may open what

def test_anonymous_visitors_are_sent_to_login(client, world):
    for url in pages(world):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next="), url
    for url, data in actions(world):
        response = client.post(url, data)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/"), url
    nothing_changed(world)


@pytest.mark.parametrize("who", ["company", "reviewer"])
def test_company_users_and_reviewers_are_refused(client, world, who):
    user = company_user() if who == "company" else reviewer_user()
    if who == "reviewer":  # even one given an application to score
        Review.objects.create(application=world.accepted, reviewer=user)
    client.force_login(user)
    for url in pages(world):
        assert client.get(url).status_code == 403, url
    for url, data in actions(world):
        assert client.post(url, data).status_code == 403, url
    assert Application.objects.get(pk=world.submitted.pk).status == Status.SUBMITTED


def test_management_reads_every_page_without_a_single_action(client, world, management):
    client.force_login(management)
    for url in pages(world):
        page = html(client.get(url, HTTP_ACCEPT_LANGUAGE="en"))
        assert ACTION not in page, url
        assert "Read only" in page, url
    for url, data in [*actions(world), *((url, {}) for url in pages(world))]:
        assert client.post(url, data).status_code == 403, url
    nothing_changed(world)


def test_staff_see_action_forms(client, world, staff):
    client.force_login(staff)
    for url in (f"/office/applications/{world.submitted.pk}/",
                f"/office/applications/{world.to_decide.pk}/",
                f"/office/applications/{world.awarded.pk}/",
                f"/office/applications/{world.accepted.pk}/",
                f"/office/calls/{world.call.pk}/", f"/office/publicity/{world.notice.pk}/",
                "/office/applications/"):
        assert ACTION in html(client.get(url, HTTP_ACCEPT_LANGUAGE="en")), url


def test_actions_take_a_post_and_pages_a_get(client, world, staff):
    client.force_login(staff)
    assert client.get(f"/office/applications/{world.submitted.pk}/screen/").status_code == 405
    assert client.get("/office/applications/accept/").status_code == 405
    assert client.post("/office/", {}).status_code == 405
    assert client.post(f"/office/applications/{world.submitted.pk}/",
                       {"to": "accepted"}).status_code == 405
    assert Application.objects.get(pk=world.submitted.pk).status == Status.SUBMITTED


def test_a_draft_is_not_found_in_the_office(client, demo_call, staff):
    draft = application_in(Status.DRAFT, call=demo_call)
    client.force_login(staff)
    assert client.get(f"/office/applications/{draft.pk}/").status_code == 404
    assert client.post(f"/office/applications/{draft.pk}/screen/",
                       {"to": "accepted"}).status_code == 404


def test_the_site_navigation_links_the_back_office_for_its_users(client, world, staff,
                                                                 management):
    for user, shown in ((staff, True), (management, True), (company_user(), False)):
        client.force_login(user)
        assert ('href="/office/"' in html(client.get("/", HTTP_ACCEPT_LANGUAGE="en"))) == shown
    client.force_login(reviewer_user())
    page = html(client.get("/", HTTP_ACCEPT_LANGUAGE="en"))
    assert 'href="/office/reviews/"' in page
    assert 'href="/office/"' not in page


# ---------------------------------------------------------------- what staff see

def test_the_home_page_shows_every_queue(client, world, staff):
    client.force_login(staff)
    in_review = application_in(Status.IN_REVIEW, call=world.call)
    reviewer = reviewer_user()
    Review.objects.create(application=in_review, reviewer=reviewer, state=ReviewState.SUBMITTED,
                          total="80.00")
    Review.objects.create(application=in_review, reviewer=reviewer_user())

    page = html(client.get("/office/", HTTP_ACCEPT_LANGUAGE="en"))

    for queue in ("To screen", "Ready for assignment", "In review", "Ready to decide",
                  "In 公示", "Awards to pay"):
        assert queue in page
    assert "待审科技有限公司" in page
    assert f'href="/office/applications/{world.accepted.pk}/"' in page
    assert "1 of 2" in page  # reviews in
    assert f'href="/office/calls/{world.call.pk}/"' in page  # ready to decide, per call
    assert world.notice.ends_on.strftime("%Y-%m-%d") in page
    assert "已获资助科技有限公司" in page and "1,500,000.00" in page  # left to pay
    queue = re.search(r'id="queue-publicity">.*?</section>', page, re.S).group(0)
    assert '<span class="badge pending">1</span>' in queue  # one open objection


def test_the_applications_list_filters_and_searches(client, world, staff, catalogue):
    other_call = open_call("demo-project", funding_year=2027)
    later = application_in(Status.SUBMITTED, call=other_call,
                           company=CompanyFactory(name="深港合作科技有限公司"))
    client.force_login(staff)

    page = html(client.get("/office/applications/", HTTP_ACCEPT_LANGUAGE="en"))
    assert "待审科技有限公司" in page and "深港合作科技有限公司" in page
    assert "前海港口智能调度示范" in page  # the project
    assert f'name="ids" value="{world.submitted.pk}"' in page
    assert f'name="ids" value="{world.accepted.pk}"' not in page  # only submitted ones

    by_year = html(client.get("/office/applications/?funding_year=2027"))
    assert "深港合作科技有限公司" in by_year and "待审科技有限公司" not in by_year
    by_call = html(client.get(f"/office/applications/?call={world.call.pk}"))
    assert "待审科技有限公司" in by_call and "深港合作科技有限公司" not in by_call
    by_status = html(client.get("/office/applications/?status=awarded"))
    assert "已获资助科技有限公司" in by_status and "待审科技有限公司" not in by_status
    by_name = html(client.get("/office/applications/?q=深港"))
    assert "深港合作科技有限公司" in by_name and "待审科技有限公司" not in by_name
    number = later.company.registration_number
    by_number = html(client.get(f"/office/applications/?q={number.lower()}"))
    assert "深港合作科技有限公司" in by_number and "待审科技有限公司" not in by_number
    by_id = html(client.get(f"/office/applications/?q=%23{world.submitted.pk}"))
    assert "待审科技有限公司" in by_id and "深港合作科技有限公司" not in by_id
    by_bare_id = html(client.get(f"/office/applications/?q={later.pk}"))
    assert "深港合作科技有限公司" in by_bare_id
    by_measure = html(client.get("/office/applications/?measure=compute-platform",
                                  HTTP_ACCEPT_LANGUAGE="en"))
    assert "No application matches" in by_measure
    nonsense = html(client.get("/office/applications/?funding_year=abc&call=999999&page=x"))
    assert "待审科技有限公司" in nonsense  # what cannot filter does not


def test_the_applications_list_never_shows_drafts_and_pages_by_50(client, demo_call, staff):
    application_in(Status.DRAFT, call=demo_call, company=CompanyFactory(name="草稿公司"))
    for _ in range(51):
        application_in(Status.SUBMITTED, call=demo_call)
    client.force_login(staff)

    first = html(client.get("/office/applications/", HTTP_ACCEPT_LANGUAGE="en"))
    second = html(client.get("/office/applications/?page=2&status=submitted",
                             HTTP_ACCEPT_LANGUAGE="en"))

    assert "草稿公司" not in first
    assert first.count('name="ids"') == 50 and second.count('name="ids"') == 1
    assert "Page 1 of 2" in first
    assert "status=submitted" in second and "page=1" in second  # the filter is kept


def test_the_application_page_shows_everything_about_it(client, world, staff):
    application = world.to_decide
    Revision.objects.create(application=application, number=1, inputs={
        **application.inputs, "actual_investment": "12000000.00"},
        measure_version=application.measure_version, submitted_at=timezone.now(),
        submitted_by=application.created_by)
    Revision.objects.create(application=application, number=2, inputs=application.inputs,
                            measure_version=application.measure_version,
                            submitted_at=timezone.now(), submitted_by=application.created_by)
    reviewer = reviewer_user(name="李评审")
    Review.objects.create(application=application, reviewer=reviewer,
                          state=ReviewState.SUBMITTED, total="75.50", comment="方案扎实",
                          scores={"innovation": "8", "feasibility": "7.5", "team": "6",
                                  "industry_impact": "7", "budget": "9"})
    client.force_login(staff)

    page = html(client.get(f"/office/applications/{application.pk}/",
                           HTTP_ACCEPT_LANGUAGE="en"))

    assert application.company.name in page and application.company.registration_number in page
    assert "前海港口智能调度示范" in page  # the inputs, labelled
    assert "15,000,000.00" in page and "12,000,000.00" in page  # the change between versions
    assert "1,500,000.00" in page  # the estimate
    assert "李评审" in page and "方案扎实" in page and "7.5" in page and "Innovation" in page
    assert "75.50" in page  # the assessment
    assert "Propose for an award" in page and "Not selected" in page
    assert f'action="/office/applications/{application.pk}/reserve/"' in page
    assert "Reviewer assigned" not in page  # no such audit entry
    assert "Reviewed" in page  # the status, by its label


def test_the_screening_checklist_and_documents_show_on_a_submitted_application(
        client, world, staff):
    from django.core.files.base import ContentFile

    from applications.models import Attachment
    from applications.uploads import private_storage
    from tests.factories import tiny_pdf

    kind = world.submitted.measure_version.documents[0]["kind"]
    stored = private_storage().save("office-test.pdf", ContentFile(tiny_pdf()))
    attachment = Attachment.objects.create(
        application=world.submitted, kind=kind, original_name="可研报告.pdf",
        stored_name=stored, content_type="application/pdf", size=len(tiny_pdf()), sha256="0",
        uploaded_by=world.submitted.created_by)
    client.force_login(staff)

    page = html(client.get(f"/office/applications/{world.submitted.pk}/",
                           HTTP_ACCEPT_LANGUAGE="en"))

    assert "Formal screening" in page
    assert "Registered in the Qianhai cooperation zone" in page
    assert "Missing" in page  # the other required documents
    link = f"/applications/{world.submitted.pk}/attachments/{attachment.pk}/"
    assert link in page
    download = client.get(link)
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == tiny_pdf()


def test_the_award_page_shows_the_trace_payments_and_history(client, world, staff):
    payments.payment_record(by=staff, award=world.awarded.award, amount="500000.00",
                            paid_on=timezone.localdate(), reference="QH-2026-001")
    client.force_login(staff)

    page = html(client.get(f"/office/applications/{world.awarded.pk}/",
                           HTTP_ACCEPT_LANGUAGE="en"))

    assert "How the amount was computed" in page
    assert "10% x 15000000.00 = 1500000.00" in page  # the trace, with the field's label
    assert "QH-2026-001" in page and "500,000.00" in page
    assert "1,000,000.00" in page  # left to pay
    assert "Record a payment" in page
    assert "Approved for an award" in page and "Payment recorded" in page  # the history


def test_the_assignment_form_offers_the_candidates_only(client, world, staff):
    fit = reviewer_user(name="合适的专家", expertise=["application_demo"])
    reviewer_user(name="算力专家", expertise=["factor_supply"])
    reviewer_user(name="利益相关专家", affiliations=[world.accepted.company.registration_number])
    client.force_login(staff)

    page = html(client.get(f"/office/applications/{world.accepted.pk}/",
                           HTTP_ACCEPT_LANGUAGE="en"))

    assert f'<option value="{fit.pk}">合适的专家</option>' in page
    assert "算力专家" not in page and "利益相关专家" not in page


def test_the_call_page_shows_the_ranking_and_the_quota(client, world, staff):
    client.force_login(staff)

    page = html(client.get(f"/office/calls/{world.call.pk}/", HTTP_ACCEPT_LANGUAGE="en"))

    ranking = re.search(r'id="ranking">.*?</section>', page, re.S).group(0)
    names = [a.company.name for a in (*world.proposed, world.to_decide, world.awarded)]
    assert [ranking.index(n) for n in names] == sorted(ranking.index(n) for n in names)
    assert "90.00" in ranking and "In public notice" in ranking and "Reviewed" in ranking
    quota = re.search(r'id="quota">.*?</section>', page, re.S).group(0)
    assert "<strong>3</strong> / 10" in quota and "7 left" in quota
    assert "Rank and fill" in page and "Open the 公示" in page


def test_the_calls_list_counts_applications_per_status(client, world, staff, catalogue):
    open_call("compute-platform", funding_year=2026)
    client.force_login(staff)

    page = html(client.get("/office/calls/", HTTP_ACCEPT_LANGUAGE="en"))

    row = re.search(rf'href="/office/calls/{world.call.pk}/".*?</tr>', page, re.S).group(0)
    assert "Submitted 1" in row and "Accepted 1" in row and "In public notice 2" in row
    assert "Awarded 1" in row and "Reviewed 1" in row
    assert '<td class="num">6</td>' in row  # in all


def test_the_publicity_page_shows_entries_and_objections(client, world, staff):
    client.force_login(staff)

    page = html(client.get(f"/office/publicity/{world.notice.pk}/", HTTP_ACCEPT_LANGUAGE="en"))

    for application in world.proposed:
        assert application.company.name in page
    for value in SIGNED.values():
        assert value in page
    assert world.notice.ends_on.strftime("%Y-%m-%d") in page
    assert f'name="o{world.objection.pk}-note"' in page


def test_the_awards_list_shows_paid_and_left_and_filters(client, world, staff, catalogue):
    payments.payment_record(by=staff, award=world.awarded.award, amount="400000.00",
                            paid_on=timezone.localdate(), reference="QH-1")
    later = awarded_with_award(open_call("demo-project", funding_year=2027), staff,
                               company=CompanyFactory(name="明年公司"))
    client.force_login(staff)

    page = html(client.get("/office/awards/", HTTP_ACCEPT_LANGUAGE="en"))
    assert "400,000.00" in page and "1,100,000.00" in page  # paid, left
    assert "已获资助科技有限公司" in page and "明年公司" in page

    by_year = html(client.get("/office/awards/?funding_year=2027"))
    assert "明年公司" in by_year and "已获资助科技有限公司" not in by_year
    by_call = html(client.get(f"/office/awards/?call={later.call_id}"))
    assert "明年公司" in by_call and "已获资助科技有限公司" not in by_call


# ---------------------------------------------------------------- languages

def test_every_page_renders_in_traditional_chinese(client, world, staff, management):
    for user in (staff, management):
        client.force_login(user)
        for url in pages(world):
            page = html(client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hant"))
            assert '<html lang="zh-hant">' in page, url
    client.force_login(staff)
    page = html(client.get(f"/office/applications/{world.to_decide.pk}/",
                           HTTP_ACCEPT_LANGUAGE="zh-hant"))
    assert world.call.measure.name_zh_hant in page


# ---------------------------------------------------------------- query counts

def _grow(call, staff, n):
    """n more applications in every queue of the home page."""
    for i in range(n):
        application_in(Status.SUBMITTED, call=call)
        application_in(Status.ACCEPTED, call=call)
        in_review = application_in(Status.IN_REVIEW, call=call)
        Review.objects.create(application=in_review, reviewer=reviewer_user())
        Assessment.objects.create(application=application_in(Status.REVIEWED, call=call),
                                  score=f"{60 + i}.00", reviews_count=3)
        if i < 3:  # the quota holds 10 a year
            awarded_with_award(call, staff)


def _queries(client, url, django_assert_max_num_queries, limit=25) -> int:
    with django_assert_max_num_queries(limit) as captured:
        html(client.get(url))
    return len(captured.captured_queries)


@pytest.mark.parametrize("url", ["/office/", "/office/applications/", "/office/calls/",
                                 "/office/awards/"])
def test_the_list_pages_query_count_does_not_grow(client, demo_call, staff, catalogue, url,
                                                  django_assert_max_num_queries):
    other = open_call("demo-project", funding_year=2027)
    _grow(demo_call, staff, 3)
    client.force_login(staff)
    few = _queries(client, url, django_assert_max_num_queries)

    _grow(demo_call, staff, 27)
    _grow(other, staff, 3)
    with django_assert_max_num_queries(few) as captured:
        page = html(client.get(url))

    assert len(captured.captured_queries) == few
    assert Application.objects.filter(call=demo_call, status=Status.SUBMITTED).count() == 30
    if url == "/office/":
        assert '<span class="count">33</span>' in page  # to screen, over both calls
    if url == "/office/applications/":
        assert page.count('<td><a href="/office/applications/') == 50  # a full page


def test_the_home_page_reads_each_queue_in_one_query(client, demo_call, staff, catalogue):
    _grow(demo_call, staff, 3)
    client.force_login(staff)
    client.get("/office/")  # the session and the user's groups, read once

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        page = html(client.get("/office/", HTTP_ACCEPT_LANGUAGE="en"))

    reads = [q["sql"] for q in captured.captured_queries
             if "applications_application" in q["sql"] or "reviews_" in q["sql"]]
    assert len(reads) == 6  # one per queue
    assert page.count('class="queue"') == 6
    assert page.count('<span class="count">3</span>') == 5  # every queue but the 公示
