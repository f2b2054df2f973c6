"""The PDF documents (reports/pdf.py): an award's decision letter and a 公示's list, laid out by
WeasyPrint with the Noto CJK fonts and read back with pypdf, in each of the three languages."""

import datetime
import io
import re
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import pypdf
import pytest
import weasyprint
from django.conf import settings

from applications.models import Application, Status
from reports import pdf
from reviews.models import Assessment, Award, Objection, Publicity, PublicityEntry
from reviews.services import decisions, publicity
from tests.factories import (
    DEMO_PROJECT_INPUTS,
    CompanyFactory,
    application_in,
    open_call,
    staff_user,
)

CST = datetime.timezone(datetime.timedelta(hours=8))
COMPANY = {"name": "前海深港智能科技有限公司", "name_en": "Qianhai SZ-HK Intelligence Co., Ltd."}
MEASURE = {"zh-hans": "人工智能应用示范项目资金支持", "zh-hant": "人工智能應用示範項目資金支持",
           "en": "AI application demonstration projects"}
INVESTMENT_LABEL = {"zh-hans": "项目实际投资额", "zh-hant": "項目實際投資額",
                    "en": "Actual project investment"}


def at(month, day, hour=10):
    return datetime.datetime(2026, month, day, hour, tzinfo=CST)


def pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)


def compact(text: str) -> str:
    """The text without any white space: the extractor may break a line anywhere."""
    return re.sub(r"\s+", "", text)


def fonts(content: bytes) -> set[str]:
    names = set()
    for page in pypdf.PdfReader(io.BytesIO(content)).pages:
        for font in page["/Resources"]["/Font"].values():
            names.add(str(font.get_object()["/BaseFont"]).split("+", 1)[-1])
    return names


def reviewed(call, *, investment="15000000.00", company=None):
    application = application_in(Status.REVIEWED, call=call, company=company, inputs={
        **DEMO_PROJECT_INPUTS, "actual_investment": investment})
    Assessment.objects.create(application=application, score=Decimal("80.00"), reviews_count=3)
    return application


def approve(staff, application):
    decisions.application_approve(by=staff, application=application)


def publish(staff, call):
    """Open the 公示 on Monday 2 November 2026 (until Friday 6 November)."""
    with mock.patch("django.utils.timezone.now", return_value=at(11, 2)):
        return publicity.publicity_open(by=staff, call=call)


def finalize(staff, call):
    with mock.patch("django.utils.timezone.now", return_value=at(11, 9)):
        publicity.publicity_finalize(by=staff, call=call)


@pytest.fixture
def staff(db):
    return staff_user()


@pytest.fixture
def demo_call(catalogue):
    return open_call("demo-project", funding_year=2026)


@pytest.fixture
def world(demo_call, staff):
    return make_world(demo_call, staff)


def make_world(demo_call, staff) -> dict:
    """Company A's award of 1,234,567.89 (10% of 12,345,678.90) and company B's of
    1,500,000.00, both final after their 公示."""
    company_a = CompanyFactory(**COMPANY)
    mine = reviewed(demo_call, investment="12345678.90", company=company_a)
    theirs = reviewed(demo_call)
    for application in (mine, theirs):
        approve(staff, application)
    notice = publish(staff, demo_call)
    finalize(staff, demo_call)
    return {"award": Award.objects.get(application=mine),
            "other_award": Award.objects.get(application=theirs),
            "notice": notice, "company": company_a}


# ---------------------------------------------------------------- the decision letter

@pytest.mark.parametrize(("language", "date", "amount", "words"), [
    ("zh-hans", "2026年11月9日", "1,234,567.89元", "人民币壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分"),
    ("zh-hant", "2026年11月9日", "1,234,567.89元", "人民幣壹佰貳拾參萬肆仟伍佰陸拾柒元捌角玖分"),
    ("en", "9November2026", "¥1,234,567.89", None),
])
def test_the_letter_names_the_company_measure_amount_dates_and_calculation(
        world, language, date, amount, words):
    award = world["award"]

    content = pdf.award_letter_pdf(award=award, language=language)

    text = compact(pdf_text(content))
    company = world["company"]
    assert compact(company.name) in text and compact(company.name_en) in text
    assert company.registration_number in text
    assert MEASURE[language].replace(" ", "") in text
    assert "3.2" in text  # the measure's clause
    assert amount in text
    if words:
        assert words in text
    # The awarded date (the 公示 finalized on 9 November) and the decision's.
    assert date in text
    assert compact(pdf.long_date(award.decided_at, language)) in text
    # A step of the calculation, with its numbers and the field's label in the language.
    assert "10%" in text and "12345678.90" in text and "1234567.89" in text
    assert INVESTMENT_LABEL[language].replace(" ", "") in text
    assert f"QHAI-2026-{award.pk:06d}" in text


@pytest.mark.parametrize(("language", "family"), [
    ("zh-hans", "Noto-Serif-CJK-SC"), ("zh-hant", "Noto-Serif-CJK-TC"),
    ("en", "Noto-Serif-CJK-SC")])
def test_the_letter_is_set_in_the_noto_cjk_forms_of_its_language(world, language, family):
    used = fonts(pdf.award_letter_pdf(award=world["award"], language=language))

    assert family in used
    other = "TC" if family.endswith("SC") else "SC"
    assert not {name for name in used if name.endswith(f"CJK-{other}")}


def test_a_letter_in_english_reads_as_a_letter(world):
    text = pdf_text(pdf.award_letter_pdf(award=world["award"], language="en"))

    assert "Qianhai Authority" in text
    assert "Decision on award" in text
    assert "(Seal)" in text
    assert "How the amount was computed" in text
    assert "Page 1 of 1" in text
    assert "Draft" not in text and "Void" not in text


def test_the_letter_of_an_award_in_publicity_is_marked_as_a_draft(demo_call, staff):
    application = reviewed(demo_call)
    approve(staff, application)
    publish(staff, demo_call)

    text = pdf_text(pdf.award_letter_pdf(award=Award.objects.get(application=application),
                                         language="en"))

    assert "Draft" in text
    assert "not final until its public notice" in text
    assert "Not final yet" in text
    assert "1,500,000.00" in text
    assert "(Seal)" not in text  # a draft is never stamped


def test_the_letter_of_a_released_award_is_marked_void(demo_call, staff):
    application = reviewed(demo_call)
    approve(staff, application)
    notice = publish(staff, demo_call)
    objection = Objection.objects.create(publicity=notice, application=application,
                                         name="王小明", organization="某公司", contact="138",
                                         text="不符")
    with mock.patch("django.utils.timezone.now", return_value=at(11, 4)):
        publicity.objection_resolve(by=staff, objection=objection, upheld=True, note="属实")
    award = Award.objects.get(application=application)
    assert Application.objects.get(pk=application.pk).status == Status.REJECTED

    text = compact(pdf_text(pdf.award_letter_pdf(award=award, language="en")))

    assert "Void" in text
    assert "releasedon4November2026" in text
    assert "(Seal)" not in text


def test_what_the_company_typed_is_text_in_the_letter_never_markup(world):
    company = world["company"]
    company.name = '<img src="http://127.0.0.1:9/logo.png">前海公司'
    company.save()
    award = Award.objects.select_related("application__company").get(pk=world["award"].pk)

    text = pdf_text(pdf.award_letter_pdf(award=award, language="zh-hans"))

    assert '<img src="http://127.0.0.1:9/logo.png">前海公司' in text


def test_an_unknown_language_is_refused(world):
    with pytest.raises(ValueError, match="unknown language"):
        pdf.award_letter_pdf(award=world["award"], language="fr")


# ---------------------------------------------------------------- the 公示 list

@pytest.mark.parametrize(("language", "period"), [
    ("zh-hans", ("2026年11月2日", "2026年11月6日")),
    ("zh-hant", ("2026年11月2日", "2026年11月6日")),
    ("en", ("2November2026", "6November2026")),
])
def test_the_publicity_list_has_every_line_and_the_total(world, language, period):
    notice = world["notice"]

    text = compact(pdf_text(pdf.publicity_list_pdf(publicity=notice, language=language)))

    for entry in notice.entries.all():
        assert compact(entry.company_name) in text
        assert compact(entry.project) in text
    assert "1,234,567.89" in text and "1,500,000.00" in text
    assert "2,734,567.89" in text  # the total
    assert MEASURE[language].replace(" ", "") in text
    assert all(day in text for day in period)
    assert f"{settings.SITE_URL}/publicity/{notice.pk}/" in text


def test_a_long_list_runs_over_pages_with_numbered_footers(catalogue, staff):
    # More lines than one year's quota allows for one measure: the notice's lines are made as
    # published rows, which is all the list reads.
    call = open_call("demo-project", funding_year=2027)
    applications = [application_in(Status.IN_PUBLICITY, call=call) for _ in range(45)]
    notice = Publicity.objects.create(call=call, starts_on=datetime.date(2027, 3, 1),
                                      ends_on=datetime.date(2027, 3, 5), opened_by=staff)
    PublicityEntry.objects.bulk_create(
        PublicityEntry(publicity=notice, application=a, company_name=a.company.name,
                       project=f"项目{i}", amount=Decimal(f"{100000 + i}.50"))
        for i, a in enumerate(applications))

    pages = [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(
        pdf.publicity_list_pdf(publicity=notice, language="en"))).pages]

    assert len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
        assert "Amount (yuan)" in page  # the table's header on every page
    text = compact("".join(pages))
    assert all(compact(a.company.name) in text for a in applications)
    assert "4,501,012.50" in text  # 45 x 100,000.50 + (0 + 1 + ... + 44)


def test_the_cached_list_changes_when_the_notice_is_finalized(demo_call, staff):
    application = reviewed(demo_call)
    approve(staff, application)
    notice = publish(staff, demo_call)
    with mock.patch("reports.pdf.publicity_is_open", return_value=False):
        ended = pdf_text(pdf.publicity_list_pdf_cached(publicity=notice, language="en"))
        again = pdf_text(pdf.publicity_list_pdf_cached(publicity=notice, language="en"))
    finalize(staff, demo_call)
    notice.refresh_from_db()

    final = pdf_text(pdf.publicity_list_pdf_cached(publicity=notice, language="en"))

    assert "Ended" in ended and ended == again
    assert "Finalized" in final and "9 November 2026" in final


# ---------------------------------------------------------------- formats

@pytest.mark.parametrize(("amount", "hans", "hant"), [
    ("1234567.89", "人民币壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分",
     "人民幣壹佰貳拾參萬肆仟伍佰陸拾柒元捌角玖分"),
    ("1500000.00", "人民币壹佰伍拾万元整", "人民幣壹佰伍拾萬元整"),
    ("20000000.00", "人民币贰仟万元整", "人民幣貳仟萬元整"),
    ("100005.00", "人民币壹拾万零伍元整", "人民幣壹拾萬零伍元整"),
    ("1020304.00", "人民币壹佰零贰万零叁佰零肆元整", "人民幣壹佰零貳萬零參佰零肆元整"),
    ("100010000.00", "人民币壹亿零壹万元整", "人民幣壹億零壹萬元整"),
    ("1000000000.01", "人民币壹拾亿元零壹分", "人民幣壹拾億元零壹分"),
    ("1000000000000.00", "人民币壹万亿元整", "人民幣壹萬億元整"),
    ("10.50", "人民币壹拾元伍角", "人民幣壹拾元伍角"),
    ("0.05", "人民币伍分", "人民幣伍分"),
    ("0.00", "人民币零元整", "人民幣零元整"),
])
def test_amounts_in_chinese_capital_figures(amount, hans, hant):
    assert pdf.rmb_in_words(Decimal(amount), "zh-hans") == hans
    assert pdf.rmb_in_words(Decimal(amount), "zh-hant") == hant
    assert pdf.rmb_in_words(Decimal(amount), "en") == ""


def test_dates_and_money_per_language():
    moment = datetime.datetime(2026, 11, 28, 17, 0, tzinfo=datetime.UTC)  # 29th in China

    assert pdf.long_date(moment, "zh-hans") == "2026年11月29日"
    assert pdf.long_date(datetime.date(2026, 1, 5), "zh-hant") == "2026年1月5日"
    assert pdf.long_date(moment, "en") == "29 November 2026"
    assert pdf.money_text(Decimal("1234567.89"), "en") == "¥1,234,567.89"
    assert pdf.money_text(Decimal("1234567.89"), "zh-hans") == "1,234,567.89 元"


def test_the_page_label_keeps_the_counters_where_the_language_puts_them():
    with mock.patch("reports.pdf._", return_value="共 %(total)s 页 · 第 %(number)s 页"):
        parts = pdf.page_label()

    assert parts == [{"text": "共 "}, {"counter": "pages"}, {"text": " 页 · 第 "},
                     {"counter": "page"}, {"text": " 页"}]


def test_the_file_names_are_plain_ascii(world):
    response = pdf.pdf_response(b"%PDF-", filename='前海 "a"/../b.pdf', private=True)

    assert response["Content-Disposition"] == 'inline; filename="----a--..-b.pdf"'
    assert response["Cache-Control"] == "private, no-store"
    assert pdf.letter_filename(world["award"]) == \
        f"decision-letter-QHAI-2026-{world['award'].pk:06d}.pdf"


# ---------------------------------------------------------------- no network

class _Recorder(BaseHTTPRequestHandler):
    hits: list

    def do_GET(self):
        self.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.end_headers()
        self.wfile.write(b"body { color: red }")

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    """A web server on this machine that records every request it gets."""
    handler = type("Handler", (_Recorder,), {"hits": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler.hits
    server.shutdown()
    server.server_close()


def _html_with_remote(base: str) -> str:
    return (f'<html><head><link rel="stylesheet" href="{base}/style.css">'
            f'<style>@import url("{base}/import.css"); @font-face {{ font-family: x; '
            f'src: url("{base}/font.woff") }}</style></head>'
            f'<body><img src="{base}/logo.png"><p>前海</p></body></html>')


def test_the_server_that_records_requests_does_see_weasyprints_own_fetcher(http_server):
    base, hits = http_server

    weasyprint.HTML(string=_html_with_remote(base)).write_pdf()

    assert "/logo.png" in hits  # the check below is able to notice a fetch


def test_weasyprint_never_fetches_from_the_network(http_server):
    base, hits = http_server
    fetcher = pdf.static_files_only()

    text = pdf_text(pdf.render_pdf(_html_with_remote(base), fetcher=fetcher))

    assert hits == []
    assert "前海" in text
    assert {f"{base}/logo.png", f"{base}/style.css"} <= set(fetcher.refused)


@pytest.mark.parametrize("url", [
    "https://example.org/logo.png", "ftp://example.org/x", "data:text/css,body{}",
    "file:///etc/passwd", "file://example.org/static/css/pdf.css"])
def test_the_fetcher_refuses_anything_but_a_local_static_file(url):
    with mock.patch("socket.socket.connect", side_effect=AssertionError("connected")), \
            pytest.raises(pdf.RefusedURL):
        pdf.static_files_only().fetch(url)


def test_the_fetcher_refuses_a_path_that_climbs_out_of_the_static_folder():
    outside = (settings.BASE_DIR / "static" / ".." / "manage.py").as_uri()

    with pytest.raises(pdf.RefusedURL):
        pdf.static_files_only().fetch(outside)


def test_the_fetcher_reads_the_static_stylesheet():
    path = settings.BASE_DIR / "static" / "css" / "pdf.css"

    response = pdf.static_files_only().fetch(path.as_uri())

    assert response.content_type == "text/css"
    assert b"@page" in response.read()
    response.close()


def test_a_decided_amount_lower_than_the_engines_shows_both(demo_call, staff):
    application = reviewed(demo_call)
    decisions.application_approve(by=staff, application=application, amount="1200000.00")
    award = Award.objects.get(application=application)

    text = compact(pdf_text(pdf.award_letter_pdf(award=award, language="en")))

    assert "¥1,200,000.00" in text
    assert "1200000.00" in text and "1500000.00" in text  # the "decided" step of the trace
