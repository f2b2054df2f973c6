"""Delivering email notices: claims, failures with backoff, the scan, staff's retry."""

import importlib
import importlib.util
from collections import Counter
from datetime import timedelta

import pytest
from django.apps import apps
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import connection
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


def test_an_unexpected_error_on_one_notice_does_not_stop_the_chunk(db, monkeypatch):
    first, second = person("en"), person("en")
    notices = pending_emails(first, second)
    send_claimed = services._send_claimed

    def broken_for_the_first(notice, *args):
        if notice.pk == notices[0].pk:
            raise RuntimeError("database hiccup")
        return send_claimed(notice, *args)

    monkeypatch.setattr(services, "_send_claimed", broken_for_the_first)
    tasks.deliver_notices.delay([notices[0].pk, notices[1].pk])
    assert [m.to for m in mail.outbox] == [[second.email]]
    # The first stays claimed: the scan gives it back after the claim timeout.
    assert Notice.objects.get(pk=notices[0].pk).state == State.SENDING
    assert Notice.objects.get(pk=notices[1].pk).state == State.SENT


def test_a_chunk_sends_only_its_pending_notices_with_a_fixed_number_of_queries(
        db, django_assert_num_queries):
    sent, held, *waiting = people = [person("en") for _ in range(6)]
    notices = {n.recipient_id: n for n in pending_emails(*people)}
    services.notice_deliver(notice_id=notices[sent.pk].pk)
    Notice.objects.filter(pk=notices[held.pk].pk).update(  # another worker's
        state=State.SENDING, claimed_at=timezone.now(), attempts=1)
    mail.outbox = []

    # The claim: a savepoint, one locking read with the recipients, one UPDATE; then one
    # UPDATE per notice sent, right after its mail left.
    with django_assert_num_queries(4 + len(waiting)):
        outcome = services.notices_deliver(
            notice_ids=[n.pk for n in notices.values()] + [987654321])

    assert outcome == {notices[sent.pk].pk: "skipped", notices[held.pk].pk: "skipped",
                       987654321: "skipped", **{notices[u.pk].pk: State.SENT for u in waiting}}
    assert sorted(m.to[0] for m in mail.outbox) == sorted(u.email for u in waiting)
    assert Notice.objects.get(pk=notices[held.pk].pk).state == State.SENDING


def test_a_chunk_that_runs_out_of_time_hands_the_rest_back_unattempted(db, monkeypatch):
    people = [person("en") for _ in range(3)]
    notices = sorted(pending_emails(*people), key=lambda n: n.pk)  # a chunk goes in id order
    queued = []
    monkeypatch.setattr(tasks.deliver_notices, "delay", queued.append)

    outcome = services.notices_deliver(notice_ids=[n.pk for n in notices],
                                       budget=timedelta(0))

    # The first is always sent (a chunk makes progress); the others wait for another task.
    assert [m.to for m in mail.outbox] == [[notices[0].recipient.email]]
    assert outcome == {notices[0].pk: State.SENT, notices[1].pk: State.PENDING,
                       notices[2].pk: State.PENDING}
    rest = Notice.objects.filter(pk__in=[notices[1].pk, notices[2].pk])
    assert {(n.state, n.attempts, n.claimed_at) for n in rest} == {(State.PENDING, 0, None)}
    assert queued == [[notices[1].pk, notices[2].pk]]


def test_a_task_claims_its_notices_a_few_at_a_time(db, monkeypatch):
    """A task of many notices holds at most CLAIM_CHUNK of them `sending` at any moment: a
    worker that dies leaves only those waiting for the claim timeout, the rest pending."""
    monkeypatch.setattr(services, "CLAIM_CHUNK", 2)
    notices = sorted(pending_emails(*(person("en") for _ in range(5))), key=lambda n: n.pk)
    send = EmailBackend.send_messages
    seen = []

    def watching_send(backend, messages):
        seen.append(Counter(Notice.objects.filter(channel=Channel.EMAIL)
                            .values_list("state", flat=True)))
        return send(backend, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", watching_send)
    outcome = services.notices_deliver(notice_ids=[n.pk for n in notices])

    assert outcome == dict.fromkeys((n.pk for n in notices), State.SENT)
    # While each mail leaves: the claimed ones of its pair `sending`, the rest pending or sent.
    assert seen == [
        Counter({State.SENDING: 2, State.PENDING: 3}),
        Counter({State.SENT: 1, State.SENDING: 1, State.PENDING: 3}),
        Counter({State.SENT: 2, State.SENDING: 2, State.PENDING: 1}),
        Counter({State.SENT: 3, State.SENDING: 1, State.PENDING: 1}),
        Counter({State.SENT: 4, State.SENDING: 1}),
    ]
    assert sorted(m.to[0] for m in mail.outbox) == sorted(n.recipient.email for n in notices)


def test_out_of_time_between_claims_the_unclaimed_notices_go_to_another_task(db, monkeypatch):
    monkeypatch.setattr(services, "CLAIM_CHUNK", 2)
    notices = sorted(pending_emails(*(person("en") for _ in range(5))), key=lambda n: n.pk)
    queued = []
    monkeypatch.setattr(tasks.deliver_notices, "delay", queued.append)

    outcome = services.notices_deliver(notice_ids=[n.pk for n in notices],
                                       budget=timedelta(0))

    # The first is sent; its claimed partner is given back, and the three never claimed stay
    # pending, untouched: all four go to one task of their own.
    assert [m.to for m in mail.outbox] == [[notices[0].recipient.email]]
    rest = [n.pk for n in notices[1:]]
    assert outcome == {notices[0].pk: State.SENT, **dict.fromkeys(rest, State.PENDING)}
    assert queued == [rest]
    assert set(Notice.objects.filter(pk__in=rest).values_list(
        "state", "attempts", "claimed_at")) == {(State.PENDING, 0, None)}


def test_a_default_task_takes_a_whole_transaction_of_a_hundred_notices(
        db, monkeypatch, django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr(tasks.deliver_notices, "delay", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        notices = pending_emails(*(person("en") for _ in range(services.DELIVERY_CHUNK)))
    assert services.DELIVERY_CHUNK >= 4 * services.CLAIM_CHUNK
    assert queued == [sorted(n.pk for n in notices)]


@pytest.mark.postgres
def test_on_postgresql_the_sent_mark_is_a_statement_prepared_once_per_connection(db):
    notices = pending_emails(*(person("en") for _ in range(3)))
    services.notices_deliver(notice_ids=[n.pk for n in notices])
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert [sql for sql in prepared if sql.startswith('UPDATE "notices_notice"')] == [
        services._mark_sent_sql().replace("%s", "$1", 1).replace("%s", "$2", 1)
        .replace("%s", "$3", 1).replace("%s", "$4", 1).replace("%s", "$5", 1)]
    assert Notice.objects.filter(pk__in=[n.pk for n in notices], state=State.SENT).count() == 3


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
    send = EmailBackend.send_messages
    taken_over_at = timezone.now() + timedelta(minutes=11)

    def slow_send(backend, messages):
        # Meanwhile: the scan re-queued the notice, another worker claimed it and is sending.
        Notice.objects.filter(pk=notice.pk).update(state=State.SENDING, claimed_at=taken_over_at,
                                                   attempts=2)
        return send(backend, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", slow_send)
    assert services.notice_deliver(notice_id=notice.pk) == State.SENT
    notice.refresh_from_db()
    # The other worker's claim stands: this one's "sent" did not overwrite it.
    assert (notice.state, notice.claimed_at, notice.sent_at) == (
        State.SENDING, taken_over_at, None)
    assert len(mail.outbox) == 1


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


def test_the_scan_enqueues_due_notices_in_chunks_and_those_of_dead_workers_one_by_one(
        db, monkeypatch):
    people = [person("en") for _ in range(30)]
    notices = pending_emails(*people)
    now = timezone.now()
    Notice.objects.filter(pk__in=[n.pk for n in notices]).update(
        created_at=now - timedelta(minutes=5))
    dead = [n.pk for n in notices[:2]]  # a worker died holding these
    Notice.objects.filter(pk__in=dead).update(state=State.SENDING, attempts=1,
                                              claimed_at=now - timedelta(minutes=15))
    queued = []
    monkeypatch.setattr(tasks.deliver_notices, "delay", queued.append)
    monkeypatch.setattr(services, "DELIVERY_CHUNK", 25)  # the 28 others: two tasks

    assert services.notices_requeue_stuck(now=now) == 30

    # One of them may be what killed the worker: alone in its task, it can stop only itself.
    others = [n.pk for n in notices[2:]]
    assert queued == [[dead[0]], [dead[1]], others[:25], others[25:]]


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

