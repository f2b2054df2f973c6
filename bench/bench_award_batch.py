"""An award batch over 100,000 applications against one set-based SQL statement computing the same
amounts, on PostgreSQL.

The batch (`reviews.services.batches.award_batch_run`) parses every application's inputs, runs the
engine, keeps its trace and writes a `ProvisionalAmount` row per application, in chunks of the
default size (`reviews.models.AWARD_BATCH_CHUNK_SIZE`), each chunk committed, as it runs in
production: split into the default number of lanes (`settings.AWARD_BATCH_LANES`), one process each,
as the `award_batch` command runs it and as that many Celery workers do. The same batch in one
process is timed and printed too. Every application's inputs are its own (100,000 different
investments): nothing is computed once for several. The baseline is one statement computing the
demo-project amounts (MEASURES.md 3.2: 10% of the actual investment, at most 2,000,000.00) from the
same catalogue version's rate and cap, `LEAST(ROUND(rate * (inputs->>'actual_investment')::numeric,
2), cap)`, timed two ways: as an INSERT ... SELECT writing the amounts into the same table (the same
rows, indexes and foreign keys as the batch, checked at the statement's end; rolled back after), and
as a SELECT alone (the arithmetic). Printed: the timings, the ratios batch / statement (goal: at
most 3), the time of a second batch over the same data (it computes everything again and writes
nothing), the time of a batch after a catalogue edit that halves the rate (every amount changes and
is rewritten), and whether every application's amount is identical to the statement's, before and
after the edit.

Needs DATABASE_URL naming a scratch PostgreSQL database whose name ends in `_bench` (it is
migrated, the catalogue loaded, and the benchmark's call, companies, applications and catalogue
edit are committed there and deleted at the end):

    createdb -h 127.0.0.1 -U postgres qianhai_grants_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qianhai_grants_bench \\
        .venv/bin/python bench/bench_award_batch.py

BENCH_N sets the number of applications, BENCH_CHUNK the chunk size (default: the batch's
default), BENCH_LANES the lanes (default: the setting's); BENCH_RECORD=0 skips appending the
figures to bench/RESULTS.md.
"""

import os
import subprocess
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

from results import record  # bench/results.py (this folder is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
N = int(os.environ.get("BENCH_N", "100000"))
CHUNK = int(os.environ.get("BENCH_CHUNK", "0"))  # 0: the default, as production runs it
LANES = int(os.environ.get("BENCH_LANES", "0"))  # 0: the default, as production runs it
SLICE = 2000  # rows per transaction when making and removing the data
SQL_AMOUNT = "LEAST(ROUND(%s * (inputs ->> %s)::numeric, 2), %s)"


def setup() -> bool:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://", "pgsql://")) or not urlsplit(
            url).path.endswith("_bench"):
        print("bench_award_batch: set DATABASE_URL to a scratch PostgreSQL database whose name "
              "ends in _bench, e.g.\n"
              "  createdb -h 127.0.0.1 -U postgres qianhai_grants_bench\n"
              "  DATABASE_URL=postgres://postgres@127.0.0.1:5432/qianhai_grants_bench "
              ".venv/bin/python bench/bench_award_batch.py\n"
              "skipped: no scratch PostgreSQL database")
        return False
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "qianhai_grants.settings.test"
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    return True


def slices(items: list, size: int = SLICE):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def make_applications(call, version, n: int) -> list:
    """n undecided applications of the call, committed a slice at a time; their companies."""
    from django.utils import timezone

    from applications.models import Application, Status
    from tests.factories import DEMO_PROJECT_INPUTS, CompanyFactory, UserFactory, uscc

    # Registration numbers and owners of this call's own: the factories' sequences restart in
    # every process, and would meet the companies another benchmark left in the database.
    companies = [CompanyFactory(registration_number=uscc(9_000_000_000 + call.pk * 1000 + i),
                                created_by=UserFactory(
                                    username=f"bench-award-batch-{call.pk}-{i}@example.org"))
                 for i in range(100)]
    statuses = (Status.ACCEPTED, Status.IN_REVIEW, Status.REVIEWED, Status.RESERVE)
    now = timezone.now()
    rows = []
    for i in range(n):
        # 0.00 to 30,000,000.00 yuan in uneven steps: a third above the cap's 20,000,000.
        investment = Decimal((i * 7_919_777) % 3_000_000_000) / 100
        company = companies[i % len(companies)]
        rows.append(Application(
            call=call, company=company, measure_version=version, status=statuses[i % 4],
            inputs={**DEMO_PROJECT_INPUTS, "actual_investment": f"{investment:.2f}"},
            # One active application per company and subject in a call: each its own project.
            subject_key=f"bench-{i}", revision=1, submitted_at=now,
            created_by=company.created_by))
    for part in slices(rows):
        Application.objects.bulk_create(part)
    return companies


def remove(call, companies, edited) -> None:
    """Delete what the benchmark made, a slice per transaction."""
    from django.contrib.auth import get_user_model

    from applications.models import Application, Membership
    from reviews.models import AuditEntry, AwardBatch, ProvisionalAmount

    ids = list(Application.objects.filter(call=call).values_list("pk", flat=True))
    for part in slices(ids):
        ProvisionalAmount.objects.filter(application_id__in=part).delete()
    for version in edited:
        version.delete()
    AuditEntry.objects.filter(call=call).delete()
    AwardBatch.objects.filter(call=call).delete()
    for part in slices(ids):
        Application.objects.filter(pk__in=part).delete()
    users = {call.created_by_id, *(c.created_by_id for c in companies)}
    call.delete()
    Membership.objects.filter(company__in=companies).delete()
    for company in companies:
        company.delete()
    get_user_model().objects.filter(pk__in=users).delete()


def _sql_params(call, version) -> tuple[list, list]:
    from reviews.services.batches import PROVISIONAL_STATUSES

    return ([version.rate, version.base_field, version.per_award_cap],
            [call.pk, [str(s) for s in PROVISIONAL_STATUSES]])


def sql_select(call, version) -> tuple[dict, float]:
    """The amounts computed by one SELECT, fetched."""
    from django.db import connection

    amount, where = _sql_params(call, version)
    with connection.cursor() as cursor:
        start = time.perf_counter()
        cursor.execute(f"SELECT id, {SQL_AMOUNT} FROM applications_application "
                       "WHERE call_id = %s AND status = ANY(%s)", [*amount, *where])
        rows = cursor.fetchall()
        elapsed = time.perf_counter() - start
    return dict(rows), elapsed


def sql_insert(call, version) -> tuple[dict, float]:
    """The same amounts written by one INSERT ... SELECT into the table the batch writes, then
    rolled back.

    Foreign keys are checked at the statement's end (SET CONSTRAINTS ALL IMMEDIATE): Django
    declares them DEFERRABLE INITIALLY DEFERRED, and a transaction that is rolled back would
    never check them, where the batch's chunks check theirs when they commit."""
    from django.db import connection, transaction

    amount, where = _sql_params(call, version)
    statement = f"""
        INSERT INTO reviews_provisionalamount
            (application_id, measure_version_id, eligible, amount, capped_by, reasons, trace,
             computed_at)
        SELECT id, %s, true, {SQL_AMOUNT},
               CASE WHEN %s * (inputs ->> %s)::numeric > %s THEN 'cap' ELSE '' END,
               '[]'::jsonb, '[]'::jsonb, now()
        FROM applications_application WHERE call_id = %s AND status = ANY(%s)
        RETURNING application_id, amount
    """
    params = [version.pk, *amount, version.rate, version.base_field, version.per_award_cap,
              *where]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        start = time.perf_counter()
        cursor.execute(statement, params)
        rows = cursor.fetchall()
        elapsed = time.perf_counter() - start
        transaction.set_rollback(True)
    return dict(rows), elapsed


def run_batch(call, lanes: int = 0) -> tuple[object, float]:
    """A batch over the call, its lanes (the default number unless given) one process each."""
    from reviews.services.batches import award_batch_create, award_batch_run

    options = {"chunk_size": CHUNK} if CHUNK else {}
    lanes = lanes or LANES
    if lanes:
        options["lanes"] = lanes
    start = time.perf_counter()
    batch = award_batch_create(call=call, **options)
    done = award_batch_run(batch_id=batch.pk, processes=batch.lanes.count())
    return done, time.perf_counter() - start


def forget(call) -> None:
    """The call's provisional amounts deleted, so that the next batch writes them all again."""
    from django.db import connection

    from reviews.models import ProvisionalAmount

    ProvisionalAmount.objects.filter(application__call=call).delete()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE reviews_provisionalamount")


def machine(before: float) -> str:
    """The load of the machine (1-minute average) before and after the run, and whether other
    work was running: figures taken on a busy machine are lower than the code can do."""
    after = os.getloadavg()[0]
    busy = "busy" if before >= 1.0 else "quiet"
    return f"load {before:.2f} before, {after:.2f} after: {busy}"


def edit_rate(call):
    """A catalogue edit halving the measure's rate: every provisional amount changes."""
    from measures.selectors import version_current
    from measures.services import RULE_KEYS, measure_version_create

    current = version_current(measure=call.measure)
    rules = {key: getattr(current, key) for key in RULE_KEYS} | {"rate": current.rate / 2}
    return measure_version_create(measure=call.measure, rules=rules,
                                  reason="bench_award_batch: every amount changes")


def measure() -> dict:
    from django.db import connection

    from measures.selectors import version_current
    from reviews.models import ProvisionalAmount
    from tests.factories import open_call, staff_user

    # Its own staff user too (see make_applications), deleted with the call.
    call = open_call("demo-project", funding_year=2099,
                     created_by=staff_user(username=f"bench-award-batch-{time.time_ns()}"))
    version = version_current(measure=call.measure)
    start = time.perf_counter()
    companies = make_applications(call, version, N)
    figures = {"setup": time.perf_counter() - start}
    edited = []

    def differing(expected: dict, *others: dict) -> tuple[int, int]:
        differ = sum(1 for pk, amount in expected.items()
                     if any(other.get(pk) != amount for other in others))
        return differ, sum(len(set(expected) ^ set(other)) for other in others)

    try:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE applications_application")
            cursor.execute("VACUUM ANALYZE reviews_provisionalamount")
        expected, figures["select"] = sql_select(call, version)
        inserted, figures["insert"] = sql_insert(call, version)
        with connection.cursor() as cursor:
            # Neither pays for the other's garbage: the statement's 100,000 rolled-back rows
            # would otherwise sit in the unique index every insert of the batch checks.
            cursor.execute("VACUUM ANALYZE reviews_provisionalamount")
        alone, figures["alone"] = run_batch(call, lanes=1)
        got_alone = dict(ProvisionalAmount.objects.filter(application__call=call)
                         .values_list("application_id", "amount"))
        forget(call)
        batch, figures["batch"] = run_batch(call)
        figures["lanes"] = batch.lanes.count()
        again, figures["again"] = run_batch(call)
        got = dict(ProvisionalAmount.objects.filter(application__call=call)
                   .values_list("application_id", "amount"))
        figures["differ"], figures["missing"] = differing(expected, got, inserted, got_alone)
        figures["alone_written"] = alone.changed
        figures["count"] = len(expected)
        figures["written"], figures["rewritten"] = batch.changed, again.changed
        figures["chunk"] = batch.chunk_size
        figures["capped"] = sum(1 for amount in got.values() if amount == version.per_award_cap)
        edited.append(edit_rate(call))
        after_edit, figures["edit"] = run_batch(call)
        figures["edit_written"] = after_edit.changed
        expected, _elapsed = sql_select(call, edited[0])
        got = dict(ProvisionalAmount.objects.filter(application__call=call)
                   .values_list("application_id", "amount"))
        figures["edit_differ"], figures["edit_missing"] = differing(expected, got)
    finally:
        remove(call, companies, edited)
    return figures


def main():
    from django.core.management import call_command
    from django.db import connection

    load = os.getloadavg()[0]
    call_command("migrate", verbosity=0)
    call_command("load_measures", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    f = measure()
    identical = (f["differ"] == 0 and f["missing"] == 0 and f["count"] == N
                 and f["edit_differ"] == 0 and f["edit_missing"] == 0)
    write_ratio, select_ratio = f["batch"] / f["insert"], f["batch"] / f["select"]
    alone_ratio = f["alone"] / f["insert"]
    chunk, lanes = f["chunk"], f["lanes"]
    print(f"applications: {N:,} of one demo-project call ({f['capped']:,} at the cap), "
          f"made in {f['setup']:.1f} s")
    print(f"SQL SELECT computing the amounts    : {f['select']:8.3f} s")
    print(f"SQL INSERT ... SELECT writing them  : {f['insert']:8.3f} s")
    print(f"{f'award batch, {lanes} lanes, 1 process each':36}: {f['batch']:8.3f} s "
          f"({N / f['batch']:,.0f} applications/s, chunks of {chunk}, {f['written']:,} rows "
          "written)")
    print(f"the same batch in 1 process         : {f['alone']:8.3f} s "
          f"({N / f['alone']:,.0f} applications/s, {f['alone_written']:,} rows written)")
    print(f"second batch over the same data     : {f['again']:8.3f} s "
          f"({f['rewritten']:,} rows written)")
    print(f"batch after a catalogue edit        : {f['edit']:8.3f} s "
          f"({f['edit_written']:,} rows rewritten)")
    print(f"ratio batch / SQL INSERT            : {write_ratio:8.1f}  (goal <= 3)")
    print(f"ratio batch in 1 process / INSERT   : {alone_ratio:8.1f}")
    print(f"ratio batch / SQL SELECT            : {select_ratio:8.1f}")
    print(f"identical amounts                   : {'yes' if identical else 'NO'} "
          f"({f['differ']} differ, {f['missing']} missing; after the edit "
          f"{f['edit_differ']} differ, {f['edit_missing']} missing)")
    print(f"machine                             : {machine(load)}")
    record(f"| {date.today().isoformat()} | `bench/bench_award_batch.py` ({os.cpu_count()} cores, "
           f"{machine(load)}; "
           f"PostgreSQL {connection.pg_version // 10000}, {N:,} demo-project applications, "
           f"chunks of {chunk}, {lanes} lanes) | award batch {f['batch']:.2f} s, "
           f"{lanes} processes ({f['written']:,} rows written "
           f"with their trace; again over the same data {f['again']:.2f} s, {f['rewritten']} "
           f"written; after a catalogue edit {f['edit']:.2f} s, {f['edit_written']:,} "
           f"rewritten; in 1 process {f['alone']:.2f} s); one SQL statement: INSERT ... "
           f"SELECT of the same amounts "
           f"{f['insert']:.2f} s, SELECT alone {f['select']:.3f} s; amounts "
           f"{'identical' if identical else 'DIFFERENT'} | batch / INSERT = {write_ratio:.1f}, "
           f"batch / SELECT = {select_ratio:.0f}; in 1 process / INSERT = {alone_ratio:.1f} |")
    if not identical:
        sys.exit(1)


if __name__ == "__main__":
    if Path(sys.argv[0]).resolve() != Path(__file__).resolve():
        # Run by bench/run.py beside other benchmarks: in its own process, with its own
        # database settings, so neither changes the other's.
        subprocess.run([sys.executable, __file__], check=False)
    elif setup():
        main()
