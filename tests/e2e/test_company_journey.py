"""A company's journey in a real browser, in Traditional Chinese chosen with the header's
language switcher: sign up, confirm the email address from the link in the mail, register the
company, apply to the open demo-project call, fill the form (the estimate follows with htmx),
save the draft, attach the documents, submit; then, returned for changes (補正) by the
Authority, make the changes, attach a revised document and resubmit."""

import re

from django.core import mail
from playwright.sync_api import expect

from applications.models import Application, Status
from applications.services import application_screen
from tests import factories
from tests.e2e.journey import JOURNEY

pytestmark = JOURNEY

EMAIL = "chan.manager@smart-harbour.example"
NEW_PASSWORD = "Harbour-Lights-2026"
COMPANY = "前海智港科技有限公司"
RETURN_REASON = "請按實際投資更正項目實際投資額，並補交項目建設報告的竣工驗收部分。"


def pdf(name: str) -> dict:
    """A small PDF whose bytes differ by name (documents are told apart by their content)."""
    return {"name": name, "mimeType": "application/pdf",
            "buffer": factories.tiny_pdf() + f"% {name}\n".encode()}


def test_a_company_signs_up_applies_and_answers_a_request_for_changes(catalogue, new_page):
    call = factories.open_call("demo-project")
    officer = factories.staff_user(username="officer@qianhai.example")
    page = new_page(locale="en-US")
    messages = page.locator("ul.messages")

    # English by the browser's language, then 繁體 from the switcher in the header.
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.locator("header form.lang").get_by_role("button", name="繁體").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hant")

    # Sign up, from the login page.
    page.locator("header").get_by_role("link", name="登入", exact=True).click()
    page.get_by_role("link", name="為您的企業建立帳戶").click()
    expect(page.get_by_role("heading", name="註冊")).to_be_visible()
    page.get_by_label("電郵").fill(EMAIL)
    page.get_by_label("密碼", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("確認密碼").fill(NEW_PASSWORD)
    expect(page.get_by_label("首選語言")).to_have_value("zh-hant")  # the language in use
    page.get_by_role("button", name="建立帳戶").click()
    expect(messages).to_contain_text(f"歡迎！我們已向 {EMAIL} 發送連結")

    # The confirmation link arrives by email (the live server runs in this process: its mail
    # is in mail.outbox), in the language chosen.
    sent = [m for m in mail.outbox if m.to == [EMAIL]]
    assert len(sent) == 1 and "確認" in sent[0].subject
    link = re.search(r"https?://\S+/accounts/confirm/\S+/", sent[0].body).group(0)
    page.goto(link)
    expect(page.locator("main")).to_contain_text("謝謝！您的電郵地址已確認。")

    # Register the company.
    page.locator("main").get_by_role("link", name="我的申請").click()
    page.locator("main").get_by_role("link", name="登記企業").click()
    page.get_by_label("法定名稱（中文）").fill(COMPANY)
    page.get_by_label("英文名稱").fill("Qianhai Smart Harbour Technology Co., Ltd.")
    page.get_by_label("內地（統一社會信用代碼）").check()
    page.get_by_role("textbox", name="登記號碼").fill(factories.uscc(8100))
    page.get_by_label("在前海合作區註冊").check()
    page.get_by_label("聯絡人").fill("陳經理")
    page.get_by_role("button", name="登記企業").click()
    expect(messages).to_contain_text("企業登記成功，您是該企業的擁有人。")

    # Apply to the open call.
    page.locator("header").get_by_role("link", name="申請批次").click()
    page.locator("li.card.call").filter(has_text="人工智能應用示範項目資金支持").get_by_role(
        "link", name="申請", exact=True).click()
    expect(page.get_by_label("企業")).to_contain_text(COMPANY)
    page.get_by_role("button", name="開始申請").click()
    expect(messages).to_contain_text("草稿已建立。")

    # The form; the estimate follows the typed values (htmx), then the draft is saved.
    page.get_by_label("項目名稱").fill("前海智慧港口調度示範")
    page.get_by_label("應用場景").select_option("port")
    page.get_by_label("項目實際投資額").fill("15000000")
    page.get_by_label("項目建成日期").fill("2025-12-31")
    expect(page.locator("#estimate")).to_contain_text("1,500,000.00")
    page.get_by_role("button", name="儲存草稿").click()
    expect(messages).to_contain_text("草稿已儲存。")
    application = Application.objects.get(company__name=COMPANY, call=call)
    assert application.status == Status.DRAFT

    # The documents, then the submission.
    page.get_by_role("link", name="文件及記錄").click()
    for label, name in (("實際投資證明材料", "投資證明.pdf"), ("項目建設報告", "建設報告.pdf")):
        page.get_by_label("文件", exact=True).select_option(label=label)
        page.get_by_label("檔案", exact=True).set_input_files(pdf(name))
        page.get_by_role("button", name="上載").click()
        expect(messages).to_contain_text("文件已上載。")
        expect(page.locator("#documents")).to_contain_text(name)
    page.get_by_role("button", name="提交申請").click()
    expect(messages).to_contain_text("申請已提交。")
    header = page.locator("main p.meta")
    expect(header.locator(".badge")).to_have_text("已提交")
    expect(page.locator("p.next-step")).to_contain_text("等待形式審查")
    # Its notice went out by email after the commit (Celery runs eagerly in the live server's
    # thread too), in the company's language.
    assert [m.subject for m in mail.outbox if m.to == [EMAIL] and "已收到" in m.subject] == [
        f"申請 #{application.pk} 已收到：人工智能應用示範項目資金支持"]

    # The Authority returns it for changes (補正): staff's step, through the screening service.
    application_screen(by=officer, application=Application.objects.get(pk=application.pk),
                       to=Status.RETURNED, reason=RETURN_REASON)

    assert [m.subject for m in mail.outbox if m.to == [EMAIL] and "補正" in m.subject] == [
        f"申請 #{application.pk} 需補正：人工智能應用示範項目資金支持"]

    # The company sees the request, changes the form, attaches a revised report, resubmits.
    page.reload()
    expect(header.locator(".badge")).to_have_text("退回補正")
    expect(page.locator(".notice.returned")).to_contain_text("前海管理局要求補正：")
    expect(page.locator(".notice.returned")).to_contain_text(RETURN_REASON)
    expect(page.locator("p.next-step")).to_contain_text("按要求補正後重新提交")
    page.get_by_label("文件", exact=True).select_option(label="項目建設報告")
    page.get_by_label("檔案", exact=True).set_input_files(pdf("建設報告（含竣工驗收）.pdf"))
    page.get_by_role("button", name="上載").click()
    expect(messages).to_contain_text("文件已上載。")
    page.get_by_role("link", name="編輯申請表").click()
    page.get_by_label("項目實際投資額").fill("16000000")
    page.get_by_label("項目實際投資額").blur()
    expect(page.locator("#estimate")).to_contain_text("1,600,000.00")
    page.get_by_role("button", name="儲存並重新提交").click()
    expect(messages).to_contain_text("申請已提交。")
    expect(header.locator(".badge")).to_have_text("已提交")
    expect(page.locator(".notice.returned")).to_have_count(0)
    second = page.locator(".revision").filter(has_text="第 2 版")
    expect(second).to_contain_text("15,000,000.00")
    expect(second).to_contain_text("16,000,000.00")
    expect(second).to_contain_text("新增文件：")

    application.refresh_from_db()
    assert application.status == Status.SUBMITTED and application.revision == 2
    assert application.estimate == 1600000
    assert application.attachments.filter(removed_at__isnull=True).count() == 3
    assert page.console_errors == []
