"""The calculator API against a bare Django view doing the same work, in one process.

Both answer POST /…/quote/ for demo-project with the same body: the bare view parses the JSON,
loads the measure version, runs the engine and returns JsonResponse; the API adds DRF, the error
shape, throttling, translation of the trace. Printed: requests per second of each and the ratio
API / bare (1.0 = no overhead). Runs on a throwaway SQLite database.
"""

import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "qianhai_grants.settings.test"
os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
os.environ.pop("REDIS_URL", None)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

from measures.engine import compute_award  # noqa: E402
from measures.inputs import parse_inputs  # noqa: E402
from measures.selectors import measure_with_version  # noqa: E402
from qianhai_grants.money import format_money  # noqa: E402
from qianhai_grants.urls import urlpatterns as site_urls  # noqa: E402

BODY = json.dumps({"inputs": {"actual_investment": "15000000"}, "awarded_to_date": "0"})
N = int(os.environ.get("BENCH_N", "2000"))


@csrf_exempt
def bare_quote(request, code):
    _measure, version = measure_with_version(code=code)
    parsed = parse_inputs(version.fields, json.loads(request.body)["inputs"])
    result = compute_award(version.rules(), parsed.values)
    return JsonResponse({"eligible": result.eligible, "amount": format_money(result.amount)})


urlpatterns = [path("bare/<slug:code>/quote/", bare_quote), *site_urls]


def rate(client, url) -> float:
    for _ in range(50):  # warm up
        client.post(url, BODY, content_type="application/json")
    start = time.perf_counter()
    for _ in range(N):
        response = client.post(url, BODY, content_type="application/json")
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, response.content
    return N / elapsed


def main():
    call_command("migrate", verbosity=0)
    call_command("load_measures", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    with override_settings(ROOT_URLCONF=__name__, ALLOWED_HOSTS=["testserver"]):
        client = Client()
        bare = rate(client, "/bare/demo-project/quote/")
        api = rate(client, "/api/v1/measures/demo-project/quote/")
    print(f"requests: {N} each, in-process test client")
    print(f"bare Django view : {bare:8.0f} req/s")
    print(f"calculator API   : {api:8.0f} req/s")
    print(f"ratio API / bare : {api / bare:8.2f}")


if __name__ == "__main__":
    main()
