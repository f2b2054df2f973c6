"""A reviewer's journey in a real browser, in English (the browser's language): log in, find the
two assigned reviews, score the first blind on the call's scorecard (the weighted total follows
with htmx; no other reviewer's name, scores or comments anywhere), submit; then step back from
the second with a reason, and see it given to another reviewer of the pool."""

from playwright.sync_api import expect

from applications.models import Status
from reviews.models import Review, ReviewState
from reviews.services.assignments import review_assign
from reviews.services.scoring import review_submit
from tests import factories
from tests.e2e.journey import JOURNEY, log_in

pytestmark = JOURNEY

MEASURE = "AI application demonstration projects"
COLLEAGUE_COMMENT = "港口调度算法的落地数据不足，建议补充试运行报告。"
SCORES = {"Innovation": "8", "Feasibility": "7", "Industry impact": "9", "Team": "6",
          "Budget soundness": "8"}
# (30 x 8 + 25 x 7 + 20 x 9 + 15 x 6 + 10 x 8) / 10 / (30 + 25 + 20 + 15 + 10) x 100
WEIGHTED_TOTAL = "76.50"
RECUSAL = "I advised this company on its port data platform in 2025."


def test_a_reviewer_scores_a_blind_review_and_recuses_from_another(catalogue, new_page):
    call = factories.open_call("demo-project")
    officer = factories.staff_user()
    reviewer = factories.reviewer_user(name="Dr. Lam Ka-ho",
                                       username="lam.kaho@experts.example")
    colleague = factories.reviewer_user(name="张卫国")
    spare = factories.reviewer_user(name="Prof. Ho Wing-sze")
    first = factories.application_in(Status.ACCEPTED, call=call, company=factories.CompanyFactory(
        name="前海灵犀智能有限公司", name_en="Qianhai Lingxi Intelligence Ltd."))
    second = factories.application_in(Status.ACCEPTED, call=call, company=factories.CompanyFactory(
        name="深港云图科技有限公司", name_en="Shenzhen-HK Cloudmap Technology Ltd."))
    mine = review_assign(by=officer, application=first, reviewer=reviewer)
    to_recuse = review_assign(by=officer, application=second, reviewer=reviewer)
    theirs = review_assign(by=officer, application=first, reviewer=colleague)
    review_submit(by=colleague, review=theirs, comment=COLLEAGUE_COMMENT, scores={
        "innovation": "4", "feasibility": "9", "industry_impact": "9", "team": "9",
        "budget": "9"}, comments={"innovation": "创新点不突出。"})

    page = new_page(locale="en-GB")
    log_in(page, reviewer.username)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.locator("header").get_by_role("link", name="Back office").click()
    expect(page.get_by_role("heading", name="My reviews")).to_be_visible()
    expect(page.locator("main")).to_contain_text("You have 2 reviews to score.")

    # The first review: the application, the scorecard, nothing of the colleague's.
    page.get_by_role("row").filter(has_text="前海灵犀智能有限公司").get_by_role(
        "link", name="Score").click()
    expect(page.get_by_role("heading", name=MEASURE)).to_be_visible()
    main = page.locator("main")
    expect(main).to_contain_text("15,000,000.00")  # the form as the company filled it
    for hidden in ("张卫国", COLLEAGUE_COMMENT, "创新点不突出", "Aggregate score"):
        expect(main).not_to_contain_text(hidden)
    expect(page.locator("#total")).to_contain_text("Score every criterion")
    for criterion, score in SCORES.items():
        page.get_by_role("group", name=criterion).get_by_label("Score (0 to 10)").fill(score)
    page.get_by_label("General comment").fill(
        "A sound scheduling design with measured gains; the budget is well argued.")
    expect(page.locator("#total")).to_contain_text(WEIGHTED_TOTAL)  # htmx, as typed
    page.get_by_role("button", name="Submit my scores").click()
    expect(page.locator("ul.messages")).to_contain_text("Your scores are submitted. Thank you.")
    expect(page.locator("#scorecard")).to_contain_text(f"{WEIGHTED_TOTAL} / 100")
    expect(page.get_by_role("button", name="Submit my scores")).to_have_count(0)
    for hidden in ("张卫国", COLLEAGUE_COMMENT):
        expect(main).not_to_contain_text(hidden)

    # The second review: step back, with a reason.
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link",
                                                                  name="My reviews").click()
    expect(page.locator("main")).to_contain_text("You have 1 review to score.")
    page.get_by_role("row").filter(has_text="深港云图科技有限公司").get_by_role(
        "link", name="Score").click()
    page.get_by_label("Why do you step back from this review?").fill(RECUSAL)
    page.get_by_role("button", name="Recuse myself").click()
    expect(page.locator("ul.messages")).to_contain_text(
        "You stepped back from this review. Your reason is recorded for staff.")
    expect(page.locator("main")).to_contain_text("You have 0 reviews to score.")
    recused = page.locator("section").filter(
        has=page.get_by_role("heading", name="Recused"))
    expect(recused.get_by_role("row").filter(has_text="深港云图科技有限公司")).to_be_visible()
    scored = page.locator("section").filter(has=page.get_by_role("heading", name="Scored"))
    expect(scored.get_by_role("row").filter(has_text="前海灵犀智能有限公司")).to_contain_text(
        "View")

    mine.refresh_from_db()
    to_recuse.refresh_from_db()
    assert mine.state == ReviewState.SUBMITTED and str(mine.total) == WEIGHTED_TOTAL
    assert to_recuse.state == ReviewState.RECUSED and to_recuse.recusal_reason == RECUSAL
    # Another reviewer of the pool is given the application in their place.
    replacement = Review.objects.get(application=second, state=ReviewState.ASSIGNED)
    assert replacement.reviewer in (spare, colleague)
    assert page.console_errors == []
