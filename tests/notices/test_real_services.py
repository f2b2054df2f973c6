"""Notices delivered by a real Celery worker through a real Redis, on PostgreSQL.

The outbox promises (notices/services.py, "Delivery"): a notice written with its event is
delivered once it is committed, whatever happens to the worker or the broker, and a mail sent
twice carries the same Message-ID. Here a worker is killed with SIGKILL in the middle of 1,000
notices, and a broker is stopped while a company submits; mail is counted by Message-ID in the
files the worker wrote (Django's file backend), which survive the worker.

The worker runs `celery -A qianhai_grants worker -P solo` with tests/notices/worker_settings.py:
the test database of this test, a queue of its own on the broker, a mail folder of its own. The
beat scan (`notices_requeue_stuck`) is called by the test, with the clock moved on, as beat
would call it once the claim timeout had passed.
"""

import os
import re
import signal
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from applications import services as applications
from applications.models import Application, Status
from notices import services
from notices.events import Event
from notices.messages import message_id
from notices.models import Channel, Notice, State
from tests.celery_workers import remove_queue, tasks_sent_to
from tests.factories import DEMO_PROJECT_INPUTS, CompanyFactory, member, open_call, tiny_pdf, uscc

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

NOTICES = 1000
BATCH = 100  # recipients per transaction, handed to Celery in chunks of DELIVERY_CHUNK
KILL_AFTER = 160  # sent notices: the first worker is killed in the middle of a task
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\s]+>)", re.MULTILINE | re.IGNORECASE)
CLOSING = {"call_id": 1, "measure_code": "demo-project", "funding_year": 2026, "drafts": 1,
           "measure_names": {"zh-hans": "示范项目", "zh-hant": "示範項目", "en": "Demo projects"},
           "closes_at": "2026-12-31T17:00:00+08:00", "company_name": "前海示范科技有限公司"}
# After this the beat scan treats a claim as a dead worker's.
AFTER_CLAIM_TIMEOUT = services.CLAIM_TIMEOUT + timedelta(minutes=1)


def delivered(mail_dir: Path) -> Counter:
    """Message-ID → how many mails carried it, over every file the workers wrote."""
    counts: Counter = Counter()
    for path in mail_dir.glob("*"):
        counts.update(mid.decode() for mid in MESSAGE_ID.findall(path.read_bytes()))
    return counts


def email_states(**filters) -> Counter:
    return Counter(Notice.objects.filter(channel=Channel.EMAIL, **filters)
                   .values_list("state", flat=True))


# ---------------------------------------------------------------- the tests

def test_a_worker_killed_mid_delivery_of_1000_notices_leaves_each_delivered_exactly_once(
        shared_redis, queue, workers, tmp_path):
    mail_dir = tmp_path / "mail"
    User = get_user_model()
    people = User.objects.bulk_create(
        User(username=f"reader-{i}", email=f"reader-{i}@example.com") for i in range(NOTICES))
    try:
        with tasks_sent_to(shared_redis, queue):
            for start in range(0, NOTICES, BATCH):
                with transaction.atomic():  # one task of 100 notices, sent after the commit
                    services.notify(event=Event.CALL_CLOSING_SOON,
                                    recipients=people[start:start + BATCH],
                                    subject_key=f"call-1:{queue}",
                                    context=CLOSING)
            keys = dict(Notice.objects.filter(channel=Channel.EMAIL).values_list("pk", "key"))
            assert len(keys) == NOTICES
            assert email_states() == {State.PENDING: NOTICES}

            first = workers.start(broker_url=shared_redis, queue=queue, mail_dir=mail_dir)
            workers.wait_for(lambda: email_states()[State.SENT] >= KILL_AFTER,
                             what=f"the first worker to send {KILL_AFTER} notices")
            os.kill(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
            at_kill = email_states()
            stuck = set(Notice.objects.filter(channel=Channel.EMAIL, state=State.SENDING)
                        .values_list("key", flat=True))
            # Killed in the middle: some sent, not all; a solo worker holds one claim at a time
            # (its claimed notices not yet marked sent, at most one of them mailed).
            assert KILL_AFTER <= at_kill[State.SENT] < NOTICES, at_kill
            assert len(stuck) <= services.CLAIM_CHUNK, at_kill

            # A minute after the claim timeout, the beat scan frees the dead worker's claim and
            # enqueues every notice not sent (the killed worker's own chunk was taken from the
            # queue and is never acknowledged).
            requeued = services.notices_requeue_stuck(now=timezone.now() + AFTER_CLAIM_TIMEOUT)
            assert requeued == NOTICES - at_kill[State.SENT]
            workers.start(broker_url=shared_redis, queue=queue, mail_dir=mail_dir)
            workers.wait_for(lambda: email_states() == {State.SENT: NOTICES},
                             what="every notice to be sent")
    finally:
        remove_queue(shared_redis, queue)

    mails = delivered(mail_dir)
    expected = {message_id(key) for key in keys.values()}
    assert set(mails) == expected  # every notice delivered, nothing else
    # A mail sent twice can only be the one the first worker had sent and not yet marked
    # `sent` when it was killed: one of the rows it had claimed, and only one, since each row
    # is marked right after its mail leaves. Every other notice went out exactly once.
    twice = {mid for mid, count in mails.items() if count > 1}
    assert twice <= {message_id(key) for key in stuck}
    assert sum(mails.values()) - len(mails) <= 1
    attempts = Counter(Notice.objects.filter(channel=Channel.EMAIL)
                       .values_list("attempts", flat=True))
    assert attempts == +Counter({1: NOTICES - len(stuck), 2: len(stuck)})


def test_with_redis_stopped_a_submission_succeeds_and_its_notices_go_out_once_it_is_back(
        catalogue, private_redis, queue, workers, tmp_path, caplog):
    mail_dir = tmp_path / "mail"
    company = CompanyFactory(registration_number=uscc(61))
    owner, colleague = company.created_by, member(company, "editor")
    draft, _ = applications.application_create(by=owner, call=open_call("demo-project"),
                                               company=company, inputs=DEMO_PROJECT_INPUTS)
    for kind in ("investment_evidence", "project_report"):
        applications.attachment_add(by=owner, application=draft, kind=kind,
                                    upload=SimpleUploadedFile(f"{kind}.pdf", tiny_pdf()))

    with tasks_sent_to(private_redis.url, queue):
        private_redis.stop()
        submitted = applications.application_submit(by=owner, application=draft)

        assert submitted.status == Status.SUBMITTED
        assert Application.objects.get(pk=draft.pk).status == Status.SUBMITTED
        notices = Notice.objects.filter(channel=Channel.EMAIL, event=Event.SUBMISSION_RECEIVED)
        assert sorted(notices.values_list("recipient_id", "state")) == sorted(
            [(owner.pk, State.PENDING), (colleague.pk, State.PENDING)])
        assert "were not enqueued" in caplog.text  # the hand-off was tried and failed

        private_redis.start()  # empty: whatever was queued before is gone
        workers.start(broker_url=private_redis.url, queue=queue, mail_dir=mail_dir)
        # Still inside the grace given to the commit's own hand-off, the scan leaves them.
        assert services.notices_requeue_stuck() == 0
        later = timezone.now() + services.FIRST_DELIVERY_GRACE + timedelta(seconds=30)
        assert services.notices_requeue_stuck(now=later) == 2
        workers.wait_for(lambda: email_states() == {State.SENT: 2},
                         what="the submission's notices to be sent")

    keys = notices.values_list("key", flat=True)
    assert delivered(mail_dir) == {message_id(key): 1 for key in keys}
