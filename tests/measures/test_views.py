"""Request-level tests of the public pages: catalogue, measure detail, calculator, login."""

import re
from html import escape

import pytest
from django.utils import translation

from measures.inputs import parse_value
from measures.models import Measure, Pillar
from tests.factories import UserFactory

LANGUAGES = ("zh-hans", "zh-hant", "en")
NAME_FIELD = {"zh-hans": "name_zh_hans", "zh-hant": "name_zh_hant", "en": "name_en"}
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>", re.IGNORECASE)


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def html_lang(html: str) -> str:
    return re.search(r"<html lang=\"([^\"]+)\"", html).group(1)


def pillar_sections(html: str) -> dict[str, str]:
    parts = re.split(r"<section class=\"pillar\" aria-labelledby=\"pillar-", html)[1:]
    return {part.split('"', 1)[0]: part.split("</section>", 1)[0] for part in parts}


def money_message(language: str) -> str:
    with translation.override(language):
        try:
            parse_value({"name": "x", "type": "money"}, "abc")
        except ValueError as exc:
            return str(exc)
    raise AssertionError("parse_value accepted 'abc'")


# ---------------------------------------------------------------- catalogue and detail

@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_groups_the_measures_by_pillar(client, catalogue, language):
    html = page(client.get("/", HTTP_ACCEPT_LANGUAGE=language))

    assert html_lang(html) == language
    sections = pillar_sections(html)
    assert list(sections) == ["clustering", "factor_supply", "application_demo", "ecosystem"]
    for code, section in sections.items():
        with translation.override(language):
            heading = str(Pillar(code).label)
        assert f'<h2 id="pillar-{code}">{escape(heading)}</h2>' in section
        expected = Measure.objects.filter(pillar=code)
        linked = set(re.findall(r'<h3><a href="[^"]*/measures/([a-z0-9-]+)/"', section))
        assert linked == {m.code for m in expected}
        for measure in expected:
            assert escape(getattr(measure, NAME_FIELD[language])) in section
    assert sum(len(re.findall(r'<li class="card">', s)) for s in sections.values()) == 14


def test_catalogue_cards_link_to_the_measure_pages_not_the_api(client, catalogue):
    # Both measures/urls.py and the API router (basename "measure") name a route
    # "measure-detail"; the card links must still lead to the HTML page.
    html = page(client.get("/"))

    links = re.findall(r'<h3><a href="([^"]+)"', html)
    assert len(links) == 14
    assert sorted(links) == sorted(f"/measures/{m.code}/" for m in Measure.objects.all())
    assert page(client.get(links[0])).startswith("<!doctype html>")


def test_catalogue_shows_the_award_terms(client, catalogue):
    section = pillar_sections(page(client.get("/", HTTP_ACCEPT_LANGUAGE="en")))["factor_supply"]

    assert "20,000,000.00" in section  # compute-platform's cumulative cap
    assert "5%" in section
    assert "5,000,000.00" in section  # core-algorithm's cap


def test_chinese_catalogue_page_is_not_in_english(client, catalogue):
    zh = page(client.get("/", HTTP_ACCEPT_LANGUAGE="zh-hans"))
    en = page(client.get("/", HTTP_ACCEPT_LANGUAGE="en"))

    assert "人工智能应用示范项目资金支持" in zh
    assert "AI application demonstration projects" in en
    assert "AI application demonstration projects" not in zh
    assert pillar_sections(zh)["clustering"].split("</h2>")[0] != \
        pillar_sections(en)["clustering"].split("</h2>")[0]


@pytest.mark.parametrize("language", LANGUAGES)
def test_measure_detail_page(client, catalogue, language):
    html = page(client.get("/measures/demo-project/", HTTP_ACCEPT_LANGUAGE=language))

    measure = Measure.objects.get(code="demo-project")
    assert f"<h1>{escape(getattr(measure, NAME_FIELD[language]))}</h1>" in html
    assert "2,000,000.00" in html
    assert "10%" in html
    assert measure.source_quote in html
    assert 'href="/calculator/?measure=demo-project"' in html


def test_measure_detail_of_an_unconfigured_measure_offers_no_calculator(client, catalogue):
    html = page(client.get("/measures/income-tax/", HTTP_ACCEPT_LANGUAGE="en"))

    assert "/calculator/?measure=income-tax" not in html


@pytest.mark.parametrize("path", ["/measures/no-such-measure/", "/measures/x/"])
def test_measure_detail_of_an_unknown_code_is_404(client, catalogue, path):
    assert client.get(path).status_code == 404


# ---------------------------------------------------------------- calculator

def test_calculator_without_a_measure_offers_the_choice(client, catalogue):
    html = page(client.get("/calculator/"))

    options = re.findall(r'<option value="([a-z0-9-]+)"', html)
    assert len(options) == 14
    assert 'method="post"' not in html.split('id="measure-form"', 1)[1]


def test_calculator_with_a_measure_shows_its_form(client, catalogue):
    html = page(client.get("/calculator/?measure=demo-project", HTTP_ACCEPT_LANGUAGE="en"))

    assert '<option value="demo-project" selected>' in html
    assert 'name="actual_investment"' in html
    assert 'name="scene"' in html
    assert "Actual project investment" in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_calculator_of_an_unconfigured_measure_has_no_form(client, catalogue):
    html = page(client.get("/calculator/?measure=income-tax", HTTP_ACCEPT_LANGUAGE="en"))

    assert 'name="project_name"' not in html
    with translation.override("en"):
        from measures.reasons import REASON_MESSAGES

        assert str(REASON_MESSAGES["measure_not_configured"]) in html


def test_calculator_with_an_unknown_measure_offers_the_choice(client, catalogue):
    html = page(client.get("/calculator/?measure=nope"))

    assert len(re.findall(r'<option value="([a-z0-9-]+)"', html)) == 14
    assert 'name="actual_investment"' not in html


def test_calculator_post_shows_the_formatted_amount(client, catalogue):
    html = page(client.post("/calculator/", {
        "measure": "demo-project", "project_name": "Port AI", "actual_investment": "15000000"}))

    assert "<html" in html
    assert "1,500,000.00" in html
    assert "10% x 15000000.00 = 1500000.00" in html
    assert 'value="Port AI"' in html  # the form keeps what was entered


def test_calculator_without_javascript_is_a_plain_form_post(client, catalogue):
    html = page(client.get("/calculator/?measure=demo-project"))
    form = re.search(r'<form method="post" action="([^"]+)"', html)

    assert form is not None and form.group(1) == "/calculator/"
    assert '<input type="hidden" name="measure" value="demo-project">' in html
    answer = page(client.post(form.group(1), {"measure": "demo-project",
                                              "actual_investment": "25,000,000.00"}))
    assert "2,000,000.00" in answer


def test_calculator_ineligible_result_lists_the_reasons(client, catalogue):
    html = page(client.post("/calculator/", {
        "measure": "industry-llm", "self_developed": "false", "publicly_released": "true",
        "market_cases": "3"}, HTTP_ACCEPT_LANGUAGE="en"))

    assert "not_self_developed" in html
    assert "too_few_market_cases" in html
    assert "1,000,000.00" not in html.split('id="result"', 1)[1]


@pytest.mark.parametrize("language", LANGUAGES)
def test_calculator_malformed_money_shows_the_field_error_and_keeps_the_input(
        client, catalogue, language):
    html = page(client.post("/calculator/", {
        "measure": "demo-project", "project_name": "Port AI", "scene": "port",
        "actual_investment": "15 million", "completion_date": "2024-06-30"},
        HTTP_ACCEPT_LANGUAGE=language))

    field = html.split('<label for="id_actual_investment">', 1)[1].split("</div>", 1)[0]
    assert 'value="15 million"' in field
    assert 'class="error"' in field
    assert escape(money_message(language)) in field
    assert 'value="Port AI"' in html
    assert '<option value="port" selected>' in html
    assert 'value="2024-06-30"' in html
    assert "1,500,000.00" not in html


def test_calculator_htmx_post_returns_only_the_result(client, catalogue):
    response = client.post("/calculator/", {"measure": "demo-project",
                                            "actual_investment": "15000000"},
                           HTTP_HX_REQUEST="true")

    html = page(response)
    assert "<html" not in html
    assert "<body" not in html
    assert html.strip().startswith('<section id="result"')
    assert "1,500,000.00" in html


def test_calculator_htmx_post_with_an_error_returns_the_message(client, catalogue):
    html = page(client.post("/calculator/", {"measure": "demo-project",
                                             "actual_investment": "abc"},
                            HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en"))

    assert "<html" not in html
    assert escape(money_message("en")) in html


def test_calculator_htmx_measure_change_returns_only_the_form(client, catalogue):
    html = page(client.get("/calculator/?measure=icv-pilot", HTTP_HX_REQUEST="true"))

    assert "<html" not in html
    assert html.strip().startswith('<div id="measure-form"')
    assert 'name="vehicle_count"' in html


def test_calculator_integer_with_a_unicode_digit_is_a_field_error_not_a_500(catalogue):
    from django.test import Client

    client = Client(raise_request_exception=False)

    response = client.post("/calculator/", {"measure": "icv-pilot", "vehicle_count": "²",
                                            "requested_amount": "1000"})

    assert response.status_code == 200
    assert 'value="²"' in response.content.decode()


# ---------------------------------------------------------------- language switch

@pytest.mark.parametrize(("language", "name"), [
    ("zh-hant", "人工智能應用示範項目資金支持"),
    ("en", "AI application demonstration projects"),
    ("zh-hans", "人工智能应用示范项目资金支持"),
])
def test_language_switch_sticks(client, catalogue, language, name):
    response = client.post("/i18n/setlang/", {"language": language, "next": "/calculator/"})

    assert response.status_code == 302
    assert response["Location"] == "/calculator/"
    for path in ("/", "/measures/demo-project/", "/calculator/?measure=demo-project"):
        html = page(client.get(path))
        assert html_lang(html) == language, path
        assert name in html, path


def test_every_page_offers_the_three_languages(client, catalogue):
    html = page(client.get("/"))

    buttons = re.findall(r'<button type="submit" name="language" value="([^"]+)"', html)
    assert buttons == ["zh-hans", "zh-hant", "en"]


# ---------------------------------------------------------------- security headers

PAGES = ["/", "/measures/demo-project/", "/calculator/", "/calculator/?measure=demo-project",
         "/accounts/login/", "/api/docs/", "/measures/no-such-measure/", "/admin/login/"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_has_a_strict_csp_and_no_inline_script(client, catalogue, path):
    response = client.get(path)

    assert response.status_code in (200, 404)
    csp = response["Content-Security-Policy"]
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    script_src = directives.get("script-src", directives.get("default-src"))
    assert script_src is not None
    assert "'unsafe-inline'" not in script_src
    assert "'unsafe-eval'" not in script_src
    assert "*" not in script_src
    html = response.content.decode()
    assert INLINE_SCRIPT.search(html) is None, INLINE_SCRIPT.search(html).group(0)
    for src in re.findall(r"<script\b[^>]*\bsrc=\"([^\"]+)\"", html):
        assert not re.match(r"^(https?:)?//", src), src


def test_calculator_post_result_page_has_csp_too(client, catalogue):
    response = client.post("/calculator/", {"measure": "demo-project",
                                            "actual_investment": "1"})

    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert INLINE_SCRIPT.search(response.content.decode()) is None


def test_htmx_is_served_from_our_static_files(client, catalogue):
    html = page(client.get("/"))

    src = re.search(r'<script src="([^"]*htmx[^"]*)"', html).group(1)
    assert src.startswith("/static/")
    assert client.get(src).status_code == 200


# ---------------------------------------------------------------- login

DEMO_USER = "company@demo.qianhai-grants.test"
DEMO_PASSWORD = "demo-company-2024"


@pytest.fixture
def demo_user(db):
    return UserFactory(username=DEMO_USER, password=DEMO_PASSWORD, roles=["company"])


def test_login_page_renders(client, db):
    html = page(client.get("/accounts/login/"))

    assert 'name="username"' in html
    assert 'name="password"' in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_login_with_the_demo_user(client, demo_user):
    response = client.post("/accounts/login/", {"username": DEMO_USER,
                                                "password": DEMO_PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.session["_auth_user_id"] == str(demo_user.pk)
    assert DEMO_USER in page(client.get("/"))


def test_login_with_a_wrong_password_shows_an_error(client, demo_user):
    response = client.post("/accounts/login/", {"username": DEMO_USER, "password": "nope"})

    html = page(response)
    assert 'role="alert"' in html
    assert "_auth_user_id" not in client.session


def fail_logins(client, username, times=5):
    for _ in range(times):
        response = client.post("/accounts/login/", {"username": username, "password": "wrong"})
        assert response.status_code in (200, 429)


def test_five_failed_logins_lock_the_account(client, demo_user):
    fail_logins(client, DEMO_USER)

    response = client.post("/accounts/login/", {"username": DEMO_USER,
                                                "password": DEMO_PASSWORD})

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_four_failed_logins_do_not_lock(client, demo_user):
    fail_logins(client, DEMO_USER, times=4)

    response = client.post("/accounts/login/", {"username": DEMO_USER,
                                                "password": DEMO_PASSWORD})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(demo_user.pk)


def test_a_locked_account_does_not_lock_other_users(client, demo_user):
    other = UserFactory(username="other@example.org", password="another good password")
    fail_logins(client, DEMO_USER)

    response = client.post("/accounts/login/", {"username": "other@example.org",
                                                "password": "another good password"})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(other.pk)


def test_a_locked_account_cannot_get_an_api_token_either(client, demo_user):
    from rest_framework.test import APIClient

    fail_logins(client, DEMO_USER)

    response = APIClient().post("/api/v1/auth/token/", {"username": DEMO_USER,
                                                        "password": DEMO_PASSWORD},
                                format="json")

    assert response.status_code in (400, 403, 429)
    assert "token" not in response.json()
