"""Application submissions per second against `pgbench` transactions per second, on the same
PostgreSQL database.

A submission (`applications.services.application_submit`) locks the draft, checks the call, the
inputs, the documents and eligibility with the engine, writes the revision, the status event, the
estimate and the notices (receipt by email and in the notification centre) in one transaction,
as the portal does when a company presses *Submit*. The baseline is pgbench's built-in TPC-B-like
transaction (five statements) on the same server, with the same number of clients (1). Printed:
both rates and the ratio submissions / pgbench transactions (goal: at least 0.05).

Needs DATABASE_URL naming a scratch PostgreSQL database whose name ends in `_bench` (pgbench
creates its `pgbench_*` tables there, scale 1):

    createdb -h 127.0.0.1 -U postgres qianhai_grants_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qianhai_grants_bench \\
        .venv/bin/python bench/bench_submission.py

BENCH_N sets the number of submissions (default 300); BENCH_RECORD=0 skips appending the figures
to bench/RESULTS.md.
"""

import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
N = int(os.environ.get("BENCH_N", "300"))
PGBENCH_SECONDS = 15


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
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "qianhai_grants.settings.test"
    os.environ.pop("REDIS_URL", None)
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


def record(line: str) -> None:
    if os.environ.get("BENCH_RECORD", "1") == "0":
        return
    with (ROOT / "bench" / "RESULTS.md").open("a", encoding="utf-8") as results:
        results.write(line + "\n")


def main():
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from applications import services
    from applications.models import Status

    settings.PRIVATE_STORAGE_ROOT = Path(tempfile.mkdtemp(prefix="bench-submission-"))
    call_command("migrate", verbosity=0)
    call_command("load_measures", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    ready = drafts(N)
    start = time.perf_counter()
    for owner, application in ready:
        submitted = services.application_submit(by=owner, application=application)
        if submitted.status != Status.SUBMITTED:
            sys.exit(f"a submission did not go through: {submitted.status}")
    elapsed = time.perf_counter() - start
    rate = N / elapsed
    pg = connection.pg_version // 10000
    connection.close()
    tps = pgbench_tps(os.environ["DATABASE_URL"])
    ratio = rate / tps
    print(f"submissions: {N} in {elapsed:.2f} s = {rate:.1f}/s (one client)")
    print(f"pgbench TPC-B-like, 1 client, {PGBENCH_SECONDS} s: {tps:.1f} tps")
    print(f"ratio submissions / pgbench transactions: {ratio:.3f}  (goal >= 0.05)")
    record(f"| {date.today().isoformat()} | `bench/bench_submission.py` (2 cores, PostgreSQL "
           f"{pg}, one client each) | {N} demo-project submissions {rate:.1f}/s (each: lock, "
           f"checks, engine, revision, event, notices); pgbench TPC-B-like {tps:.0f} tps | "
           f"submissions / pgbench = {ratio:.3f} |")


if __name__ == "__main__":
    if Path(sys.argv[0]).resolve() != Path(__file__).resolve():
        subprocess.run([sys.executable, __file__], check=False)
    elif setup():
        main()
