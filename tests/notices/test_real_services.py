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
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.utils import timezone
from kombu import pools

from applications import services as applications
from applications.models import Application, Status
from notices import services
from notices.events import Event
from notices.messages import message_id
from notices.models import Channel, Notice, State
from qianhai_grants.celery import app
from tests.factories import DEMO_PROJECT_INPUTS, CompanyFactory, member, open_call, tiny_pdf, uscc

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).parent / "celery"
NOTICES = 1000
BATCH = 100  # recipients per transaction, handed to Celery in chunks of DELIVERY_CHUNK
KILL_AFTER = 160  # sent notices: the first worker is killed in the middle of a task
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\s]+>)", re.MULTILINE | re.IGNORECASE)
CLOSING = {"call_id": 1, "measure_code": "demo-project", "funding_year": 2026, "drafts": 1,
           "measure_names": {"zh-hans": "示范项目", "zh-hant": "示範項目", "en": "Demo projects"},
           "closes_at": "2026-12-31T17:00:00+08:00", "company_name": "前海示范科技有限公司"}
# After this the beat scan treats a claim as a dead worker's.
AFTER_CLAIM_TIMEOUT = services.CLAIM_TIMEOUT + timedelta(minutes=1)


# ---------------------------------------------------------------- brokers and workers

def reachable(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def shared_redis() -> str:
    """The Redis at REDIS_URL (a queue of this test's own is used on it)."""
    url = settings.REDIS_URL
    if not url:
        pytest.skip("needs Redis: set REDIS_URL")
    if not reachable(url):
        pytest.skip(f"needs Redis: nothing answers at REDIS_URL ({url})")
    return url


class PrivateRedis:
    """A redis-server of this test's own, on a free port, that the test can stop and start."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = (self.folder / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", str(self.folder)],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 10
        while not reachable(self.url):
            assert self.process.poll() is None, (self.folder / "redis.log").read_text()
            assert time.monotonic() < deadline, "the private redis-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def private_redis(tmp_path):
    if not shutil.which("redis-server"):
        pytest.skip("needs redis-server on the PATH (a private Redis that the test can stop)")
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


def forget_connections() -> None:
    """Drop the Celery app's broker connections, producers and queue declarations, so the next
    task sent uses the configuration as it is now."""
    app.__dict__.pop("amqp", None)
    app._pool = None
    pools.reset()


@contextmanager
def tasks_sent_to(broker_url: str, queue: str):
    """This process sends tasks through `broker_url` to `queue`, as the web process does in
    production (the test settings run them eagerly, in-process)."""
    conf = app.conf
    names = ("broker_url", "task_always_eager", "task_default_queue")
    saved = {name: conf[name] for name in names}
    conf.update(broker_url=broker_url, task_always_eager=False, task_default_queue=queue)
    forget_connections()
    try:
        yield
    finally:
        conf.update(saved)
        forget_connections()


def remove_queue(broker_url: str, queue: str) -> None:
    """Delete the queue's keys and the unacknowledged messages taken from it (a killed worker's:
    Redis would put them back in an hour), so nothing of the test stays on a shared Redis."""
    client = redis.Redis.from_url(broker_url, socket_connect_timeout=1)
    try:
        for pattern in (f"{queue}*", f"_kombu.binding*.{queue}"):
            for key in client.scan_iter(match=pattern):
                client.delete(key)
        for tag, payload in client.hgetall("unacked").items():
            if f'"{queue}"'.encode() in payload:
                client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)
    except redis.RedisError:
        pass


class Workers:
    """Celery workers started by a test (killed at its end, whatever happened)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.processes: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def start(self, *, broker_url: str, queue: str, mail_dir: Path) -> subprocess.Popen:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.notices.worker_settings",
               "NOTICES_DB_NAME": connection.settings_dict["NAME"],
               "NOTICES_BROKER_URL": broker_url, "NOTICES_QUEUE": queue,
               "NOTICES_MAIL_DIR": str(mail_dir)}
        log_path = self.folder / f"worker-{len(self.processes) + 1}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [str(CELERY), "-A", "qianhai_grants", "worker", "-P", "solo", "-Q", queue,
                 "-n", f"{queue}-{len(self.processes) + 1}@%h", "--without-heartbeat",
                 "--without-gossip", "--without-mingle", "-l", "warning"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        self.logs.append(log_path)
        return process

    def logs_text(self) -> str:
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
                         for path in self.logs if path.exists())

    def wait_for(self, condition, *, what: str, timeout: float = 60):
        """Poll `condition` until it returns something true; fail if a worker died or time ran
        out (with the workers' logs)."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            dead = [p.args[0] for p in self.processes if p.poll() not in (None, -signal.SIGKILL)]
            if dead:
                pytest.fail(f"a worker exited while waiting for {what}\n{self.logs_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}\n{self.logs_text()}")
            time.sleep(0.02)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


@pytest.fixture
def workers(tmp_path):
    started = Workers(tmp_path)
    yield started
    started.stop_all()


@pytest.fixture
def queue():
    return f"test-notices-{uuid.uuid4().hex[:12]}"


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
