"""The streaming CSV export of 100,000 applications against PostgreSQL's own `COPY (the same
SELECT) TO STDOUT`, and the XLSX export against the CSV, on PostgreSQL.

Ours is what `POST /reports/exports/` answers with (`reports.exports.direct_response`): the
StreamingHttpResponse's content consumed whole, chunk by chunk, as a WSGI server would send it
(the query, the measures' names, the local times and translated labels, the neutralised text
cells, csv.writer, UTF-8). The baseline is the same SELECT (the export's own queryset, compiled by
Django) run as `COPY (...) TO STDOUT WITH (FORMAT csv, HEADER)` through psycopg's `cursor.copy`,
every block read: the database writing CSV itself, with no Python per row. Printed: both times
(the best of BENCH_REPEAT runs each, taken in turns), the ratio COPY / ours (goal: at least
0.3), the peak of Python's memory while ours runs (tracemalloc; at 100,000 rows and at a tenth
of them: constant memory means the same figure), and the XLSX export (XlsxWriter,
constant-memory mode, into a temporary file) against the CSV.

Needs PostgreSQL. It uses its own database, `qg_bench_exports` on the server named by DATABASE_URL
(default postgres://postgres@127.0.0.1:5432/), created and migrated if missing; its 100,000
applications (funding year 2099, over 1,000 companies, a third with an aggregate score, a tenth
with an award; and a tenth as many in 2098, for the memory figure) are made by INSERT ... SELECT
generate_series and kept for the next run:

    .venv/bin/python bench/bench_exports.py

BENCH_N sets the number of applications, BENCH_REPEAT the runs timed (default 5, in turns;
the best of each is kept; the XLSX export half as many times);
BENCH_RECORD=0 skips appending the figures to bench/RESULTS.md.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from results import record  # bench/results.py (this folder is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
N = int(os.environ.get("BENCH_N", "100000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
DB_NAME = "qg_bench_exports"
YEAR = 2099
COMPANIES = 1000
NOT_DRAFT = ["submitted", "accepted", "in_review", "reviewed", "proposed", "in_publicity",
             "awarded", "rejected", "declined", "reserve"]


def setup() -> bool:
    """Point Django at the benchmark's database (created if missing)."""
    import psycopg

    server = urlsplit(os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/")
    if server.scheme not in ("postgres", "postgresql", "pgsql"):
        print("bench_exports: DATABASE_URL must name a PostgreSQL server\nskipped")
        return False
    try:
        admin = urlunsplit(("postgres", server.netloc, "/postgres", "", ""))
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                [DB_NAME]).fetchone():
                conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    except psycopg.Error as exc:
        print(f"bench_exports: needs PostgreSQL ({exc})\nskipped")
        return False
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = urlunsplit(("postgres", server.netloc, f"/{DB_NAME}", "", ""))
    os.environ.pop("REDIS_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "qianhai_grants.settings.test"
    import django

    django.setup()
    return True


def make_data(n: int, year: int):
    """A call of `year` and its n applications (kept from an earlier run when there are as
    many), with scores and awards; returns the call."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from applications.models import Application, Call
    from measures.selectors import version_current
    from tests.factories import DEMO_PROJECT_INPUTS, open_call

    call = Call.objects.filter(funding_year=year, measure__code="demo-project").first()
    if call is not None and Application.objects.filter(call=call).count() == n:
        return call
    user, _ = get_user_model().objects.get_or_create(username="bench-exports@example.org")
    call = call or open_call("demo-project", funding_year=year, created_by=user)
    version = version_current(measure=call.measure)
    with transaction.atomic(), connection.cursor() as cursor:
        # Foreign keys checked at each statement's end, not at commit: with 100,000 deferred
        # checks queued, the history triggers get slower with every row (bench_award_batch.py).
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for table in ("reviews_award", "reviews_assessment"):
            cursor.execute(f"DELETE FROM {table} WHERE application_id IN "
                           "(SELECT id FROM applications_application WHERE call_id = %s)",
                           [call.pk])
        cursor.execute("DELETE FROM applications_application WHERE call_id = %s", [call.pk])
        cursor.execute(
            "INSERT INTO applications_company (name, name_en, registration_type, "
            "registration_number, in_qianhai, contact_name, contact_phone, contact_email, "
            "created_by_id, created_at) "
            "SELECT '前海基准测试科技有限公司' || i, 'Qianhai Bench Technology Co., Ltd. ' || i, "
            "'other', 'BENCH-EXPORTS-' || i, true, '', '', '', %s, now() "
            "FROM generate_series(1, %s) i "
            "ON CONFLICT (registration_type, registration_number) DO NOTHING",
            [user.pk, COMPANIES])
        cursor.execute("SELECT array_agg(id ORDER BY id) FROM applications_company "
                       "WHERE registration_number LIKE 'BENCH-EXPORTS-%%'")
        companies = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO applications_application (call_id, company_id, measure_version_id, "
            "status, inputs, subject_key, estimate, revision, submitted_at, created_by_id, "
            "created_at, updated_at) "
            "SELECT %s, (%s::bigint[])[1 + i %% %s], %s, (%s::text[])[1 + i %% %s], "
            "%s::jsonb, 'bench-' || %s || '-' || i, (i %% 20000) * 100.00, 1, "
            "now() - make_interval(mins => i), %s, now(), now() "
            "FROM generate_series(1, %s) i",
            [call.pk, companies, len(companies), version.pk, NOT_DRAFT, len(NOT_DRAFT),
             json.dumps(DEMO_PROJECT_INPUTS), year, user.pk, n])
        cursor.execute(
            "INSERT INTO reviews_assessment (application_id, score, reviews_count, trimmed, "
            "computed_at) SELECT id, 60 + id %% 40 + 0.25, 3, false, now() "
            "FROM applications_application WHERE call_id = %s AND id %% 3 = 0", [call.pk])
        cursor.execute(
            "INSERT INTO reviews_award (application_id, measure_version_id, amount, capped_by, "
            "parameters, inputs, trace, decided_by_id, decided_at, awarded_at, paid) "
            "SELECT id, %s, (id %% 2000) * 1000.00 + 0.55, '', '{}', '{}', '[]', %s, now(), "
            "now(), (id %% 2000) * 500.00 FROM applications_application "
            "WHERE call_id = %s AND id %% 10 = 0", [version.pk, user.pk, call.pk])
    with connection.cursor() as cursor:
        for table in ("applications_application", "applications_company", "reviews_award",
                      "reviews_assessment"):
            cursor.execute(f"ANALYZE {table}")
    return call


def ours_csv(f) -> tuple[float, int]:
    """Seconds and bytes: the page's CSV answer consumed whole, chunk by chunk."""
    from reports.exports import direct_response

    start = time.perf_counter()
    response = direct_response(kind="applications", format="csv", filter=f, language="zh-hans")
    size = 0
    for chunk in response.streaming_content:
        size += len(chunk)
    response.close()
    return time.perf_counter() - start, size


def copy_csv(f) -> tuple[float, int]:
    """Seconds and bytes: the same SELECT as COPY ... TO STDOUT (FORMAT csv)."""
    from django.db import connection

    from reports.exports.columns import APPLICATIONS, query

    sql, params = query(APPLICATIONS, f).query.sql_with_params()
    connection.ensure_connection()
    size = 0
    start = time.perf_counter()
    with connection.connection.cursor() as cursor, cursor.copy(
            f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)", params) as copy:
        for block in copy:
            size += len(block)
    return time.perf_counter() - start, size


def ours_xlsx(f) -> tuple[float, int]:
    from reports.exports import write_export

    with tempfile.TemporaryFile() as handle:
        start = time.perf_counter()
        write_export(handle, kind="applications", format="xlsx", filter=f, language="zh-hans")
        elapsed = time.perf_counter() - start
        return elapsed, handle.tell()


def peak_python_memory(f) -> int:
    """tracemalloc's peak, in bytes, while the CSV answer is consumed whole."""
    tracemalloc.start()
    try:
        ours_csv(f)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main():
    from django.core.management import call_command
    from django.db import connection

    from applications.models import Application
    from reports.filters import ReportFilter

    call_command("migrate", verbosity=0)
    call_command("load_measures", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    start = time.perf_counter()
    call = make_data(N, YEAR)
    make_data(N // 10, YEAR - 1)  # a tenth as many, for the memory figure
    made = time.perf_counter() - start
    f, tenth = ReportFilter(year=YEAR), ReportFilter(year=YEAR - 1)
    rows = Application.objects.filter(call=call).count()

    copy_csv(f)  # warm the caches of both the same way
    ours_csv(f)
    # Taken in turns, so that a machine busy with something else slows both alike.
    timed = [(ours_csv(f), copy_csv(f)) for _ in range(REPEAT)]
    ours_time, ours_size = min(ours for ours, _copy in timed)
    copy_time, copy_size = min(copy for _ours, copy in timed)
    peak = peak_python_memory(f)
    peak_tenth = peak_python_memory(tenth)
    xlsx_time, xlsx_size = min(ours_xlsx(f) for _ in range(max(1, REPEAT // 2)))

    ratio, xlsx_ratio = copy_time / ours_time, xlsx_time / ours_time
    mb = 1024 * 1024
    print(f"applications: {rows:,} (funding year {YEAR}; made or checked in {made:.1f} s)")
    print(f"COPY (same SELECT) TO STDOUT csv   : {copy_time:8.3f} s  {copy_size / mb:6.1f} MB "
          f"({rows / copy_time:,.0f} rows/s)")
    print(f"streaming CSV export (ours)        : {ours_time:8.3f} s  {ours_size / mb:6.1f} MB "
          f"({rows / ours_time:,.0f} rows/s)")
    print(f"ratio COPY / ours                  : {ratio:8.2f}  (goal >= 0.3)")
    print(f"peak Python memory, {rows:,} rows: {peak / mb:8.2f} MB (tracemalloc)")
    print(f"peak Python memory, {rows // 10:,} rows : {peak_tenth / mb:8.2f} MB")
    print(f"XLSX export (constant memory)      : {xlsx_time:8.3f} s  {xlsx_size / mb:6.1f} MB")
    print(f"ratio XLSX / CSV                   : {xlsx_ratio:8.2f}")
    record(f"| {date.today().isoformat()} | `bench/bench_exports.py` (2 cores, PostgreSQL "
           f"{connection.pg_version // 10000}, {rows:,} applications, best of {REPEAT}) | "
           f"streaming CSV {ours_time:.2f} s ({ours_size / mb:.1f} MB; peak Python memory "
           f"{peak / mb:.1f} MB, {peak_tenth / mb:.1f} MB at {rows // 10:,} rows); COPY (same "
           f"SELECT) TO STDOUT {copy_time:.2f} s; XLSX {xlsx_time:.2f} s "
           f"({xlsx_size / mb:.1f} MB) | COPY / CSV = {ratio:.2f}, XLSX / CSV = "
           f"{xlsx_ratio:.1f} |")


if __name__ == "__main__":
    if Path(sys.argv[0]).resolve() != Path(__file__).resolve():
        # Run by bench/run.py beside other benchmarks: in its own process, with its own
        # database settings, so neither changes the other's.
        subprocess.run([sys.executable, __file__], check=False)
    elif setup():
        main()
