"""Award batches on PostgreSQL and through the Celery task: a second run writes nothing, the
amounts' provenance is their batch and its history, and two workers handed the same batch never
process a chunk twice."""

import os
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from applications.models import Application, Status
from reviews import tasks
from reviews.models import AuditEntry, AwardBatch, AwardBatchLane, BatchState, ProvisionalAmount
from reviews.services import batches
from tests.factories import DEMO_PROJECT_INPUTS, application_in, open_call, staff_user
from tests.races import locked_elsewhere, race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# Under pytest-xdist the test process runs the runner's own threads beside the test, which the
# award_batch command never does; the forked children touch none of what those threads hold.
forks = pytest.mark.filterwarnings(
    "ignore:This process .* is multi-threaded, use of fork:DeprecationWarning")

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
    outcomes = race(2, lambda _i: batches.award_batch_run(batch_id=batch.pk))

    assert all(isinstance(outcome, AwardBatch) for outcome in outcomes), outcomes
    batch.refresh_from_db()
    assert (batch.state, batch.total, batch.processed, batch.changed) == (
        BatchState.DONE, 60, 60, 60)
    assert ProvisionalAmount.objects.filter(application__call=call).count() == 60
    last = max(ProvisionalAmount.objects.values_list("application_id", flat=True))
    assert list(batch.lanes.values_list("done", flat=True)) == [True, True]
    assert batch.lanes.get(upto_id=None).last_application_id == last
    assert AuditEntry.objects.filter(action="award_batch_done", call=call).count() == 1


def test_lanes_finishing_at_once_mark_their_batch_done_exactly_once(catalogue):
    call = call_with(8)
    for _round in range(5):
        batch = batches.award_batch_create(call=call, chunk_size=4, lanes=2)

        def lane(number, batch_id=batch.pk):
            while batches.award_batch_run_chunk(batch_id=batch_id, lane=number):
                pass

        assert race(2, lane) == [None, None]  # each thread ran its lane to the end
        batch.refresh_from_db()
        assert (batch.state, batch.total, batch.processed) == (BatchState.DONE, 8, 8)
        assert AuditEntry.objects.filter(action="award_batch_done",
                                         data__batch=batch.pk).count() == 1


@forks
def test_lanes_run_side_by_side_in_processes_and_give_what_one_process_gives(catalogue):
    call = call_with(40)
    batch = batches.award_batch_create(call=call, chunk_size=4, lanes=3)
    seen = []

    done = batches.award_batch_run(batch_id=batch.pk, processes=3,
                                   progress=lambda b: seen.append((b.processed, b.state)))

    assert (done.state, done.total, done.processed, done.changed) == (
        BatchState.DONE, 40, 40, 40)
    assert seen[-1] == (40, BatchState.DONE)
    assert [processed for processed, _state in seen] == sorted(
        processed for processed, _state in seen)
    forked = snapshot(call)
    assert len(forked) == 40
    # The same amounts, trace and version as one process computing each application.
    for application_id, values in forked.items():
        alone = batches.provisional_compute(Application.objects.get(pk=application_id))
        assert values[:4] == (values[0], alone.eligible, alone.amount, alone.capped_by or "")
        assert values[5] == [step.as_dict() for step in alone.trace]
    again = batches.award_batch_create(call=call, chunk_size=4, lanes=1)
    assert batches.award_batch_run(batch_id=again.pk).changed == 0


@forks
def test_a_failing_lane_in_a_process_fails_the_batch_and_the_run_says_so(catalogue,
                                                                          monkeypatch):
    call = call_with(12)
    batch = batches.award_batch_create(call=call, chunk_size=3, lanes=2)

    def broken(*args, **kwargs):
        raise ValueError("rules out of order")

    monkeypatch.setattr(batches, "compute_award", broken)  # the forked processes inherit it

    with pytest.raises(RuntimeError, match="rules out of order"):
        batches.award_batch_run(batch_id=batch.pk, processes=2)

    batch.refresh_from_db()
    assert batch.state == BatchState.FAILED and "ValueError: rules out of order" in batch.error
    assert not ProvisionalAmount.objects.filter(application__call=call).exists()


@forks
def test_a_process_that_stops_leaves_its_lane_to_resume(catalogue, monkeypatch):
    call = call_with(12)
    batch = batches.award_batch_create(call=call, chunk_size=3, lanes=2)
    real = batches._run_lanes

    def killed(batch_id, numbers):
        if numbers == [1]:
            os._exit(9)  # as a process killed before its first chunk commits
        real(batch_id, numbers)

    monkeypatch.setattr(batches, "_run_lanes", killed)
    with translation.override("en"), pytest.raises(RuntimeError, match="exit code 9"):
        batches.award_batch_run(batch_id=batch.pk, processes=2)
    batch.refresh_from_db()
    assert (batch.state, batch.processed) == (BatchState.RUNNING, 6)

    monkeypatch.setattr(batches, "_run_lanes", real)
    done = batches.award_batch_run(batch_id=batch.pk, processes=2)
    assert (done.state, done.processed, done.changed) == (BatchState.DONE, 12, 12)


def test_the_stalled_batch_scan_skips_a_lane_whose_chunk_is_running(catalogue, monkeypatch):
    call = call_with(4)
    batch = batches.award_batch_create(call=call, chunk_size=2, lanes=2)
    queued = []
    monkeypatch.setattr(tasks.run_award_batch, "delay", lambda *args: queued.append(args))
    later = timezone.now() + batches.STALLED_AFTER + timedelta(seconds=1)

    # As a chunk holds its lane's row until it commits.
    with locked_elsewhere(AwardBatchLane.objects.filter(batch=batch, number=0)):
        assert batches.award_batch_resume_stalled(now=later) == 1
    assert queued == [(batch.pk, 1)]
