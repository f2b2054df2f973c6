"""Staff's journey through the back office in a real browser, in Simplified Chinese (the
browser's language): formal screening of two submitted demo projects, automatic assignment of
reviewers, the ranking once the reviewers have scored, approvals within the annual quota
(demo projects: 10 a year), the 公示 with an objection a member of the public files on the
public page (anonymous, signed), its resolution, finalizing once the period has ended, and a
first payment."""

import datetime

from django.utils import timezone
from playwright.sync_api import expect

from applications.models import Application, Status
from reviews.models import Award, Objection, ObjectionState, Publicity, Review
from reviews.services.scoring import review_submit
from tests import factories
from tests.e2e.journey import JOURNEY, log_in

pytestmark = JOURNEY

FIRST = "前海星河智能科技有限公司"
SECOND = "深圳湾数智港口有限公司"
MEASURE = "人工智能应用示范项目资金支持"
CRITERIA = ("innovation", "feasibility", "industry_impact", "team", "budget")
OBJECTION = "该项目的实际投资额与其公开披露的数据不符，港口调度系统尚未建成。"


def score_all(application, score: str) -> None:
    """The reviewers' part, outside this journey: each assigned reviewer scores."""
    for review in Review.objects.filter(application=application).select_related("reviewer"):
        review_submit(by=review.reviewer, review=review, comment="评审意见",
                      scores=dict.fromkeys(CRITERIA, score))


def test_staff_screen_assign_rank_approve_publish_finalize_and_pay(catalogue, new_page):
    call = factories.open_call("demo-project")
    officer = factories.staff_user(username="officer@qianhai.example")
    for name in ("张卫国", "李晓红", "陈志远"):
        factories.reviewer_user(name=name)
    first = factories.application_in(Status.SUBMITTED, call=call,
                                     company=factories.CompanyFactory(name=FIRST))
    second = factories.application_in(
        Status.SUBMITTED, call=call, company=factories.CompanyFactory(name=SECOND),
        inputs={**factories.DEMO_PROJECT_INPUTS, "project_name": "蛇口港智能集卡调度",
                "actual_investment": "12000000.00"})

    page = new_page(locale="zh-CN")
    messages = page.locator("ul.messages")
    log_in(page, officer.username)
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")

    # Formal screening (形式审查): both are accepted, from the office's queue.
    page.locator("header").get_by_role("link", name="工作台").click()
    for company in (FIRST, SECOND):
        queue = page.locator("section.queue").filter(
            has=page.get_by_role("heading", name="待形式审查"))
        queue.get_by_role("row").filter(has_text=company).get_by_role("link").click()
        expect(page.get_by_role("heading", name="形式审查")).to_be_visible()
        page.get_by_role("button", name="受理", exact=True).click()
        expect(messages).to_contain_text("申请已受理。")
        expect(page.locator("main p.meta .badge")).to_have_text("已受理")
        page.get_by_role("navigation", name="工作台").get_by_role("link", name="工作台").click()
    expect(page.locator("main")).to_contain_text("暂无待形式审查的申请。")

    # Automatic assignment, on the call's page: three reviewers each.
    page.get_by_role("navigation", name="工作台").get_by_role("link", name="申报批次").click()
    page.locator("main table").get_by_role("link", name=MEASURE).click()
    expect(page.get_by_role("heading", name=MEASURE)).to_be_visible()
    page.get_by_role("button", name="自动分配").click()
    expect(messages).to_contain_text("已分配 6 项评审。")
    expect(page.locator("p.status-counts")).to_contain_text("专家评审中 2")

    # The reviewers score (their own journey); the ranking follows the aggregate scores.
    score_all(first, "9")
    score_all(second, "7")
    page.reload()
    ranking = page.locator("#ranking tbody tr")
    expect(ranking).to_have_count(2)
    expect(ranking.nth(0)).to_contain_text(FIRST)
    expect(ranking.nth(0)).to_contain_text("90.00")
    expect(ranking.nth(1)).to_contain_text(SECOND)
    expect(ranking.nth(1)).to_contain_text("70.00")
    quota = page.locator("#quota")
    expect(quota).to_contain_text("0 / 10")

    # Approvals within the annual quota: the first from its page, the rest by rank and fill.
    ranking.nth(0).get_by_role("link", name=FIRST).click()
    page.get_by_role("button", name="列为拟资助").click()
    expect(messages).to_contain_text("拟资助 1,500,000.00 元。")
    expect(page.locator("main p.meta .badge")).to_have_text("拟资助")
    page.get_by_role("navigation", name="当前位置").get_by_role(
        "link", name=f"{MEASURE} 2026").click()
    expect(quota).to_contain_text("1 / 10")
    page.get_by_role("button", name="排名遴选").click()
    expect(messages).to_contain_text("拟资助 1 项，列入候补名单 0 项，未入选 0 项。")
    expect(quota).to_contain_text("2 / 10")

    # The 公示, five working days by default.
    page.get_by_role("button", name="发布公示").click()
    expect(messages).to_contain_text("公示期为")
    notice = Publicity.objects.get(call=call)
    expect(page.locator("#entries tbody tr")).to_have_count(2)
    expect(page.locator("#entries")).to_contain_text("1,200,000.00")

    # A member of the public objects on the public page, without an account, signed.
    public = new_page(locale="zh-CN", name="public")
    public.goto("/")
    public.locator("header").get_by_role("link", name="公示").click()
    public.get_by_role("link", name="提出异议").click()
    expect(public.locator("#object")).to_be_visible()
    public.get_by_label("异议针对的公示条目").select_option(label=f"{SECOND} · 蛇口港智能集卡调度")
    public.get_by_label("您的姓名").fill("王小明")
    public.get_by_label("您的单位").fill("深圳市港航研究会")
    public.get_by_label("联系方式（电话或电子邮箱）").fill("13800000000")
    public.get_by_label("异议内容及理由").fill(OBJECTION)
    public.get_by_role("button", name="提交异议").click()
    expect(public.locator("ul.messages")).to_contain_text("谢谢。您的异议已记录")

    # Staff resolve it: upheld, the second application is rejected and its quota slot freed.
    page.reload()
    objection = page.locator("article.objection")
    expect(objection).to_contain_text(SECOND)
    expect(objection).to_contain_text(OBJECTION)
    expect(page.locator("#objections")).to_contain_text("1 项未处理")
    objection.get_by_label("成立：撤销资助").check()
    objection.get_by_label("处理说明（存档）").fill("经核查，实际投资额证明材料与公开数据不符。")
    objection.get_by_role("button", name="处理").click()
    expect(messages).to_contain_text("异议成立：申请未获通过，资助已撤销。")
    expect(page.locator("#entries tbody tr").filter(has_text=SECOND)).to_contain_text("未获通过")
    expect(page.locator("#entries tbody tr").filter(has_text=FIRST)).to_contain_text("公示中")

    # The five working days pass: the notice's period is moved back as if it had been opened
    # earlier (the objection was filed and resolved within it).
    shift = notice.ends_on - timezone.localdate() + datetime.timedelta(days=1)
    Publicity.objects.filter(pk=notice.pk).update(
        starts_on=notice.starts_on - shift, ends_on=notice.ends_on - shift,
        opened_at=notice.opened_at - shift)
    Objection.objects.filter(publicity=notice).update(
        created_at=notice.opened_at - shift + datetime.timedelta(hours=1))

    # Finalize the awards (the browser asks for confirmation first).
    page.get_by_role("navigation", name="当前位置").get_by_role(
        "link", name=f"{MEASURE} 2026").click()
    expect(quota).to_contain_text("1 / 10")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="确定资助").click()
    expect(messages).to_contain_text("1 项资助已确定。")
    expect(page.locator("#notices")).to_contain_text("已确定")

    # The first payment of the final award.
    page.locator("#ranking").get_by_role("link", name=FIRST).click()
    expect(page.locator("main p.meta .badge")).to_have_text("已获资助")
    payment = page.locator("#award form")
    payment.get_by_label("金额（元）").fill("500000")
    expect(payment.get_by_label("拨付日期")).to_have_value(timezone.localdate().isoformat())
    payment.get_by_label("拨付凭证号").fill("QH-2026-0001")
    payment.get_by_role("button", name="保存拨付记录").click()
    expect(messages).to_contain_text("已登记拨付 500,000.00 元。")
    award = page.locator("#award")
    expect(award).to_contain_text("QH-2026-0001")
    expect(award.locator("dt:text-is('待拨付') + dd")).to_have_text("1,000,000.00")

    assert Application.objects.get(pk=first.pk).status == Status.AWARDED
    assert Application.objects.get(pk=second.pk).status == Status.REJECTED
    paid = Award.objects.get(application=first)
    assert paid.paid == 500000 and paid.amount == 1500000 and paid.awarded_at is not None
    assert Award.objects.get(application=second).released_at is not None
    assert Objection.objects.get(publicity=notice).state == ObjectionState.UPHELD
    assert Publicity.objects.get(pk=notice.pk).finalized_at is not None
    assert page.console_errors == [] and public.console_errors == []
