"""The API's list of applications against a bare Django view, both under gunicorn, loaded from a
second process, on PostgreSQL.

Both answer a page of 50 applications for a staff user, authenticated by the same API token: the
API (`GET /api/v1/applications/?page_size=50`: DRF, the scoping selector, filters, pagination,
the serializer, the error shape) and a bare view (`bench/api_list_urls.py`: the same selector and
page, the same fields, `JsonResponse`). gunicorn runs 2 sync workers (one per core); a separate
process sends requests over 2 keep-alive connections, alternating the two endpoints in rounds so
that neither gets the warmer machine. Printed: requests per second of each and the ratio API /
bare (goal: at least 0.6).

Needs DATABASE_URL naming a scratch PostgreSQL database whose name ends in `_bench`:

    createdb -h 127.0.0.1 -U postgres qianhai_grants_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qianhai_grants_bench \\
        .venv/bin/python bench/bench_api_list.py

BENCH_N sets the requests per round and endpoint (default 600); BENCH_RECORD=0 skips appending
the figures to bench/RESULTS.md.
"""

import json
import os
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

from results import record  # bench/results.py (this folder is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
N = int(os.environ.get("BENCH_N", "600"))
ROUNDS, CONNECTIONS, PAGE = 3, 2, 50

# The loader, run in its own process: N requests over CONNECTIONS keep-alive connections.
LOADER = r"""
import http.client, json, sys, threading, time

port, path, token = sys.argv[1], sys.argv[2], sys.argv[3]
n, connections = int(sys.argv[4]), int(sys.argv[5])
errors = []
def run(count):
    conn = http.client.HTTPConnection("127.0.0.1", int(port))
    for _ in range(count):
        conn.request("GET", path, headers={"Authorization": "Token " + token,
                                           "Accept-Language": "zh-hans"})
        response = conn.getresponse()
        body = response.read()
        if response.status != 200 or len(json.loads(body)["results"]) != 50:
            errors.append((response.status, body[:200]))
threads = [threading.Thread(target=run, args=(n // connections,)) for _ in range(connections)]
start = time.perf_counter()
for t in threads: t.start()
for t in threads: t.join()
elapsed = time.perf_counter() - start
print(json.dumps({"rate": (n // connections) * connections / elapsed, "errors": len(errors),
                  "first_error": repr(errors[0]) if errors else None}))
"""


def setup() -> bool:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://", "pgsql://")) or not urlsplit(
            url).path.endswith("_bench"):
        print("bench_api_list: set DATABASE_URL to a scratch PostgreSQL database whose name ends "
              "in _bench, e.g.\n"
              "  createdb -h 127.0.0.1 -U postgres qianhai_grants_bench\n"
              "  DATABASE_URL=postgres://postgres@127.0.0.1:5432/qianhai_grants_bench "
              ".venv/bin/python bench/bench_api_list.py\n"
              "skipped: no scratch PostgreSQL database")
        return False
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.api_list_settings"
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_world() -> str:
    """A staff user's token and at least 200 submitted applications with their assessments."""
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from applications.models import Application, Company, Status
    from reviews.models import Assessment
    from tests.factories import CompanyFactory, UserFactory, application_in, open_call, staff_user

    call_command("migrate", verbosity=0)
    call_command("load_measures", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    CompanyFactory.reset_sequence(Company.objects.count() + 1)
    UserFactory.reset_sequence(get_user_model().objects.count() + 1)
    staff = staff_user()
    missing = 200 - Application.objects.exclude(status=Status.DRAFT).count()
    if missing > 0:
        call = open_call("demo-project", funding_year=2097, created_by=staff)
        for i in range(missing):
            application = application_in(Status.REVIEWED, call=call)
            Assessment.objects.create(application=application, score=Decimal(60 + i % 40),
                                      reviews_count=3)
    return Token.objects.get_or_create(user=staff)[0].key


def load(port: int, path: str, token: str) -> float:
    done = subprocess.run([sys.executable, "-c", LOADER, str(port), path, token, str(N),
                           str(CONNECTIONS)], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    if result["errors"]:
        sys.exit(f"{path}: {result['errors']} bad answers, first {result['first_error']}")
    return result["rate"]


def main():
    from django.db import connection

    token = make_world()
    pg = connection.pg_version // 10000
    connection.close()
    port = free_port()
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "bench.api_list_wsgi:application",
         "--workers", "2", "--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT),
         "--log-level", "warning"], env={**os.environ}, cwd=ROOT)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        api_path, bare_path = f"/api/v1/applications/?page_size={PAGE}", \
            f"/bare/applications/?page_size={PAGE}"
        load(port, api_path, token), load(port, bare_path, token)  # warm both
        api, bare = [], []
        for _ in range(ROUNDS):
            api.append(load(port, api_path, token))
            bare.append(load(port, bare_path, token))
    finally:
        server.terminate()
        server.wait(timeout=30)
    api_rate, bare_rate = max(api), max(bare)  # the best round of each: least disturbed
    ratio = api_rate / bare_rate
    print(f"page of {PAGE} applications, gunicorn 2 sync workers, {CONNECTIONS} keep-alive "
          f"connections from a second process, {ROUNDS} rounds of {N} requests each")
    print(f"bare Django view (JsonResponse): {bare_rate:7.1f} req/s (rounds: "
          f"{', '.join(f'{r:.0f}' for r in bare)})")
    print(f"API (DRF)                      : {api_rate:7.1f} req/s (rounds: "
          f"{', '.join(f'{r:.0f}' for r in api)})")
    print(f"ratio API / bare: {ratio:.2f}  (goal >= 0.6)")
    record(f"| {date.today().isoformat()} | `bench/bench_api_list.py` (2 cores, PostgreSQL {pg}, "
           f"gunicorn 2 sync workers, page of {PAGE} applications, {CONNECTIONS} connections "
           f"from a second process, best of {ROUNDS} rounds of {N}) | bare view "
           f"{bare_rate:.0f} req/s, API {api_rate:.0f} req/s | API / bare = {ratio:.2f} |")


if __name__ == "__main__":
    if Path(sys.argv[0]).resolve() != Path(__file__).resolve():
        subprocess.run([sys.executable, __file__], check=False)
    elif setup():
        main()
