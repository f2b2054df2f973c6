"""The dashboard's figures over 100,000 applications on PostgreSQL: time and number of queries,
against the simplest aggregate over the same table.

The data is made by INSERT ... SELECT over generate_series (triggers off while it is made), with
a realistic spread: 12 calls of 7 measures over three funding years, 2,000 companies, every
status (a fifth of the applications awarded, demo projects within their quota of 10 a year), the
status events of each application's path with days between them, three reviews for each
application that reached expert review (200 reviewers), an award for every application holding
one, a ledger row per funded computing platform, a 公示 per call and objections to a tenth of the
lines. Then, after ANALYZE, timed BENCH_RUNS times each (the median is printed):
- `reports.selectors.report_summary` unfiltered and filtered by a funding year (its queries
  counted: the same whatever the data, pinned by tests/reports/test_summary.py);
- the page `/reports/` rendered through Django's test client as management (queries counted);
- the baseline: `SELECT status, count(*) FROM applications_application GROUP BY status`, the
  least a dashboard over this table can cost.
Printed: the times, the query counts, and the ratios summary / baseline and page / baseline.

Needs PostgreSQL. It uses its own database, `qianhai_grants_bench_dashboard` on the server named
by DATABASE_URL (default postgres://postgres@127.0.0.1:5432/), created and migrated if missing;
its tables are emptied and filled again on every run:

    .venv/bin/python bench/bench_dashboard.py

BENCH_N sets the number of applications, BENCH_RUNS the timed runs; BENCH_RECORD=0 skips
appending the figures to bench/RESULTS.md.
"""

import os
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from results import record  # bench/results.py (this folder is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
N = int(os.environ.get("BENCH_N", "100000"))
RUNS = int(os.environ.get("BENCH_RUNS", "7"))
DB_NAME = "qianhai_grants_bench_dashboard"
COMPANIES, REVIEWERS = 2000, 200
# (measure, funding year, share of the applications in tenths of a percent)
CALLS = [("demo-project", 2024, 40), ("demo-project", 2025, 50), ("demo-project", 2026, 60),
         ("compute-platform", 2024, 50), ("compute-platform", 2025, 60),
         ("compute-platform", 2026, 70), ("core-algorithm", 2025, 120),
         ("core-algorithm", 2026, 150), ("industry-llm", 2026, 100), ("icv-pilot", 2026, 100),
         ("low-altitude-pilot", 2026, 100), ("innovation-center", 2026, 100)]
# Each final status with its share (percent) and the path that led there.
PATHS = {
    "submitted": (5, ["submitted"]),
    "returned": (2, ["submitted", "returned"]),
    "accepted": (5, ["submitted", "accepted"]),
    "in_review": (10, ["submitted", "accepted", "in_review"]),
    "reviewed": (6, ["submitted", "accepted", "in_review", "reviewed"]),
    "reserve": (4, ["submitted", "accepted", "in_review", "reviewed", "reserve"]),
    "declined": (18, ["submitted", "accepted", "in_review", "reviewed", "declined"]),
    "rejected": (10, ["submitted", "rejected"]),
    "withdrawn": (5, ["submitted", "accepted", "withdrawn"]),
    "proposed": (3, ["submitted", "accepted", "in_review", "reviewed", "proposed"]),
    "in_publicity": (2, ["submitted", "accepted", "in_review", "reviewed", "proposed",
                         "in_publicity"]),
    "awarded": (30, ["submitted", "accepted", "in_review", "reviewed", "proposed",
                     "in_publicity", "awarded"]),
}
assert sum(share for share, _path in PATHS.values()) == 100
assert sum(share for _m, _y, share in CALLS) == 1000


def setup() -> bool:
    """Point Django at the benchmark's database, created if missing."""
    import psycopg

    server = urlsplit(os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/")
    if server.scheme not in ("postgres", "postgresql", "pgsql"):
        print("bench_dashboard: DATABASE_URL must name a PostgreSQL server\nskipped")
        return False
    try:
        admin = urlunsplit(("postgres", server.netloc, "/postgres", "", ""))
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                [DB_NAME]).fetchone():
                conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    except psycopg.Error as exc:
        print(f"bench_dashboard: needs PostgreSQL ({exc})\nskipped")
        return False
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = urlunsplit(("postgres", server.netloc, f"/{DB_NAME}", "", ""))
    os.environ["DJANGO_SETTINGS_MODULE"] = "qianhai_grants.settings.test"
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    return True


def _cases(column: str, pairs: list[tuple[str, str]], default: str) -> str:
    return "CASE " + " ".join(f"WHEN {column} {cond} THEN {value}" for cond, value in pairs) + \
        f" ELSE {default} END"


def make_data(cursor, staff_id: int, calls: list[tuple[int, int, int]]) -> None:
    """Everything the dashboard reads, made in SQL. `calls`: (call id, version id, share)."""
    cursor.execute("SET session_replication_role = replica", [])  # no history triggers while made
    cursor.execute(f"""
        INSERT INTO applications_company (name, name_en, registration_type, registration_number,
            in_qianhai, contact_name, contact_phone, contact_email, created_at, created_by_id)
        SELECT '前海基准科技有限公司' || i, 'Bench Co. ' || i, 'other', 'BENCH' || i, true,
               '', '', '', now(), %s
        FROM generate_series(1, {COMPANIES}) i""", [staff_id])
    cursor.execute("SELECT min(id) FROM applications_company", [])
    first_company = cursor.fetchone()[0]
    cursor.execute(f"""
        INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email,
                               is_staff, is_active, date_joined)
        SELECT '!', false, 'bench-reviewer-' || i || '@example.org', '', '',
               'bench-reviewer-' || i || '@example.org', false, true, now()
        FROM generate_series(1, {REVIEWERS}) i""", [])
    cursor.execute("""
        INSERT INTO reviews_reviewerprofile (name, expertise, active, created_at, user_id)
        SELECT '专家' || substr(username, 16, 4), '[]', true, now(), id
        FROM auth_user WHERE username LIKE 'bench-reviewer-%%'""", [])
    cursor.execute("SELECT min(id) FROM auth_user WHERE username LIKE 'bench-reviewer-%%'", [])
    first_reviewer = cursor.fetchone()[0]

    # The call of application i: by its share, in tenths of a percent of i.
    bounds, total = [], 0
    for call_id, _version_id, share in calls:
        total += share
        bounds.append((f"< {total}", str(call_id)))
    call_of = _cases("(i * 7919) %% 1000", bounds, str(calls[-1][0]))
    version_of = _cases("(i * 7919) %% 1000",
                        [(cond, str(calls[k][1])) for k, (cond, _v) in enumerate(bounds)],
                        str(calls[-1][1]))
    statuses, total = [], 0
    for status, (share, _path) in PATHS.items():
        total += share
        statuses.append((f"< {total}", f"'{status}'"))
    status_of = _cases("(i * 104729) %% 100", statuses, "'submitted'")
    cursor.execute(f"""
        INSERT INTO applications_application (status, inputs, subject_key, revision,
            submitted_at, created_at, updated_at, created_by_id, measure_version_id, call_id,
            company_id)
        SELECT {status_of}, '{{}}', 'bench-' || i, 1,
               timestamptz '2026-01-05 09:00+08' + (i %% 60) * interval '1 day', now(), now(),
               %s, {version_of}, {call_of}, {first_company} + i %% {COMPANIES}
        FROM generate_series(1::bigint, %s) i""", [staff_id, N])
    # Demo projects within their quota (MEASURES.md 3.2: at most 10 a year): the others of the
    # holding statuses of a call were not selected.
    cursor.execute("""
        UPDATE applications_application a SET status = 'declined' FROM (
            SELECT a.id, row_number() OVER (PARTITION BY a.call_id ORDER BY a.id) AS n
            FROM applications_application a JOIN applications_call c ON c.id = a.call_id
            JOIN measures_measure m ON m.id = c.measure_id
            WHERE m.code = 'demo-project' AND a.status IN ('proposed', 'in_publicity', 'awarded')
        ) held WHERE held.id = a.id AND held.n > 10""", [])
    # The path of each application, a few days (varying per application) between steps.
    steps = ", ".join(f"('{status}', {k}, '{to}', '{path[k - 1] if k else 'draft'}')"
                      for status, (_share, path) in PATHS.items()
                      for k, to in enumerate(path))
    cursor.execute(f"""
        INSERT INTO applications_statusevent (application_id, at, from_status, to_status, reason,
                                              by_id)
        SELECT a.id, a.submitted_at + (p.step * (1 + a.id %% 7) + (a.id %% 3) * 0.5)
                     * interval '1 day', p.from_status, p.to_status, '', NULL
        FROM applications_application a
        JOIN (VALUES {steps}) AS p(final, step, to_status, from_status) ON p.final = a.status
        ORDER BY a.id, p.step""", [])
    # Three reviewers for each application that reached expert review.
    cursor.execute(f"""
        INSERT INTO reviews_review (application_id, reviewer_id, state, assigned_at,
            submitted_at, scores, comments, comment, recusal_reason, recused_at)
        SELECT a.id, {first_reviewer} + (a.id + j * 67) %% {REVIEWERS},
               CASE WHEN a.status = 'in_review' AND j < 2 THEN 'assigned'
                    WHEN (a.id + j) %% 41 = 0 THEN 'recused' ELSE 'submitted' END,
               a.submitted_at + interval '3 days',
               CASE WHEN a.status = 'in_review' AND j < 2 THEN NULL
                    WHEN (a.id + j) %% 41 = 0 THEN NULL
                    ELSE a.submitted_at + (3 + (a.id * (j + 3)) %% 11) * interval '1 day' END,
               '{{}}', '{{}}', '', '', NULL
        FROM applications_application a CROSS JOIN generate_series(0, 2) j
        WHERE a.status IN ('in_review', 'reviewed', 'reserve', 'declined', 'proposed',
                           'in_publicity', 'awarded')""", [])
    cursor.execute("""
        INSERT INTO reviews_award (application_id, measure_version_id, amount, capped_by,
            parameters, inputs, trace, decided_by_id, decided_at, awarded_at, paid)
        SELECT a.id, a.measure_version_id, 100000 + (a.id * 7919) %% 1900000,
               CASE WHEN a.id %% 9 = 0 THEN 'cap' ELSE '' END, '{}', '{}', '[]', %s, now(),
               CASE WHEN a.status = 'awarded' THEN now() END,
               CASE WHEN a.status = 'awarded' AND a.id %% 2 = 0 THEN 50000 ELSE 0 END
        FROM applications_application a
        WHERE a.status IN ('proposed', 'in_publicity', 'awarded')""", [staff_id])
    cursor.execute("""
        INSERT INTO reviews_quotacounter (measure_id, funding_year, quota, used)
        SELECT c.measure_id, c.funding_year, 10, count(a.id)
        FROM applications_call c JOIN measures_measure m ON m.id = c.measure_id
        LEFT JOIN applications_application a ON a.call_id = c.id
             AND a.status IN ('proposed', 'in_publicity', 'awarded')
        WHERE m.code = 'demo-project' GROUP BY c.measure_id, c.funding_year""", [])
    # One ledger row per funded computing platform (at most 20,000,000.00 over all years).
    cursor.execute("""
        INSERT INTO reviews_subjectledger (measure_id, company_id, subject_key, committed,
                                           awards, cumulative_cap, once)
        SELECT c.measure_id, a.company_id, a.subject_key, LEAST(w.amount * 12, 20000000),
               1 + a.id %% 3, 20000000, false
        FROM applications_application a JOIN applications_call c ON c.id = a.call_id
        JOIN measures_measure m ON m.id = c.measure_id
        JOIN reviews_award w ON w.application_id = a.id
        WHERE m.code = 'compute-platform'""", [])
    cursor.execute("""
        INSERT INTO reviews_publicity (call_id, working_days, starts_on, ends_on, opened_by_id,
                                       opened_at)
        SELECT id, 5, date '2026-06-01', date '2026-06-05', %s, now()
        FROM applications_call""", [staff_id])
    cursor.execute("""
        INSERT INTO reviews_objection (publicity_id, application_id, name, organization,
            contact, text, created_at, state, note)
        SELECT p.id, a.id, '王小明', '某公司', '13800000000', '异议', now(),
               (ARRAY['open', 'upheld', 'dismissed'])[1 + a.id %% 3], ''
        FROM applications_application a JOIN reviews_publicity p ON p.call_id = a.call_id
        WHERE a.status IN ('in_publicity', 'awarded') AND a.id %% 10 = 0""", [])
    cursor.execute("SET session_replication_role = DEFAULT", [])


def empty(cursor) -> None:
    cursor.execute("""
        TRUNCATE reviews_objection, reviews_publicity, reviews_subjectledger,
            reviews_quotacounter, reviews_award, reviews_review, reviews_reviewerprofile,
            applications_statusevent, applications_application, applications_membership,
            applications_company, applications_call RESTART IDENTITY CASCADE""")
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(username__startswith="bench-").delete()


def timed(action) -> tuple[float, list[float]]:
    """The median of RUNS timed runs, after one untimed run (caches warm)."""
    action()
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def queries_of(action) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        action()
    return len(captured.captured_queries)


def main():
    from datetime import timedelta

    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from applications.models import Application, Call, StatusEvent
    from measures.models import Measure
    from measures.selectors import version_current
    from qianhai_grants.roles import MANAGEMENT
    from reports.filters import ReportFilter
    from reports.selectors import report_summary
    from reviews.models import Award, Review
    from tests.factories import UserFactory

    call_command("migrate", verbosity=0)
    call_command("load_measures", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    with connection.cursor() as cursor:
        empty(cursor)
    staff = UserFactory(username="bench-staff@example.org")
    management = UserFactory(username="bench-management@example.org", roles=[MANAGEMENT])
    now = timezone.now()
    calls = []
    for code, year, share in CALLS:
        measure = Measure.objects.get(code=code)
        call = Call.objects.create(measure=measure, funding_year=year,
                                   opens_at=now - timedelta(days=400),
                                   closes_at=now - timedelta(days=300), created_by=staff)
        calls.append((call.pk, version_current(measure=measure).pk, share))
    start = time.perf_counter()
    with connection.cursor() as cursor:
        make_data(cursor, staff.pk, calls)
        cursor.execute("ANALYZE")
    made = time.perf_counter() - start
    counts = (Application.objects.count(), StatusEvent.objects.count(), Review.objects.count(),
              Award.objects.count())

    def baseline():
        with connection.cursor() as cursor:
            cursor.execute("SELECT status, count(*) FROM applications_application "
                           "GROUP BY status")
            cursor.fetchall()

    def summary(year=None):
        return lambda: report_summary(user=management, filter=ReportFilter(year=year))

    browser = Client(HTTP_HOST="localhost")
    browser.force_login(management)

    def page():
        response = browser.get("/reports/")
        assert response.status_code == 200, response.status_code

    f = {"baseline": timed(baseline)[0], "summary": timed(summary())[0],
         "summary_2026": timed(summary(2026))[0], "page": timed(page)[0],
         "q_summary": queries_of(summary()), "q_summary_2026": queries_of(summary(2026)),
         "q_page": queries_of(page)}
    ratio, page_ratio = f["summary"] / f["baseline"], f["page"] / f["baseline"]
    print(f"applications: {counts[0]:,}; status events {counts[1]:,}, reviews {counts[2]:,}, "
          f"awards {counts[3]:,}; made in {made:.1f} s")
    print(f"baseline SELECT status, count(*) GROUP BY : {f['baseline'] * 1000:9.1f} ms")
    print(f"report_summary, unfiltered              : {f['summary'] * 1000:9.1f} ms "
          f"({f['q_summary']} queries)")
    print(f"report_summary, funding year 2026       : {f['summary_2026'] * 1000:9.1f} ms "
          f"({f['q_summary_2026']} queries)")
    print(f"the page /reports/ (management)         : {f['page'] * 1000:9.1f} ms "
          f"({f['q_page']} queries)")
    print(f"ratio summary / baseline                : {ratio:9.1f}")
    print(f"ratio page / baseline                   : {page_ratio:9.1f}")
    record(f"| {date.today().isoformat()} | `bench/bench_dashboard.py` (2 cores, PostgreSQL "
           f"{connection.pg_version // 10000}, {counts[0]:,} applications over 12 calls, "
           f"{counts[1]:,} status events, {counts[2]:,} reviews, {counts[3]:,} awards; median "
           f"of {RUNS}) | report_summary {f['summary'] * 1000:.0f} ms ({f['q_summary']} "
           f"queries; one funding year {f['summary_2026'] * 1000:.0f} ms); page /reports/ "
           f"{f['page'] * 1000:.0f} ms ({f['q_page']} queries); baseline SELECT status, "
           f"count(*) GROUP BY status {f['baseline'] * 1000:.1f} ms | summary / baseline = "
           f"{ratio:.0f}, page / baseline = {page_ratio:.0f} |")


if __name__ == "__main__":
    if Path(sys.argv[0]).resolve() != Path(__file__).resolve():
        # Run by bench/run.py beside other benchmarks: in its own process, with its own
        # database settings, so neither changes the other's.
        subprocess.run([sys.executable, __file__], check=False)
    elif setup():
        main()
