"""The back office's actions through its pages: screening, bulk acceptance, assignment,
decisions within the quota, rank-and-fill, the reserve list, 公示 with objections, finalizing and
payments. Each goes through its service; here we check what staff see and that a refusal
changes nothing."""

import datetime
import re
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from applications.models import Application, Status, StatusEvent
from reviews.models import Award, ObjectionState, Payment, Publicity, Review, ReviewState
from reviews.services import decisions, publicity
from tests.factories import application_in, reviewer_user
from tests.reviews.test_decisions import reviewed
from tests.reviews.test_views_office import SIGNED, awarded_with_award, html

CST = datetime.timezone(datetime.timedelta(hours=8))
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def at(year, month, day, hour=10):
    return datetime.datetime(year, month, day, hour, tzinfo=CST)


def status_of(application) -> str:
    return Application.objects.get(pk=application.pk).status


@pytest.fixture
def holidays(db):
    from reviews.services.calendar import holidays_load

    holidays_load()


@pytest.fixture
def office(client, staff):
    client.force_login(staff)
    return client


def post(client, url, data=None, **kwargs):
    return client.post(url, data or {}, **EN, **kwargs)


# ---------------------------------------------------------------- screening

def test_staff_accept_a_submitted_application(office, demo_call):
    application = application_in(Status.SUBMITTED, call=demo_call)

    page = html(post(office, f"/office/applications/{application.pk}/screen/",
                     {"to": "accepted"}, follow=True))

    assert status_of(application) == Status.ACCEPTED
    assert "Application accepted" in page
    assert "Formal screening" not in page  # nothing left to screen


@pytest.mark.parametrize("to", ["returned", "rejected"])
def test_returning_or_rejecting_needs_a_reason(office, demo_call, to):
    application = application_in(Status.SUBMITTED, call=demo_call)
    url = f"/office/applications/{application.pk}/screen/"

    page = html(post(office, url, {"to": to, "reason": "  "}), status=400)

    assert "Say why, for the company." in page
    assert 'class="field has-error"' in page  # on the reason field
    assert status_of(application) == Status.SUBMITTED
    assert not StatusEvent.objects.filter(application=application).exists()

    html(post(office, url, {"to": to, "reason": "请补充可行性研究报告"}), status=302)
    assert status_of(application) == to
    assert StatusEvent.objects.get(application=application).reason == "请补充可行性研究报告"


def test_screening_an_application_twice_says_why_not(office, demo_call):
    application = application_in(Status.ACCEPTED, call=demo_call)

    page = html(post(office, f"/office/applications/{application.pk}/screen/",
                     {"to": "rejected", "reason": "x"}), status=409)

    assert "cannot become" in page
    assert status_of(application) == Status.ACCEPTED


def test_an_unknown_screening_outcome_is_a_400(office, demo_call):
    application = application_in(Status.SUBMITTED, call=demo_call)
    page = html(post(office, f"/office/applications/{application.pk}/screen/",
                     {"to": "awarded"}), status=400)
    assert "Select a valid choice." in page
    assert status_of(application) == Status.SUBMITTED


def test_a_due_date_in_the_past_is_refused_on_its_field(office, demo_call):
    application = application_in(Status.ACCEPTED, call=demo_call)
    expert = reviewer_user()

    page = html(post(office, f"/office/applications/{application.pk}/assign/",
                     {"reviewer": expert.pk, "due_on": "2020-01-01"}), status=400)

    assert re.search(r'class="field has-error">\s*<label for="id_assign_due_on"', page)
    assert "Enter a date and time in the future." in page
    assert not Review.objects.exists()


def test_bulk_accept_reports_what_succeeded_and_why_others_did_not(office, demo_call):
    submitted = [application_in(Status.SUBMITTED, call=demo_call) for _ in range(3)]
    accepted = application_in(Status.ACCEPTED, call=demo_call)
    draft = application_in(Status.DRAFT, call=demo_call)

    page = html(post(office, "/office/applications/accept/", {
        "ids": [a.pk for a in (*submitted, accepted, draft)],
        "next": "/office/applications/?status=submitted"}, follow=True))

    assert {status_of(a) for a in submitted} == {Status.ACCEPTED}
    assert status_of(accepted) == Status.ACCEPTED and status_of(draft) == Status.DRAFT
    assert "3 applications accepted." in page
    assert f"#{accepted.pk}: An application that is Accepted cannot become Accepted." in page
    assert f"#{draft.pk}: not found." in page


def test_bulk_accept_with_nothing_checked_says_so(office, demo_call):
    page = html(post(office, "/office/applications/accept/", {}, follow=True))
    assert "Check the applications to accept first." in page


def test_bulk_accept_goes_back_to_this_site_only(office, demo_call):
    application = application_in(Status.SUBMITTED, call=demo_call)
    response = post(office, "/office/applications/accept/",
                    {"ids": [application.pk], "next": "https://evil.example/"})
    assert response["Location"] == "/office/applications/"


# ---------------------------------------------------------------- assignment

def test_staff_assign_a_reviewer(office, demo_call):
    application = application_in(Status.ACCEPTED, call=demo_call)
    expert = reviewer_user(name="张专家")

    page = html(post(office, f"/office/applications/{application.pk}/assign/",
                     {"reviewer": expert.pk, "due_on": "2099-01-31"}, follow=True))

    review = Review.objects.get(application=application)
    assert (review.reviewer, review.state) == (expert, ReviewState.ASSIGNED)
    assert review.due_at.date() == datetime.date(2099, 1, 31)
    assert status_of(application) == Status.IN_REVIEW
    assert "张专家 will review this application." in page
    assert "To score" in page  # the review's state, by its label


def test_assignment_with_htmx_answers_the_reviews_section_alone(office, demo_call):
    application = application_in(Status.ACCEPTED, call=demo_call)
    expert = reviewer_user(name="张专家")

    response = post(office, f"/office/applications/{application.pk}/assign/",
                    {"reviewer": expert.pk}, HTTP_HX_REQUEST="true")

    part = html(response)
    assert part.lstrip().startswith('<section id="reviews">')
    assert "<html" not in part
    assert "张专家" in part and "will review this application" in part
    assert Review.objects.filter(application=application, reviewer=expert).exists()


def test_assigning_a_conflicted_reviewer_is_refused_in_words(office, demo_call):
    application = application_in(Status.ACCEPTED, call=demo_call)
    conflicted = reviewer_user(affiliations=[application.company.registration_number])

    page = html(post(office, f"/office/applications/{application.pk}/assign/",
                     {"reviewer": conflicted.pk}), status=409)

    assert "declared a relation to the applicant" in page
    assert not Review.objects.exists()
    assert status_of(application) == Status.ACCEPTED

    part = html(post(office, f"/office/applications/{application.pk}/assign/",
                     {"reviewer": ""}, HTTP_HX_REQUEST="true"))  # htmx swaps only a 200
    assert "Choose an active reviewer from the pool." in part


def test_auto_assign_tops_up_the_call_and_names_what_is_short(office, demo_call):
    applications = [application_in(Status.ACCEPTED, call=demo_call) for _ in range(2)]
    reviewer_user(name="甲")
    reviewer_user(name="乙")

    page = html(post(office, f"/office/calls/{demo_call.pk}/auto-assign/", follow=True))

    assert Review.objects.count() == 4
    assert "4 reviews assigned." in page
    assert f"#{applications[0].pk}, #{applications[1].pk}" in page  # 2 of the 3 reviewers


# ---------------------------------------------------------------- decisions

def test_approving_proposes_and_shows_the_amount(office, demo_call):
    application = reviewed(demo_call)

    page = html(post(office, f"/office/applications/{application.pk}/approve/", follow=True))

    assert status_of(application) == Status.PROPOSED
    assert "Proposed for an award of 1,500,000.00 yuan." in page
    assert "How the amount was computed" in page


def test_approving_a_lower_amount_keeps_it_in_the_trace(office, demo_call):
    application = reviewed(demo_call)

    page = html(post(office, f"/office/applications/{application.pk}/approve/",
                     {"amount": "1,000,000.00"}, follow=True))

    assert Award.objects.get(application=application).amount == Decimal("1000000.00")
    assert "Amount set at the decision: 1000000.00 (computed: 1500000.00)" in page


def test_a_bad_amount_is_a_field_error(office, demo_call):
    application = reviewed(demo_call)

    page = html(post(office, f"/office/applications/{application.pk}/approve/",
                     {"amount": "abc"}), status=400)

    assert "Enter an amount in yuan" in page
    assert status_of(application) == Status.REVIEWED


def test_the_eleventh_approval_shows_the_quota_full_and_changes_nothing(office, demo_call,
                                                                        staff):
    applications = [reviewed(demo_call) for _ in range(11)]
    for application in applications[:10]:
        decisions.application_approve(by=staff, application=application)

    page = html(post(office, f"/office/applications/{applications[10].pk}/approve/"),
                status=409)

    assert "quota of supported projects is full." in page
    assert status_of(applications[10]) == Status.REVIEWED
    assert not Award.objects.filter(application=applications[10]).exists()
    assert Award.objects.count() == 10


def test_declining_needs_a_reason(office, demo_call):
    application = reviewed(demo_call)
    url = f"/office/applications/{application.pk}/decline/"

    page = html(post(office, url, {"reason": ""}), status=400)
    assert "Say why, for the company." in page
    assert status_of(application) == Status.REVIEWED

    page = html(post(office, url, {"reason": "排名靠后"}, follow=True))
    assert status_of(application) == Status.DECLINED
    assert "the company is told why" in page


def test_reserving_puts_the_application_on_the_reserve_list(office, demo_call):
    application = reviewed(demo_call)
    html(post(office, f"/office/applications/{application.pk}/reserve/"), status=302)
    assert status_of(application) == Status.RESERVE


def test_rank_and_fill_proposes_within_the_quota(office, demo_call):
    applications = [reviewed(demo_call, score=f"{90 - i}.00") for i in range(12)]

    page = html(post(office, f"/office/calls/{demo_call.pk}/rank-and-fill/",
                     {"count": "", "reserve": "1"}, follow=True))

    assert [status_of(a) for a in applications] == [Status.PROPOSED] * 10 + [
        Status.RESERVE, Status.DECLINED]
    assert "10 proposed, 1 on the reserve list, 1 not selected." in page
    assert "<strong>10</strong> / 10" in page  # the quota in use


def test_rank_and_fill_checks_its_numbers(office, demo_call):
    application = reviewed(demo_call)

    page = html(post(office, f"/office/calls/{demo_call.pk}/rank-and-fill/",
                     {"count": "-1", "reserve": "x"}), status=400)

    assert page.count('class="field has-error"') == 2
    assert status_of(application) == Status.REVIEWED


def test_promoting_the_reserve(office, demo_call, staff):
    first, second = reviewed(demo_call, score="80.00"), reviewed(demo_call, score="70.00")
    for application in (second, first):
        decisions.application_reserve(by=staff, application=application)

    page = html(post(office, f"/office/calls/{demo_call.pk}/promote/", follow=True))

    assert (status_of(first), status_of(second)) == (Status.PROPOSED, Status.RESERVE)
    assert f"{first.company.name} is proposed for an award of 1,500,000.00 yuan." in page


def test_promoting_an_empty_reserve_says_so(office, demo_call):
    page = html(post(office, f"/office/calls/{demo_call.pk}/promote/", follow=True))
    assert "The reserve list is empty." in page


# ---------------------------------------------------------------- 公示

@pytest.fixture
def proposed(demo_call, staff):
    applications = [reviewed(demo_call, score=f"{90 - i}.00") for i in range(3)]
    for application in applications:
        decisions.application_approve(by=staff, application=application)
    return applications


def test_opening_the_publicity_on_working_days(office, demo_call, proposed, holidays):
    with mock.patch("django.utils.timezone.now", return_value=at(2025, 9, 26)):
        page = html(post(office, f"/office/calls/{demo_call.pk}/publicity/",
                         {"working_days": "5"}, follow=True))

    notice = Publicity.objects.get(call=demo_call)
    # 2025: Oct 1-8 off; Sun Sep 28 and Sat Oct 11 are make-up working days.
    assert (notice.starts_on, notice.ends_on) == (datetime.date(2025, 9, 26),
                                                  datetime.date(2025, 10, 9))
    assert "The public notice is open from 2025-09-26 until 2025-10-09." in page
    assert {status_of(a) for a in proposed} == {Status.IN_PUBLICITY}
    for application in proposed:
        assert application.company.name in page


def test_opening_the_publicity_checks_the_working_days(office, demo_call, proposed):
    page = html(post(office, f"/office/calls/{demo_call.pk}/publicity/",
                     {"working_days": "0"}), status=400)
    assert "Enter a number of working days from 1 to 60." in page
    assert not Publicity.objects.exists()


def test_nothing_to_publish_is_said(office, demo_call):
    page = html(post(office, f"/office/calls/{demo_call.pk}/publicity/",
                     {"working_days": "5"}), status=409)
    assert "The call has no proposed award to publish." in page


@pytest.fixture
def notice(demo_call, staff, proposed, holidays):
    with mock.patch("django.utils.timezone.now", return_value=at(2026, 11, 2)):  # a Monday
        return publicity.publicity_open(by=staff, call=demo_call)


def objection_to(notice, application):
    with mock.patch("django.utils.timezone.now", return_value=at(2026, 11, 3)):
        return publicity.objection_file(publicity=notice, application=application.pk,
                                        **SIGNED)


def test_resolving_an_objection_needs_a_note(office, notice, proposed):
    objection = objection_to(notice, proposed[1])
    url = f"/office/publicity/{notice.pk}/objections/{objection.pk}/resolve/"
    prefix = f"o{objection.pk}-"

    page = html(post(office, url, {prefix + "upheld": "yes", prefix + "note": " "}), status=400)
    assert "Say why, for the record." in page
    objection.refresh_from_db()
    assert objection.state == ObjectionState.OPEN

    html(post(office, url, {prefix + "note": "x"}), status=400)  # upheld or not: say which

    page = html(post(office, url, {prefix + "upheld": "yes", prefix + "note": "经核实属实"},
                     follow=True))
    objection.refresh_from_db()
    assert objection.state == ObjectionState.UPHELD
    assert status_of(proposed[1]) == Status.REJECTED
    assert "The objection is upheld" in page and "经核实属实" in page

    page = html(post(office, url, {prefix + "upheld": "no", prefix + "note": "再议"}),
                status=409)
    assert "The objection is already resolved." in page


def test_finalizing_waits_for_the_end_then_awards(office, demo_call, notice, proposed):
    objection = objection_to(notice, proposed[2])
    url = f"/office/calls/{demo_call.pk}/finalize/"

    with mock.patch("django.utils.timezone.now", return_value=at(2026, 11, 6, 23)):
        page = html(post(office, url), status=409)
    assert "The public notice runs until 2026-11-06." in page

    with mock.patch("django.utils.timezone.now", return_value=at(2026, 11, 7, 9)):
        page = html(post(office, url), status=409)
        assert "Resolve every objection before finalizing." in page
        publicity.objection_resolve(by=notice.opened_by, objection=objection, upheld=False,
                                    note="不属实")
        page = html(post(office, url, follow=True))

    assert "3 awards are final." in page
    assert {status_of(a) for a in proposed} == {Status.AWARDED}
    notice.refresh_from_db()
    assert notice.finalized_at is not None


# ---------------------------------------------------------------- payments

def test_recording_payments_up_to_the_award(office, demo_call, staff):
    application = awarded_with_award(demo_call, staff)  # 1,500,000.00
    url = f"/office/applications/{application.pk}/payments/"
    today = timezone.localdate().isoformat()

    page = html(post(office, url, {"amount": "1000000.00", "paid_on": today,
                                   "reference": "QH-2026-001"}, follow=True))
    assert "Payment of 1,000,000.00 yuan recorded." in page
    assert "500,000.00" in page  # left to pay

    page = html(post(office, url, {"amount": "600000.00", "paid_on": today,
                                   "reference": "QH-2026-002"}), status=409)
    assert "Payments would exceed the award: 500000.00 is left to pay." in page
    assert Payment.objects.count() == 1
    assert Award.objects.get(application=application).paid == Decimal("1000000.00")


def test_a_payment_form_with_bad_values_shows_each_field(office, demo_call, staff):
    application = awarded_with_award(demo_call, staff)

    page = html(post(office, f"/office/applications/{application.pk}/payments/",
                     {"amount": "-5", "paid_on": "someday", "reference": ""}), status=400)

    assert page.count('class="field has-error"') == 3
    assert "Enter a date such as 2026-03-31." in page
    assert not Payment.objects.exists()


def test_a_proposed_award_cannot_be_paid_yet(office, demo_call, staff):
    application = reviewed(demo_call)
    decisions.application_approve(by=staff, application=application)

    page = html(post(office, f"/office/applications/{application.pk}/payments/", {
        "amount": "1.00", "paid_on": timezone.localdate().isoformat(), "reference": "x"}),
        status=409)

    assert "Only a final award can be paid." in page
    assert "Record a payment" not in page  # the form is shown for final awards only


# ---------------------------------------------------------------- languages

def test_a_refusal_reads_in_traditional_chinese(office, demo_call):
    application = application_in(Status.SUBMITTED, call=demo_call)

    page = html(office.post(f"/office/applications/{application.pk}/screen/",
                            {"to": "rejected"}, HTTP_ACCEPT_LANGUAGE="zh-hant"), status=400)

    assert '<html lang="zh-hant">' in page
    assert "請說明理由（將告知企業）。" in page  # the service's message, in the reader's language
    assert status_of(application) == Status.SUBMITTED
