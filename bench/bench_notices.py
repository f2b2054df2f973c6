"""10,000 email notices through the outbox and a real Celery worker, against sending the same
messages directly in one process.

The outbox path is what production does: `notices.services.notify` for 100 recipients per
transaction (rendering each recipient's message and writing the email and in-app rows), the
delivery task handed to Celery after each commit, and a worker (`celery -A qianhai_grants worker`,
a separate process, with tests/notices/worker_settings.py and Django's locmem mail backend)
claiming, sending and marking each notice. It is timed from the first `notify` to the moment the
last row reads `sent`. The baseline sends the same 10,000 rendered messages (same subject, body,
address and headers) with `EmailMessage.send()` in a loop, in this process, through the same
locmem backend: no database, no broker. Printed: both times, the ratio of throughputs outbox /
direct (= direct time / outbox time; goal: at least 0.5), and for reference the direct loop with
the rendering included (what sending inline from a request would cost).

Needs PostgreSQL and Redis. It uses its own database, `qianhai_grants_bench_notices` on the
server named by DATABASE_URL (default postgres://postgres@127.0.0.1:5432/), created and migrated
if missing, and its own Redis database (BENCH_REDIS_DB, default 15) and queue on the server named
by REDIS_URL (default redis://127.0.0.1:6379):

    .venv/bin/python bench/bench_notices.py

BENCH_N sets the number of notices, BENCH_BATCH the recipients per transaction,
BENCH_CONCURRENCY the worker's processes (default: prefork, one per core, as production runs it;
0 runs `-P solo`); BENCH_RECORD=0 skips appending the figures to bench/RESULTS.md.
"""

import os
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from results import record  # bench/results.py (this folder is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
N = int(os.environ.get("BENCH_N", "10000"))
BATCH = int(os.environ.get("BENCH_BATCH", "100"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", str(os.cpu_count() or 1)))
DB_NAME = "qianhai_grants_bench_notices"
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "15"))
CELERY = Path(sys.executable).parent / "celery"
CONTEXT = {"call_id": 1, "measure_code": "demo-project", "funding_year": 2026, "drafts": 1,
           "measure_names": {"zh-hans": "示范项目", "zh-hant": "示範項目", "en": "Demo projects"},
           "closes_at": "2026-12-31T17:00:00+08:00", "company_name": "前海示范科技有限公司"}


def setup() -> bool:
    """Point Django at the benchmark's database (created if missing) and broker."""
    import psycopg
    import redis

    server = urlsplit(os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/")
    if server.scheme not in ("postgres", "postgresql", "pgsql"):
        print("bench_notices: DATABASE_URL must name a PostgreSQL server\nskipped")
        return False
    broker = urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379")
    broker_url = urlunsplit((broker.scheme, broker.netloc, f"/{REDIS_DB}", "", ""))
    try:
        redis.Redis.from_url(broker_url, socket_connect_timeout=1).ping()
        admin = urlunsplit((server.scheme, server.netloc, "/postgres", "", ""))
        with psycopg.connect(admin.replace("pgsql://", "postgres://"), autocommit=True,
                             connect_timeout=3) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                [DB_NAME]).fetchone():
                conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    except (redis.RedisError, psycopg.Error) as exc:
        print(f"bench_notices: needs PostgreSQL and Redis ({exc})\nskipped")
        return False
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = urlunsplit((server.scheme, server.netloc, f"/{DB_NAME}", "", ""))
    os.environ.pop("REDIS_URL", None)  # caches stay in memory; only the broker is Redis
    os.environ.pop("NOTICES_MAIL_DIR", None)  # the worker keeps mail in memory (locmem)
    os.environ.update(DJANGO_SETTINGS_MODULE="tests.notices.worker_settings",
                      NOTICES_DB_NAME=DB_NAME, NOTICES_BROKER_URL=broker_url,
                      NOTICES_QUEUE=f"bench-notices-{uuid.uuid4().hex[:12]}")
    import django

    django.setup()
    return True


def readers(n: int) -> list:
    """n active users with an email address (made once, kept in the benchmark's database)."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    names = [f"bench-reader-{i}" for i in range(n)]
    have = set(User.objects.filter(username__in=names).values_list("username", flat=True))
    User.objects.bulk_create([User(username=name, email=f"{name}@example.com")
                              for name in names if name not in have], batch_size=2000)
    return list(User.objects.filter(username__in=names).select_related("profile")
                .order_by("pk"))


def start_worker() -> subprocess.Popen:
    pool = ["-P", "solo"] if CONCURRENCY == 0 else ["-c", str(CONCURRENCY)]
    return subprocess.Popen(
        [str(CELERY), "-A", "qianhai_grants", "--quiet", "worker", *pool,
         "-Q", os.environ["NOTICES_QUEUE"], "-n", f"{os.environ['NOTICES_QUEUE']}@%h",
         "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "warning"],
        cwd=ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL)


def wait_sent(count: int, worker: subprocess.Popen, timeout: float = 600) -> None:
    """Wait until no email notice is pending or being sent (every notice is written by now),
    then check that `count` are sent.

    The poll, every 50 ms, reads the partial index of unsent notices (`notice_due_idx`), a
    few rows: counting the sent ones instead took a scan of the table, about 12 ms of the
    database's time at 20,000 rows, a fifth of a core taken from the system being measured."""
    from django.db import connection

    from notices.models import Channel, Notice, State

    deadline = time.monotonic() + timeout
    unsent = Notice.objects.filter(channel=Channel.EMAIL, state__in=[State.PENDING,
                                                                     State.SENDING])
    with connection.cursor() as cursor:
        # The planner's statistics lag behind a burst of writes: keep it on the index.
        cursor.execute("SET enable_seqscan = off")
    try:
        while unsent.exists():
            if worker.poll() is not None:
                raise SystemExit("bench_notices: the worker stopped")
            if time.monotonic() > deadline:
                raise SystemExit("bench_notices: timed out waiting for the worker")
            time.sleep(0.05)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET enable_seqscan")
    sent = Notice.objects.filter(channel=Channel.EMAIL, state=State.SENT).count()
    if sent < count:
        raise SystemExit(f"bench_notices: {sent:,} notices sent of {count:,} (failures?)")


def through_outbox(people: list, worker: subprocess.Popen) -> tuple[float, float]:
    """Seconds from the first notify to the last notice sent; seconds spent writing them."""
    from django.db import transaction

    from notices.events import Event
    from notices.services import notify

    start = time.perf_counter()
    for first in range(0, len(people), BATCH):
        with transaction.atomic():
            notify(event=Event.CALL_CLOSING_SOON, recipients=people[first:first + BATCH],
                   subject_key="call-1:bench", context=CONTEXT)
    written = time.perf_counter() - start
    wait_sent(len(people) + 1, worker)  # and the warm-up notice
    return time.perf_counter() - start, written


def directly(rows: list, *, render: bool) -> float:
    """Seconds to send the same messages in this process through the locmem backend."""
    from django.core import mail
    from django.core.mail import EmailMessage

    from notices.messages import message_id, render_message

    mail.outbox = []
    start = time.perf_counter()
    for key, language, email, subject, body in rows:
        if render:
            subject, body = render_message(event="call_closing_soon", language=language,
                                           context=CONTEXT, url="")
        EmailMessage(subject=subject, body=body, to=[email], headers={
            "Message-ID": message_id(key), "X-Qianhai-Notice": key}).send()
    elapsed = time.perf_counter() - start
    assert len(mail.outbox) == len(rows)
    mail.outbox = []
    return elapsed


def forget_queue() -> None:
    import redis

    client = redis.Redis.from_url(os.environ["NOTICES_BROKER_URL"])
    queue = os.environ["NOTICES_QUEUE"]
    for pattern in (f"{queue}*", f"_kombu.binding*.{queue}"):
        for key in client.scan_iter(match=pattern):
            client.delete(key)


def machine(before: float) -> str:
    """The load of the machine (1-minute average) before and after the run, and whether other
    work was running: figures taken on a busy machine are lower than the code can do."""
    after = os.getloadavg()[0]
    busy = "busy" if before >= 1.0 else "quiet"
    return f"load {before:.2f} before, {after:.2f} after: {busy}"


def main():
    from django.core.management import call_command
    from django.db import connection, transaction

    from notices.events import Event
    from notices.models import Channel, Notice, State
    from notices.services import CLAIM_CHUNK, DELIVERY_CHUNK, notify

    load = os.getloadavg()[0]
    call_command("migrate", verbosity=0)
    Notice.objects.all().delete()
    with connection.cursor() as cursor:  # the previous run's dead rows do not slow this one
        cursor.execute("VACUUM ANALYZE notices_notice")
    people = readers(N + 1)
    warm_up, people = people[0], people[1:]
    worker = start_worker()
    try:
        with transaction.atomic():  # the worker has started when this one is sent
            notify(event=Event.CALL_CLOSING_SOON, recipients=[warm_up],
                   subject_key="call-1:warm-up", context=CONTEXT)
        wait_sent(1, worker, timeout=60)
        outbox, written = through_outbox(people, worker)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        forget_queue()
    emails = Notice.objects.filter(channel=Channel.EMAIL, state=State.SENT,
                                   recipient__in=people)
    attempts = sum(emails.values_list("attempts", flat=True))
    rows = list(emails.order_by("pk").values_list("key", "language", "recipient__email",
                                                  "subject", "body"))
    assert len(rows) == N, len(rows)
    direct = directly(rows, render=False)
    rendered = directly(rows, render=True)
    Notice.objects.all().delete()
    ratio = direct / outbox
    pool = "solo" if CONCURRENCY == 0 else f"prefork x{CONCURRENCY}"
    print(f"notices: {N:,} emails (and as many in-app rows), {BATCH} recipients per "
          f"transaction; worker {pool}, {DELIVERY_CHUNK} notices a task, claimed "
          f"{CLAIM_CHUNK} at a time; {attempts:,} delivery attempts")
    print(f"outbox: notify + worker until all sent : {outbox:8.2f} s ({N / outbox:,.0f}/s; "
          f"writing them {written:.2f} s)")
    print(f"direct: EmailMessage.send() in a loop  : {direct:8.2f} s ({N / direct:,.0f}/s)")
    print(f"direct, rendering included            : {rendered:8.2f} s ({N / rendered:,.0f}/s)")
    print(f"throughput outbox / direct             : {ratio:8.2f}  (goal >= 0.5)")
    print(f"throughput outbox / direct with render : {rendered / outbox:8.2f}")
    print(f"machine                                : {machine(load)}")
    record(f"| {date.today().isoformat()} | `bench/bench_notices.py` ({os.cpu_count()} cores, "
           f"{machine(load)}; "
           f"PostgreSQL {connection.pg_version // 10000}, Redis broker, worker {pool}, locmem "
           f"mail, {N:,} notices, {BATCH} per transaction, {DELIVERY_CHUNK} a task claimed "
           f"{CLAIM_CHUNK} at a time) | outbox (notify + worker until the "
           f"last row is sent) {outbox:.2f} s, {N / outbox:,.0f}/s (writing {written:.2f} s); "
           f"direct EmailMessage.send() loop {direct:.2f} s, {N / direct:,.0f}/s; direct with "
           f"rendering {rendered:.2f} s | outbox / direct = {ratio:.2f} (with rendering "
           f"{rendered / outbox:.2f}) |")


if __name__ == "__main__":
    if Path(sys.argv[0]).resolve() != Path(__file__).resolve():
        # Run by bench/run.py beside other benchmarks: in its own process, with its own
        # settings, so neither changes the other's.
        subprocess.run([sys.executable, __file__], check=False)
    elif setup():
        main()
