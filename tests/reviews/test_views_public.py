"""The public 公示 pages: the notices with their lists, and signed objections while a notice is
open. No login needed; nobody's objection or contact details are ever shown."""

import datetime
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone, translation

from reviews.models import Objection
from reviews.services import decisions, publicity
from reviews.views.public import OBJECTIONS_PER_HOUR
from tests.factories import open_call
from tests.reviews.test_decisions import reviewed

CST = datetime.timezone(datetime.timedelta(hours=8))
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
HANT = {"HTTP_ACCEPT_LANGUAGE": "zh-hant"}
SIGNED = {"name": "王小明", "organization": "深圳市某科技有限公司", "contact": "13800000000",
          "text": "该项目实际投资额与公开信息不符。"}


def at(year, month, day, hour=10):
    return datetime.datetime(year, month, day, hour, tzinfo=CST)


@pytest.fixture
def holidays(db):
    from reviews.services.calendar import holidays_load

    holidays_load()


def proposed_in(call, staff, count=2):
    applications = [reviewed(call, score=f"{90 - i}.00") for i in range(count)]
    for application in applications:
        decisions.application_approve(by=staff, application=application)
    return applications


def open_notice(call, staff, when=None):
    with mock.patch("django.utils.timezone.now", return_value=when or timezone.now()):
        return publicity.publicity_open(by=staff, call=call)


@pytest.fixture
def notice(demo_call, staff, holidays):
    proposed_in(demo_call, staff)
    return open_notice(demo_call, staff)


def objection_of(notice, **changes):
    return {**SIGNED, "application": str(notice.entries.first().application_id), **changes}


def field_part(html: str, name: str) -> str:
    """The field of the form named `name`, with its messages."""
    return html.split(f'name="{name}"', 1)[1].split("</div>", 1)[0]


# ---------------------------------------------------------------- the list

def test_the_list_shows_open_notices_first_then_past_ones(client, demo_call, staff, holidays):
    past_call = open_call("demo-project", funding_year=2025)
    proposed_in(past_call, staff, count=1)
    open_notice(past_call, staff, at(2026, 11, 2))  # ended on Friday 6 November
    proposed_in(demo_call, staff)
    current = open_notice(demo_call, staff)

    response = client.get("/publicity/", **EN)

    assert response.status_code == 200
    html = response.content.decode()
    open_part, past_part = html.split("Past notices", 1)
    assert "funding year 2026" in open_part and "Open for objections" in open_part
    assert "funding year 2025" in past_part and "Ended" in past_part
    assert "funding year 2025" not in open_part
    assert f"/publicity/{current.pk}/" in open_part
    assert "From 2026-11-02 until 2026-11-06" in past_part
    assert "1,500,000.00" in open_part and "前海港口智能调度示范" in open_part
    for entry in current.entries.all():
        assert entry.company_name in open_part


def test_the_list_in_traditional_chinese_and_english(client, notice, demo_call):
    hant = client.get("/publicity/", **HANT).content.decode()
    en = client.get("/publicity/", **EN).content.decode()

    assert demo_call.measure.name_zh_hant in hant and demo_call.measure.name_en not in hant
    assert demo_call.measure.name_en in en
    assert notice.starts_on.isoformat() in en and notice.ends_on.isoformat() in en


def test_public_pages_need_no_login_and_link_from_the_menu(client, notice):
    html = client.get("/", **EN).content.decode()
    assert 'href="/publicity/"' in html
    assert client.get(f"/publicity/{notice.pk}/").status_code == 200
    assert client.get("/publicity/999999/").status_code == 404


# ---------------------------------------------------------------- the detail and objections

def test_the_detail_shows_the_list_and_the_signed_form_while_open(client, notice, demo_call):
    html = client.get(f"/publicity/{notice.pk}/", **HANT).content.decode()

    assert demo_call.measure.name_zh_hant in html
    for entry in notice.entries.all():
        assert entry.company_name in html
        assert f'<option value="{entry.application_id}">' in html
    for name in ("name", "organization", "contact", "text", "csrfmiddlewaretoken"):
        assert f'name="{name}"' in html


def test_an_unsigned_objection_is_refused_field_by_field(client, notice):
    response = client.post(f"/publicity/{notice.pk}/",
                           objection_of(notice, name=" ", contact=""), **EN)

    assert response.status_code == 400
    html = response.content.decode()
    assert "This field is required: objections are signed." in field_part(html, "name")
    assert "This field is required: objections are signed." in field_part(html, "contact")
    assert "objections are signed" not in field_part(html, "organization")
    assert "深圳市某科技有限公司" in field_part(html, "organization")  # what was typed is kept
    assert not Objection.objects.exists()


def test_an_objection_to_no_line_of_the_notice_is_refused(client, notice):
    response = client.post(f"/publicity/{notice.pk}/", objection_of(notice, application="9999"),
                           **EN)
    assert response.status_code == 400
    assert "Choose a line of this notice." in response.content.decode()
    assert not Objection.objects.exists()


def test_errors_are_in_the_readers_language(client, notice):
    with translation.override("zh-hant"):
        expected = translation.gettext("This field is required: objections are signed.")
    response = client.post(f"/publicity/{notice.pk}/", objection_of(notice, name=""), **HANT)
    assert response.status_code == 400
    assert expected in field_part(response.content.decode(), "name")


def test_a_signed_objection_is_stored_and_thanked_without_echoing_others(client, notice):
    Objection.objects.create(publicity=notice, application=notice.entries.last().application,
                             name="赵先生", organization="另一家公司", contact="zhao@example.org",
                             text="另一份异议的内容")

    response = client.post(f"/publicity/{notice.pk}/", objection_of(notice), **EN)

    assert response.status_code == 302
    assert response["Location"] == f"/publicity/{notice.pk}/"
    objection = Objection.objects.get(name="王小明")
    assert (objection.organization, objection.contact, objection.text) == (
        SIGNED["organization"], SIGNED["contact"], SIGNED["text"])
    assert objection.application_id == notice.entries.first().application_id
    html = client.get(response["Location"], **EN).content.decode()
    listing = client.get("/publicity/", **EN).content.decode()
    assert "Thank you. Your objection is recorded" in html
    for private in ("赵先生", "zhao@example.org", "另一份异议的内容", "13800000000",
                    SIGNED["text"]):
        assert private not in html and private not in listing


def test_after_the_period_the_form_is_gone_and_a_post_is_closed(client, demo_call, staff,
                                                                holidays):
    proposed_in(demo_call, staff)
    notice = open_notice(demo_call, staff, at(2026, 11, 2))
    assert notice.ends_on == datetime.date(2026, 11, 6)
    with mock.patch("django.utils.timezone.now", return_value=at(2026, 11, 6, 23)):
        assert 'name="text"' in client.get(f"/publicity/{notice.pk}/").content.decode()

    with mock.patch("django.utils.timezone.now", return_value=at(2026, 11, 7, 0)):
        page = client.get(f"/publicity/{notice.pk}/", **EN).content.decode()
        response = client.post(f"/publicity/{notice.pk}/", objection_of(notice), **EN)

    assert 'name="text"' not in page and "objections are no longer taken" in page
    assert response.status_code == 409
    assert "This public notice is closed" in response.content.decode()
    assert not Objection.objects.exists()


def test_objections_are_rate_limited_per_address(client, notice):
    url = f"/publicity/{notice.pk}/"
    for _ in range(OBJECTIONS_PER_HOUR):
        assert client.post(url, objection_of(notice), REMOTE_ADDR="10.1.1.1").status_code == 302

    refused = client.post(url, objection_of(notice, name="第二十一份"), REMOTE_ADDR="10.1.1.1",
                          **EN)
    elsewhere = client.post(url, objection_of(notice, name="另一地址"), REMOTE_ADDR="10.1.1.2")

    assert refused.status_code == 429
    assert "Too many objections" in refused.content.decode()
    assert not Objection.objects.filter(name="第二十一份").exists()
    assert elsewhere.status_code == 302
    assert Objection.objects.count() == OBJECTIONS_PER_HOUR + 1


def test_the_objection_form_needs_the_csrf_token(notice):
    client = Client(enforce_csrf_checks=True)
    assert client.post(f"/publicity/{notice.pk}/", objection_of(notice)).status_code == 403
    assert not Objection.objects.exists()


def test_the_list_takes_the_same_number_of_queries_for_any_number_of_notices(client, demo_call,
                                                                            staff, holidays):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/publicity/").status_code == 200
        return len(captured)

    proposed_in(demo_call, staff, count=1)
    open_notice(demo_call, staff)
    one = queries()
    for year in (2024, 2025, 2027):
        call = open_call("demo-project", funding_year=year)
        proposed_in(call, staff, count=2)
        open_notice(call, staff, at(2026, 11, 2))
    assert queries() == one
