"""The 公示 API: staff open and finalize a call's notice; anyone reads the notices and files a
signed objection; staff resolve objections, management reads them."""

import datetime
from unittest import mock

import pytest
from django.core.cache import cache
from hypothesis import given
from hypothesis import strategies as st

from applications.models import Application, Status
from reviews.models import Objection, ObjectionState
from reviews.services import decisions, publicity
from tests.reviews.test_api_decisions import (
    ERROR_CODES,
    FUZZ,
    SIGNED,
    STAFF_ONLY_ON_A_CALL,
    assert_error,
    bodies,
    cast,
    check_answer,
    get,
    post,
)
from tests.reviews.test_decisions import reviewed

CST = datetime.timezone(datetime.timedelta(hours=8))
EVERYONE = ["anonymous", "owner", "other", "reviewer", "management", "staff"]


@pytest.fixture
def proposed(demo_call, staff):
    applications = [reviewed(demo_call, score=f"{90 - i}.00") for i in range(3)]
    for application in applications:
        decisions.application_approve(by=staff, application=application)
    return applications


@pytest.fixture
def notice(proposed, demo_call, staff):
    """A notice opened now, so objections are taken."""
    return publicity.publicity_open(by=staff, call=demo_call)


@pytest.fixture
def people(proposed):
    return cast(proposed[0])


def objection_to(notice, application, **changes):
    return publicity.objection_file(publicity=notice, application=application.pk,
                                    **{**SIGNED, **changes})


# ---------------------------------------------------------------- opening a notice

@pytest.mark.parametrize(("who", "expected"), [*STAFF_ONLY_ON_A_CALL, ("staff", 201)])
def test_only_staff_open_a_notice(proposed, demo_call, people, who, expected):
    response = post(people[who], f"/api/v1/calls/{demo_call.pk}/publicity/", {})

    if expected != 201:
        assert_error(response, expected, ERROR_CODES[expected])
        assert {Application.objects.get(pk=a.pk).status for a in proposed} == {Status.PROPOSED}
        return
    body = response.json()
    assert body["working_days"] == 5 and body["is_open"] is True
    assert {e["application"] for e in body["entries"]} == {a.pk for a in proposed}
    assert {Application.objects.get(pk=a.pk).status for a in proposed} == {
        Status.IN_PUBLICITY}


def test_a_notice_counts_working_days_on_the_holiday_calendar(proposed, demo_call, staff):
    from reviews.services.calendar import holidays_load

    holidays_load()
    # Friday 25 September 2026 is the Mid-Autumn Festival; National Day runs 1-7 October.
    with mock.patch("django.utils.timezone.now",
                    return_value=datetime.datetime(2026, 9, 25, 10, tzinfo=CST)):
        response = post(staff, f"/api/v1/calls/{demo_call.pk}/publicity/", {"working_days": 5})

    body = response.json()
    assert (body["starts_on"], body["ends_on"]) == ("2026-09-28", "2026-10-09")


@pytest.mark.parametrize("days", ["five", 0, 61, True, 2.5, None, [5]])
def test_a_malformed_number_of_working_days_is_a_400_naming_it(proposed, demo_call, staff,
                                                              days):
    body = assert_error(post(staff, f"/api/v1/calls/{demo_call.pk}/publicity/",
                             {"working_days": days}), 400, "invalid")

    assert "working_days" in body["fields"]


def test_a_call_with_nothing_proposed_has_nothing_to_publish(demo_call, staff):
    reviewed(demo_call)

    assert_error(post(staff, f"/api/v1/calls/{demo_call.pk}/publicity/", {}), 409,
                 "nothing_to_publish")


# ---------------------------------------------------------------- reading notices

@pytest.mark.parametrize("who", EVERYONE)
def test_anyone_reads_the_notices_with_their_lines(notice, proposed, people, who):
    response = get(people[who], "/api/v1/publicity/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"} and body["count"] == 1
    (row,) = body["results"]
    assert {"id", "call", "measure", "funding_year", "starts_on", "ends_on", "working_days",
            "is_open", "finalized_at", "entries"} <= set(row)
    assert row["measure"]["code"] == "demo-project" and row["measure"]["name"]
    assert (row["funding_year"], row["is_open"], row["finalized_at"]) == (2026, True, None)
    line = next(e for e in row["entries"] if e["application"] == proposed[0].pk)
    assert line == {"application": proposed[0].pk, "company_name": proposed[0].company.name,
                    "project": "前海港口智能调度示范", "amount": "1500000.00"}


@pytest.mark.parametrize("who", EVERYONE)
def test_anyone_reads_one_notice_but_never_the_objections(notice, proposed, people, who):
    objection_to(notice, proposed[0])

    response = get(people[who], f"/api/v1/publicity/{notice.pk}/")

    assert response.status_code == 200 and response.json()["id"] == notice.pk
    text = response.content.decode()
    assert SIGNED["name"] not in text and SIGNED["contact"] not in text


def test_a_notice_that_does_not_exist_is_a_404(db):
    assert_error(get(None, "/api/v1/publicity/4242/"), 404, "not_found")


def test_the_list_reads_the_notices_in_a_fixed_number_of_queries(notice, demo_call, staff,
                                                                django_assert_max_num_queries):
    from tests.factories import open_call

    for year in (2027, 2028):
        call = open_call("demo-project", funding_year=year)
        decisions.application_approve(by=staff, application=reviewed(call))
        publicity.publicity_open(by=staff, call=call)

    with django_assert_max_num_queries(3):  # the count, the notices, their lines
        assert get(None, "/api/v1/publicity/").json()["count"] == 3


# ---------------------------------------------------------------- filing objections

@pytest.mark.parametrize("who", EVERYONE)
def test_anyone_files_a_signed_objection_and_hears_only_its_receipt(notice, proposed, people,
                                                                    who):
    response = post(people[who], f"/api/v1/publicity/{notice.pk}/objections/",
                    {**SIGNED, "application": proposed[1].pk})

    assert response.status_code == 201, response.content
    objection = Objection.objects.get()
    assert response.json() == {"id": objection.pk, "state": "open"}
    assert (objection.application_id, objection.name) == (proposed[1].pk, SIGNED["name"])


@pytest.mark.parametrize("missing", ["name", "organization", "contact"])
def test_an_anonymous_objection_is_refused_naming_what_is_missing(notice, proposed, missing):
    for unsigned in ({k: v for k, v in SIGNED.items() if k != missing},
                     {**SIGNED, missing: "   "}):
        body = assert_error(post(None, f"/api/v1/publicity/{notice.pk}/objections/",
                                 {**unsigned, "application": proposed[0].pk}), 400, "invalid")
        assert missing in body["fields"]
    assert not Objection.objects.exists()


def test_an_objection_names_a_line_of_the_notice(notice, demo_call):
    elsewhere = reviewed(demo_call)

    for application in (elsewhere.pk, "first", -1, None):
        body = assert_error(post(None, f"/api/v1/publicity/{notice.pk}/objections/",
                                 {**SIGNED, "application": application}), 400)
        assert "application" in body["fields"]


def test_an_objection_after_the_notice_ended_is_refused(notice, proposed):
    later = datetime.datetime.combine(notice.ends_on + datetime.timedelta(days=1),
                                      datetime.time(10), tzinfo=CST)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert_error(post(None, f"/api/v1/publicity/{notice.pk}/objections/",
                          {**SIGNED, "application": proposed[0].pk}), 409, "publicity_closed")


def test_objections_are_throttled_at_twenty_an_hour(notice, proposed):
    path = f"/api/v1/publicity/{notice.pk}/objections/"
    for _ in range(20):
        assert post(None, path, {**SIGNED, "application": proposed[0].pk}).status_code == 201

    assert_error(post(None, path, {**SIGNED, "application": proposed[0].pk}), 429, "throttled")
    assert Objection.objects.count() == 20


@FUZZ
@given(body=bodies("name", "organization", "contact", "application", "text"),
       real_line=st.booleans())
def test_any_objection_body_is_answered_in_the_error_shape(notice, proposed, body, real_line):
    cache.clear()  # each example is a new sender, not the 21st objection of the hour
    if real_line and isinstance(body, dict):
        body = {**body, "application": proposed[0].pk}
    check_answer(post(None, f"/api/v1/publicity/{notice.pk}/objections/", body), (201, 400))


# ---------------------------------------------------------------- objections in the office

@pytest.mark.parametrize(("who", "expected"), [
    ("anonymous", 401), ("owner", 403), ("other", 403), ("reviewer", 403),
    ("management", 200), ("staff", 200)])
def test_objections_are_read_by_staff_and_management(notice, proposed, people, who, expected):
    objection = objection_to(notice, proposed[0])

    response = get(people[who], "/api/v1/objections/")

    if expected != 200:
        assert_error(response, expected, ERROR_CODES[expected])
        return
    (row,) = response.json()["results"]
    assert (row["id"], row["application"], row["publicity"]) == (objection.pk, proposed[0].pk,
                                                                 notice.pk)
    assert (row["name"], row["contact"], row["state"]) == (SIGNED["name"], SIGNED["contact"],
                                                           "open")


def test_objections_are_filtered_by_state(notice, proposed, staff):
    still_open = objection_to(notice, proposed[0])
    dismissed = objection_to(notice, proposed[1])
    publicity.objection_resolve(by=staff, objection=dismissed, upheld=False, note="查无实据")

    def ids(query):
        return [row["id"] for row in get(staff, f"/api/v1/objections/{query}").json()["results"]]

    assert ids("?state=open") == [still_open.pk]
    assert ids("?state=dismissed") == [dismissed.pk]
    assert ids("") == [dismissed.pk, still_open.pk]  # newest first
    assert "state" in assert_error(get(staff, "/api/v1/objections/?state=maybe"), 400)["fields"]


@pytest.mark.parametrize(("who", "expected"), [
    ("anonymous", 401), ("owner", 404), ("other", 404), ("reviewer", 404),
    ("management", 403)])
def test_only_staff_resolve_and_others_do_not_learn_the_objection_exists(
        notice, proposed, people, who, expected):
    objection = objection_to(notice, proposed[0])

    response = post(people[who], f"/api/v1/objections/{objection.pk}/resolve/",
                    {"upheld": True, "note": "成立"})

    assert_error(response, expected, ERROR_CODES[expected])
    assert Objection.objects.get(pk=objection.pk).state == ObjectionState.OPEN


def test_a_dismissed_objection_leaves_the_application_in_the_notice(notice, proposed, staff):
    objection = objection_to(notice, proposed[0])

    response = post(staff, f"/api/v1/objections/{objection.pk}/resolve/",
                    {"upheld": False, "note": "查无实据"})

    assert response.status_code == 200
    body = response.json()
    assert (body["state"], body["note"], body["resolved_by"]) == ("dismissed", "查无实据",
                                                                  staff.email)
    assert Application.objects.get(pk=proposed[0].pk).status == Status.IN_PUBLICITY
    assert_error(post(staff, f"/api/v1/objections/{objection.pk}/resolve/",
                      {"upheld": True, "note": "再议"}), 409, "objection_resolved")


def test_an_upheld_objection_rejects_the_application(notice, proposed, staff):
    objection = objection_to(notice, proposed[0])

    response = post(staff, f"/api/v1/objections/{objection.pk}/resolve/",
                    {"upheld": True, "note": "投资额不符"})

    assert response.json()["state"] == "upheld"
    assert Application.objects.get(pk=proposed[0].pk).status == Status.REJECTED


@pytest.mark.parametrize(("body", "field"), [
    ({"note": "x"}, "upheld"), ({"upheld": "maybe", "note": "x"}, "upheld"),
    ({"upheld": True}, "note"), ({"upheld": True, "note": ""}, "note"),
    ({"upheld": True, "note": ["x"]}, "note")])
def test_a_malformed_resolution_is_a_400_naming_the_field(notice, proposed, staff, body, field):
    objection = objection_to(notice, proposed[0])

    errors = assert_error(post(staff, f"/api/v1/objections/{objection.pk}/resolve/", body),
                          400, "invalid")

    assert field in errors["fields"]
    assert Objection.objects.get(pk=objection.pk).state == ObjectionState.OPEN


# ---------------------------------------------------------------- finalizing

@pytest.mark.parametrize(("who", "expected"), [*STAFF_ONLY_ON_A_CALL, ("staff", 409)])
def test_only_staff_finalize_and_not_before_the_end(notice, demo_call, people, who, expected):
    response = post(people[who], f"/api/v1/calls/{demo_call.pk}/finalize/")

    assert_error(response, expected, ERROR_CODES.get(expected, "publicity_not_ended"))


def test_finalizing_after_the_end_awards_the_notice(notice, demo_call, proposed, staff):
    after = datetime.datetime.combine(notice.ends_on + datetime.timedelta(days=1),
                                      datetime.time(9), tzinfo=CST)
    with mock.patch("django.utils.timezone.now", return_value=after):
        response = post(staff, f"/api/v1/calls/{demo_call.pk}/finalize/")

    assert response.status_code == 200
    assert sorted(response.json()["awarded"]) == sorted(a.pk for a in proposed)
    assert get(None, f"/api/v1/publicity/{notice.pk}/").json()["finalized_at"] is not None
    assert_error(post(staff, f"/api/v1/calls/{demo_call.pk}/finalize/"), 409, "no_publicity")
