"""Reminders sent by the beat scans: calls closing soon, reviews overdue. Each once."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from notices import tasks
from notices.events import Event
from notices.models import Channel, Notice
from reviews.models import Review, ReviewState
from tests.factories import CompanyFactory, application_in, member, open_call, reviewer_user


@pytest.fixture
def closing(catalogue):
    return open_call("demo-project", days_open=2)


def test_companies_holding_drafts_of_a_closing_call_hear_it_once(
        closing, django_capture_on_commit_callbacks):
    holder, other_holder, submitted_only = CompanyFactory(), CompanyFactory(), CompanyFactory()
    colleague = member(holder, "viewer")
    for subject in ("港口调度", "机场安检"):
        application_in("draft", call=closing, company=holder, subject_key=subject)
    application_in("draft", call=closing, company=other_holder)
    application_in("submitted", call=closing, company=submitted_only)
    later = open_call("demo-project", funding_year=2027, days_open=20)
    application_in("draft", call=later, company=submitted_only)

    with django_capture_on_commit_callbacks(execute=True):
        tasks.remind_calls_closing.delay()
        tasks.remind_calls_closing.delay()  # a second run (beat restarted) sends nothing new
    told = sorted(m.to[0] for m in mail.outbox)
    assert told == sorted([holder.created_by.email, colleague.email,
                           other_holder.created_by.email])
    reminder = Notice.objects.get(recipient=colleague, channel=Channel.EMAIL)
    assert reminder.event == Event.CALL_CLOSING_SOON
    assert reminder.key == (f"call_closing_soon:call-{closing.pk}:company-{holder.pk}:"
                            f"{colleague.pk}:email")
    assert reminder.context["drafts"] == 2
    assert reminder.url.endswith("/applications/")


def test_a_call_that_closed_or_is_far_from_closing_sends_nothing(
        catalogue, django_capture_on_commit_callbacks):
    now = timezone.now()
    closed = open_call(opens_at=now - timedelta(days=30), closes_at=now - timedelta(hours=1))
    application_in("draft", call=closed)
    application_in("draft", call=open_call(funding_year=2027, days_open=4))
    with django_capture_on_commit_callbacks(execute=True):
        tasks.remind_calls_closing.delay()
    assert not Notice.objects.exists()


def test_a_reviewer_whose_review_is_overdue_hears_it_once_per_due_date(
        catalogue, django_capture_on_commit_callbacks):
    application = application_in("in_review")
    late, on_time, done = reviewer_user(), reviewer_user(), reviewer_user()
    past = timezone.now() - timedelta(hours=2)
    review = Review.objects.create(application=application, reviewer=late, due_at=past)
    Review.objects.create(application=application, reviewer=on_time,
                          due_at=timezone.now() + timedelta(days=2))
    Review.objects.create(application=application, reviewer=done, due_at=past,
                          state=ReviewState.SUBMITTED)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.remind_reviews_overdue.delay()
        tasks.remind_reviews_overdue.delay()
    assert [m.to for m in mail.outbox] == [[late.email]]
    assert f"/office/reviews/{review.pk}/" in mail.outbox[0].body
    # The due date moved and passed again: a new reminder.
    Review.objects.filter(pk=review.pk).update(due_at=past + timedelta(minutes=30))
    with django_capture_on_commit_callbacks(execute=True):
        tasks.remind_reviews_overdue.delay()
    assert len(mail.outbox) == 2


def test_no_reminder_for_a_review_whose_application_left_expert_review(
        catalogue, django_capture_on_commit_callbacks):
    past = timezone.now() - timedelta(hours=2)
    withdrawn, reviewing = application_in("withdrawn"), application_in("in_review")
    idle, busy = reviewer_user(), reviewer_user()
    Review.objects.create(application=withdrawn, reviewer=idle, due_at=past)
    Review.objects.create(application=reviewing, reviewer=busy, due_at=past)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.remind_reviews_overdue.delay()
    assert [m.to for m in mail.outbox] == [[busy.email]]
