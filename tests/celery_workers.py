"""Real Celery workers and Redis brokers for the tests that need them (on PostgreSQL): the Redis
at REDIS_URL or one of the test's own that it can stop, workers started as separate processes
(`celery -A qianhai_grants worker -P solo`) with tests/notices/worker_settings.py on the test's
database and a queue of its own, and this process sending its tasks there as the web process does
in production. Its fixtures (`shared_redis`, `private_redis`, `workers`, `queue`) are registered
for every test by tests/conftest.py."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from kombu import pools

from qianhai_grants.celery import app

ROOT = Path(__file__).resolve().parents[1]
CELERY = Path(sys.executable).parent / "celery"


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

    def start(self, *, broker_url: str, queue: str,
              mail_dir: Path | None = None) -> subprocess.Popen:
        """A worker consuming `queue`; its mail written to files in `mail_dir`, if given."""
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.notices.worker_settings",
               "NOTICES_DB_NAME": connection.settings_dict["NAME"],
               "NOTICES_BROKER_URL": broker_url, "NOTICES_QUEUE": queue}
        if mail_dir is not None:
            env["NOTICES_MAIL_DIR"] = str(mail_dir)
        else:
            env.pop("NOTICES_MAIL_DIR", None)
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
    return f"test-queue-{uuid.uuid4().hex[:12]}"
