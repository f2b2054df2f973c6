"""Delivering email notices: claims, failures with backoff, the scan, staff's retry."""

import importlib
import importlib.util
from datetime import timedelta

import pytest
from django.apps import apps
from django.core import mail
from django.utils import timezone

from notices import services, tasks
from notices.events import Event
from notices.models import Channel, Notice, State
from qianhai_grants.errors import DomainError
from tests.factories import company_user, staff_user
from tests.notices.conftest import person


def pending_emails(*users, subject_key="application-7:e1"):
    """Email notices written but not handed over (as if the process stopped after commit)."""
    services.notify(event=Event.ACCEPTED, recipients=users, subject_key=subject_key,
                    context={"application_id": 7})
    return list(Notice.objects.filter(channel=Channel.EMAIL, recipient__in=users)
                .order_by("recipient_id"))


def due(notice):
    """Let the notice's backoff pass."""
    Notice.objects.filter(pk=notice.pk).update(next_attempt_at=timezone.now())


def test_one_refused_address_leaves_that_notice_pending_and_the_others_sent(db, refusing):
    good, bad, also_good = person("en"), person("en"), person("zh-hant")
    refusing.add(bad.email)
    notices = pending_emails(good, bad, also_good)
    before = timezone.now()
    tasks.deliver_notices.delay([n.pk for n in notices])
    states = dict(Notice.objects.filter(channel=Channel.EMAIL).values_list(
        "recipient_id", "state"))
    assert states == {good.pk: State.SENT, bad.pk: State.PENDING, also_good.pk: State.SENT}
    failed = Notice.objects.get(recipient=bad, channel=Channel.EMAIL)
    assert failed.attempts == 1
    assert "SMTPRecipientsRefused" in failed.last_error
    assert before + timedelta(minutes=2) <= failed.next_attempt_at
    assert failed.next_attempt_at <= timezone.now() + timedelta(minutes=2)
    assert sorted(m.to[0] for m in mail.outbox) == sorted([good.email, also_good.email])


def test_an_unexpected_error_on_one_notice_does_not_stop_the_batch(db, monkeypatch):
    first, second = person("en"), person("en")
    notices = pending_emails(first, second)
    deliver = services.notice_deliver

    def broken_for_the_first(*, notice_id):
        if notice_id == notices[0].pk:
            raise RuntimeError("database hiccup")
        return deliver(notice_id=notice_id)

    monkeypatch.setattr(services, "notice_deliver", broken_for_the_first)
    tasks.deliver_notices.delay([notices[0].pk, notices[1].pk])
    assert [m.to for m in mail.outbox] == [[second.email]]


def test_backoff_doubles_and_after_six_attempts_the_notice_fails(db, refusing):
    user = person("en")
    refusing.add(user.email)
    (notice,) = pending_emails(user)
    waits = []
    for _attempt in range(6):
        due(notice)
        start = timezone.now()
        services.notice_deliver(notice_id=notice.pk)
        notice.refresh_from_db()
        if notice.next_attempt_at:
            waits.append(round((notice.next_attempt_at - start).total_seconds() / 60))
    assert waits == [2, 4, 8, 16, 32]
    assert (notice.state, notice.attempts, notice.next_attempt_at) == (State.FAILED, 6, None)
    assert "SMTPRecipientsRefused" in notice.last_error
    # Failed is final for the scan: nothing is sent again by itself.
    assert services.notices_requeue_stuck(now=timezone.now() + timedelta(days=1)) == 0
    assert mail.outbox == []


def test_backoff_is_capped_at_an_hour():
    assert services.backoff(5) == timedelta(minutes=32)
    assert services.backoff(6) == services.backoff(12) == timedelta(hours=1)


def test_staff_retry_sends_a_failed_notice(db, refusing, django_capture_on_commit_callbacks):
    user = person("en")
    refusing.add(user.email)
    (notice,) = pending_emails(user)
    Notice.objects.filter(pk=notice.pk).update(state=State.FAILED, attempts=6)
    refusing.clear()  # the mailbox works again
    with django_capture_on_commit_callbacks(execute=True):
        retried = services.notice_retry(by=staff_user(), notice=notice)
        assert (retried.state, retried.attempts) == (State.PENDING, 0)
    retried.refresh_from_db()  # handed over when the retry committed
    assert retried.state == State.SENT
    assert retried.attempts == 1
    assert [m.to for m in mail.outbox] == [[user.email]]


def test_only_staff_retry_and_only_unsent_email_notices(db):
    user = person("en")
    (notice,) = pending_emails(user)
    with pytest.raises(DomainError) as refused:
        services.notice_retry(by=company_user(), notice=notice)
    assert refused.value.status == 403
    services.notice_deliver(notice_id=notice.pk)
    with pytest.raises(DomainError) as sent:
        services.notice_retry(by=staff_user(), notice=notice)
    assert (sent.value.status, sent.value.code) == (409, "notice_not_retryable")
    in_app = Notice.objects.get(channel=Channel.IN_APP)
    with pytest.raises(DomainError):
        services.notice_retry(by=staff_user(), notice=in_app)


def test_delivering_one_notice_twice_sends_one_email(db):
    user = person("en")
    (notice,) = pending_emails(user)
    assert services.notice_deliver(notice_id=notice.pk) == State.SENT
    assert services.notice_deliver(notice_id=notice.pk) == "skipped"
    tasks.deliver_notices.delay([notice.pk, notice.pk])
    assert len(mail.outbox) == 1
    notice.refresh_from_db()
    assert (notice.state, notice.attempts) == (State.SENT, 1)
    assert notice.sent_at is not None


def test_a_notice_another_worker_holds_is_not_sent(db):
    user = person("en")
    (notice,) = pending_emails(user)
    Notice.objects.filter(pk=notice.pk).update(state=State.SENDING, claimed_at=timezone.now(),
                                               attempts=1)
    assert services.notice_deliver(notice_id=notice.pk) == "skipped"
    assert mail.outbox == []


def test_a_worker_whose_claim_was_taken_over_does_not_overwrite_the_new_claim(db, monkeypatch):
    """A worker that hung past the claim timeout: the scan gave the notice to another worker,
    which sent it; the late one finishing must not put it back to pending or sending."""
    user = person("en")
    (notice,) = pending_emails(user)
    send = services.EmailMessage.send

    def slow_send(message, *args, **kwargs):
        # Meanwhile: the scan re-queued the notice, another worker claimed and sent it.
        Notice.objects.filter(pk=notice.pk).update(state=State.SENT, claimed_at=timezone.now())
        return send(message, *args, **kwargs)

    monkeypatch.setattr(services.EmailMessage, "send", slow_send)
    services.notice_deliver(notice_id=notice.pk)
    notice.refresh_from_db()
    assert notice.state == State.SENT


def test_the_scan_sends_old_pending_notices_and_takes_back_claims_of_dead_workers(db):
    fresh, old, backing_off, dead, busy, poisoned = (person("en") for _ in range(6))
    now = timezone.now()
    notices = {user: pending_emails(user, subject_key=f"application-{user.pk}:e1")[0]
               for user in (fresh, old, backing_off, dead, busy, poisoned)}
    Notice.objects.filter(pk=notices[old].pk).update(created_at=now - timedelta(minutes=5))
    Notice.objects.filter(pk=notices[backing_off].pk).update(
        attempts=2, next_attempt_at=now + timedelta(minutes=3))
    Notice.objects.filter(pk=notices[dead].pk).update(
        state=State.SENDING, attempts=1, claimed_at=now - timedelta(minutes=15))
    Notice.objects.filter(pk=notices[busy].pk).update(
        state=State.SENDING, attempts=1, claimed_at=now - timedelta(minutes=1))
    Notice.objects.filter(pk=notices[poisoned].pk).update(
        state=State.SENDING, attempts=6, claimed_at=now - timedelta(minutes=15))

    assert tasks.requeue_stuck.delay().get() == 2
    assert sorted(m.to[0] for m in mail.outbox) == sorted([old.email, dead.email])
    states = {user: Notice.objects.get(pk=n.pk).state for user, n in notices.items()}
    assert states == {fresh: State.PENDING, old: State.SENT, backing_off: State.PENDING,
                      dead: State.SENT, busy: State.SENDING, poisoned: State.FAILED}
    assert Notice.objects.get(pk=notices[poisoned].pk).last_error == services.WORKER_LOST

    # When the backoff has passed, the scan sends that one too (and the fresh one, whose own
    # hand-off evidently never came).
    later = now + timedelta(minutes=4)
    assert services.notices_requeue_stuck(now=later) == 2
    assert len(mail.outbox) == 4


def test_the_scan_does_not_enqueue_a_notice_again_while_its_hand_off_is_in_the_queue(
        db, monkeypatch):
    user = person("en")
    (notice,) = pending_emails(user)
    Notice.objects.filter(pk=notice.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    queued = []
    monkeypatch.setattr(tasks.deliver_notices, "delay", queued.append)  # workers are busy
    assert services.notices_requeue_stuck() == 1
    assert services.notices_requeue_stuck() == 0  # a minute later: still in the queue
    assert services.notices_requeue_stuck(now=timezone.now() + timedelta(minutes=6)) == 1
    assert queued == [[notice.pk], [notice.pk]]


def test_the_beat_schedule_runs_the_scans(settings):
    tasks_scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"notices.tasks.requeue_stuck", "notices.tasks.remind_calls_closing"} <= (
        tasks_scheduled)
    from qianhai_grants.celery import app

    # What a worker's autodiscovery does at start: import every app's tasks.py (done by hand:
    # the loader's own import also runs Django's model checks, which touch the database).
    for app_config in apps.get_app_configs():
        if importlib.util.find_spec(f"{app_config.name}.tasks") is not None:
            importlib.import_module(f"{app_config.name}.tasks")
    for name in tasks_scheduled:
        assert name in app.tasks

