"""Award batches run by real Celery workers through a real Redis, on PostgreSQL.

A batch started by staff sends a task per lane; two workers (`celery worker -P solo`, separate
processes, tests/celery_workers.py) run the lanes side by side, each lane's chunk queueing the
next. One worker is killed with SIGKILL in the middle: the lane it was running stops where its
last chunk committed (the chunk it was in the middle of is rolled back with its connection), and
the batch is finished by `award_batch --resume`'s code beside the surviving worker. Nothing is
counted or written twice: `processed`, `changed` and `total` all end at the number of
applications, and a second batch writes nothing. And a batch whose tasks never reached the broker
is handed on to the workers by the beat scan.
"""

import os
import signal
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from applications.models import Application, Status
from reviews.models import AwardBatch, AwardBatchLane, BatchState, ProvisionalAmount
from reviews.services import batches
from tests.celery_workers import remove_queue, tasks_sent_to
from tests.factories import DEMO_PROJECT_INPUTS, CompanyFactory, open_call, staff_user

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

APPLICATIONS = 3000
CHUNK = 50
UNDECIDED = (Status.ACCEPTED, Status.IN_REVIEW, Status.REVIEWED, Status.RESERVE)


def undecided(call, n: int) -> list[int]:
    """n undecided demo-project applications of the call, each its own project and investment."""
    companies = [CompanyFactory() for _ in range(20)]
    version = call.measure.versions.order_by("-number").first()
    now = timezone.now()
    made = Application.objects.bulk_create(
        Application(call=call, company=companies[i % len(companies)], measure_version=version,
                    status=UNDECIDED[i % len(UNDECIDED)], subject_key=f"project-{i}",
                    inputs={**DEMO_PROJECT_INPUTS,
                            "actual_investment": f"{Decimal(i * 9_973 % 2_500_000_000) / 100:.2f}"},
                    revision=1, submitted_at=now, created_by=companies[i % len(companies)]
                    .created_by)
        for i in range(n))
    return [application.pk for application in made]


def lanes(batch) -> dict[int, tuple[int, bool]]:
    return {number: (last, done) for number, last, done in AwardBatchLane.objects.filter(
        batch=batch).values_list("number", "last_application_id", "done")}


def test_two_workers_run_the_lanes_side_by_side_and_a_killed_one_loses_nothing(
        catalogue, shared_redis, queue, workers):
    call = open_call("demo-project", funding_year=2026)
    ids = undecided(call, APPLICATIONS)
    try:
        with tasks_sent_to(shared_redis, queue):
            first = workers.start(broker_url=shared_redis, queue=queue)
            workers.start(broker_url=shared_redis, queue=queue)
            batch = batches.award_batch_start(by=staff_user(), call=call, chunk_size=CHUNK)
            start = lanes(batch)
            assert len(start) == 2 and not any(done for _last, done in start.values())

            # Both lanes move at once, each on a worker of its own.
            workers.wait_for(lambda: all(lanes(batch)[n][0] > start[n][0] + 4 * CHUNK
                                         for n in start),
                             what="both lanes to move", timeout=120)
            os.kill(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
            at_kill = AwardBatch.objects.get(pk=batch.pk)
            assert at_kill.state == BatchState.RUNNING
            assert at_kill.processed < APPLICATIONS

            # As `manage.py award_batch <call> --resume` does, beside the surviving worker: each
            # chunk locks its lane, so the two never run a chunk of one lane at once.
            done = batches.award_batch_run(batch_id=batch.pk)
            workers.wait_for(lambda: all(done for _last, done in lanes(batch).values()),
                             what="both lanes to end", timeout=120)
    finally:
        remove_queue(shared_redis, queue)

    done.refresh_from_db()
    assert (done.state, done.total, done.processed, done.changed) == (
        BatchState.DONE, APPLICATIONS, APPLICATIONS, APPLICATIONS)
    stored = dict(ProvisionalAmount.objects.filter(application__call=call)
                  .values_list("application_id", "amount"))
    assert sorted(stored) == sorted(ids)
    for application in Application.objects.filter(pk__in=ids[::97]):
        assert stored[application.pk] == batches.provisional_compute(application).amount

    again = batches.award_batch_create(call=call, chunk_size=CHUNK)
    assert batches.award_batch_run(batch_id=again.pk).changed == 0


def test_lanes_whose_tasks_never_reached_the_broker_are_handed_on_by_the_beat_scan(
        catalogue, shared_redis, queue, workers):
    call = open_call("demo-project", funding_year=2026)
    ids = undecided(call, 600)
    try:
        with tasks_sent_to(shared_redis, queue):
            workers.start(broker_url=shared_redis, queue=queue)
            workers.start(broker_url=shared_redis, queue=queue)
            # As when the broker was down as staff started it: no task was sent.
            batch = batches.award_batch_start(by=staff_user(), call=call, chunk_size=CHUNK,
                                              enqueue=False)
            assert batches.award_batch_resume_stalled() == 0  # not stalled yet: just made
            later = timezone.now() + batches.STALLED_AFTER + timedelta(seconds=1)

            assert batches.award_batch_resume_stalled(now=later) == 2
            workers.wait_for(lambda: all(done for _last, done in lanes(batch).values()),
                             what="both lanes to end", timeout=120)
    finally:
        remove_queue(shared_redis, queue)

    done = AwardBatch.objects.get(pk=batch.pk)
    assert (done.state, done.total, done.processed, done.changed) == (
        BatchState.DONE, 600, 600, 600)
    assert sorted(ProvisionalAmount.objects.filter(application__call=call)
                  .values_list("application_id", flat=True)) == sorted(ids)
