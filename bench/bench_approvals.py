"""50 concurrent approvals against 10 quota slots, against uncontended approvals, on PostgreSQL.

The demo-project measure allows at most 10 awards a funding year (MEASURES.md 3.2); the quota is
held by one counter row per measure and year, taken by a conditional UPDATE (DESIGN rule 5). Each
round starts with the quota of its funding years empty again (the counter rows reset) and times
one `application_approve` call in three ways:
- uncontended, sequential: 10 reviewed applications approved one after the other, from one
  process;
- contended: 50 processes (as web workers are), each with its own connection, released together
  by a barrier, each approving a different reviewed application of the same call: 10 must be
  approved, 40 refused with `annual_quota_full`;
- uncontended, concurrent (the goal's baseline): 50 processes released together by the same
  kind of barrier, each approving an application of a call of its own funding year, so each has
  a quota counter of its own and no two wait for one row. The work is the same as in the
  contended round: 10 of the counters have room (10 approved) and 40 are already full (40
  refused with `annual_quota_full`, at once, without waiting for anyone).
Printed: p50 and p95 latency of one call in each case (a refusal counts as a call too: it is
what that user waits for), and two ratios:
- p95 contended / p95 uncontended concurrent (goal: at most 3): the same 50 processes on the
  same cores, the same mix of approvals and refusals, with and without the shared counter row:
  what contending for the quota costs, which is what the goal is about;
- p95 contended / p95 uncontended sequential: on a machine with fewer cores than processes it
  mixes the wait for the quota row with 50 processes queueing for the cores. Printed beside it,
  its floor on this machine: the contended calls' own processor time (the mean per call, times
  50, shared by the cores, PostgreSQL's work left out) over the sequential p95, the ratio no
  approval code could go below here, since the last calls cannot end before the cores have done
  the others' work.
Also printed: the processor time of one call in the process that makes it (user and system,
mean): unlike latencies, it hardly depends on what else the machine runs, so it compares code
versions on a busy machine. Every contended and concurrent round must end with exactly 10
approvals (the benchmark exits with an error otherwise). The 1-minute load average before and
after is printed and recorded (the machine is shared). Celery runs eagerly (no broker), so an
approved call includes sending its email after the commit, as in the first figures.

The 50 processes are forked for each round, but they are meant to be web workers that have
served requests before. So each one, before the barrier, approves the warm-up application (of a
call of funding year 2097, the same for all, in turn) and rolls that back (`_warm_up`: its
memory touched since the fork, its PostgreSQL backend's caches filled), then reads its user and
application afresh; and the parent's objects are frozen out of the garbage collector while the
children run (`gc.freeze`, as forking servers do). Without this (BENCH_WARM=0, as the first
figures were taken), each process's one timed call also paid for its first call after the fork:
about 4 ms of processor time of the 11 a call took then.

Needs DATABASE_URL naming a scratch PostgreSQL database whose name ends in `_bench`:

    createdb -h 127.0.0.1 -U postgres qianhai_grants_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qianhai_grants_bench \\
        .venv/bin/python bench/bench_approvals.py

BENCH_ROUNDS sets the number of rounds (default 20; 10 take about two minutes); BENCH_WARM=0 times
cold forks; BENCH_DEBUG=1 prints every call of the concurrent rounds; BENCH_RECORD=0 skips
appending the figures to bench/RESULTS.md.
"""

import os
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

from results import record  # bench/results.py (this folder is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "20"))
WARM = os.environ.get("BENCH_WARM", "1") != "0"
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

    start, cpu = time.perf_counter(), time.process_time()
    try:
        outcome = application_approve(by=staff, application=application)
    except DomainError as exc:
        outcome = exc
    seconds = time.perf_counter() - start
    outcome.cpu_seconds = time.process_time() - cpu
    return seconds, outcome


class _Undone(Exception):
    """Rolls the warm-up approval back."""


def _warm_up(staff_pk, warm_pk) -> None:
    """One approval, rolled back: what a web worker that has served requests before has done
    (its process memory touched since the fork, its PostgreSQL backend's caches filled)."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from applications.models import Application
    from qianhai_grants.errors import DomainError
    from reviews.services.decisions import application_approve

    staff = get_user_model().objects.get(pk=staff_pk)
    try:
        with transaction.atomic():
            application_approve(by=staff, application=Application.objects.get(pk=warm_pk))
            raise _Undone
    except (_Undone, DomainError):
        pass


def _contender(staff_pk, application_pk, warm_pk, barrier, results) -> None:
    """One web worker's approval: its own process and connection (as gunicorn's workers), released
    with the others by the barrier."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from applications.models import Application

    connection.close()  # never share the parent's socket: connect afresh in this process
    if warm_pk is not None:
        _warm_up(staff_pk, warm_pk)
    # Read afresh, as a request reads its user (the roles cached on the object are read again).
    staff = get_user_model().objects.get(pk=staff_pk)
    application = Application.objects.get(pk=application_pk)
    # Connected before the start, as a web worker is (persistent connections or a pool): what
    # is timed is the approval, not PostgreSQL starting a backend.
    connection.ensure_connection()
    barrier.wait(timeout=120)
    seconds, outcome = timed_approve(staff, application)
    results.put((application_pk, seconds, getattr(outcome, "code", "approved"),
                 outcome.cpu_seconds))
    connection.close()


def concurrent_round(staff, applications, warm) -> tuple[list[float], int, set, list[float]]:
    """The applications approved by as many processes released together; latencies, how many
    were approved, the codes of the refusals, and the processor time of each call. With `warm`
    (an application), each process first approves it and rolls back (`_warm_up`)."""
    import gc
    import multiprocessing

    from django.db import connections

    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(len(applications)), context.Queue()
    connections.close_all()  # no open socket may cross the fork
    warm_pk = warm.pk if warm is not None else None
    workers = [context.Process(target=_contender,
                               args=(staff.pk, a.pk, warm_pk, barrier, results))
               for a in applications]
    # As forking servers do: the parent's objects are left out of the children's garbage
    # collections, which would otherwise write to (and so copy) every page of them.
    gc.freeze()
    try:
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=300) for _ in workers]
    finally:
        gc.unfreeze()
    for worker in workers:
        worker.join()
    if os.environ.get("BENCH_DEBUG"):
        for _, seconds, code, cpu in sorted(outcomes, key=lambda r: r[1]):
            print(f"{seconds * 1000:7.1f} ms  (cpu {cpu * 1000:5.1f} ms)  {code}")
    approved = sum(1 for _, _, code, _ in outcomes if code == "approved")
    refusals = {code for _, _, code, _ in outcomes if code != "approved"}
    return ([seconds for _, seconds, _, _ in outcomes], approved, refusals,
            [cpu for _, _, _, cpu in outcomes])


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
    alone, together, apart = [], [], []
    cpu = {"alone": [], "together": [], "apart": []}  # processor time of each call (client)
    approved_counts, apart_counts, refusal_codes = [], [], set()
    # Funding years of the scratch database, their quota emptied before each round (the
    # applications approved in earlier rounds stay, proposed, and weigh on nothing else): one
    # for the sequential approvals, one for the contended round, and one for each process of
    # the lock-only baseline (the first SLOTS with room, the others full).
    alone_call = open_call("demo-project", funding_year=2098)
    together_call = open_call("demo-project", funding_year=2099)
    apart_years = range(2040, 2040 + THREADS)  # funding years run from 2024 to 2100
    apart_calls = [open_call("demo-project", funding_year=year) for year in apart_years]
    measure = alone_call.measure
    # The warm-up's application (approved and rolled back by every process, so never changed),
    # in a funding year of its own.
    warm = reviewed_applications(open_call("demo-project", funding_year=2097), 1)[0] \
        if WARM else None
    for year in (2097, 2098, 2099, *apart_years):
        QuotaCounter.objects.get_or_create(measure=measure, funding_year=year,
                                           defaults={"quota": SLOTS, "used": 0})
    load_before = os.getloadavg()[0]
    for round_number in range(ROUNDS):
        QuotaCounter.objects.filter(measure=measure, funding_year__in=(
            2097, 2098, 2099, *apart_years[:SLOTS])).update(used=0, quota=SLOTS)
        QuotaCounter.objects.filter(measure=measure, funding_year__in=apart_years[SLOTS:]) \
            .update(used=SLOTS, quota=SLOTS)
        for application in reviewed_applications(alone_call, SLOTS):
            seconds, outcome = timed_approve(staff, application)
            if isinstance(outcome, DomainError) or outcome.status != Status.PROPOSED:
                sys.exit(f"an uncontended approval failed: {outcome}")
            alone.append(seconds)
            cpu["alone"].append(outcome.cpu_seconds)
        contended = reviewed_applications(together_call, THREADS)
        separate = [reviewed_applications(call, 1)[0] for call in apart_calls]
        # The two concurrent rounds in turns, so that neither always runs first.
        for kind in (("contended", "apart") if round_number % 2 == 0
                     else ("apart", "contended")):
            if kind == "contended":
                latencies, approved, refusals, cpus = concurrent_round(staff, contended, warm)
                together.extend(latencies)
                cpu["together"].extend(cpus)
                approved_counts.append(approved)
            else:
                latencies, approved, refusals, cpus = concurrent_round(staff, separate, warm)
                apart.extend(latencies)
                cpu["apart"].extend(cpus)
                apart_counts.append(approved)
            refusal_codes |= refusals
    load_after = os.getloadavg()[0]
    p95_alone, p95_together, p95_apart = (percentile(alone, 0.95), percentile(together, 0.95),
                                          percentile(apart, 0.95))
    ratio, lock_ratio = p95_together / p95_alone, p95_together / p95_apart
    exact = all(count == SLOTS for count in approved_counts + apart_counts)
    ms = 1000
    print(f"rounds: {ROUNDS}; uncontended approvals: {len(alone)}; contended calls: "
          f"{len(together)} ({THREADS} processes for {SLOTS} slots a round); concurrent "
          f"uncontended calls: {len(apart)} ({THREADS} processes, a counter each); "
          f"{'each process warmed up' if WARM else 'cold forks (BENCH_WARM=0)'}")
    for name, values, key in (("uncontended, sequential", alone, "alone"),
                              ("contended", together, "together"),
                              ("uncontended, concurrent", apart, "apart")):
        print(f"{name:24s} p50 {statistics.median(values) * ms:7.1f} ms   p95 "
              f"{percentile(values, 0.95) * ms:7.1f} ms   processor time per call (this "
              f"process, mean) {statistics.mean(cpu[key]) * ms:5.1f} ms")
    cores = os.cpu_count() or 1
    floor = statistics.mean(cpu["together"]) * THREADS / cores / p95_alone
    print(f"ratio p95 contended / uncontended concurrent: {lock_ratio:.2f}  (goal <= 3: the "
          f"quota lock, same {THREADS} processes on the same {cores} cores)")
    print(f"ratio p95 contended / uncontended sequential: {ratio:.2f}  (its floor here: "
          f"{floor:.1f}, {THREADS} calls' processor time shared by {cores} cores)")
    print(f"approved per round: contended {sorted(set(approved_counts))}, concurrent "
          f"{sorted(set(apart_counts))} (refusals: {', '.join(sorted(refusal_codes)) or 'none'})")
    print(f"load average (1 min) before {load_before:.2f}, after {load_after:.2f} ({cores} "
          "cores)")
    record(f"| {date.today().isoformat()} | `bench/bench_approvals.py` ({cores} cores, PostgreSQL "
           f"{connection.pg_version // 10000}, {ROUNDS} rounds; {THREADS} processes for {SLOTS} "
           f"demo-project slots vs {SLOTS} approvals in a row, and vs {THREADS} processes with a "
           f"counter each; {'processes warmed up' if WARM else 'cold forks (BENCH_WARM=0)'}; "
           f"load {load_before:.2f} before, {load_after:.2f} after, its own 50 processes "
           f"included{': machine busy with other work' if load_before >= 1.5 else ''}) | "
           f"uncontended sequential p50 {statistics.median(alone) * ms:.1f} ms, p95 "
           f"{p95_alone * ms:.1f} ms; contended p50 {statistics.median(together) * ms:.1f} ms, "
           f"p95 {p95_together * ms:.1f} ms; uncontended concurrent p50 "
           f"{statistics.median(apart) * ms:.1f} ms, p95 {p95_apart * ms:.1f} ms; approved per "
           f"round: {'always 10' if exact else (approved_counts, apart_counts)} | "
           f"p95 contended / uncontended concurrent (the quota lock) = {lock_ratio:.2f}; "
           f"contended / uncontended sequential = {ratio:.2f} (floor on {cores} cores "
           f"{floor:.1f}) |")
    if not exact:
        sys.exit("a concurrent round did not end with exactly 10 approvals")


if __name__ == "__main__":
    if Path(sys.argv[0]).resolve() != Path(__file__).resolve():
        subprocess.run([sys.executable, __file__], check=False)
    elif setup():
        main()
