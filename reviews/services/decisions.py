"""Decisions within quotas and caps: approve, decline, rank-and-fill, promote from the reserve,
and release a decision that is undone.

The limits hold in PostgreSQL whatever the interleaving of requests (DESIGN rule 5):
- an annual quota (MEASURES.md, demo-project: at most 10 a funding year) is taken by one
  conditional UPDATE of the measure's `QuotaCounter` row (`used < quota`), which PostgreSQL
  re-checks after any concurrent update of the row commits; a check constraint backs it; a
  request that finds the counter full as last committed is refused without taking the row;
- a cumulative cap (compute-platform: 20,000,000.00 per platform over all years) and a one-time
  award (industry-llm) are computed under a row lock of the subject's `SubjectLedger` row, from
  what that row already holds, and written back in the same transaction; check constraints back
  them.
Locks are always taken in the same order (application, quota counter, ledger), so concurrent
approvals queue rather than deadlock.
"""

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from applications.models import Application, Status
from applications.services import application_transition
from applications.transitions import STAFF
from measures.engine import (
    ALREADY_AWARDED_ONCE,
    ANNUAL_QUOTA_FULL,
    MISSING_INPUT,
    UP_TO_CAP,
    TraceStep,
    compute_award,
)
from measures.inputs import parse_inputs
from measures.reasons import reason_message
from notices.events import Event
from notices.services import notify_status_change
from qianhai_grants.errors import DomainError
from qianhai_grants.money import ZERO, parse_money, round_money
from reviews import selectors
from reviews.models import Award, QuotaCounter, SubjectLedger
from reviews.services._common import audit, invalid, require_staff

# Applications that hold a quota slot and an amount on their ledger.
HOLDING = (Status.PROPOSED, Status.IN_PUBLICITY, Status.AWARDED)
DECIDABLE = (Status.REVIEWED, Status.RESERVE)


def _refused(code: str, message=None, reasons=()) -> DomainError:
    error = DomainError(code, message or reason_message(code), status=409)
    error.reasons = tuple(reasons) or (code,)
    return error


def _holders(**filters):
    return Application.objects.filter(status__in=HOLDING, award__released_at__isnull=True,
                                      **filters)


# --- the annual quota -----------------------------------------------------------------------

def _quota_counter(*, measure, funding_year: int, quota: int) -> QuotaCounter:
    """The counter row of a measure's funding year; made on first use from what already holds
    a slot (decisions recorded before the counter existed)."""
    counter = QuotaCounter.objects.filter(measure=measure, funding_year=funding_year).first()
    if counter is not None:
        return counter
    used = _holders(call__measure=measure, call__funding_year=funding_year).count()
    try:
        with transaction.atomic():
            return QuotaCounter.objects.create(measure=measure, funding_year=funding_year,
                                               quota=max(quota, used), used=used)
    except IntegrityError:  # made at the same moment by a concurrent approval
        return QuotaCounter.objects.get(measure=measure, funding_year=funding_year)


def _room(quota: int) -> dict:
    """The condition under which a slot may be taken: a free one."""
    return {"used__lt": quota}


def _room_shown(counter: QuotaCounter, quota: int) -> bool:
    """Whether the counter as last committed shows a free slot. A read, not a reservation: a
    service may refuse at once when it shows none, never take a slot on its word. Such a
    refusal is the conditional UPDATE's answer too, unless a transaction releasing a slot
    commits meanwhile (the UPDATE would have waited for it): the request is then answered as
    if it had come just before the release."""
    return counter.used < quota


def quota_take(*, measure, funding_year: int, quota: int, counter_read: bool = False) -> bool:
    """Take one slot of the annual quota, atomically: False when none is left.

    The quota in force (the catalogue version's) is written with the slot, so a catalogue edit
    of the quota applies from the next decision on. The check constraint `used <= quota` is the
    last line: should the condition ever be missed, the database refuses the update.
    `counter_read`: the caller read (or made) the counter row already in this transaction."""
    if not counter_read:
        _quota_counter(measure=measure, funding_year=funding_year, quota=quota)
    try:
        with transaction.atomic():
            return QuotaCounter.objects.filter(
                measure=measure, funding_year=funding_year, **_room(quota),
            ).update(used=F("used") + 1, quota=quota) == 1
    except IntegrityError:
        return False


def quota_release(*, measure, funding_year: int) -> None:
    QuotaCounter.objects.filter(measure=measure, funding_year=funding_year, used__gt=0) \
        .update(used=F("used") - 1)


def quota_use(*, measure, funding_year: int, quota: int | None) -> dict:
    """How much of a measure's annual quota is in use (for the ranking and the reports)."""
    counter = QuotaCounter.objects.filter(measure=measure, funding_year=funding_year).first()
    used = counter.used if counter else _holders(
        call__measure=measure, call__funding_year=funding_year).count()
    return {"quota": quota, "used": used,
            "left": None if quota is None else max(quota - used, 0)}


# --- the ledger of a platform or model --------------------------------------------------------

def _ledger_row(keys: dict) -> SubjectLedger:
    """The ledger row, locked until the transaction ends: concurrent approvals of one platform
    or model queue here and each computes from what the previous ones committed."""
    return SubjectLedger.objects.select_for_update().get(**keys)


def _ledger_locked(*, measure, company, subject_key: str) -> SubjectLedger:
    """The subject's ledger row, locked for this transaction; made on first use from what the
    subject already holds."""
    keys = {"measure": measure, "company": company, "subject_key": subject_key}
    if not SubjectLedger.objects.filter(**keys).exists():
        held = _holders(call__measure=measure, company=company, subject_key=subject_key)
        total = held.aggregate(total=Sum("amount"))["total"] or ZERO
        try:
            with transaction.atomic():
                SubjectLedger.objects.create(**keys, committed=total, awards=held.count())
        except IntegrityError:
            pass  # made at the same moment by a concurrent approval
    return _ledger_row(keys)


def _ledger_add(*, ledger: SubjectLedger, amount: Decimal, version) -> None:
    """Add an award to the ledger by an increment, not by writing back what was read, so that
    the check constraints (cumulative cap, one time) judge the real total."""
    try:
        with transaction.atomic():
            SubjectLedger.objects.filter(pk=ledger.pk).update(
                committed=F("committed") + amount, awards=F("awards") + 1,
                cumulative_cap=version.cumulative_cap, once=bool(version.once_per))
    except IntegrityError:
        raise _refused(ALREADY_AWARDED_ONCE if version.once_per else "cumulative_cap_reached"
                       ) from None


def _ledger_release(*, application: Application, amount: Decimal) -> None:
    if not application.subject_key:
        return
    ledger = SubjectLedger.objects.select_for_update().filter(
        measure=application.call.measure, company=application.company,
        subject_key=application.subject_key).first()
    if ledger is not None:
        ledger.committed = max(ledger.committed - amount, ZERO)
        ledger.awards = max(ledger.awards - 1, 0)
        ledger.save(update_fields=["committed", "awards"])


# --- approve, decline -------------------------------------------------------------------------

def _amount_for(*, application, version, awarded_to_date: Decimal, amount=None):
    """The engine's award for the application, then the decision's own amount when lower: the
    one staff set, or else the reviewers' recommendation (MEASURES.md, core-algorithm: "at
    decision the committee may set a lower recommended amount")."""
    values = parse_inputs(version.fields, application.inputs).values
    result = compute_award(version.rules(), values, awarded_to_date=awarded_to_date)
    if not result.eligible:
        failing = [code for code in result.reasons if code != MISSING_INPUT] or list(
            result.reasons)
        raise _refused(failing[0], reasons=result.reasons)
    trace = [step.as_dict() for step in result.trace]
    final = result.amount
    if amount is None and version.award_kind == UP_TO_CAP:
        assessment = getattr(application, "assessment", None)
        if assessment is not None and assessment.recommended_amount is not None:
            amount = assessment.recommended_amount
    if amount is not None and amount < final:
        trace.append(TraceStep("decided", {"amount": amount, "before": final}).as_dict())
        final = round_money(amount)
    return result, final, trace


def application_approve(*, by, application: Application, amount=None, reason: str = ""
                        ) -> Application:
    """Propose the application for an award with the engine's amount (`proposed`): it takes a
    slot of the annual quota and its amount on the platform's or model's ledger, or nothing at
    all (409 `annual_quota_full`, `cumulative_cap_reached`, `already_awarded_once`)."""
    require_staff(by)
    if amount is not None:
        try:
            amount = parse_money(amount)
        except ValueError:
            raise invalid({"amount": [_("Enter an amount in yuan, such as 1500000.00.")]}) \
                from None
    return _approve(by=by, application=application, amount=amount, reason=reason, role=STAFF)


def _approve(*, by, application, amount=None, reason="", role=STAFF) -> Application:
    with transaction.atomic():
        # The application's row only (`of`): a plain FOR UPDATE would lock the joined call,
        # measure and company rows as well, and every approval of the call, refusals included,
        # would queue there from its first statement to the commit of the one before.
        locked = Application.objects.select_for_update(of=("self",)).select_related(
            "call__measure", "company", "measure_version", "assessment").get(pk=application.pk)
        if locked.status not in DECIDABLE:
            raise DomainError("invalid_transition", _(
                "An application that is %(status)s cannot be approved.") % {
                "status": Status(locked.status).label}, status=409)
        version = locked.measure_version
        measure, year = locked.call.measure, locked.call.funding_year
        quota = version.annual_quota
        if quota is not None:
            counter = _quota_counter(measure=measure, funding_year=year, quota=quota)
            if not _room_shown(counter, quota):
                # Full as last committed: refused at once, without queueing for the row.
                raise _refused(ANNUAL_QUOTA_FULL)
            # From here to the commit, the counter row is held: the writes below only.
            if not quota_take(measure=measure, funding_year=year, quota=quota,
                              counter_read=True):
                raise _refused(ANNUAL_QUOTA_FULL)
        ledger = None
        awarded_to_date = ZERO
        if locked.subject_key and (version.cumulative_cap is not None or version.once_per):
            ledger = _ledger_locked(measure=measure, company=locked.company,
                                    subject_key=locked.subject_key)
            awarded_to_date = ledger.committed
            if version.once_per and ledger.awards >= 1:
                raise _refused(ALREADY_AWARDED_ONCE)
        result, final, trace = _amount_for(application=locked, version=version,
                                           awarded_to_date=awarded_to_date, amount=amount)
        if ledger is not None:
            _ledger_add(ledger=ledger, amount=final, version=version)
        assessment = getattr(locked, "assessment", None)
        award = Award.objects.create(
            application=locked, measure_version=version, amount=final,
            capped_by=result.capped_by or "", parameters=version.parameters() | {
                "award_kind": version.award_kind, "annual_quota": version.annual_quota},
            inputs=locked.inputs, trace=trace,
            score=assessment.score if assessment is not None else None, decided_by=by)
        audit(action="approved", by=by, application=locked, reason=reason, data={
            "amount": f"{final:f}", "award": award.pk, "version": version.number})
        locked.amount = final
        # The amount and the status in one UPDATE, under the lock already held; the notice is
        # keyed on the status event kept on `proposed`, with the call, measure and company
        # read above (nothing is read again).
        proposed = application_transition(application=locked, to=Status.PROPOSED, by=by,
                                          role=role, reason=reason, locked=True,
                                          save_fields=("amount",))
        notify_status_change(event=Event.PROPOSED, application=proposed, amount=final)
        return proposed


def application_decline(*, by, application: Application, reason: str) -> Application:
    """Not selected (`declined`), with the reason the company will read."""
    require_staff(by)
    if not (isinstance(reason, str) and reason.strip()):
        raise invalid({"reason": [_("Say why, for the company.")]})
    with transaction.atomic():
        updated = application_transition(application=application, to=Status.DECLINED, by=by,
                                         role=STAFF, reason=reason, expected_from=DECIDABLE)
        audit(action="declined", by=by, application=updated, reason=reason)
        notify_status_change(event=Event.DECLINED, application=updated)
    return updated


def application_reserve(*, by, application: Application, reason: str = "") -> Application:
    """Ranked but not (yet) funded: waits on the reserve list for a slot that frees up."""
    require_staff(by)
    with transaction.atomic():
        reserved = application_transition(application=application, to=Status.RESERVE, by=by,
                                          role=STAFF, reason=reason,
                                          expected_from=(Status.REVIEWED,))
        notify_status_change(event=Event.RESERVE, application=reserved)
    return reserved


def call_rank_and_fill(*, by, call, count: int | None = None, reserve: int | None = None
                       ) -> dict:
    """Propose the top of the ranking in one action: approve in ranking order while the quota
    lasts (or `count` applications, for a measure without a quota); the next `reserve` (all,
    by default) go to the reserve list in ranking order; the rest, and those the rules refuse
    (a cap reached, a one-time award already made), are declined with the reason.

    Each approval is its own transaction, under the same locks as a single approval, so this
    may run beside approvals made by hand."""
    require_staff(by)
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)
                              or count < 0):
        raise invalid({"count": [_("Enter a whole number of 0 or more.")]})
    if reserve is not None and (isinstance(reserve, bool) or not isinstance(reserve, int)
                                or reserve < 0):
        raise invalid({"reserve": [_("Enter a whole number of 0 or more.")]})
    version = call.measure.versions.order_by("-effective_from", "-number").first()
    if count is None and (version is None or version.annual_quota is None):
        raise invalid({"count": [_(
            "This measure has no annual quota: say how many applications to propose.")]})
    outcome = {"proposed": [], "reserve": [], "declined": []}
    proposed = 0
    for application in selectors.call_ranking(call=call, statuses=(Status.REVIEWED,)):
        if count is None or proposed < count:
            try:
                _approve(by=by, application=application, reason=_("Proposed by ranking."))
            except DomainError as error:
                if error.code == ANNUAL_QUOTA_FULL:
                    count = proposed  # the quota is used up: nobody further is proposed
                else:
                    application_decline(by=by, application=application,
                                        reason=str(error.message))
                    outcome["declined"].append(application.pk)
                    continue
            else:
                proposed += 1
                outcome["proposed"].append(application.pk)
                continue
        if reserve is None or len(outcome["reserve"]) < reserve:
            application_reserve(by=by, application=application,
                                reason=_("On the reserve list, in ranking order."))
            outcome["reserve"].append(application.pk)
        else:
            application_decline(by=by, application=application,
                                reason=_("Not selected: ranked below the funded projects."))
            outcome["declined"].append(application.pk)
    with transaction.atomic():
        audit(action="rank_and_fill", by=by, call=call, data=outcome)
    return outcome


def call_promote_reserve(*, by, call) -> Application:
    """Propose the best-ranked application of the reserve list, when a slot has freed up."""
    require_staff(by)
    first = selectors.call_ranking(call=call, statuses=(Status.RESERVE,)).first()
    if first is None:
        raise DomainError("reserve_empty", _("The reserve list is empty."), status=409)
    return _approve(by=by, application=first, reason=_("Promoted from the reserve list."))


def award_release(*, by, application: Application, reason: str = "") -> None:
    """Undo a decision's holds: its quota slot and its amount on the ledger are freed, so the
    next application on the reserve list can be promoted. Call inside the transaction that
    moves the application out of `proposed` or `in_publicity`."""
    award = Award.objects.select_for_update().filter(
        application=application, released_at__isnull=True).first()
    if award is None:
        return
    application = Application.objects.select_related("call__measure", "company").get(
        pk=application.pk)
    if award.measure_version.annual_quota is not None:
        quota_release(measure=application.call.measure,
                      funding_year=application.call.funding_year)
    if award.measure_version.cumulative_cap is not None or award.measure_version.once_per:
        _ledger_release(application=application, amount=award.amount)
    award.released_at = timezone.now()
    award.save(update_fields=["released_at"])
    audit(action="award_released", by=by, application=application, reason=reason,
          data={"amount": f"{award.amount:f}", "award": award.pk})


__all__ = ["HOLDING", "application_approve", "application_decline",
           "application_reserve", "award_release", "call_promote_reserve", "call_rank_and_fill",
           "quota_release", "quota_take", "quota_use"]
