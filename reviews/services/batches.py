"""Award batches: recompute the provisional amount of every undecided application of a call,
after a catalogue edit or before a decision meeting (issue 5).

A batch is split, chunked, idempotent and resumable:
- its applications are split by id into lanes (`AwardBatchLane`, `settings.AWARD_BATCH_LANES` of
  them, fewer for a small call) that run side by side: one Celery task each, or one process each
  from the `award_batch` command, so a batch uses as many processor cores as there are lanes;
- each lane runs in chunks of `chunk_size` applications in id order, each in one transaction that
  locks the lane's row, so two workers handed the same lane (a redelivered task) take successive
  chunks and never the same one twice; the batch's row is locked only to add a chunk's counts,
  at its end, so lanes wait for each other only for that;
- a chunk costs a fixed number of queries, whatever its size: the lane row, locked, with the
  id of the version in force (one query), its applications with the amounts stored for them
  (one, one row more than the chunk telling whether more remain), the ledger rows and awards
  made of the platforms and models among them (one query each, only for measures with a
  cumulative cap or a once-only award), and at most two statements writing amounts (new ones
  by COPY on PostgreSQL, changed ones by an insert that updates on conflict); the engine runs
  in between, in memory, each catalogue version's rules and input schema prepared once for the
  whole batch (bench/bench_award_batch.py);
- a `ProvisionalAmount` is written only when something differs from what is stored (the amount,
  eligibility, what limited it, the reasons, the trace or the catalogue version), so a second run
  over unchanged data writes no row at all;
- a lane's `last_application_id` is where its next chunk starts: a worker killed mid-batch is
  replaced by the redelivered task (acks late), which goes on from there; the batch is done
  when its last lane is.

The provisional amount is the engine's (`measures.engine.compute_award`) under the measure's
current catalogue version when the application's inputs parse under it, else under the version the
application was submitted with. What the platform or model already holds comes from its
`SubjectLedger` row when there is one, else from the awards made (`awarded_to_date`). Decisions do
not read it: an approval computes the final amount afresh under the quota and ledger locks
(reviews/services/decisions.py).
"""

import json
import multiprocessing
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, nullcontext
from datetime import timedelta
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, connections, transaction
from django.db.models import F, FilteredRelation, OuterRef, Q, Sum
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from applications.models import Application, Call, Status
from measures.engine import AwardResult, AwardRules, compute_award
from measures.inputs import InputParser
from measures.models import MeasureVersion
from measures.selectors import version_current, version_current_id_subquery
from qianhai_grants.errors import DomainError
from qianhai_grants.money import ZERO
from reviews.models import (
    AWARD_BATCH_CHUNK_SIZE,
    AwardBatch,
    AwardBatchLane,
    BatchState,
    ProvisionalAmount,
    SubjectLedger,
)
from reviews.services._common import audit, invalid, require_staff

# Ranked or about to be decided, not yet decided: what a decision meeting will look at.
PROVISIONAL_STATUSES = (Status.ACCEPTED, Status.IN_REVIEW, Status.REVIEWED, Status.RESERVE)
MAX_CHUNK_SIZE = 10_000
MAX_LANES = 32
# The columns of a stored provisional amount that a recomputation may change.
COMPARED = ("measure_version_id", "eligible", "amount", "capped_by", "reasons", "trace")
# What a chunk's upsert sets on a row that exists (the fields behind COMPARED, and who wrote it).
UPSERT_FIELDS = ["measure_version", "eligible", "amount", "capped_by", "reasons", "trace",
                 "batch", "computed_at"]


def _undecided(call_id: int):
    return Application.objects.filter(call_id=call_id, status__in=PROVISIONAL_STATUSES)


# --- the computation ----------------------------------------------------------------------------

class _Version(NamedTuple):
    """A catalogue version prepared for computing many awards under it."""

    version: MeasureVersion
    rules: AwardRules
    parse: InputParser  # parse_inputs(version.fields, ...), the schema prepared once
    needs_history: bool  # a cumulative cap or a once-only award: what the subject holds counts


class _Catalogue:
    """The catalogue versions a batch needs, each read once and prepared once: the measure's
    current version, looked up again for every chunk (a catalogue edit applies from the next
    chunk on), and the versions applications were submitted with. Versions never change once
    written, so one catalogue serves every chunk a process runs."""

    def __init__(self, measure_id: int):
        self.measure_id = measure_id
        self.current: _Version | None = None
        self._versions: dict[int, _Version] = {}

    def set_current(self, current: int | MeasureVersion | None) -> None:
        """The version in force is `current`, or the version of that id (read with the batch's
        row: the version itself is read only the first time)."""
        if isinstance(current, MeasureVersion):
            self._add([current])
            current = current.pk
        self.current = None if current is None else self.version(current)

    def load(self, version_ids: Iterable[int]) -> None:
        missing = set(version_ids) - set(self._versions)
        if missing:
            self._add(MeasureVersion.objects.in_bulk(missing).values())

    def version(self, pk: int) -> _Version:
        if pk not in self._versions:
            self.load([pk])
        return self._versions[pk]

    def _add(self, versions: Iterable[MeasureVersion]) -> None:
        for version in versions:
            if version.pk not in self._versions:
                self._versions[version.pk] = _Version(
                    version, version.rules(), InputParser(version.fields),
                    version.cumulative_cap is not None or bool(version.once_per))


class _Row(NamedTuple):
    """What the computation reads of an application, and what a batch stored for it."""

    pk: int
    inputs: dict
    measure_version_id: int
    company_id: int
    subject_key: str
    stored: tuple | None = None  # the COMPARED values of its ProvisionalAmount, if any


ROW_FIELDS = ("pk", "inputs", "measure_version_id", "company_id", "subject_key")


def _rows(call_id: int, after: int, size: int, upto: int | None = None) -> list[_Row]:
    """The call's undecided applications after the id `after` (and up to `upto`, if given), in
    id order, `size` at most, each read with the amount stored for it (a LEFT JOIN, so one
    query for the chunk; its condition repeats the span of ids, so that the database reads the
    stored amounts from there on, whichever way it joins them)."""
    span, stored_span = Q(pk__gt=after), Q(provisional__application_id__gt=after)
    if upto is not None:
        span &= Q(pk__lte=upto)
        stored_span &= Q(provisional__application_id__lte=upto)
    stored = FilteredRelation("provisional", condition=stored_span)
    return [_Row(*values[:5], values[5:] if values[5] is not None else None)
            for values in _undecided(call_id).filter(span).annotate(stored=stored)
            .order_by("pk").values_list(*ROW_FIELDS, *(f"stored__{name}" for name in COMPARED))
            [:size]]


def _version_and_values(row: _Row, catalogue: _Catalogue) -> tuple[_Version, dict]:
    """The current version when the inputs parse under it (a catalogue edit applies to every
    undecided application), else the application's own version."""
    current = catalogue.current
    if current is not None:
        parsed = current.parse(row.inputs)
        if parsed.ok:
            return current, parsed.values
    own = catalogue.version(row.measure_version_id)
    return own, own.parse(row.inputs).values


def _held(rows: list[_Row], measure_id: int) -> dict[tuple[int, str], Decimal]:
    """What each platform or model of the rows holds under the measure: from the ledger rows
    there are (one query), and for subjects without one from the awards made (one grouped
    query; the sum `applications.selectors.awarded_to_date` takes for one company's subject)."""
    keyed = {(row.company_id, row.subject_key) for row in rows if row.subject_key}
    if not keyed:
        return {}
    held = {(company_id, key): committed for company_id, key, committed in
            SubjectLedger.objects.filter(
                measure_id=measure_id, company_id__in={c for c, _k in keyed},
                subject_key__in={k for _c, k in keyed},
            ).values_list("company_id", "subject_key", "committed")}
    missing = keyed - set(held)
    if missing:
        # The query may return pairs of one company's key and another's: only `missing` counts.
        awarded = {(company_id, key): total for company_id, key, total in
                   Application.objects.filter(
                       call__measure_id=measure_id, status=Status.AWARDED,
                       company_id__in={c for c, _k in missing},
                       subject_key__in={k for _c, k in missing},
                   ).values("company_id", "subject_key").order_by()
                   .annotate(total=Sum("amount")).values_list("company_id", "subject_key",
                                                              "total")}
        for pair in missing:
            held[pair] = awarded.get(pair) or ZERO
    return held


def _compute_rows(rows: list[_Row], catalogue: _Catalogue
                  ) -> Iterator[tuple[_Row, MeasureVersion, AwardResult]]:
    """Each row with the version it is computed under and the engine's result, computed as the
    iterator is consumed (after the versions are chosen and what the subjects hold is read:
    the queries come first), so that the chunk's rows go to the database as they are made."""
    catalogue.load({row.measure_version_id for row in rows})
    chosen = [(row, *_version_and_values(row, catalogue)) for row in rows]
    held = _held([row for row, version, _values in chosen if version.needs_history],
                 catalogue.measure_id)
    return ((row, version.version, compute_award(
        version.rules, values,
        awarded_to_date=held.get((row.company_id, row.subject_key), ZERO)
        if version.needs_history else ZERO))
        for row, version, values in chosen)


def provisional_compute(application: Application) -> AwardResult:
    """The provisional award of one application, as a batch computes it (reads the catalogue and
    the ledger; writes nothing)."""
    row = _Row(application.pk, application.inputs, application.measure_version_id,
               application.company_id, application.subject_key)
    catalogue = _Catalogue(application.call.measure_id)
    catalogue.set_current(version_current(measure=application.call.measure))
    return next(_compute_rows([row], catalogue))[2]


# --- starting a batch ---------------------------------------------------------------------------

def _chunk_size(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CHUNK_SIZE:
        raise invalid({"chunk_size": [_("Enter a whole number from 1 to %(max)d.") % {
            "max": MAX_CHUNK_SIZE}]})
    return value


def _lanes(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LANES:
        raise invalid({"lanes": [_("Enter a whole number from 1 to %(max)d.") % {
            "max": MAX_LANES}]})
    return value


def _lane_bounds(call_id: int, total: int, chunk_size: int, lanes: int) -> list[int | None]:
    """Where each lane ends (the id of its last application; None for the last lane): about as
    many applications in each, and no more lanes than chunks. Read in the creating transaction;
    applications accepted meanwhile still fall in some lane, and later ones in the last."""
    count = max(1, min(lanes, -(-total // chunk_size)))
    ids = _undecided(call_id).order_by("pk").values_list("pk", flat=True)
    bounds: list[int | None] = []
    for number in range(1, count):
        at = total * number // count
        # Sliced, not indexed: applications decided since the count may have shortened the
        # list (a lane fewer then, never an error).
        found = list(ids[at - 1:at])
        if found and (not bounds or found[0] > bounds[-1]):
            bounds.append(found[0])
    return [*bounds, None]


def _running() -> DomainError:
    return DomainError("batch_running", _(
        "A batch of this call is already running; wait for it to finish."), status=409)


def award_batch_create(*, call: Call, chunk_size: int = AWARD_BATCH_CHUNK_SIZE,
                       requested_by=None, lanes: int | None = None) -> AwardBatch:
    """A new batch over the call's undecided applications, not yet run, split into `lanes`
    (`settings.AWARD_BATCH_LANES` unless given; fewer when there are fewer chunks). For trusted
    callers (the `award_batch` management command, run by an operator); people go through
    `award_batch_start`. 409 `batch_running` while another batch of the call is unfinished."""
    chunk_size = _chunk_size(chunk_size)
    lanes = _lanes(settings.AWARD_BATCH_LANES if lanes is None else lanes)
    try:
        with transaction.atomic():
            batch = AwardBatch.objects.create(
                call=call, requested_by=requested_by, chunk_size=chunk_size,
                total=_undecided(call.pk).count())
            after = 0
            made = []
            for number, upto in enumerate(_lane_bounds(call.pk, batch.total, chunk_size, lanes)):
                made.append(AwardBatchLane(batch=batch, number=number,
                                           last_application_id=after, upto_id=upto))
                after = upto
            AwardBatchLane.objects.bulk_create(made)
            audit(action="award_batch_started", by=requested_by, call=call,
                  data={"batch": batch.pk, "total": batch.total, "lanes": len(made)})
    except IntegrityError:  # the unique constraint: one unfinished batch per call
        raise _running() from None
    return batch


def award_batch_start(*, by, call: Call, chunk_size: int = AWARD_BATCH_CHUNK_SIZE,
                      enqueue: bool = True) -> AwardBatch:
    """Staff start a batch; it runs in the background (the `run_award_batch` task, scheduled
    once the batch is committed). 403 for anyone but staff, 409 `batch_running`."""
    require_staff(by)
    with transaction.atomic():
        batch = award_batch_create(call=call, chunk_size=chunk_size, requested_by=by)
        if enqueue:
            from reviews.tasks import run_award_batch

            # A task per lane, side by side. Robust: a broker that is down does not fail the
            # request; the batch then waits as pending, and `manage.py award_batch <call>
            # --resume` runs it.
            for number in range(batch.lanes.count()):
                transaction.on_commit(
                    lambda number=number: run_award_batch.delay(batch.pk, number), robust=True)
    return batch


# --- running it ---------------------------------------------------------------------------------

def _write(batch_id: int, computed) -> int:
    """Store what changed of the chunk's `computed` amounts; return how many rows were written.

    Each amount is compared in memory with the one stored (read with its application), so
    rows that did not change are not written at all: a second run over unchanged data sends no
    write, and no row gets a new version (nor a new `batch` or `computed_at`). What is new goes
    in with one COPY on PostgreSQL (the fastest way in, about half the time of an INSERT built
    by the ORM for the same rows: bench/bench_award_batch.py), each row sent as soon as it is
    computed, so that the database stores the first rows while the next are computed; what
    changed (and, elsewhere, what is new) with one INSERT ... ON CONFLICT (application_id) DO
    UPDATE."""
    now = timezone.now()
    new, changed = [], []
    # Safe as a plain insert: the chunk holds its lane's row lock, lanes do not overlap and a
    # call has one active batch, so no one else writes these applications' amounts meanwhile.
    # Opened lazily: a
    # chunk with nothing new (a second run) sends no COPY.
    copy = _LazyCopy(batch_id=batch_id, now=now) if connection.vendor == "postgresql" else None
    with copy or nullcontext():
        for row, version, result in computed:
            fresh = (row.pk, version.pk, result.eligible, result.amount, result.capped_by or "",
                     list(result.reasons), [step.as_dict() for step in result.trace])
            if row.stored is None:
                if copy is None:
                    new.append(fresh)
                else:
                    copy.add(fresh)
            elif row.stored != fresh[1:]:
                changed.append(fresh)
    upsert = new + changed
    if upsert:
        ProvisionalAmount.objects.bulk_create(
            [ProvisionalAmount(application_id=pk, measure_version_id=version_id,
                               eligible=eligible, amount=amount, capped_by=capped_by,
                               reasons=reasons, trace=trace, batch_id=batch_id,
                               computed_at=now)
             for pk, version_id, eligible, amount, capped_by, reasons, trace in upsert],
            update_conflicts=True, unique_fields=["application"], update_fields=UPSERT_FIELDS)
    return len(upsert) + (copy.count if copy is not None else 0)


# `json.dumps` as the JSONFields encode, without looking for cycles (a trace has none).
_to_json = json.JSONEncoder(check_circular=False).encode


class _LazyCopy:
    """A COPY of new provisional amounts into their table (PostgreSQL), in the current
    transaction, begun with the first row `add`ed; ended (and its rows checked) on leaving the
    `with` block. JSON goes as text, encoded as the model's JSONFields encode it (plain
    `json.dumps`)."""

    def __init__(self, *, batch_id: int, now):
        self.batch_id, self.now = batch_id, now
        self.count = 0
        self._stack = ExitStack()
        self._write_row = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return self._stack.__exit__(*exc_info)

    def add(self, row: tuple) -> None:
        """One row: the application id and the COMPARED values."""
        if self._write_row is None:
            self._write_row = self._begin()
        pk, version_id, eligible, amount, capped_by, reasons, trace = row
        self._write_row((pk, version_id, eligible, amount, capped_by,
                         _to_json(reasons) if reasons else "[]", _to_json(trace),
                         self.batch_id, self.now))
        self.count += 1

    def _begin(self):
        meta = ProvisionalAmount._meta
        names = ("application", *(name.removesuffix("_id") for name in COMPARED), "batch",
                 "computed_at")
        quote = connection.ops.quote_name
        columns = ", ".join(quote(meta.get_field(name).column) for name in names)
        cursor = self._stack.enter_context(connection.cursor())
        copy = self._stack.enter_context(cursor.cursor.copy(
            f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN"))
        return copy.write_row


def award_batch_run_chunk(*, batch_id: int, lane: int = 0) -> bool:
    """Process the next chunk of the batch's lane `lane` (its undecided applications after the
    lane's `last_application_id`, in id order) in one transaction; return whether more remain
    in that lane.

    A finished batch, or a finished or unknown lane, is left alone (False). A failure other
    than a lost database connection marks the batch failed, with the error, and is raised
    again."""
    return _chunk(batch_id, lane, None)


def _chunk(batch_id: int, lane: int, catalogue: _Catalogue | None) -> bool:
    try:
        return _run_chunk(batch_id, lane, catalogue)
    except OperationalError:
        raise  # the database went away: the task retries the chunk, nothing of it was kept
    except Exception as exc:
        award_batch_fail(batch_id=batch_id, error=f"{type(exc).__name__}: {exc}")
        raise


def _run_chunk(batch_id: int, number: int, catalogue: _Catalogue | None) -> bool:
    with transaction.atomic():
        # Only the lane's row is locked; read with it, what the chunk needs of its batch and
        # the id of the measure's version in force.
        lane = (AwardBatchLane.objects.select_for_update(of=("self",)).annotate(
            state=F("batch__state"), call_id=F("batch__call_id"),
            chunk_size=F("batch__chunk_size"), measure_id=F("batch__call__measure_id"),
            current_version_id=version_current_id_subquery(measure_id=OuterRef("measure_id")),
        ).filter(batch_id=batch_id, number=number).first())
        if lane is None or lane.done or lane.state in (BatchState.DONE, BatchState.FAILED):
            return False
        if connection.vendor == "postgresql":
            # The new rows' foreign keys are checked as they are written, not at the commit,
            # which comes after the batch's row is locked (below): lanes wait for each other
            # only for the commit itself.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        size = lane.chunk_size
        # One row more than the chunk: whether more remain, without a query of its own.
        rows = _rows(lane.call_id, lane.last_application_id, size + 1, lane.upto_id)
        more = len(rows) > size
        del rows[size:]
        changed = 0
        if rows:
            if catalogue is None or catalogue.measure_id != lane.measure_id:
                catalogue = _Catalogue(lane.measure_id)
            catalogue.set_current(lane.current_version_id)
            changed = _write(batch_id, _compute_rows(rows, catalogue))
            lane.last_application_id = rows[-1].pk
        lane.done = not more
        lane.touched_at = timezone.now()
        lane.save(update_fields=["last_application_id", "done", "touched_at"])
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # Django's default again
        _count(batch_id, len(rows), changed, last=not more)
        return more


def _count(batch_id: int, processed: int, changed: int, *, last: bool) -> None:
    """Add a chunk's counts to its batch (locking the batch's row until the chunk commits), and
    when its lane was the last unfinished one, mark the batch done."""
    now = timezone.now()
    counted = AwardBatch.objects.filter(
        pk=batch_id, state__in=(BatchState.PENDING, BatchState.RUNNING)).update(
        state=BatchState.RUNNING, started_at=Coalesce(F("started_at"), now),
        processed=F("processed") + processed, changed=F("changed") + changed,
        # Applications accepted while the batch runs are counted when reached.
        total=Greatest(F("total"), F("processed") + processed))
    if not counted or not last:
        return  # failed meanwhile (by another lane): what this chunk wrote is right anyway
    # Each lane's last chunk held the batch's row until it committed, so its `done` is seen
    # here: only one lane's last chunk finds no other lane unfinished.
    if AwardBatchLane.objects.filter(batch_id=batch_id, done=False).exists():
        return
    batch = AwardBatch.objects.select_related("call", "requested_by").get(pk=batch_id)
    batch.state, batch.finished_at, batch.total = BatchState.DONE, now, batch.processed
    batch.save(update_fields=["state", "finished_at", "total"])
    audit(action="award_batch_done", by=batch.requested_by, call=batch.call,
          data={"batch": batch.pk, "processed": batch.processed, "changed": batch.changed})


def award_batch_run(*, batch_id: int, progress: Callable | None = None,
                    processes: int = 1) -> AwardBatch:
    """Run the batch's unfinished lanes until none remains and return the batch;
    `progress(batch)` is called as it goes.

    With `processes` above 1 (on PostgreSQL, whose committed rows other processes see), the
    lanes are shared among as many processes forked from this one, which reports their
    progress; else they run here one after the other, each catalogue version read once for all
    of them. Raises RuntimeError if a process stopped without finishing its lanes (the batch
    then resumes from where each lane got to)."""
    numbers = list(AwardBatchLane.objects.filter(batch_id=batch_id, done=False)
                   .values_list("number", flat=True))
    processes = min(processes, len(numbers))
    if processes > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block:
        return _run_forked(batch_id, numbers, processes, progress)
    catalogue = _Catalogue(AwardBatch.objects.values_list("call__measure_id", flat=True)
                           .get(pk=batch_id))
    for number in numbers:
        while True:
            more = _chunk(batch_id, number, catalogue)
            if progress is not None:
                progress(AwardBatch.objects.get(pk=batch_id))
            if not more:
                break
    return AwardBatch.objects.get(pk=batch_id)


def _run_lanes(batch_id: int, numbers: list[int]) -> None:
    """A forked process's work: its lanes, one after the other."""
    try:
        catalogue = _Catalogue(AwardBatch.objects.values_list("call__measure_id", flat=True)
                               .get(pk=batch_id))
        for number in numbers:
            while _chunk(batch_id, number, catalogue):
                pass
    finally:
        connections.close_all()


def _run_forked(batch_id: int, numbers: list[int], processes: int,
                progress: Callable | None) -> AwardBatch:
    # The children must not share this process's connections: closed here, each opens its own.
    connections.close_all()
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_run_lanes, args=(batch_id, numbers[i::processes]),
                               daemon=True) for i in range(processes)]
    for worker in workers:
        worker.start()
    shown = AwardBatch.objects.values_list("processed", flat=True).get(pk=batch_id)
    try:
        while any(worker.is_alive() for worker in workers):
            time.sleep(0.1)
            if progress is not None:
                batch = AwardBatch.objects.get(pk=batch_id)
                if batch.processed != shown:
                    shown = batch.processed
                    progress(batch)
    finally:
        for worker in workers:
            worker.join()
    batch = AwardBatch.objects.get(pk=batch_id)
    if progress is not None and batch.processed != shown:
        progress(batch)
    if batch.state == BatchState.FAILED:
        raise RuntimeError(batch.error)
    if batch.state != BatchState.DONE:
        stopped = [worker.exitcode for worker in workers if worker.exitcode]
        raise RuntimeError(_("A process of the batch stopped (exit code %(codes)s) before "
                             "its lanes were done.") % {
            "codes": ", ".join(str(code) for code in stopped) or "0"})
    return batch


# A lane unfinished and untouched for this long has lost its task: no chunk takes more than
# the task time limit (CELERY_TASK_TIME_LIMIT, 3 minutes), and each chunk touches its lane.
STALLED_AFTER = timedelta(minutes=5)


def award_batch_resume_stalled(*, now=None) -> int:
    """The beat scan: hand on again, as a new task each, the lanes of unfinished batches that
    have not moved for `STALLED_AFTER`: a worker killed mid-chunk (whose message Redis gives
    back only after its visibility timeout, an hour by default), or a batch whose tasks never
    reached the broker. Each lane handed on is touched, so the next scan leaves it alone for as
    long again; a lane whose old task comes back too runs no chunk twice (its row lock), and
    both tasks end with the lane. Returns how many lanes were handed on."""
    from reviews.tasks import run_award_batch

    now = now or timezone.now()
    with transaction.atomic():
        # A lane whose chunk is running right now is locked by it, and skipped.
        stalled = list(AwardBatchLane.objects.select_for_update(skip_locked=True, of=("self",))
                       .filter(done=False, touched_at__lt=now - STALLED_AFTER,
                               batch__state__in=(BatchState.PENDING, BatchState.RUNNING))
                       .values_list("pk", "batch_id", "number"))
        AwardBatchLane.objects.filter(pk__in=[pk for pk, _b, _n in stalled]).update(
            touched_at=now)
        for _pk, batch_id, number in stalled:
            transaction.on_commit(lambda batch_id=batch_id, number=number:
                                  run_award_batch.delay(batch_id, number), robust=True)
    return len(stalled)


def award_batch_fail(*, batch_id: int, error: str) -> None:
    """Mark an unfinished batch failed, so another may start (what it wrote stays: a new batch
    recomputes and writes only what differs)."""
    with transaction.atomic():
        AwardBatch.objects.filter(pk=batch_id, state__in=(BatchState.PENDING,
                                                          BatchState.RUNNING)).update(
            state=BatchState.FAILED, finished_at=timezone.now(), error=error[:2000])


def award_batch_active(*, call: Call) -> AwardBatch | None:
    """The call's unfinished batch, if any (to resume one whose process was stopped)."""
    return AwardBatch.objects.filter(
        call=call, state__in=(BatchState.PENDING, BatchState.RUNNING)).first()


__all__ = ["PROVISIONAL_STATUSES", "award_batch_active", "award_batch_create",
           "award_batch_fail", "award_batch_resume_stalled", "award_batch_run",
           "award_batch_run_chunk", "award_batch_start", "provisional_compute"]
