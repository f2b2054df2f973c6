"""The reviewers' pages: my reviews, one review with its scorecard, recusal and declarations.
Who may open them, scoring through the page, and blindness (no reviewer sees another's work)."""

from decimal import Decimal

import pytest
from django.core.files.base import ContentFile

from applications import uploads
from applications.models import Application, Attachment, Status
from qianhai_grants.roles import MANAGEMENT, REVIEWER, STAFF
from reviews.models import Affiliation, Review, ReviewerProfile, ReviewState
from reviews.services.assignments import review_assign
from reviews.services.scoring import review_submit
from tests.factories import (
    UserFactory,
    application_in,
    company_user,
    open_call,
    reviewer_user,
    tiny_pdf,
)

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
CODES = ("innovation", "feasibility", "industry_impact", "team", "budget")
EIGHTS = {f"score_{code}": "8" for code in CODES}
ICV_INPUTS = {"pilot_name": "前海自动驾驶接驳试点", "pilot_scope": "前海片区 Robotaxi 接驳",
              "vehicle_count": 20, "requested_amount": "8000000.00"}


@pytest.fixture
def application(demo_call):
    return application_in("accepted", call=demo_call)


@pytest.fixture
def reviewer(db):
    return reviewer_user(name="李评审", expertise=("application_demo",))


@pytest.fixture
def review(staff, application, reviewer):
    return review_assign(by=staff, application=application, reviewer=reviewer)


def page_of(client, user, url, **extra):
    client.force_login(user)
    return client.get(url, **extra)


def criterion_block(html: str, code: str) -> str:
    """The part of the page that shows one criterion of the scorecard."""
    return html.split(f'id="criterion-{code}"', 1)[1].split("</fieldset>", 1)[0]


def attach(application) -> Attachment:
    name = uploads.private_storage().save("evidence.pdf", ContentFile(tiny_pdf()))
    return Attachment.objects.create(
        application=application, kind="investment_evidence", original_name="投资证明.pdf",
        stored_name=name, content_type="application/pdf", size=len(tiny_pdf()),
        sha256="0" * 64, uploaded_by=application.company.created_by)


# ---------------------------------------------------------------- who may open the pages

def test_anonymous_visitors_are_sent_to_the_login_page(client, review):
    for url in ("/office/reviews/", f"/office/reviews/{review.pk}/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


def test_company_users_staff_and_management_may_not_open_the_reviewers_pages(client, review,
                                                                           staff):
    management = UserFactory(roles=[MANAGEMENT])
    owner = review.application.company.created_by
    for user in (company_user(), owner, staff, management):
        for url in ("/office/reviews/", f"/office/reviews/{review.pk}/"):
            assert page_of(client, user, url).status_code == 403, (user, url)
        assert client.post(f"/office/reviews/{review.pk}/", EIGHTS).status_code == 403
    assert Review.objects.get(pk=review.pk).state == ReviewState.ASSIGNED


def test_my_reviews_lists_the_reviewers_own_reviews_by_state(client, demo_call, staff, review,
                                                            reviewer):
    scored = review_assign(by=staff, application=application_in("accepted", call=demo_call),
                           reviewer=reviewer)
    review_submit(by=reviewer, review=scored, scores=dict.fromkeys(CODES, 8))
    others = review_assign(by=staff, application=application_in("accepted", call=demo_call),
                           reviewer=reviewer_user())

    html = page_of(client, reviewer, "/office/reviews/", **EN).content.decode()

    assert "You have 1 review to score." in html
    assert f"/office/reviews/{review.pk}/" in html and f"/office/reviews/{scored.pk}/" in html
    assert f"/office/reviews/{others.pk}/" not in html
    assert others.application.company.name not in html
    assert review.application.company.name in html
    assert demo_call.measure.name_en in html
    to_score, scored_part = html.split(">Scored <", 1)
    assert review.application.company.name in to_score
    assert scored.application.company.name in scored_part


def test_a_withdrawn_application_leaves_the_reviewers_work_and_load(client, review, reviewer):
    from applications.services import application_withdraw
    from reviews.selectors import reviewer_loads

    assert reviewer_loads([reviewer.pk]) == {reviewer.pk: 1}
    owner = review.application.company.memberships.get(role="owner").user
    application_withdraw(by=owner, application=review.application, reason="项目调整")

    html = page_of(client, reviewer, "/office/reviews/", **EN).content.decode()

    assert "You have 0 reviews to score." in html
    closed = html.split(">No longer to score <", 1)[1].split("<h2>", 1)[0]
    assert review.application.company.name in closed
    assert f"/office/reviews/{review.pk}/" not in html  # not offered for scoring any more
    assert reviewer_loads([reviewer.pk]) == {}


def test_another_reviewer_gets_404_on_someone_elses_review(client, review):
    other = reviewer_user(name="王评审")
    assert page_of(client, other, f"/office/reviews/{review.pk}/").status_code == 404
    assert client.post(f"/office/reviews/{review.pk}/", EIGHTS).status_code == 404
    assert client.post(f"/office/reviews/{review.pk}/recuse/",
                       {"reason": "x"}).status_code == 404
    assert Review.objects.get(pk=review.pk).state == ReviewState.ASSIGNED


def test_a_reviewer_who_is_also_staff_sees_only_their_own_review(client, demo_call, staff,
                                                                review):
    both = reviewer_user(name="兼任评审")
    both.groups.add(*UserFactory(roles=[STAFF, REVIEWER]).groups.all())
    mine = review_assign(by=staff, application=application_in("accepted", call=demo_call),
                         reviewer=both)
    assert page_of(client, both, f"/office/reviews/{mine.pk}/").status_code == 200
    assert client.get(f"/office/reviews/{review.pk}/").status_code == 404


def test_a_conflicted_reviewer_gets_404_on_the_review_and_the_documents(client, review,
                                                                       reviewer):
    attachment = attach(review.application)
    download = f"/applications/{review.application_id}/attachments/{attachment.pk}/"
    page = page_of(client, reviewer, f"/office/reviews/{review.pk}/", **EN)
    assert page.status_code == 200 and "投资证明.pdf" in page.content.decode()
    assert client.get(download).status_code == 200

    # Declared straight in the table: the read rules alone must hide the application.
    Affiliation.objects.create(reviewer=ReviewerProfile.objects.get(user=reviewer),
                               registration_number=review.application.company.
                               registration_number)

    assert client.get(f"/office/reviews/{review.pk}/").status_code == 404
    assert client.get(download).status_code == 404
    assert client.post(f"/office/reviews/{review.pk}/", EIGHTS).status_code == 404
    assert Review.objects.get(pk=review.pk).state == ReviewState.ASSIGNED


# ---------------------------------------------------------------- the application and scorecard

def test_the_review_page_shows_the_application_and_the_scorecard(client, review, reviewer):
    attach(review.application)
    html = page_of(client, reviewer, f"/office/reviews/{review.pk}/", **EN).content.decode()

    assert review.application.company.name in html
    assert "前海港口智能调度示范" in html  # the project's name, labelled
    labels = review.application.measure_version.field_labels("en")
    assert labels["actual_investment"] in html and labels["project_name"] in html
    assert "15,000,000.00" in html
    assert "Evidence of actual investment" in html
    assert f"/applications/{review.application_id}/attachments/" in html
    innovation = criterion_block(html, "innovation")
    assert "Innovation" in innovation and 'max="10"' in innovation and 'step="0.5"' in innovation
    assert 'name="score_innovation"' in innovation and 'name="comment_innovation"' in innovation
    assert "Weight 30" in innovation
    assert 'name="recommended_amount"' not in html  # demo-project is a percentage, not a cap
    assert 'name="csrfmiddlewaretoken"' in html


def test_criteria_are_labelled_in_the_readers_language(client, review, reviewer):
    html = page_of(client, reviewer, f"/office/reviews/{review.pk}/",
                   HTTP_ACCEPT_LANGUAGE="zh-hant").content.decode()
    assert "產業帶動" in criterion_block(html, "industry_impact")


# ---------------------------------------------------------------- scoring through the page

def test_the_last_review_in_closes_the_expert_review(client, review, reviewer):
    client.force_login(reviewer)
    response = client.post(f"/office/reviews/{review.pk}/",
                           {**EIGHTS, "comment": "整体可行"}, **EN)

    assert response.status_code == 302 and response["Location"] == f"/office/reviews/{review.pk}/"
    review.refresh_from_db()
    assert (review.state, review.total, review.comment) == (
        ReviewState.SUBMITTED, Decimal("80.00"), "整体可行")
    assert Application.objects.get(pk=review.application_id).status == Status.REVIEWED
    html = client.get(response["Location"], **EN).content.decode()
    assert "Your scores are submitted." in html
    assert "80.00" in html and "整体可行" in html
    assert 'name="score_innovation"' not in html  # read-only now


def test_a_low_score_without_a_comment_is_refused_beside_its_criterion(client, review,
                                                                     reviewer):
    client.force_login(reviewer)
    response = client.post(f"/office/reviews/{review.pk}/",
                           {**EIGHTS, "score_innovation": "3", "score_team": ""}, **EN)

    assert response.status_code == 400
    html = response.content.decode()
    assert "A score below half of 10 needs a comment." in criterion_block(html, "innovation")
    assert "Score this criterion." in criterion_block(html, "team")
    assert "needs a comment" not in criterion_block(html, "feasibility")
    assert 'value="3"' in criterion_block(html, "innovation")  # what was typed is kept
    review.refresh_from_db()
    assert (review.state, review.scores, review.total) == (ReviewState.ASSIGNED, {}, None)
    assert Application.objects.get(pk=review.application_id).status == Status.IN_REVIEW


def test_a_low_score_with_its_comment_is_accepted(client, review, reviewer):
    client.force_login(reviewer)
    response = client.post(f"/office/reviews/{review.pk}/", {
        **EIGHTS, "score_innovation": "3.5", "comment_innovation": "创新点不足"})
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.scores["innovation"] == "3.5"
    assert review.comments == {"innovation": "创新点不足"}


def test_scores_out_of_range_are_refused_in_the_readers_language(client, review, reviewer):
    client.force_login(reviewer)
    response = client.post(f"/office/reviews/{review.pk}/", {**EIGHTS, "score_budget": "11"},
                           **EN)
    assert response.status_code == 400
    assert "Enter a number from 0 to 10" in criterion_block(response.content.decode(), "budget")
    assert Review.objects.get(pk=review.pk).state == ReviewState.ASSIGNED


def test_a_measure_up_to_a_cap_takes_a_recommended_amount(client, staff, reviewer, catalogue):
    call = open_call("icv-pilot", funding_year=2026)
    review = review_assign(by=staff, reviewer=reviewer, application=application_in(
        "accepted", call=call, inputs=ICV_INPUTS))
    client.force_login(reviewer)
    html = client.get(f"/office/reviews/{review.pk}/", **EN).content.decode()
    assert 'name="recommended_amount"' in html

    too_much = client.post(f"/office/reviews/{review.pk}/",
                           {**EIGHTS, "recommended_amount": "20000000.00"}, **EN)
    assert too_much.status_code == 400
    field = too_much.content.decode().split('name="recommended_amount"', 1)[1]
    assert "at most 10000000.00 yuan" in field.split("</div>", 1)[0]
    assert client.post(f"/office/reviews/{review.pk}/",
                       {**EIGHTS, "recommended_amount": "6000000.00"}).status_code == 302
    assert Review.objects.get(pk=review.pk).recommended_amount == Decimal("6000000.00")


def test_the_weighted_total_is_previewed_as_the_reviewer_types(client, review, reviewer):
    client.force_login(reviewer)
    url = f"/office/reviews/{review.pk}/total/"
    partial = client.post(url, EIGHTS, HTTP_HX_REQUEST="true", **EN).content.decode()
    incomplete = client.post(url, {"score_team": "8"}, HTTP_HX_REQUEST="true", **EN)

    assert 'id="total"' in partial and "80.00" in partial and "<html" not in partial
    assert "Score every criterion" in incomplete.content.decode()
    assert Review.objects.get(pk=review.pk).state == ReviewState.ASSIGNED


# ---------------------------------------------------------------- blind

def test_a_second_reviewer_never_sees_the_first_reviewers_work(client, staff, review, reviewer):
    second = reviewer_user(name="王评审")
    theirs = review_assign(by=staff, application=review.application, reviewer=second)
    scores = dict.fromkeys(CODES, 7) | {"innovation": 9}  # 76.00
    review_submit(by=reviewer, review=review, scores=scores,
                  comment="第一位专家的保密评语", comments={"team": "团队评语甲"})
    assert Review.objects.get(pk=review.pk).total == Decimal("76.00")

    client.force_login(second)
    pages = [client.get(f"/office/reviews/{theirs.pk}/", **EN).content.decode(),
             client.get("/office/reviews/", **EN).content.decode()]
    submitted = client.post(f"/office/reviews/{theirs.pk}/", EIGHTS, follow=True, **EN)
    pages.append(submitted.content.decode())

    assert submitted.status_code == 200
    for html in pages:
        for secret in ("第一位专家的保密评语", "团队评语甲", "76.00", "李评审", reviewer.email):
            assert secret not in html


# ---------------------------------------------------------------- recusal and declarations

def test_recusal_needs_a_reason_then_hands_the_review_on(client, review, reviewer):
    replacement = reviewer_user(name="候补评审")
    client.force_login(reviewer)
    url = f"/office/reviews/{review.pk}/recuse/"

    refused = client.post(url, {"reason": "  "}, **EN)
    assert refused.status_code == 400
    assert "Say why you step back from this review." in refused.content.decode()
    assert Review.objects.get(pk=review.pk).state == ReviewState.ASSIGNED

    response = client.post(url, {"reason": "我曾为该公司提供咨询"}, **EN)
    assert response.status_code == 302 and response["Location"] == "/office/reviews/"
    assert "You stepped back from this review." in client.get("/office/reviews/",
                                                              **EN).content.decode()
    recused = Review.objects.get(pk=review.pk)
    assert (recused.state, recused.recusal_reason) == (ReviewState.RECUSED, "我曾为该公司提供咨询")
    assert Review.objects.get(application=review.application, reviewer=replacement).state == \
        ReviewState.ASSIGNED
    assert client.get(f"/office/reviews/{review.pk}/").status_code == 404


def test_declaring_a_relation_takes_the_companys_reviews_away(client, review, reviewer):
    client.force_login(reviewer)
    refused = client.post("/office/reviews/relations/", {"registration_number": ""}, **EN)
    assert refused.status_code == 400
    assert "Enter the company&#x27;s registration number" in refused.content.decode()
    assert not Affiliation.objects.filter(reviewer__user=reviewer).exists()

    number = review.application.company.registration_number
    response = client.post("/office/reviews/relations/",
                           {"registration_number": number, "note": "前雇主"}, **EN)

    assert response.status_code == 302
    affiliation = Affiliation.objects.get(reviewer__user=reviewer)
    assert (affiliation.registration_number, affiliation.note) == (number, "前雇主")
    assert Review.objects.get(pk=review.pk).state == ReviewState.RECUSED
    html = client.get("/office/reviews/", **EN).content.decode()
    assert "Your declaration is recorded." in html and "You have 0 reviews to score." in html


def test_forms_need_the_csrf_token(review, reviewer):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(reviewer)
    assert client.post(f"/office/reviews/{review.pk}/", EIGHTS).status_code == 403
    assert Review.objects.get(pk=review.pk).state == ReviewState.ASSIGNED
