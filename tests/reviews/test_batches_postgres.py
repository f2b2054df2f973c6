"""Award batches on PostgreSQL and through the Celery task: a second run writes nothing, the
amounts' provenance is their batch and its history, and two workers handed the same batch never
process a chunk twice."""

import re
import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from applications.models import Status
from reviews.models import AwardBatch, BatchState, ProvisionalAmount
from reviews.services import batches
from tests.factories import DEMO_PROJECT_INPUTS, application_in, open_call, staff_user

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

UNDECIDED = (Status.ACCEPTED, Status.IN_REVIEW, Status.REVIEWED, Status.RESERVE)


def call_with(n: int):
    call = open_call("demo-project", funding_year=2026)
    for i in range(n):
        application_in(UNDECIDED[i % 4], call=call, inputs={
            **DEMO_PROJECT_INPUTS, "actual_investment": f"{1_000_000 + i * 730_001}.00"})
    return call


def snapshot(call) -> dict:
    return {p.application_id: (p.measure_version_id, p.eligible, p.amount, p.capped_by,
                               p.reasons, p.trace, p.batch_id, p.computed_at)
            for p in ProvisionalAmount.objects.filter(application__call=call)}


def test_a_batch_run_twice_through_the_task_gives_identical_awards_and_writes_nothing(
        catalogue):
    staff = staff_user()
    call = call_with(45)

    # Committed for real: the task is queued on commit and runs (eagerly) chunk after chunk.
    first = batches.award_batch_start(by=staff, call=call, chunk_size=10)
    first.refresh_from_db()
    assert (first.state, first.processed, first.changed) == (BatchState.DONE, 45, 45)
    before = snapshot(call)
    assert len(before) == 45

    with CaptureQueriesContext(connection) as queries:
        second = batches.award_batch_start(by=staff, call=call, chunk_size=10)

    second.refresh_from_db()
    assert (second.state, second.processed, second.changed) == (BatchState.DONE, 45, 0)
    assert snapshot(call) == before
    assert not [q["sql"] for q in queries.captured_queries
                if re.match(r"\s*(INSERT|UPDATE|DELETE)", q["sql"], re.IGNORECASE)
                and "reviews_provisionalamount" in q["sql"]]


def test_each_amount_names_the_batch_that_wrote_it_whose_history_says_who_ran_it_when(
        catalogue):
    """Provisional amounts keep no row history of their own (derived data, recomputable):
    their provenance is the batch, whose own history the database records."""
    staff = staff_user()
    call = call_with(5)

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_trigger WHERE tgrelid = "
                       "'reviews_provisionalamount'::regclass AND NOT tgisinternal")
        assert cursor.fetchone() == (0,)  # no history trigger on the amounts
    batch = batches.award_batch_start(by=staff, call=call, chunk_size=2)

    assert set(ProvisionalAmount.objects.filter(application__call=call)
               .values_list("batch", flat=True)) == {batch.pk}
    states = [(event.pgh_label, event.state, event.processed)
              for event in batch.history.order_by("pgh_id")]
    assert states[0] == ("insert", BatchState.PENDING, 0)
    assert states[-1] == ("update", BatchState.DONE, 5)
    started = batch.history.order_by("pgh_id").first()
    assert started.requested_by_id == staff.pk


def test_two_workers_on_one_batch_never_process_a_chunk_twice(catalogue):
    call = call_with(60)
    batch = batches.award_batch_create(call=call, chunk_size=7)
    barrier = threading.Barrier(2)
    errors = []

    def worker():
        try:
            barrier.wait(timeout=30)
            batches.award_batch_run(batch_id=batch.pk)
        except Exception as exc:  # inspected below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    batch.refresh_from_db()
    assert (batch.state, batch.total, batch.processed, batch.changed) == (
        BatchState.DONE, 60, 60, 60)
    assert ProvisionalAmount.objects.filter(application__call=call).count() == 60
    assert AwardBatch.objects.get(pk=batch.pk).last_application_id == max(
        ProvisionalAmount.objects.values_list("application_id", flat=True))
