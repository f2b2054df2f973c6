"""Every event's message, in each language: subject first, then what a person needs to know."""

import pytest

from notices.events import Event
from notices.messages import plain, render_message

NAMES = {"zh-hans": "人工智能应用示范项目资金支持", "zh-hant": "人工智能應用示範項目資金支持",
         "en": "AI application demonstration projects"}
CONTEXT = plain({
    "application_id": 42, "call_id": 3, "measure_code": "demo-project", "measure_names": NAMES,
    "funding_year": 2026, "company_id": 5, "company_name": "前海智能港口科技有限公司",
    "company_name_en": "Qianhai Smart Port Technology", "status": "proposed",
    "reason": "理由：预算不清", "amount": "1500000.00", "award_amount": "1500000.00",
    "paid_total": "500000.00", "paid_on": "2026-09-01", "reference": "QH-PAY-0001",
    "starts_on": "2026-08-03", "ends_on": "2026-08-07", "due_at": "2026-07-01T09:30:00+08:00",
    "closes_at": "2026-06-30T17:00:00+08:00", "submitted_at": "2026-06-01T10:00:00+08:00",
    "revision": 1, "drafts": 2, "objector": "某某律师事务所", "upheld": True, "note": "已核实",
})
URL = "https://grants.qianhai.example/applications/42/"
WITH_AMOUNT = {Event.PROPOSED, Event.AWARDED, Event.PUBLICITY_OPENED, Event.PAYMENT_MADE}
WITH_REASON = {Event.RETURNED_FOR_CHANGES, Event.REJECTED, Event.DECLINED}
ABOUT_EXPORTS = {Event.EXPORT_READY, Event.EXPORT_FAILED}
EXPORT = plain({"export_id": 7, "kind": "awards", "format": "xlsx", "rows": 1234,
                "filters": "2026 · demo-project", "expires_at": "2026-12-06T10:00:00+08:00"})
EXPORT_URL = "https://grants.qianhai.example/reports/exports/7/"


@pytest.mark.parametrize("language", list(NAMES))
@pytest.mark.parametrize("event", sorted(set(Event.values) - ABOUT_EXPORTS))
def test_every_event_renders_in_every_language(event, language):
    subject, body = render_message(event=event, language=language, context=CONTEXT, url=URL)
    assert subject and "\n" not in subject
    assert NAMES[language] in subject
    if event != Event.CALL_CLOSING_SOON:
        assert "#42" in subject
    assert URL in body
    assert "{{" not in body and "{%" not in body and "&quot;" not in body
    company = "Qianhai Smart Port Technology" if language == "en" else "前海智能港口科技有限公司"
    assert company in body
    if event in WITH_AMOUNT:
        assert "1,500,000.00" in body or "500,000.00" in body
    if event in WITH_REASON:
        assert "理由：预算不清" in body


def test_dates_and_payments_are_spelled_out():
    _subject, body = render_message(event=Event.PAYMENT_MADE, language="en", context=CONTEXT)
    assert "2026-09-01" in body and "QH-PAY-0001" in body
    assert "Paid so far: 500,000.00 of 1,500,000.00 yuan." in body
    _subject, body = render_message(event=Event.CALL_CLOSING_SOON, language="en",
                                    context=CONTEXT)
    assert "2026-06-30 17:00" in body and "2 draft applications" in body
    _subject, body = render_message(event=Event.PUBLICITY_OPENED, language="en",
                                    context=CONTEXT)
    assert "from 2026-08-03 to 2026-08-07" in body


def test_the_status_is_named_in_the_readers_language():
    _subject, en = render_message(event=Event.PROPOSED, language="en", context=CONTEXT)
    _subject, hant = render_message(event=Event.PROPOSED, language="zh-hant", context=CONTEXT)
    assert "Status: Proposed for award" in en
    assert "Proposed for award" not in hant


@pytest.mark.parametrize(("language", "ready", "failed", "awards", "rows"), [
    ("zh-hans", "您的导出 #7 已完成", "您的导出 #7 失败", "资助", "1,234 行"),
    ("zh-hant", "您的匯出 #7 已完成", "您的匯出 #7 失敗", "資助", "1,234 行"),
    ("en", "Your export #7 is ready", "Your export #7 failed", "Awards", "1,234 rows"),
])
def test_export_notices_render_in_every_language(language, ready, failed, awards, rows):
    subject, body = render_message(event=Event.EXPORT_READY, language=language, context=EXPORT,
                                   url=EXPORT_URL)
    assert subject == ready
    assert f"{awards}, XLSX · {rows}" in body and "2026 · demo-project" in body
    assert "2026-12-06 10:00" in body and EXPORT_URL in body
    assert "{{" not in body and "{%" not in body
    subject, body = render_message(event=Event.EXPORT_FAILED, language=language,
                                   context=EXPORT | {"rows": None}, url=EXPORT_URL)
    assert subject == failed and EXPORT_URL in body and rows not in body
