"""Every write of the notice outbox: writing notices with the event, delivering them, retries.

Telling people about an event (for the code that makes the event happen)
-------------------------------------------------------------------------
Call one of these INSIDE the transaction that makes the change, after the change is written:

    with transaction.atomic():
        application = application_transition(..., to=Status.PROPOSED, ...)
        notify_status_change(event=Event.PROPOSED, application=application, amount=award.amount)

The notice rows then commit or roll back with the change (a transactional outbox), and the
email is handed to Celery only after the commit. Calling twice writes nothing new: each notice
has a unique key f"{event}:{subject_key}:{recipient_id}:{channel}".

- `notify(*, event, recipients, subject_key, context, url="")`: the general form.
- `notify_application(*, event, application, discriminator, recipients=None, url=None, **extra)`:
  about one application; by default to every member of its company, linked to its page.
- `notify_status_change(*, event, application, recipients=None, url=None, **extra)`: right
  after `application_transition`: keyed on the StatusEvent just written, with its reason.
- `PreparedNotice(event=, recipients=, context=, url=)`, then `.render()` (optional) and
  `.write(subject_key=...)`: `notify` in two steps, the recipients read and the text rendered
  before the subject key is known (or before a lock is taken), the rows written after.

Events, who hears them and what their templates (templates/notices/<event>.txt) use; every
application notice also shows #id, measure, company and status:

    submission_received   company  notify_status_change   revision, submitted_at
    returned_for_changes  company  notify_status_change   reason (from the status event)
    accepted / rejected   company  notify_status_change   reason
    proposed              company  notify_status_change   amount
    reserve / declined    company  notify_status_change   reason
    review_assigned       [review.reviewer]  notify_application(discriminator=f"review-{id}",
                          recipients=[reviewer], url=reverse("office-review", args=[id]),
                          due_at=review.due_at)
    review_overdue        the reviewer: sent by the beat scan `review_overdue_remind`
    publicity_opened      company  notify_application(discriminator=f"publicity-{id}",
                          amount=, starts_on=, ends_on=)
    objection_received    staff_people()  notify_application(discriminator=f"objection-{id}",
                          recipients=staff_people(), url=<office page>, objector=organization)
    objection_resolved    company  notify_application(discriminator=f"objection-{id}",
                          upheld=bool, note=)
    awarded               company  notify_status_change   amount
    payment_made          company  notify_application(discriminator=f"payment-{id}",
                          amount=, paid_on=, reference=, paid_total=, award_amount=)
    call_closing_soon     company  sent by the beat scan `call_closing_remind`

Context values are ids and plain values: Decimal amounts become strings, dates and datetimes ISO
strings; names ending in `_at` are shown as local date and time, `_on` as dates.

Delivery
--------
In chunks, each notice on its own. The email notices a transaction wrote are handed to Celery
after its commit, DELIVERY_CHUNK to a task. A task claims CLAIM_CHUNK of its notices at a time
with one conditional UPDATE (pending → sending, only rows in no other state), so two workers
never send one notice, reads the claimed rows with their recipients in one query, and sends them
one by one through one mail connection, marking each `sent` right after its mail left (its own
statement and commit; a statement prepared once per database connection on PostgreSQL).
At-least-once made effectively-once, as with one notice per claim: a worker that dies between a
mail leaving and its row saying `sent` leaves that notice, and the rest of its claim not yet
sent, `sending` (the task's notices it had not claimed yet stay pending); after CLAIM_TIMEOUT
the scan puts them back to pending and sends them again with the rest, so at most the one
notice in flight goes out twice, with the same Message-ID (derived from the key), which mail
systems downstream recognise. The scan enqueues such notices one per task: a notice that kills
its worker can then only take itself down again, never a chunk of others.

A notice that fails (refused address, mail server down, any error while sending it) only
records its own failure and the chunk goes on: it waits 2**attempts minutes (at most an hour)
and is picked up by the beat scan `notices_requeue_stuck`; after MAX_ATTEMPTS the notice is
`failed` and staff can retry it (`notice_retry`, the admin action, the API). A chunk that runs
longer than CHUNK_BUDGET (a slow mail server) gives its unsent notices back, unattempted, in a
task of their own, well before Celery's time limits stop it.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, partial

from django.core import mail
from django.core.mail import EmailMessage
from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField, ExpressionWrapper, F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from applications.models import Application, Call, Company, Status
from applications.selectors import is_staff_officer
from notices import selectors
from notices.events import Event
from notices.messages import absolute_url, message_id, notice_key, plain, render_message
from notices.models import Channel, Notice, State
from qianhai_grants.errors import DomainError

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
BACKOFF_CAP = timedelta(hours=1)
# A notice never tried yet is being delivered by its own on_commit hand-off; the scan leaves it
# alone this long before it assumes the hand-off was lost (broker down, process killed).
FIRST_DELIVERY_GRACE = timedelta(minutes=2)
# Longer than Celery's hard time limit (180 s): a claim this old belongs to a dead worker.
CLAIM_TIMEOUT = timedelta(minutes=10)
# After the scan enqueues a notice, it waits this long before enqueueing it again, so a queue
# that is slow to drain does not fill with copies.
REQUEUE_LEASE = timedelta(minutes=5)
SCAN_LIMIT = 2000
SCAN_LEASE_BATCH = 500  # ids per UPDATE that leases the scan's notices
# Notices per delivery task (a transaction's hand-off, the scan): each task costs the broker
# and the worker a few milliseconds of their own, as much as several notices
# (bench/bench_notices.py).
DELIVERY_CHUNK = 100
# Notices a task claims at once. One claim and one read serve them all, so the per-notice cost
# is the send and its own `sent` mark; more per claim gains little and leaves more notices
# waiting for the claim timeout when a worker dies.
CLAIM_CHUNK = 25
# A chunk stops taking up new notices after this long and hands the rest back (a slow mail
# server): well inside Celery's soft time limit (120 s), and the claim timeout.
CHUNK_BUDGET = timedelta(seconds=60)
CLOSING_SOON = timedelta(days=3)
WORKER_LOST = "The worker stopped while sending this notice (its claim timed out)."

SCREENING_EVENTS = {Status.ACCEPTED: Event.ACCEPTED, Status.RETURNED: Event.RETURNED_FOR_CHANGES,
                    Status.REJECTED: Event.REJECTED}


# ---------------------------------------------------------------- writing notices

def notify(*, event: str, recipients, subject_key: str, context: dict, url: str = ""
           ) -> list[Notice]:
    """Write an email and an in-app notice for each recipient, in the caller's transaction.

    `subject_key` names what the event is about, with a discriminator when the same event can
    happen twice to it (e.g. "application-12:e345"). Inactive users are skipped; a user with no
    email address gets the in-app notice only. Returns the notices of these keys, whether
    written now or before. The emails are handed to Celery after the commit; a broker that is
    down only logs a warning (the beat scan sends them later) and never undoes the caller."""
    _check(event=event, subject_key=subject_key)
    return PreparedNotice(event=event, recipients=recipients, context=context,
                          url=url).write(subject_key=subject_key)


def _check(*, event: str | None = None, subject_key: str | None = None) -> None:
    if event is not None and event not in Event.values:
        raise ValueError(f"Unknown event {event!r}")
    if subject_key is not None and (not subject_key or len(subject_key) > 180):
        raise ValueError("subject_key must be 1 to 180 characters")


class PreparedNotice:
    """A notice's recipients and text, made before it is written: `notify` is
    `PreparedNotice(...).write(subject_key=...)`.

    Rendered lazily (the default), `write` first reads which of the keys exist and renders only
    for the others (a reminder scan notifies the same keys again and again). Rendered ahead
    (`render()`), `write` reads nothing before its insert, which skips any key already written:
    for keys that cannot exist yet (`notify_status_change`, keyed on the status event its
    transaction just wrote), or to render before taking a lock and write under it. The
    approval does not do the latter: in a burst for the last slots, most calls are refused
    and would each render a notice they never write (bench/README.md)."""

    def __init__(self, *, event: str, recipients, context: dict, url: str = ""):
        _check(event=event)
        self.event = event
        self.context = plain(context)
        self.link = absolute_url(url)
        self.people = {}
        for user in recipients:
            if user is not None and user.is_active:
                self.people.setdefault(user.pk, user)
        self.languages: dict[int, str] = {}
        # The text depends on the event, context, link and language only: rendered once a
        # language.
        self.rendered: dict[str, tuple[str, str]] = {}
        self.ahead = False

    def render(self) -> "PreparedNotice":
        """Render the text in every recipient's language now; `write` then reads nothing
        before its insert."""
        for pk in self.people:
            self._text(self._language(pk))
        self.ahead = True
        return self

    def _language(self, pk: int) -> str:
        if pk not in self.languages:
            self.languages[pk] = selectors.user_language(self.people[pk])
        return self.languages[pk]

    def _text(self, language: str) -> tuple[str, str]:
        if language not in self.rendered:
            self.rendered[language] = render_message(event=self.event, language=language,
                                                     context=self.context, url=self.link)
        return self.rendered[language]

    def write(self, *, subject_key: str) -> list[Notice]:
        """Write the notices of `subject_key` in the caller's transaction (see `notify`)."""
        _check(subject_key=subject_key)
        keys = {}
        for pk, user in self.people.items():
            for channel in ((Channel.EMAIL, Channel.IN_APP) if user.email
                            else (Channel.IN_APP,)):
                keys[pk, channel] = notice_key(event=self.event, subject_key=subject_key,
                                               recipient_id=pk, channel=channel)
        if not keys:
            return []
        # Rendered lazily, the keys already written are read first so that nothing is rendered
        # for them (a reminder scan notifies the same keys again and again).
        existing = set() if self.ahead else set(
            Notice.objects.filter(key__in=keys.values()).values_list("key", flat=True))
        now = timezone.now()
        rows = []
        for (pk, channel), key in keys.items():
            if key in existing:
                continue
            language = self._language(pk)
            subject, body = self._text(language)
            in_app = channel == Channel.IN_APP
            rows.append(Notice(
                recipient_id=pk, event=self.event, channel=channel, key=key,
                language=language, context=self.context, url=self.link, subject=subject,
                body=body, state=State.SENT if in_app else State.PENDING, created_at=now,
                sent_at=now if in_app else None, next_attempt_at=None if in_app else now))
        notices = self._insert_new(rows) if self.ahead else None
        if notices is None:
            if rows:
                # ignore_conflicts: a key already written (by a concurrent transaction, or
                # before when rendered ahead) is skipped, never written twice.
                Notice.objects.bulk_create(rows, ignore_conflicts=True)
            notices = list(Notice.objects.filter(key__in=keys.values()).order_by("pk"))
        fresh = [n.pk for n in notices
                 if n.channel == Channel.EMAIL and n.state == State.PENDING and n.attempts == 0]
        if fresh:
            _hand_over_after_commit(fresh)
        return notices


    @staticmethod
    def _insert_new(rows: list[Notice]) -> list[Notice] | None:
        """Rendered ahead, the keys are expected to be new: the rows are inserted as they are,
        in a savepoint, and come back with their ids (where the database returns them), so
        that nothing is read back. None when a key was written before (the savepoint rolls
        back, and the caller inserts what is missing and reads the rest) or the ids did not
        come back."""
        try:
            with transaction.atomic():
                Notice.objects.bulk_create(rows)
        except IntegrityError:
            return None
        return rows if all(row.pk is not None for row in rows) else None


class _HandOff:
    """The email notices one transaction wrote, handed to Celery together once it commits."""

    def __init__(self):
        self.ids: list[int] = []
        self.done = False

    def __call__(self):
        self.done = True
        ids, self.ids = self.ids, []
        enqueue_delivery(ids)


def _hand_over_after_commit(ids: list[int]) -> None:
    """Hand these notices to Celery after the commit, in chunks with every other notice the
    transaction writes (a 公示 telling fifty companies: two tasks, not fifty).

    Each call registers the same hand-off on commit: if a savepoint rolls back, the
    registrations made inside it go, and the hand-off still runs when any notice written outside
    it commits (ids of rolled-back rows it carries are never claimed: no row, nothing sent). A
    hand-off that already ran, or whose every registration was discarded by a rollback, is not
    reused."""
    connection = transaction.get_connection()
    hand_off = getattr(connection, "notices_hand_off", None)
    if hand_off is None or hand_off.done or not any(
            func is hand_off for _sids, func, _robust in connection.run_on_commit):
        hand_off = connection.notices_hand_off = _HandOff()
    hand_off.ids.extend(ids)
    transaction.on_commit(hand_off, robust=True)


def application_context(application: Application, **extra) -> dict:
    """What every notice about an application shows: #id, measure (3 languages), company."""
    measure = application.call.measure
    return {"application_id": application.pk, "call_id": application.call_id,
            "measure_code": measure.code, "measure_names": measure.names,
            "funding_year": application.call.funding_year,
            "company_id": application.company_id, "company_name": application.company.name,
            "company_name_en": application.company.name_en, "status": application.status,
            **extra}


def notify_application(*, event: str, application: Application, discriminator: str,
                       recipients=None, url: str | None = None, **extra) -> list[Notice]:
    """`notify` about one application: by default to every member of its company, linked to
    the application's page; `extra` goes into the context (amount=, reason=, due_at=, ...)."""
    subject_key = f"application-{application.pk}:{discriminator}"
    _check(event=event, subject_key=subject_key)
    return _application_notice(event=event, application=application, recipients=recipients,
                               url=url, **extra).write(subject_key=subject_key)


def _application_notice(*, event: str, application: Application, recipients, url: str | None,
                        **extra) -> PreparedNotice:
    if recipients is None:
        recipients = selectors.company_people(application.company)
    if url is None:
        url = reverse("application-detail", args=[application.pk])
    return PreparedNotice(event=event, recipients=recipients, url=url,
                          context=application_context(application, **extra))


def notify_status_change(*, event: str, application: Application, recipients=None,
                         url: str | None = None, **extra) -> list[Notice]:
    """Right after `application_transition`, in its transaction: keyed on the StatusEvent just
    written (returned twice is two notices), with that event's reason unless given."""
    status_event = _status_event_of(application)
    extra.setdefault("reason", status_event.reason if status_event else "")
    notice = _application_notice(event=event, application=application, recipients=recipients,
                                 url=url, **extra)
    if status_event is not None and status_event is getattr(application, "transition_event",
                                                            None):
        # Keyed on an event this transaction just wrote: nothing can exist under that key
        # yet, so there is nothing to look up before rendering (a second call for the same
        # event renders again and writes nothing).
        notice.render()
    discriminator = f"e{status_event.pk}" if status_event else f"s-{application.status}"
    return notice.write(subject_key=f"application-{application.pk}:{discriminator}")


def _status_event_of(application: Application):
    """The StatusEvent `application_transition` just wrote: kept on the instance it returned
    (no query), else the application's latest one."""
    status_event = getattr(application, "transition_event", None)
    if (status_event is not None and status_event.application_id == application.pk
            and status_event.to_status == application.status):
        return status_event
    return application.events.order_by("-pk").first()


# ---------------------------------------------------------------- delivering

def enqueue_delivery(ids: list[int]) -> bool:
    """Hand notices to Celery, DELIVERY_CHUNK to a task; never raises (a broker that is down is
    the beat scan's job). Returns whether every chunk was enqueued."""
    from notices.tasks import deliver_notices  # tasks call services

    ids = list(dict.fromkeys(int(pk) for pk in ids))
    enqueued = True
    for start in range(0, len(ids), DELIVERY_CHUNK):
        chunk = ids[start:start + DELIVERY_CHUNK]
        try:
            deliver_notices.delay(chunk)
        except Exception:
            logger.warning("Notices %s were not enqueued; the beat scan will send them.", chunk,
                           exc_info=True)
            enqueued = False
    return enqueued


def backoff(attempts: int) -> timedelta:
    return min(timedelta(minutes=2 ** attempts), BACKOFF_CAP)


def notice_deliver(*, notice_id: int) -> str:
    """Send one pending email notice; returns its state afterwards ("skipped" when it was not
    pending: already sent, or another worker holds it)."""
    return notices_deliver(notice_ids=[notice_id])[notice_id]


def notices_deliver(*, notice_ids: list[int], budget: timedelta = CHUNK_BUDGET
                    ) -> dict[int, str]:
    """Send a chunk of pending email notices, each on its own, claimed CLAIM_CHUNK at a time
    (see "Delivery" above); returns each id's state afterwards: "skipped" when it was not
    pending (already sent, another worker holds it, no such notice), "pending" also for one
    handed back unattempted after `budget`, claimed or not yet."""
    ids = list(dict.fromkeys(int(pk) for pk in notice_ids))
    outcome = dict.fromkeys(ids, "skipped")
    deadline = time.monotonic() + budget.total_seconds()
    mailer = _Mailer()
    tried = False  # the first notice is always tried: a chunk makes progress
    try:
        for start in range(0, len(ids), CLAIM_CHUNK):
            unclaimed = ids[start + CLAIM_CHUNK:]
            if tried and time.monotonic() > deadline:
                _hand_back([], outcome, unclaimed=ids[start:])
                break
            notices = _claim(ids[start:start + CLAIM_CHUNK], timezone.now())
            for position, notice in enumerate(notices):
                if tried and time.monotonic() > deadline:
                    _hand_back(notices[position:], outcome, unclaimed=unclaimed)
                    return outcome
                tried = True
                try:
                    outcome[notice.pk] = _send_claimed(notice, mailer)
                except Exception:
                    # Not the mail (that is a recorded failure): the database, say. The row
                    # stays `sending` and the scan takes it up after the claim timeout; the
                    # chunk goes on.
                    logger.exception("Notice %s could not be delivered", notice.pk)
    finally:
        mailer.close()
    return outcome


@dataclass(frozen=True)
class _Claimed:
    """What sending a claimed notice needs of its row (a fraction of a full row and its user)."""

    pk: int
    key: str
    subject: str
    body: str
    email: str
    attempts: int  # this one included
    claimed_at: datetime


def _claim(ids: list[int], claimed_at: datetime) -> list[_Claimed]:
    """Claim those of the notices that are pending (pending → sending, one attempt more), and
    return them with their recipients' addresses: one locking read and one UPDATE, in one
    transaction.

    The read locks the rows it returns and skips rows another worker is claiming at that moment
    (on PostgreSQL; SQLite writes one transaction at a time), so the claimed rows are exactly
    these, whatever other workers do with the same ids."""
    with transaction.atomic():
        # "In no other state" (= pending, by the check constraint), not state=pending:
        # PostgreSQL then finds the rows by their keys; with statistics from before a burst it
        # would scan every pending row of notice_due_idx for each claim (bench/bench_notices.py).
        rows = list(Notice.objects.select_for_update(of=("self",), skip_locked=True)
                    .filter(pk__in=ids, channel=Channel.EMAIL)
                    .exclude(state__in=[s for s in State.values if s != State.PENDING])
                    .order_by("pk")
                    .values_list("pk", "key", "subject", "body", "recipient__email", "attempts"))
        if rows:
            Notice.objects.filter(pk__in=[row[0] for row in rows]).update(
                state=State.SENDING, attempts=F("attempts") + 1, claimed_at=claimed_at)
    return [_Claimed(pk, key, subject, body, email, attempts + 1, claimed_at)
            for pk, key, subject, body, email, attempts in rows]


class _Mailer:
    """One connection of the default mailer for a chunk, opened again after a failure (an
    SMTP session a refused or broken send left behind must not fail the notices after it)."""

    def __init__(self):
        self.backend = None

    def send(self, message: EmailMessage) -> None:
        if self.backend is None:
            backend = mail.mailers.default
            backend.open()  # kept open across the chunk's sends
            self.backend = backend
        try:
            self.backend.send_messages([message])
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        backend, self.backend = self.backend, None
        if backend is not None:
            try:
                backend.close()
            except Exception:
                logger.warning("Closing the mail connection failed", exc_info=True)


def _mine(notice: _Claimed):
    """The notice's row while this worker's claim (state and time) holds: every write after the
    claim goes through it, so a claim the scan took back and gave to another worker is not
    overwritten by this one."""
    return Notice.objects.filter(pk=notice.pk, state=State.SENDING, claimed_at=notice.claimed_at)


def _send_claimed(notice: _Claimed, mailer: _Mailer) -> str:
    """Send one notice this worker claimed, then record the outcome on its row (if the claim
    is still ours), in its own statement: once it says `sent`, nothing sends it again."""
    try:
        address = notice.email
        if not address:
            raise ValueError("The recipient has no email address.")
        mailer.send(EmailMessage(subject=notice.subject, body=notice.body, to=[address],
                                 headers={"Message-ID": message_id(notice.key),
                                          "X-Qianhai-Notice": notice.key}))
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        if notice.attempts >= MAX_ATTEMPTS:
            state, next_at = State.FAILED, None
        else:
            state, next_at = State.PENDING, timezone.now() + backoff(notice.attempts)
        _mine(notice).update(state=state, next_attempt_at=next_at, last_error=error)
        logger.warning("Notice %s, attempt %s: %s", notice.pk, notice.attempts, error)
        return state
    _mark_sent(notice)
    return State.SENT


def _mark_sent(notice: _Claimed) -> None:
    """`sent`, if the claim is still this worker's: the UPDATE every notice costs, so written
    once as SQL (the ORM compiling it anew for each notice took more processor time than
    building and handing over the mail), and prepared (see `_prepared_cursor`)."""
    when = connection.ops.adapt_datetimefield_value  # as the ORM stores them (SQLite: text)
    with _prepared_cursor() as cursor:
        cursor.execute(_mark_sent_sql(), [State.SENT, when(timezone.now()), notice.pk,
                                          State.SENDING, when(notice.claimed_at)])


def _prepared_cursor():
    """A cursor (wrapped as Django wraps its own: errors, query logging) whose statements
    PostgreSQL prepares, once per connection, where the connection allows it
    (`prepare_threshold` in the settings): for the statement each notice costs, whose parsing
    and planning (a table of many partial indexes) took about a third of the database's work
    for it. Elsewhere, an ordinary cursor."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    cursor = _preparing_cursor_class()(connection.connection)
    if connection.queries_logged:
        return connection.make_debug_cursor(cursor)
    return connection.make_cursor(cursor)


@cache
def _preparing_cursor_class():
    import psycopg  # PostgreSQL only

    class PreparingCursor(psycopg.Cursor):
        """Binds parameters on the server (Django's cursors bind them in the client) and
        prepares every statement it runs."""

        def execute(self, query, params=None, **kwargs):
            return super().execute(query, params, prepare=True, **kwargs)

    return PreparingCursor


@cache
def _mark_sent_sql() -> str:
    quote = connection.ops.quote_name

    def column(name: str) -> str:
        return quote(Notice._meta.get_field(name).column)

    # Identifiers from the model, every value a parameter.
    return (f"UPDATE {quote(Notice._meta.db_table)} SET {column('state')} = %s, "  # noqa: S608
            f"{column('sent_at')} = %s, {column('next_attempt_at')} = NULL "
            f"WHERE {column('id')} = %s AND {column('state')} = %s "
            f"AND {column('claimed_at')} = %s")


def _hand_back(notices: list[_Claimed], outcome: dict, *, unclaimed: list[int] = ()) -> None:
    """Give claimed notices that were not tried back to pending, their attempt not counted, and
    to Celery again with the chunk's notices not claimed yet (a chunk that ran out of time)."""
    returned = []
    for notice in notices:
        if _mine(notice).update(state=State.PENDING, attempts=F("attempts") - 1,
                                claimed_at=None, next_attempt_at=timezone.now()):
            returned.append(notice.pk)
            outcome[notice.pk] = State.PENDING
    for pk in unclaimed:
        outcome[pk] = State.PENDING
    logger.warning("Notices %s handed back: their chunk ran out of time.",
                   [*returned, *unclaimed])
    enqueue_delivery([*returned, *unclaimed])


def notices_requeue_stuck(*, now: datetime | None = None) -> int:
    """The beat scan (every minute): claims of dead workers go back to pending (or failed after
    the last attempt); pending notices that are due are enqueued again, DELIVERY_CHUNK to a
    task, except those a dead worker held: one to a task, so that a notice that kills its
    worker cannot hold back a chunk of others each time. Returns how many were enqueued."""
    now = now or timezone.now()
    stale = Notice.objects.filter(channel=Channel.EMAIL, state=State.SENDING).filter(
        Q(claimed_at__lt=now - CLAIM_TIMEOUT) | Q(claimed_at__isnull=True))
    stale.filter(attempts__gte=MAX_ATTEMPTS).update(
        state=State.FAILED, next_attempt_at=None, last_error=WORKER_LOST)
    stale.filter(attempts__lt=MAX_ATTEMPTS).update(
        state=State.PENDING, next_attempt_at=now, last_error=WORKER_LOST)
    settled = now - FIRST_DELIVERY_GRACE
    due = ((Q(next_attempt_at__lte=now) & (Q(attempts__gt=0) | Q(created_at__lte=settled)))
           | Q(next_attempt_at__isnull=True, created_at__lte=settled))
    rows = list(Notice.objects.filter(channel=Channel.EMAIL, state=State.PENDING).filter(due)
                .annotate(lost=ExpressionWrapper(Q(last_error=WORKER_LOST),
                                                 output_field=BooleanField()))
                .order_by("next_attempt_at", "pk").values_list("pk", "lost")[:SCAN_LIMIT])
    ids = [pk for pk, _lost in rows]
    # Leased first, so a scan a minute later does not enqueue them again while they wait in a
    # queue that is slow to drain.
    for start in range(0, len(ids), SCAN_LEASE_BATCH):
        Notice.objects.filter(pk__in=ids[start:start + SCAN_LEASE_BATCH],
                              state=State.PENDING).update(next_attempt_at=now + REQUEUE_LEASE)
    for pk, lost in rows:
        if lost:
            enqueue_delivery([pk])
    enqueue_delivery([pk for pk, lost in rows if not lost])
    return len(ids)


def notice_retry(*, by, notice: Notice) -> Notice:
    """Staff send a failed (or waiting) email notice again now, with a fresh set of attempts."""
    if not (is_staff_officer(by) or by.is_superuser):
        raise DomainError("forbidden", _("Only staff can retry notices."), status=403)
    with transaction.atomic():
        updated = Notice.objects.filter(
            pk=notice.pk, channel=Channel.EMAIL, state__in=(State.FAILED, State.PENDING)).update(
            state=State.PENDING, attempts=0, next_attempt_at=timezone.now())
        if not updated:
            raise DomainError("notice_not_retryable", _(
                "Only an email notice that failed or is waiting can be retried."), status=409)
        transaction.on_commit(partial(enqueue_delivery, [notice.pk]), robust=True)
    notice.refresh_from_db()
    return notice


# ---------------------------------------------------------------- the notification centre

def notice_mark_read(*, user, notice_id: int) -> Notice:
    """Mark one of the user's own in-app notices read (another's is not found)."""
    notice = selectors.notifications_of(user).filter(pk=notice_id).first()
    if notice is None:
        raise DomainError("not_found", _("Not found."), status=404)
    if notice.read_at is None:
        now = timezone.now()
        Notice.objects.filter(pk=notice.pk, read_at__isnull=True).update(read_at=now)
        notice.read_at = now
    return notice


def notices_mark_all_read(*, user) -> int:
    return selectors.notifications_of(user).filter(read_at__isnull=True).update(
        read_at=timezone.now())


# ---------------------------------------------------------------- reminders (beat scans)

def call_closing_remind(*, now: datetime | None = None) -> int:
    """Companies holding drafts of a call that closes within CLOSING_SOON hear it once per call
    (the key); returns how many (call, company) pairs were considered."""
    now = now or timezone.now()
    drafts = Application.objects.filter(
        status=Status.DRAFT, call__opens_at__lte=now, call__closes_at__gt=now,
        call__closes_at__lte=now + CLOSING_SOON)
    counts: dict[tuple[int, int], int] = {}
    for call_id, company_id in drafts.values_list("call_id", "company_id"):
        counts[call_id, company_id] = counts.get((call_id, company_id), 0) + 1
    calls = Call.objects.select_related("measure").in_bulk({c for c, _ in counts})
    companies = Company.objects.in_bulk({c for _, c in counts})
    for (call_id, company_id), count in sorted(counts.items()):
        call, company = calls[call_id], companies[company_id]
        with transaction.atomic():
            notify(event=Event.CALL_CLOSING_SOON, recipients=selectors.company_people(company),
                   subject_key=f"call-{call_id}:company-{company_id}",
                   url=reverse("applications-dashboard"), context={
                       "call_id": call_id, "measure_code": call.measure.code,
                       "measure_names": call.measure.names, "funding_year": call.funding_year,
                       "closes_at": call.closes_at, "company_id": company_id,
                       "company_name": company.name, "company_name_en": company.name_en,
                       "drafts": count})
    return len(counts)


def review_overdue_remind(*, now: datetime | None = None) -> int:
    """Reviewers whose assigned review is past due hear it once per review and due date, while
    the application is in expert review (one withdrawn meanwhile asks nothing more of them)."""
    from reviews.models import Review, ReviewState  # reviews builds on applications

    now = now or timezone.now()
    overdue = Review.objects.filter(
        state=ReviewState.ASSIGNED, due_at__lt=now, application__status=Status.IN_REVIEW,
    ).select_related(
        "reviewer__profile", "application__call__measure", "application__company")
    count = 0
    for review in overdue.order_by("pk"):
        with transaction.atomic():
            notify_application(
                event=Event.REVIEW_OVERDUE, application=review.application,
                discriminator=f"review-{review.pk}:due-{review.due_at:%Y%m%d%H%M}",
                recipients=[review.reviewer], url=reverse("office-review", args=[review.pk]),
                due_at=review.due_at)
        count += 1
    return count
