"""Award batches: the provisional amount of every undecided application of a call, recomputed in
chunks, idempotent and resumable, from the API, the back office and a management command."""

import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from applications.models import Application, Status
from measures.engine import compute_award
from measures.inputs import parse_inputs
from measures.services import RULE_KEYS, measure_version_create
from qianhai_grants.errors import DomainError
from qianhai_grants.roles import MANAGEMENT
from reviews import tasks
from reviews.models import AuditEntry, AwardBatch, BatchState, ProvisionalAmount, SubjectLedger
from reviews.services import batches
from tests.factories import (
    DEMO_PROJECT_INPUTS,
    CompanyFactory,
    UserFactory,
    application_in,
    company_user,
    open_call,
    reviewer_user,
)
from tests.reviews.test_decisions import PLATFORM

UNDECIDED = (Status.ACCEPTED, Status.IN_REVIEW, Status.REVIEWED, Status.RESERVE)
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def demo(call, investment: str, status=Status.REVIEWED) -> Application:
    return application_in(status, call=call,
                          inputs={**DEMO_PROJECT_INPUTS, "actual_investment": investment})


def undecided_apps(call, n=5) -> list[Application]:
    """n undecided applications of the call investing 5, 10, 15, ... million yuan."""
    return [demo(call, f"{(i + 1) * 5_000_000}.00", UNDECIDED[i % len(UNDECIDED)])
            for i in range(n)]


def run(call, staff, chunk_size=500) -> AwardBatch:
    batch = batches.award_batch_start(by=staff, call=call, chunk_size=chunk_size, enqueue=False)
    return batches.award_batch_run(batch_id=batch.pk)


def stored(call) -> dict:
    """What the batches left, per application: everything a recomputation may change."""
    return {p.application_id: (p.measure_version_id, p.eligible, p.amount, p.capped_by,
                               p.reasons, p.trace, p.batch_id, p.computed_at)
            for p in ProvisionalAmount.objects.filter(application__call=call)}


def writes_to_amounts(queries) -> list[str]:
    return [q["sql"] for q in queries
            if re.match(r"\s*(INSERT|UPDATE|DELETE)", q["sql"], re.IGNORECASE)
            and "reviews_provisionalamount" in q["sql"]]


def amounts(call) -> dict[int, Decimal]:
    return dict(ProvisionalAmount.objects.filter(application__call=call)
                .values_list("application_id", "amount"))


def new_version(measure, by, **changes):
    current = measure.versions.order_by("-number").first()
    rules = {key: getattr(current, key) for key in RULE_KEYS} | changes
    return measure_version_create(measure=measure, rules=rules, by=by, reason="政策调整")


# ---------------------------------------------------------------- computing

def test_a_batch_gives_every_undecided_application_the_engines_amount_and_trace(demo_call,
                                                                                staff):
    apps = undecided_apps(demo_call)
    decided = [demo(demo_call, "9000000.00", status) for status in (
        Status.SUBMITTED, Status.PROPOSED, Status.DECLINED, Status.AWARDED)]

    batch = run(demo_call, staff)

    assert (batch.state, batch.total, batch.processed, batch.changed, batch.percent) == (
        BatchState.DONE, 5, 5, 5, 100)
    assert amounts(demo_call) == {
        apps[0].pk: Decimal("500000.00"), apps[1].pk: Decimal("1000000.00"),
        apps[2].pk: Decimal("1500000.00"),
        apps[3].pk: Decimal("2000000.00"),
        apps[4].pk: Decimal("2000000.00")}  # 10% of 25,000,000, at most 2,000,000 (3.2)
    assert not ProvisionalAmount.objects.filter(application__in=decided).exists()
    version = demo_call.measure.versions.get()
    for application in apps:
        provisional = ProvisionalAmount.objects.get(application=application)
        expected = compute_award(version.rules(),
                                 parse_inputs(version.fields, application.inputs).values)
        assert provisional.amount == expected.amount
        assert provisional.trace == [step.as_dict() for step in expected.trace]
        assert provisional.trace[0]["step"] == "percent" and provisional.trace[-1]["step"] == \
            "round"
        assert (provisional.measure_version, provisional.batch) == (version, batch)
        assert batches.provisional_compute(application).amount == provisional.amount
    capped = ProvisionalAmount.objects.get(application=apps[3])
    assert (capped.capped_by, capped.eligible, capped.reasons) == ("", True, [])  # at the cap
    assert ProvisionalAmount.objects.get(application=apps[4]).capped_by == "cap"


def test_an_application_without_its_investment_is_provisionally_ineligible(demo_call, staff):
    incomplete = application_in(Status.REVIEWED, call=demo_call, inputs={
        key: value for key, value in DEMO_PROJECT_INPUTS.items() if key != "actual_investment"})

    run(demo_call, staff)

    provisional = ProvisionalAmount.objects.get(application=incomplete)
    assert (provisional.eligible, provisional.amount, provisional.reasons) == (
        False, Decimal("0.00"), ["missing_input"])


def test_a_platform_is_bounded_by_what_its_ledger_already_holds(catalogue, staff):
    company = CompanyFactory()
    call = open_call("compute-platform", funding_year=2026)
    application = application_in(Status.REVIEWED, call=call, company=company, inputs=PLATFORM)
    SubjectLedger.objects.create(measure=call.measure, company=company,
                                 subject_key=application.subject_key,
                                 committed=Decimal("17000000.00"), awards=1)

    run(call, staff)

    provisional = ProvisionalAmount.objects.get(application=application)
    # 5% x 120,000,000 = 6,000,000, but only 3,000,000 of the 20,000,000 is left (3.1).
    assert (provisional.amount, provisional.capped_by) == (Decimal("3000000.00"),
                                                           "cumulative_cap")


def test_without_a_ledger_row_the_awards_made_count(catalogue, staff):
    company = CompanyFactory()
    earlier = application_in(Status.AWARDED, call=open_call("compute-platform", funding_year=2025),
                             company=company, inputs=PLATFORM)
    Application.objects.filter(pk=earlier.pk).update(amount=Decimal("19000000.00"))
    call = open_call("compute-platform", funding_year=2026)
    application = application_in(Status.REVIEWED, call=call, company=company, inputs=PLATFORM)

    run(call, staff)

    assert ProvisionalAmount.objects.get(application=application).amount == Decimal(
        "1000000.00")


def test_awards_made_bound_only_their_own_companys_platform_in_a_fixed_number_of_queries(
        catalogue, staff):
    """Platforms without a ledger row: what each company's platform received is read for the
    whole chunk at once, and another company's platform of the same name does not count."""
    call = open_call("compute-platform", funding_year=2026)
    earlier_call = open_call("compute-platform", funding_year=2025)

    def platforms(n, *, earlier_award):
        apps = []
        for _ in range(n):
            company = CompanyFactory()
            if earlier_award:
                earlier = application_in(Status.AWARDED, call=earlier_call, company=company,
                                         inputs=PLATFORM)
                Application.objects.filter(pk=earlier.pk).update(
                    amount=Decimal("19000000.00"))
            apps.append(application_in(Status.REVIEWED, call=call, company=company,
                                       inputs=PLATFORM))
        return apps

    def chunk_queries() -> int:
        batch = batches.award_batch_start(by=staff, call=call, chunk_size=100, enqueue=False)
        with CaptureQueriesContext(connection) as queries:
            batches.award_batch_run_chunk(batch_id=batch.pk)
        return len(queries.captured_queries)

    bounded = platforms(1, earlier_award=True)
    one = chunk_queries()
    bounded += platforms(3, earlier_award=True)
    free = platforms(3, earlier_award=False)  # the same platform name, other companies
    assert chunk_queries() == one

    got = amounts(call)
    # 5% x 120,000,000 = 6,000,000; 1,000,000 left of 20,000,000 after 19,000,000 (3.1).
    assert {got[a.pk] for a in bounded} == {Decimal("1000000.00")}
    assert {got[a.pk] for a in free} == {Decimal("6000000.00")}


# ---------------------------------------------------------------- idempotent, resumable

def test_a_batch_run_twice_gives_identical_amounts_and_writes_nothing_the_second_time(
        demo_call, staff):
    undecided_apps(demo_call, n=7)
    run(demo_call, staff, chunk_size=3)
    first = stored(demo_call)

    with CaptureQueriesContext(connection) as queries:
        second = run(demo_call, staff, chunk_size=3)

    assert writes_to_amounts(queries.captured_queries) == []
    assert stored(demo_call) == first  # same amounts, traces, batch and time of computation
    assert (second.state, second.processed, second.changed) == (BatchState.DONE, 7, 0)


def test_a_batch_resumes_after_a_crash_in_the_middle_of_a_chunk(demo_call, staff, monkeypatch):
    apps = undecided_apps(demo_call, n=7)
    batch = batches.award_batch_start(by=staff, call=demo_call, chunk_size=3, enqueue=False)
    # Two lanes (the default): the first 3 applications, then the other 4.
    assert list(batch.lanes.values_list("last_application_id", "upto_id")) == [
        (0, apps[2].pk), (apps[2].pk, None)]
    assert batches.award_batch_run_chunk(batch_id=batch.pk, lane=1) is True
    real_write = batches._write

    def lost_connection(*args, **kwargs):
        real_write(*args, **kwargs)  # the rows are written, then the worker dies uncommitted
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(batches, "_write", lost_connection)
    with pytest.raises(OperationalError):
        batches.award_batch_run_chunk(batch_id=batch.pk, lane=1)
    batch.refresh_from_db()
    assert (batch.state, batch.processed) == (BatchState.RUNNING, 3)
    assert list(batch.lanes.values_list("last_application_id", "done")) == [
        (0, False), (apps[5].pk, False)]
    assert set(amounts(demo_call)) == {a.pk for a in apps[3:6]}  # the chunk rolled back whole

    monkeypatch.setattr(batches, "_write", real_write)
    resumed = batches.award_batch_run(batch_id=batch.pk)

    assert (resumed.state, resumed.total, resumed.processed, resumed.changed) == (
        BatchState.DONE, 7, 7, 7)
    assert list(resumed.lanes.values_list("last_application_id", "done")) == [
        (apps[2].pk, True), (apps[6].pk, True)]
    assert run(demo_call, staff).changed == 0  # a full run finds nothing to change
    assert amounts(demo_call) == {a.pk: batches.provisional_compute(a).amount for a in apps}


def test_lanes_split_the_applications_without_overlap_and_the_batch_ends_with_the_last(
        demo_call, staff):
    apps = undecided_apps(demo_call, n=10)
    batch = batches.award_batch_create(call=demo_call, chunk_size=2, lanes=3)
    lanes = list(batch.lanes.values_list("number", "last_application_id", "upto_id"))
    assert lanes == [(0, 0, apps[2].pk), (1, apps[2].pk, apps[5].pk), (2, apps[5].pk, None)]

    # The lanes run in any order; each finishes on its own, the batch with the last of them.
    while batches.award_batch_run_chunk(batch_id=batch.pk, lane=2):
        pass
    batch.refresh_from_db()
    assert (batch.state, batch.processed) == (BatchState.RUNNING, 4)
    assert set(amounts(demo_call)) == {a.pk for a in apps[6:]}
    while batches.award_batch_run_chunk(batch_id=batch.pk, lane=0):
        pass
    assert batches.award_batch_run_chunk(batch_id=batch.pk, lane=1) is True
    assert AwardBatch.objects.get(pk=batch.pk).state == BatchState.RUNNING
    assert batches.award_batch_run_chunk(batch_id=batch.pk, lane=1) is False
    batch.refresh_from_db()

    assert (batch.state, batch.total, batch.processed, batch.changed) == (
        BatchState.DONE, 10, 10, 10)
    assert amounts(demo_call) == {a.pk: batches.provisional_compute(a).amount for a in apps}
    assert batches.award_batch_run_chunk(batch_id=batch.pk, lane=1) is False  # done: no-op
    assert batches.award_batch_run_chunk(batch_id=batch.pk, lane=7) is False  # no such lane
    done = AuditEntry.objects.filter(action="award_batch_done", call=demo_call)
    assert [entry.data for entry in done] == [
        {"batch": batch.pk, "processed": 10, "changed": 10}]


def test_a_small_call_gets_no_more_lanes_than_chunks(demo_call, staff):
    apps = undecided_apps(demo_call, n=3)
    assert batches.award_batch_create(call=demo_call, lanes=4).lanes.count() == 1
    AwardBatch.objects.all().delete()
    assert list(batches.award_batch_create(call=demo_call, chunk_size=1, lanes=4).lanes
                .values_list("last_application_id", "upto_id")) == [
        (0, apps[0].pk), (apps[0].pk, apps[1].pk), (apps[1].pk, None)]
    AwardBatch.objects.all().delete()
    empty = batches.award_batch_create(call=open_call("demo-project", funding_year=2031))
    assert list(empty.lanes.values_list("last_application_id", "upto_id")) == [(0, None)]
    assert batches.award_batch_run(batch_id=empty.pk).state == BatchState.DONE


def test_applications_decided_while_lanes_are_drawn_make_fewer_lanes_not_an_error(demo_call):
    apps = undecided_apps(demo_call, n=4)
    # Counted 12, but 8 were decided before the bounds were read: the list is shorter.
    assert batches._lane_bounds(demo_call.pk, 12, 2, 3) == [apps[3].pk, None]
    assert batches._lane_bounds(demo_call.pk, 4, 2, 3) == [apps[1].pk, None]  # 2 chunks


def test_applications_accepted_while_a_batch_runs_fall_in_its_last_lane(demo_call, staff):
    apps = undecided_apps(demo_call, n=4)
    batch = batches.award_batch_create(call=demo_call, chunk_size=2, lanes=2)
    late = demo(demo_call, "3000000.00", Status.ACCEPTED)

    done = batches.award_batch_run(batch_id=batch.pk)

    assert (done.state, done.total, done.processed) == (BatchState.DONE, 5, 5)
    assert set(amounts(demo_call)) == {a.pk for a in [*apps, late]}


@pytest.mark.parametrize("lanes", [0, 33, True, "2"])
def test_a_number_of_lanes_out_of_range_is_refused(demo_call, lanes):
    with pytest.raises(DomainError) as caught:
        batches.award_batch_create(call=demo_call, lanes=lanes)
    assert caught.value.status == 400 and "lanes" in caught.value.fields
    assert not AwardBatch.objects.exists()


def test_the_task_runs_one_chunk_and_queues_the_next(demo_call, staff, monkeypatch,
                                                    django_capture_on_commit_callbacks):
    apps = undecided_apps(demo_call, n=9)
    queued = []
    monkeypatch.setattr(tasks.run_award_batch, "delay", lambda *args: queued.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        batch = batches.award_batch_start(by=staff, call=demo_call, chunk_size=2)
    assert queued == [(batch.pk, 0), (batch.pk, 1)]  # a task per lane, side by side

    queued.clear()
    tasks.run_award_batch(batch.pk, 1)
    assert queued == [(batch.pk, 1)]  # the lane's next chunk
    assert AwardBatch.objects.get(pk=batch.pk).processed == 2
    queued.append((batch.pk, 0))
    while queued:  # workers take the queued messages in turn
        tasks.run_award_batch(*queued.pop())

    batch.refresh_from_db()
    assert (batch.state, batch.processed) == (BatchState.DONE, 9)
    assert list(batch.lanes.values_list("last_application_id", "done")) == [
        (apps[3].pk, True), (apps[8].pk, True)]
    assert len(amounts(demo_call)) == 9


def test_the_beat_scan_hands_on_again_the_lanes_that_lost_their_task(
        demo_call, staff, monkeypatch, django_capture_on_commit_callbacks):
    apps = undecided_apps(demo_call, n=6)
    # Started while the broker was down (no task reached it); lane 0 ran one chunk, then the
    # worker running it was killed.
    batch = batches.award_batch_start(by=staff, call=demo_call, chunk_size=2, enqueue=False)
    assert batches.award_batch_run_chunk(batch_id=batch.pk, lane=0) is True
    failed = batches.award_batch_create(call=open_call("demo-project", funding_year=2031))
    batches.award_batch_fail(batch_id=failed.pk, error="broken")
    queued = []
    monkeypatch.setattr(tasks.run_award_batch, "delay", lambda *args: queued.append(args))

    def scan(now):
        with django_capture_on_commit_callbacks(execute=True):
            return batches.award_batch_resume_stalled(now=now)

    now = timezone.now()
    assert scan(now) == 0  # nothing has stalled yet
    later = now + batches.STALLED_AFTER + timedelta(seconds=1)
    assert scan(later) == 2
    assert sorted(queued) == [(batch.pk, 0), (batch.pk, 1)]  # not the failed batch's lane
    assert scan(later + timedelta(seconds=30)) == 0  # touched: left alone for a while

    while queued:  # a worker takes the messages handed on, each queueing its lane's next chunk
        tasks.run_award_batch(*queued.pop())

    batch.refresh_from_db()
    assert (batch.state, batch.total, batch.processed, batch.changed) == (
        BatchState.DONE, 6, 6, 6)
    assert amounts(demo_call) == {a.pk: batches.provisional_compute(a).amount for a in apps}
    assert scan(later + 3 * batches.STALLED_AFTER) == 0  # done lanes are never handed on
    assert queued == []


def test_the_beat_schedule_runs_the_stalled_batch_scan(settings):
    entries = {entry["task"]: entry for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    scan = entries["reviews.tasks.resume_stalled_award_batches"]
    # Often enough that a lost lane waits minutes, not the broker's hour; never piled up.
    assert scan["schedule"] < batches.STALLED_AFTER.total_seconds()
    assert scan["options"]["expires"] < scan["schedule"]
    assert tasks.resume_stalled_award_batches.name == "reviews.tasks.resume_stalled_award_batches"


def test_the_task_retries_a_lost_database_then_marks_the_batch_failed(demo_call, staff,
                                                                     monkeypatch):
    batch = batches.award_batch_start(by=staff, call=demo_call, enqueue=False)

    def database_down(*, batch_id, lane):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(tasks, "award_batch_run_chunk", database_down)
    last = tasks.run_award_batch.max_retries

    retried = []

    def retry(*, exc, countdown):
        retried.append(countdown)
        return RuntimeError("retry queued")

    monkeypatch.setattr(tasks.run_award_batch, "retry", retry)
    with pytest.raises(RuntimeError, match="retry queued"):
        tasks.run_award_batch(batch.pk)
    assert retried == [1]  # then 2, 4, 8, 16 seconds
    assert AwardBatch.objects.get(pk=batch.pk).state == BatchState.PENDING  # still to do
    final = tasks.run_award_batch.apply(args=[batch.pk], retries=last, throw=False)

    assert final.state == "FAILURE" and isinstance(final.result, OperationalError)
    batch.refresh_from_db()
    assert batch.state == BatchState.FAILED and "could not connect" in batch.error


def test_started_from_the_service_the_batch_runs_in_the_background_after_commit(
        demo_call, staff, django_capture_on_commit_callbacks):
    undecided_apps(demo_call, n=3)

    with django_capture_on_commit_callbacks(execute=True):
        batch = batches.award_batch_start(by=staff, call=demo_call, chunk_size=1)

    batch.refresh_from_db()
    assert (batch.state, batch.processed) == (BatchState.DONE, 3)
    assert len(amounts(demo_call)) == 3


def test_a_failing_batch_is_marked_failed_and_another_may_start(demo_call, staff, monkeypatch):
    undecided_apps(demo_call, n=2)
    batch = batches.award_batch_start(by=staff, call=demo_call, enqueue=False)

    def broken(*args, **kwargs):
        raise ValueError("rules out of order")

    monkeypatch.setattr(batches, "compute_award", broken)
    with pytest.raises(ValueError):
        batches.award_batch_run(batch_id=batch.pk)

    batch.refresh_from_db()
    assert batch.state == BatchState.FAILED and "rules out of order" in batch.error
    monkeypatch.undo()
    assert run(demo_call, staff).changed == 2


def test_only_one_batch_of_a_call_runs_at_a_time(demo_call, staff):
    batches.award_batch_start(by=staff, call=demo_call, enqueue=False)

    with pytest.raises(DomainError) as caught:
        batches.award_batch_start(by=staff, call=demo_call, enqueue=False)

    assert (caught.value.status, caught.value.code) == (409, "batch_running")
    assert AwardBatch.objects.count() == 1


def test_only_staff_start_a_batch(demo_call):
    manager = UserFactory(roles=[MANAGEMENT])
    with pytest.raises(DomainError) as caught:
        batches.award_batch_start(by=manager, call=demo_call)
    assert caught.value.status == 403
    assert not AwardBatch.objects.exists()


@pytest.mark.parametrize("size", [0, -1, 10_001, "5", True])
def test_a_chunk_size_out_of_range_is_refused(demo_call, staff, size):
    with pytest.raises(DomainError) as caught:
        batches.award_batch_start(by=staff, call=demo_call, chunk_size=size)
    assert (caught.value.status, list(caught.value.fields)) == (400, ["chunk_size"])


# ---------------------------------------------------------------- catalogue edits

def test_after_a_catalogue_edit_the_batch_applies_the_new_rate_and_records_the_version(
        demo_call, staff):
    apps = undecided_apps(demo_call, n=3)
    run(demo_call, staff)
    edited = new_version(demo_call.measure, staff, rate=Decimal("0.05"))

    batch = run(demo_call, staff)

    assert batch.changed == 3
    assert amounts(demo_call) == {apps[0].pk: Decimal("250000.00"),
                                  apps[1].pk: Decimal("500000.00"),
                                  apps[2].pk: Decimal("750000.00")}
    assert set(ProvisionalAmount.objects.values_list("measure_version", flat=True)) == {
        edited.pk}
    assert ProvisionalAmount.objects.get(application=apps[0]).trace[0]["rate"] == "0.050000"


def test_inputs_that_no_longer_parse_keep_the_version_they_were_submitted_with(demo_call,
                                                                               staff):
    application = demo(demo_call, "15000000.00")
    own = application.measure_version
    fields = [field if field["name"] != "scene" else {
        **field, "choices": [c for c in field["choices"] if c["value"] != "port"]}
        for field in own.fields]
    new_version(demo_call.measure, staff, rate=Decimal("0.05"), fields=fields)

    run(demo_call, staff)

    provisional = ProvisionalAmount.objects.get(application=application)
    assert (provisional.measure_version, provisional.amount) == (own, Decimal("1500000.00"))


# ---------------------------------------------------------------- the API

def test_staff_start_a_batch_and_follow_its_progress(demo_call, staff, client_for,
                                                     django_capture_on_commit_callbacks):
    undecided_apps(demo_call, n=3)
    client = client_for(staff)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/calls/{demo_call.pk}/award-batches/",
                               {"chunk_size": 2}, format="json")

    assert response.status_code == 202, response.content
    assert response.json()["total"] == 3 and response.json()["chunk_size"] == 2
    progress = client.get(f"/api/v1/award-batches/{response.json()['id']}/").json()
    assert {key: progress[key] for key in ("call", "state", "total", "processed", "changed",
                                           "percent")} == {
        "call": demo_call.pk, "state": "done", "total": 3, "processed": 3, "changed": 3,
        "percent": 100}


def test_without_a_chunk_size_a_batch_takes_the_default_everywhere(demo_call, staff,
                                                                    client_for):
    from reviews.models import AWARD_BATCH_CHUNK_SIZE

    assert AWARD_BATCH_CHUNK_SIZE == 2000
    assert batches.award_batch_create(call=demo_call).chunk_size == AWARD_BATCH_CHUNK_SIZE
    AwardBatch.objects.all().delete()
    response = client_for(staff).post(f"/api/v1/calls/{demo_call.pk}/award-batches/")
    assert response.json()["chunk_size"] == AWARD_BATCH_CHUNK_SIZE
    AwardBatch.objects.all().delete()
    call_command("award_batch", str(demo_call.pk), stdout=io.StringIO())
    assert AwardBatch.objects.get().chunk_size == AWARD_BATCH_CHUNK_SIZE


def test_the_api_refuses_a_second_batch_while_one_runs(demo_call, staff, client_for):
    client = client_for(staff)
    assert client.post(f"/api/v1/calls/{demo_call.pk}/award-batches/").status_code == 202

    response = client.post(f"/api/v1/calls/{demo_call.pk}/award-batches/")

    assert (response.status_code, response.json()["code"]) == (409, "batch_running")


def test_who_may_start_and_follow_a_batch_in_the_api(demo_call, staff, client_for, anon):
    batch = batches.award_batch_start(by=staff, call=demo_call, enqueue=False)
    start = f"/api/v1/calls/{demo_call.pk}/award-batches/"
    progress = f"/api/v1/award-batches/{batch.pk}/"
    manager = client_for(UserFactory(roles=[MANAGEMENT]))
    company = client_for(company_user())
    reviewer = client_for(reviewer_user())

    assert anon.post(start).status_code == 401
    assert anon.get(progress).status_code == 401
    assert manager.post(start).status_code == 403
    assert company.post(start).status_code == 403
    assert client_for(staff).post("/api/v1/calls/999999/award-batches/").status_code == 404
    assert client_for(staff).post(start, {"chunk_size": 0}, format="json").status_code == 400
    assert manager.get(progress).json()["state"] == "pending"
    assert company.get(progress).status_code == 404
    assert reviewer.get(progress).status_code == 404
    assert client_for(staff).get("/api/v1/award-batches/999999/").status_code == 404


# ---------------------------------------------------------------- the back office

def test_staff_start_a_batch_from_the_calls_page_and_see_its_progress(
        demo_call, staff, client, django_capture_on_commit_callbacks):
    undecided_apps(demo_call, n=2)
    client.force_login(staff)
    page = client.get(reverse("office-call", args=[demo_call.pk]), **EN).content.decode()
    assert "Not computed yet" in page and reverse("office-award-batch-start",
                                                  args=[demo_call.pk]) in page

    with django_capture_on_commit_callbacks(execute=True):  # the task runs after commit
        response = client.post(reverse("office-award-batch-start", args=[demo_call.pk]), **EN)

    assert response.status_code == 302
    page = client.get(response.url, **EN).content.decode()
    assert response.url.startswith(reverse("office-call", args=[demo_call.pk]))
    assert "Recomputing the provisional amounts of 2 applications." in page
    assert "2 of 2 applications" in page and "2 provisional amounts changed." in page
    assert 'hx-trigger="every 2s"' not in page  # done: nothing left to poll


def test_a_running_batch_is_polled_until_it_is_done(demo_call, staff, client):
    undecided_apps(demo_call, n=4)
    batch = batches.award_batch_start(by=staff, call=demo_call, chunk_size=1, enqueue=False)
    batches.award_batch_run_chunk(batch_id=batch.pk)
    manager = UserFactory(roles=[MANAGEMENT])
    client.force_login(manager)
    url = reverse("office-award-batch", args=[batch.pk])

    running = client.get(url, **EN).content.decode()
    assert 'hx-trigger="every 2s"' in running and f'hx-get="{url}"' in running
    assert "25%" in running and "1 of 4 applications" in running

    batches.award_batch_run(batch_id=batch.pk)
    done = client.get(url, **EN).content.decode()
    assert 'hx-trigger="every 2s"' not in done and "100%" in done


def test_who_may_start_and_see_a_batch_in_the_back_office(demo_call, staff, client):
    batch = batches.award_batch_start(by=staff, call=demo_call, enqueue=False)
    start = reverse("office-award-batch-start", args=[demo_call.pk])
    progress = reverse("office-award-batch", args=[batch.pk])

    assert client.post(start).status_code == 302  # to the login page
    assert AwardBatch.objects.count() == 1
    client.force_login(UserFactory(roles=[MANAGEMENT]))
    assert client.post(start).status_code == 403
    assert client.get(progress).status_code == 200
    client.force_login(company_user())
    assert client.get(progress).status_code == 403
    client.force_login(staff)
    assert client.get(start).status_code == 405
    assert client.get(reverse("office-award-batch", args=[999999])).status_code == 404
    assert client.post(reverse("office-award-batch-start", args=[999999])).status_code == 404
    response = client.post(start, follow=True, **EN)  # one is already pending
    assert "already running" in response.content.decode()
    assert AwardBatch.objects.count() == 1


# ---------------------------------------------------------------- the command

def test_the_command_runs_a_batch_with_a_progress_bar(demo_call, staff):
    undecided_apps(demo_call, n=5)
    out = io.StringIO()

    with translation.override("en"):
        call_command("award_batch", str(demo_call.pk), "--chunk-size", "2", stdout=out)

    text = out.getvalue()
    assert "\r[" + "." * 30 + "] 0/5" in text
    assert "\r[############" in text and "] 2/5" in text
    assert "\r[" + "#" * 30 + "] 5/5" in text
    assert "Done: 5 applications, 5 provisional amounts written, 0 unchanged." in text
    assert len(amounts(demo_call)) == 5
    assert AwardBatch.objects.get().requested_by is None


def test_the_command_resumes_a_stopped_batch(demo_call, staff):
    undecided_apps(demo_call, n=5)
    batch = batches.award_batch_start(by=staff, call=demo_call, chunk_size=2, enqueue=False)
    batches.award_batch_run_chunk(batch_id=batch.pk)

    with translation.override("en"), pytest.raises(CommandError, match="--resume"):
        call_command("award_batch", str(demo_call.pk), stdout=io.StringIO())
    out = io.StringIO()
    with translation.override("en"):
        call_command("award_batch", str(demo_call.pk), "--resume", stdout=out)

    assert "Done: 5 applications, 5 provisional amounts written" in out.getvalue()
    assert AwardBatch.objects.get().state == BatchState.DONE


def test_the_command_refuses_an_unknown_call(db):
    with translation.override("en"), pytest.raises(CommandError, match="No call #4242"):
        call_command("award_batch", "4242", stdout=io.StringIO())
