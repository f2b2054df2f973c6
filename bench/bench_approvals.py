"""50 concurrent approvals against 10 quota slots, against uncontended approvals, on PostgreSQL.

The demo-project measure allows at most 10 awards a funding year (MEASURES.md 3.2); the quota is
held by one counter row per measure and year, taken by a conditional UPDATE (DESIGN rule 5). Each
round starts with the quota of its funding year empty again (the counter row reset) and:
- uncontended: approves 10 reviewed applications one after the other, from one thread;
- contended: 50 processes (as web workers are), each with its own connection, released together
  by a barrier, each approving a different reviewed application of the same call: 10 must be
  approved, 40 refused with `annual_quota_full`.
Printed: p50 and p95 latency of one `application_approve` call in both cases (a refusal counts as
a call too: it is what that user waits for), the ratio p95 contended / p95 uncontended (goal: at
most 3), and how many approvals each contended round ended with (always exactly 10, or the
benchmark exits with an error).

Needs DATABASE_URL naming a scratch PostgreSQL database whose name ends in `_bench`:

    createdb -h 127.0.0.1 -U postgres qianhai_grants_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qianhai_grants_bench \\
        .venv/bin/python bench/bench_approvals.py

BENCH_ROUNDS sets the number of rounds (default 20); BENCH_RECORD=0 skips appending the figures to
bench/RESULTS.md.
"""

import os
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "20"))
THREADS, SLOTS = 50, 10


def setup() -> bool:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://", "pgsql://")) or not urlsplit(
            url).path.endswith("_bench"):
        print("bench_approvals: set DATABASE_URL to a scratch PostgreSQL database whose name "
              "ends in _bench, e.g.\n"
              "  createdb -h 127.0.0.1 -U postgres qianhai_grants_bench\n"
              "  DATABASE_URL=postgres://postgres@127.0.0.1:5432/qianhai_grants_bench "
              ".venv/bin/python bench/bench_approvals.py\n"
              "skipped: no scratch PostgreSQL database")
        return False
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "qianhai_grants.settings.test"
    os.environ.pop("REDIS_URL", None)  # notices are written in the transaction; sent eagerly
    import logging

    import django

    django.setup()
    logging.getLogger("celery").setLevel(logging.WARNING)
    return True


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (p95 of 50 values is the 48th smallest)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))  # ceil without floats of floats
    return ordered[int(rank) - 1]


def reviewed_applications(call, n: int) -> list:
    from decimal import Decimal

    from applications.models import Status
    from reviews.models import Assessment
    from tests.factories import application_in

    applications = []
    for i in range(n):
        application = application_in(Status.REVIEWED, call=call)
        Assessment.objects.create(application=application, score=Decimal(90 - i % 40),
                                  reviews_count=3)
        applications.append(application)
    return applications


def timed_approve(staff, application) -> tuple[float, object]:
    from qianhai_grants.errors import DomainError
    from reviews.services.decisions import application_approve

    start = time.perf_counter()
    try:
        outcome = application_approve(by=staff, application=application)
    except DomainError as exc:
        outcome = exc
    return time.perf_counter() - start, outcome


def _contender(staff_pk, application_pk, barrier, results) -> None:
    """One web worker's approval: its own process and connection (as gunicorn's workers), released
    with the others by the barrier."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from applications.models import Application

    connection.close()  # never share the parent's socket: connect afresh in this process
    staff = get_user_model().objects.get(pk=staff_pk)
    application = Application.objects.get(pk=application_pk)
    # Connected before the start, as a web worker is (persistent connections or a pool): what
    # is timed is the approval, not PostgreSQL starting a backend.
    connection.ensure_connection()
    barrier.wait(timeout=120)
    seconds, outcome = timed_approve(staff, application)
    results.put((application_pk, seconds, getattr(outcome, "code", "approved")))
    connection.close()


def contended_round(staff, applications) -> tuple[list[float], int, set]:
    import multiprocessing

    from django.db import connections

    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(len(applications)), context.Queue()
    connections.close_all()  # no open socket may cross the fork
    workers = [context.Process(target=_contender, args=(staff.pk, a.pk, barrier, results))
               for a in applications]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=300) for _ in workers]
    for worker in workers:
        worker.join()
    if os.environ.get("BENCH_DEBUG"):
        for _, seconds, code in sorted(outcomes, key=lambda r: r[1]):
            print(f"{seconds * 1000:7.1f} ms  {code}")
    approved = sum(1 for _, _, code in outcomes if code == "approved")
    refusals = {code for _, _, code in outcomes if code != "approved"}
    return [seconds for _, seconds, _ in outcomes], approved, refusals


def record(line: str) -> None:
    if os.environ.get("BENCH_RECORD", "1") == "0":
        return
    with (ROOT / "bench" / "RESULTS.md").open("a", encoding="utf-8") as results:
        results.write(line + "\n")


def main():
    from django.core.management import call_command
    from django.db import connection

    from applications.models import Status
    from qianhai_grants.errors import DomainError
    from reviews.models import QuotaCounter
    from tests.factories import open_call, staff_user

    call_command("migrate", verbosity=0)
    call_command("load_measures", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    # The scratch database keeps earlier runs' rows: number this run's companies and users on.
    from django.contrib.auth import get_user_model

    from applications.models import Company
    from tests.factories import CompanyFactory, UserFactory

    CompanyFactory.reset_sequence(Company.objects.count() + 1)
    UserFactory.reset_sequence(get_user_model().objects.count() + 1)
    staff = staff_user()
    alone, together, approved_counts, refusal_codes = [], [], [], set()
    # Two funding years of the scratch database, their quota emptied before each round (the
    # applications approved in earlier rounds stay, proposed, and weigh on nothing else).
    alone_call = open_call("demo-project", funding_year=2098)
    together_call = open_call("demo-project", funding_year=2099)
    for _ in range(ROUNDS):
        QuotaCounter.objects.filter(funding_year__in=(2098, 2099)).update(used=0)
        for application in reviewed_applications(alone_call, SLOTS):
            seconds, outcome = timed_approve(staff, application)
            if isinstance(outcome, DomainError) or outcome.status != Status.PROPOSED:
                sys.exit(f"an uncontended approval failed: {outcome}")
            alone.append(seconds)
        latencies, approved, refusals = contended_round(
            staff, reviewed_applications(together_call, THREADS))
        together.extend(latencies)
        approved_counts.append(approved)
        refusal_codes |= refusals
    p95_alone, p95_together = percentile(alone, 0.95), percentile(together, 0.95)
    ratio = p95_together / p95_alone
    exact = all(count == SLOTS for count in approved_counts)
    ms = 1000
    print(f"rounds: {ROUNDS}; uncontended approvals: {len(alone)}; contended calls: "
          f"{len(together)} ({THREADS} processes for {SLOTS} slots a round)")
    print(f"uncontended  p50 {statistics.median(alone) * ms:7.1f} ms   p95 "
          f"{p95_alone * ms:7.1f} ms")
    print(f"contended    p50 {statistics.median(together) * ms:7.1f} ms   p95 "
          f"{p95_together * ms:7.1f} ms")
    print(f"ratio p95 contended / uncontended: {ratio:.2f}  (goal <= 3)")
    print(f"approved per contended round: {sorted(set(approved_counts))} "
          f"(refusals: {', '.join(sorted(refusal_codes)) or 'none'})")
    record(f"| {date.today().isoformat()} | `bench/bench_approvals.py` (2 cores, PostgreSQL "
           f"{connection.pg_version // 10000}, {ROUNDS} rounds; {THREADS} processes for {SLOTS} "
           f"demo-project slots vs {SLOTS} approvals in a row) | uncontended p50 "
           f"{statistics.median(alone) * ms:.1f} ms, p95 {p95_alone * ms:.1f} ms; contended p50 "
           f"{statistics.median(together) * ms:.1f} ms, p95 {p95_together * ms:.1f} ms; "
           f"approved per round: {'always 10' if exact else approved_counts} | "
           f"p95 contended / uncontended = {ratio:.2f} |")
    if not exact:
        sys.exit("a contended round did not end with exactly 10 approvals")


if __name__ == "__main__":
    if Path(sys.argv[0]).resolve() != Path(__file__).resolve():
        subprocess.run([sys.executable, __file__], check=False)
    elif setup():
        main()
