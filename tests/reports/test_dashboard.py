"""The dashboard page (/reports/): who may open it, its figures in tables beside the charts'
data (json_script, no inline script: CSP), the filter form with field errors, three languages,
the navigation link, a fixed number of queries; and, in a real browser, the charts drawn from
our own static files without a CSP violation."""

import json
import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

from qianhai_grants.roles import MANAGEMENT
from tests.browser import chromium, needs_chromium
from tests.factories import CompanyFactory, UserFactory, reviewer_user
from tests.reports.test_summary import grow, world  # noqa: F401 (the fixture)

URL = "/reports/"


def html(response, status=200) -> str:
    assert response.status_code == status, (response.status_code,
                                            response.content.decode()[:2000])
    return response.content.decode()


def charts_of(page: str) -> dict:
    found = re.search(r'<script id="dashboard-charts" type="application/json">(.*?)</script>',
                      page, re.S)
    assert found, "the charts' data is missing"
    return json.loads(found.group(1))


def tables_of(page: str) -> list[str]:
    return re.findall(r'<table class="table compact report-table">.*?</table>', page, re.S)


# ---------------------------------------------------------------- who may open it

def test_anonymous_visitors_are_sent_to_log_in(client, db):
    response = client.get(URL)

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("who", ["company", "reviewer"])
def test_company_members_and_reviewers_are_refused(client, catalogue, who):
    client.force_login(CompanyFactory().created_by if who == "company" else reviewer_user())

    assert client.get(URL).status_code == 403


@pytest.mark.parametrize("who", ["staff", "management"])
def test_staff_and_management_read_it(client, world, who):  # noqa: F811
    client.force_login(getattr(world, who))

    page = html(client.get(URL))

    assert "3,500,000.00" in page  # the demo projects' standing awards of 2026
    assert "20,000,000.00" in page  # a platform at its cumulative cap


def test_only_get_is_answered(client, world):  # noqa: F811
    client.force_login(world.staff)

    assert client.post(URL).status_code == 405


@pytest.mark.parametrize(("who", "shown"), [("staff", True), ("management", True),
                                            ("company", False), ("reviewer", False)])
def test_the_navigation_links_to_reports_for_staff_and_management(client, world, who, shown):  # noqa: F811
    user = {"company": lambda: CompanyFactory().created_by, "reviewer": reviewer_user}.get(
        who, lambda: getattr(world, who))()
    client.force_login(user)

    page = html(client.get("/"))

    assert (f'href="{URL}"' in page) is shown


# ---------------------------------------------------------------- what it shows

def test_each_section_has_a_chart_and_a_table_with_the_same_figures(client, world):  # noqa: F811
    client.force_login(world.management)
    page = html(client.get(URL, HTTP_ACCEPT_LANGUAGE="en"))
    charts = charts_of(page)

    canvases = re.findall(r'<canvas data-chart="([a-z]+)" role="img" aria-label="[^"]+">', page)
    assert sorted(canvases) == sorted(charts) == sorted(
        ["funnel", "quota", "amounts", "platforms", "stages", "reviewers", "objections"])
    tables = tables_of(page)
    assert len(tables) == 7
    for table in tables:
        assert "<caption>" in table and 'scope="col"' in table and 'scope="row"' in table
    # The funnel: the chart's figures are the table's.
    assert charts["funnel"]["datasets"][0]["data"] == [10, 8, 6, 5, 2]
    funnel = tables[0]
    for label, count in zip(charts["funnel"]["labels"], [10, 8, 6, 5, 2], strict=True):
        assert re.search(rf'<th scope="row">{label}</th><td class="num">{count}</td>', funnel)
    # Money travels as decimal strings; the table shows it grouped.
    assert charts["amounts"]["datasets"][0]["data"] == [
        "6000000.00", "0.00", "3500000.00", "1000000.00"]
    assert charts["platforms"]["datasets"][0]["data"] == ["20000000.00", "18000000.00"]
    assert charts["stages"]["datasets"][0]["data"] == [
        "1.5", "2.0", "1.0", "4.0", "1.5", None, "1.0", "7.0"]
    assert charts["reviewers"]["labels"] == ["评审专家甲", "评审专家乙"]
    assert charts["objections"]["datasets"][0]["data"] == [1, 1, 1]


def test_no_inline_script_or_style_and_a_content_security_policy(client, world):  # noqa: F811
    client.force_login(world.staff)
    response = client.get(URL)
    page = html(response)

    assert "script-src 'self'" in response["Content-Security-Policy"]
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
    inline = [(attrs, body) for attrs, body in scripts if body.strip()]
    assert [attrs.strip() for attrs, _body in inline] == [
        'id="dashboard-charts" type="application/json"']
    assert all('src="/static/' in attrs for attrs, body in scripts if not body.strip())
    assert 'src="/static/js/vendor/chart.umd.min.js"' in page
    assert 'src="/static/js/dashboard.js"' in page
    assert " style=" not in page and "<style" not in page
    assert "cdn" not in page.lower()


def test_chart_js_is_served_from_our_own_static_files_with_its_licence():
    chart = Path(finders.find("js/vendor/chart.umd.min.js"))
    licence = Path(finders.find("js/vendor/chart.js.LICENSE.md"))

    assert chart.read_text().startswith("/*!\n * Chart.js v4.")
    # The source map is not shipped, so no reference to it is left for the manifest storage.
    assert "sourceMappingURL" not in chart.read_text()
    assert "MIT License" in licence.read_text()


# ---------------------------------------------------------------- the filter form

@pytest.mark.parametrize("query", ["funding_year=2025", "year=2025"])
def test_the_filter_narrows_the_figures(client, world, query):  # noqa: F811
    client.force_login(world.staff)

    charts = charts_of(html(client.get(f"{URL}?{query}")))

    assert [label.rsplit(" · ", 1)[1] for label in charts["quota"]["labels"]] == ["2025"]
    assert charts["funnel"]["datasets"][0]["data"] == [1, 1, 1, 1, 1]


def test_the_measure_is_chosen_by_its_name_in_the_active_language(client, world):  # noqa: F811
    client.force_login(world.staff)

    page = html(client.get(f"{URL}?measure=demo-project", HTTP_ACCEPT_LANGUAGE="zh-hant"))

    name = world.demo_2026.measure.name_zh_hant
    assert f'<option value="demo-project" selected>{name}</option>' in page
    assert [g.rsplit(" · ", 1)[0] for g in charts_of(page)["quota"]["labels"]] == [name, name]


def test_an_invalid_filter_shows_the_error_beside_its_field(client, world):  # noqa: F811
    client.force_login(world.staff)

    page = html(client.get(f"{URL}?funding_year=soon&pillar=moon"))

    for name in ("funding_year", "pillar"):
        field = re.search(rf'<div class="field has-error">\s*<label for="id_{name}">.*?</div>',
                          page, re.S)
        assert field and 'class="error" role="alert"' in field.group(0), name
    # The figures stay, unfiltered, under a warning.
    assert len(charts_of(page)["quota"]["labels"]) == 4


def test_a_filter_matching_nothing_says_so(client, world):  # noqa: F811
    client.force_login(world.staff)

    page = html(client.get(f"{URL}?funding_year=2030", HTTP_ACCEPT_LANGUAGE="en"))

    assert charts_of(page)["quota"]["labels"] == []
    assert charts_of(page)["funnel"]["datasets"][0]["data"] == [0, 0, 0, 0, 0]
    assert "No call matches the filter." in page
    assert "No review was assigned." in page


# ---------------------------------------------------------------- languages

@pytest.mark.parametrize(("language", "field"), [
    ("zh-hans", "name_zh_hans"), ("zh-hant", "name_zh_hant"), ("en", "name_en")])
def test_the_page_renders_in_three_languages(client, world, language, field):  # noqa: F811
    client.force_login(world.management)

    page = html(client.get(URL, HTTP_ACCEPT_LANGUAGE=language))

    assert f'<html lang="{language}">' in page
    assert len(tables_of(page)) == 7
    name = getattr(world.demo_2026.measure, field)
    assert f"{name} · 2026" in charts_of(page)["quota"]["labels"]
    assert f'<th scope="row">{name} · 2026</th>' in page


def test_the_language_switch_comes_back_to_the_dashboard(client, world):  # noqa: F811
    client.force_login(world.staff)

    switched = client.post("/i18n/setlang/", {"language": "zh-hant", "next": URL})

    assert switched.status_code == 302 and switched["Location"] == URL
    page = html(client.get(URL))
    assert '<html lang="zh-hant">' in page
    assert world.demo_2026.measure.name_zh_hant in page


# ---------------------------------------------------------------- queries

@pytest.mark.parametrize("n", [10, 1000])
def test_the_page_makes_the_same_number_of_queries_at_10_and_at_1000_applications(
        client, catalogue, django_assert_num_queries, n):
    grow(n)
    client.force_login(UserFactory(roles=[MANAGEMENT]))

    # Session, user, roles, the filter's measure looked up, the summary's 11, the measures of
    # the filter's list, the header's unread notices.
    with django_assert_num_queries(17):
        page = html(client.get(f"{URL}?measure=demo-project"))

    assert charts_of(page)["funnel"]["datasets"][0]["data"][0] > 0


# ---------------------------------------------------------------- a real browser

@pytest.mark.django_db(transaction=True)
@needs_chromium
def test_the_charts_are_drawn_in_a_browser_without_a_csp_violation(live_server, world):  # noqa: F811
    from django.conf import settings as django_settings
    from django.test import Client

    logged_in = Client()
    logged_in.force_login(world.management)
    session = logged_in.cookies[django_settings.SESSION_COOKIE_NAME].value
    problems = []
    with chromium() as browser:
        context = browser.new_context(locale="en-US", base_url=live_server.url)
        context.add_cookies([{"name": django_settings.SESSION_COOKIE_NAME,
                              "value": session, "url": live_server.url}])
        page = context.new_page()
        # Every console error (a CSP violation is one), script error and failed load; the
        # browser's own request for a favicon aside.
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" and
                "status of 404" not in m.text else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if
                r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
        page.goto(URL)
        page.wait_for_selector("body.charts-ready")
        drawn = page.eval_on_selector_all("canvas[data-drawn]",
                                          "cs => cs.map(c => [c.dataset.chart, c.width])")

    assert problems == []
    assert sorted(name for name, _width in drawn) == sorted(
        ["funnel", "quota", "amounts", "platforms", "stages", "reviewers", "objections"])
    assert all(width > 0 for _name, width in drawn)
