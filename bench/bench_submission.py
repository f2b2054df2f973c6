"""Application submissions per second against `pgbench` transactions per second, on the same
PostgreSQL database.

A submission (`applications.services.application_submit`) locks the draft, checks the call, the
inputs, the documents and eligibility with the engine, writes the revision, the status event, the
estimate and the notices (receipt by email and in the notification centre) in one transaction,
as the portal does when a company presses *Submit*. The baseline is pgbench's built-in TPC-B-like
transaction (five statements) on the same server, with the same number of clients (1).

Two figures, from the same run (blocks of 50 submissions, the two kinds in turns):
- delivery eager: Celery runs eagerly (no broker), so the receipt email is claimed, sent (Django's
  locmem backend) and marked `sent` inside the submission call, after its commit. This is what
  the first figures measured (0.024).
- delivery enqueued: as production runs with REDIS_URL set, the email's delivery task is handed
  to a Redis broker after the commit and a worker sends it elsewhere; the submission pays for the
  hand-off only. No worker runs here: the tasks go to a queue of this run's own in a Redis
  database of their own (BENCH_REDIS_DB, default 15), deleted at the end, and their notices stay
  `pending` in the scratch database. The worker's side of the outbox is `bench_notices.py`'s.
The issue's goal (at least 0.05 submissions per pgbench transaction) is the enqueued figure
against it, as a request does it in production; the eager one is printed beside it. Printed too:
the SQL statements of one submission of each kind (the eager one includes the delivery's), the
processor time of this process per submission (it hardly depends on what else the machine runs,
unlike the rates), and the 1-minute load average before and after (the machine is shared). The
drafts are made first, then the database is analysed (`ANALYZE`, as autovacuum keeps a running
database's statistics), then the submissions are timed.

Needs DATABASE_URL naming a scratch PostgreSQL database whose name ends in `_bench` (pgbench
creates its `pgbench_*` tables there, scale 1), and Redis (REDIS_URL, default
redis://127.0.0.1:6379; without it only the eager figure is measured):

    createdb -h 127.0.0.1 -U postgres qianhai_grants_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qianhai_grants_bench \\
        .venv/bin/python bench/bench_submission.py

BENCH_N sets the number of submissions of each kind (default 300); BENCH_RECORD=0 skips appending
the figures to bench/RESULTS.md.
"""

import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from results import record  # bench/results.py (this folder is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
N = int(os.environ.get("BENCH_N", "300"))
BLOCK = 50  # submissions of one kind in a row, the kinds in turns
PGBENCH_SECONDS = 15
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "15"))
EAGER, ENQUEUED = "delivery eager", "delivery enqueued"
BUSY = ": machine busy with other work"


def setup() -> bool:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://", "pgsql://")) or not urlsplit(
            url).path.endswith("_bench"):
        print("bench_submission: set DATABASE_URL to a scratch PostgreSQL database whose name "
              "ends in _bench, e.g.\n"
              "  createdb -h 127.0.0.1 -U postgres qianhai_grants_bench\n"
              "  DATABASE_URL=postgres://postgres@127.0.0.1:5432/qianhai_grants_bench "
              ".venv/bin/python bench/bench_submission.py\n"
              "skipped: no scratch PostgreSQL database")
        return False
    import redis

    broker = urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379")
    broker_url = urlunsplit((broker.scheme, broker.netloc, f"/{REDIS_DB}", "", ""))
    try:
        redis.Redis.from_url(broker_url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        print(f"bench_submission: no Redis ({exc}): the enqueued figure is skipped")
        broker_url = ""
    sys.path.insert(0, str(ROOT))
    os.environ.pop("REDIS_URL", None)  # caches stay in memory; only the broker is Redis
    os.environ.pop("NOTICES_MAIL_DIR", None)
    # The test settings with a broker (tests/notices/worker_settings.py), on this database.
    os.environ.update(DJANGO_SETTINGS_MODULE="tests.notices.worker_settings",
                      NOTICES_DB_NAME=urlsplit(url).path.lstrip("/"),
                      NOTICES_BROKER_URL=broker_url or "memory://",
                      NOTICES_QUEUE=f"bench-submission-{uuid.uuid4().hex[:12]}",
                      BENCH_BROKER=broker_url)
    import logging

    import django

    django.setup()
    logging.getLogger("celery").setLevel(logging.WARNING)
    return True


def drafts(n: int) -> list:
    """n complete drafts of a demo-project call, each of its own company, every document
    attached (through the services, as the portal makes them)."""
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile

    from applications import services
    from applications.models import Company
    from measures.selectors import version_current
    from tests.factories import (
        DEMO_PROJECT_INPUTS,
        CompanyFactory,
        UserFactory,
        open_call,
        staff_user,
        tiny_pdf,
    )

    CompanyFactory.reset_sequence(Company.objects.count() + 1)
    UserFactory.reset_sequence(get_user_model().objects.count() + 1)
    call = open_call("demo-project", funding_year=2096, created_by=staff_user())
    kinds = [d["kind"] for d in version_current(measure=call.measure).documents
             if d.get("required", True)]
    made = []
    for _ in range(n):
        company = CompanyFactory()
        owner = company.created_by
        application, _ = services.application_create(by=owner, call=call, company=company,
                                                     inputs=DEMO_PROJECT_INPUTS)
        for kind in kinds:
            services.attachment_add(by=owner, application=application, kind=kind,
                                    upload=SimpleUploadedFile(f"{kind}.pdf", tiny_pdf()))
        made.append((owner, application))
    return made


def pgbench_tps(url: str) -> float:
    parts = urlsplit(url)
    args = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432), "-U",
            parts.username or "postgres"]
    database = parts.path.lstrip("/")
    subprocess.run(["pgbench", "-i", "-q", "-s", "1", *args, database], check=True,
                   capture_output=True)
    done = subprocess.run(["pgbench", "-c", "1", "-j", "1", "-T", str(PGBENCH_SECONDS), *args,
                           database], check=True, capture_output=True, text=True)
    return float(re.search(r"tps = ([0-9.]+)", done.stdout).group(1))


def delivery(kind: str) -> None:
    """Deliver the receipt inside the call (eager) or hand it to the broker (enqueued)."""
    from qianhai_grants.celery import app

    app.conf.task_always_eager = kind == EAGER


def submit(owner, application) -> None:
    from applications import services
    from applications.models import Status

    submitted = services.application_submit(by=owner, application=application)
    if submitted.status != Status.SUBMITTED:
        sys.exit(f"a submission did not go through: {submitted.status}")


def statements(kind: str, owner, application) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    delivery(kind)
    with CaptureQueriesContext(connection) as captured:
        submit(owner, application)
    return len(captured.captured_queries)


def drop_queue() -> None:
    """The enqueued tasks (no worker consumes them) go with their queue."""
    import redis

    if not os.environ["BENCH_BROKER"]:
        return
    queue = os.environ["NOTICES_QUEUE"]
    client = redis.Redis.from_url(os.environ["BENCH_BROKER"])
    keys = list(client.scan_iter(match=f"*{queue}*"))
    if keys:
        client.delete(*keys)


def main():
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    settings.PRIVATE_STORAGE_ROOT = Path(tempfile.mkdtemp(prefix="bench-submission-"))
    call_command("migrate", verbosity=0)
    call_command("load_measures", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    kinds = [EAGER, ENQUEUED] if os.environ["BENCH_BROKER"] else [EAGER]
    ready = drafts(N * len(kinds) + 2 * len(kinds))
    with connection.cursor() as cursor:
        # Statistics that know of the rows just made, as autovacuum's would in a running
        # database (without them PostgreSQL scans all users for a company's members).
        cursor.execute("ANALYZE")
    counted = {kind: statements(kind, *ready.pop()) for kind in kinds}
    for kind in kinds:  # one of each before timing: the broker connection is made here
        delivery(kind)
        submit(*ready.pop())
    load_before = os.getloadavg()[0]
    elapsed = dict.fromkeys(kinds, 0.0)
    processor = dict.fromkeys(kinds, 0.0)  # this process's time, user and system
    done = dict.fromkeys(kinds, 0)
    try:
        while ready:
            for kind in kinds:
                block, ready = ready[:BLOCK], ready[BLOCK:]
                delivery(kind)
                start, cpu = time.perf_counter(), time.process_time()
                for owner, application in block:
                    submit(owner, application)
                elapsed[kind] += time.perf_counter() - start
                processor[kind] += time.process_time() - cpu
                done[kind] += len(block)
    finally:
        drop_queue()
    pg = connection.pg_version // 10000
    connection.close()
    tps = pgbench_tps(os.environ["DATABASE_URL"])
    load_after = os.getloadavg()[0]
    rates = {kind: done[kind] / elapsed[kind] for kind in kinds}
    for kind in kinds:
        print(f"{kind:18s} {done[kind]} submissions in {elapsed[kind]:.2f} s = "
              f"{rates[kind]:.1f}/s, {elapsed[kind] / done[kind] * 1000:.1f} ms each (processor "
              f"{processor[kind] / done[kind] * 1000:.1f} ms), {counted[kind]} SQL statements "
              f"each (one client)")
    print(f"pgbench TPC-B-like, 1 client, {PGBENCH_SECONDS} s: {tps:.1f} tps")
    for kind in kinds:
        print(f"ratio submissions / pgbench transactions, {kind}: {rates[kind] / tps:.3f}"
              f"{'  (goal >= 0.05: as production runs)' if kind == ENQUEUED else ''}")
    print(f"load average (1 min) before {load_before:.2f}, after {load_after:.2f} (2 cores)")
    figures = "; ".join(f"{kind} {rates[kind]:.1f}/s ({elapsed[kind] / done[kind] * 1000:.1f} "
                        f"ms, processor {processor[kind] / done[kind] * 1000:.1f} ms, "
                        f"{counted[kind]} statements)" for kind in kinds)
    ratios = ", ".join(f"{kind.split()[1]} {rates[kind] / tps:.3f}" for kind in kinds)
    record(f"| {date.today().isoformat()} | `bench/bench_submission.py` (2 cores, PostgreSQL "
           f"{pg}, one client each; load {load_before:.2f} before, {load_after:.2f} after"
           f"{BUSY if max(load_before, load_after) >= 1.5 else ''}) | "
           f"{N} demo-project submissions of each kind, in turns: {figures}; pgbench "
           f"TPC-B-like {tps:.0f} tps | submissions / pgbench = {ratios} |")


if __name__ == "__main__":
    if Path(sys.argv[0]).resolve() != Path(__file__).resolve():
        subprocess.run([sys.executable, __file__], check=False)
    elif setup():
        main()
