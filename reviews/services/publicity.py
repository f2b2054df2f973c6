"""公示 (public notice): open it for a call's proposed awards, take signed objections, resolve
them, and finalize the awards when the period has ended with no objection open."""

import datetime

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from applications.models import Application, Status
from applications.services import application_transition
from applications.transitions import STAFF, SYSTEM
from notices.events import Event
from notices.selectors import staff_people
from notices.services import notify_application, notify_status_change
from qianhai_grants.errors import DomainError
from qianhai_grants.i18n import localized
from reviews.models import Award, Objection, ObjectionState, Publicity, PublicityEntry
from reviews.selectors_calendar import calendar_current
from reviews.services._common import audit, invalid, require_staff
from reviews.services.decisions import award_release

DEFAULT_WORKING_DAYS = 5
MAX_WORKING_DAYS = 60


def publicity_period(*, opened_on: datetime.date, working_days: int
                     ) -> tuple[datetime.date, datetime.date]:
    """The period of a notice opened on `opened_on`: from that day if it is a working day (else
    the next one) to the end of its `working_days`-th working day, on the holiday calendar that
    staff maintain."""
    calendar = calendar_current()
    starts_on = calendar.add_working_days(opened_on, 1)
    return starts_on, calendar.add_working_days(starts_on, working_days)


def publicity_ends_at(publicity: Publicity) -> datetime.datetime:
    """The moment the period ends: midnight after its last working day, China Standard Time."""
    end = datetime.datetime.combine(publicity.ends_on + datetime.timedelta(days=1),
                                    datetime.time.min)
    return timezone.make_aware(end, timezone.get_default_timezone())


def publicity_is_open(publicity: Publicity, at=None) -> bool:
    """Objections are taken from the moment the notice is published (even on a weekend, before
    its first working day) until its period ends."""
    at = at or timezone.now()
    return publicity.finalized_at is None and publicity.opened_at <= at < publicity_ends_at(
        publicity)


def _project_of(application: Application) -> str:
    """The project's name as the applicant gave it: the form's first field (every measure's
    form starts with the name of its project, platform, model, pilot or centre)."""
    fields = application.measure_version.fields
    if not fields:
        return ""
    value = application.inputs.get(fields[0]["name"])
    return str(value)[:200] if value else ""


def publicity_open(*, by, call, working_days=DEFAULT_WORKING_DAYS) -> Publicity:
    """Publish the call's `proposed` awards for `working_days` working days (default 5)."""
    require_staff(by)
    if isinstance(working_days, bool) or not isinstance(working_days, int) or not (
            1 <= working_days <= MAX_WORKING_DAYS):
        raise invalid({"working_days": [_("Enter a number of working days from 1 to %(max)s.")
                                        % {"max": MAX_WORKING_DAYS}]})
    with transaction.atomic():
        proposed = list(Application.objects.select_for_update().filter(
            call=call, status=Status.PROPOSED).select_related("company", "measure_version")
            .order_by("pk"))
        if not proposed:
            raise DomainError("nothing_to_publish", _(
                "The call has no proposed award to publish."), status=409)
        now = timezone.now()
        starts_on, ends_on = publicity_period(opened_on=timezone.localdate(now),
                                              working_days=working_days)
        publicity = Publicity.objects.create(call=call, working_days=working_days,
                                             starts_on=starts_on, ends_on=ends_on, opened_by=by,
                                             opened_at=now)
        PublicityEntry.objects.bulk_create(PublicityEntry(
            publicity=publicity, application=application, company_name=application.company.name,
            project=_project_of(application), amount=application.amount or 0)
            for application in proposed)
        for application in proposed:
            published = application_transition(
                application=application, to=Status.IN_PUBLICITY, by=by, role=STAFF,
                reason=_("Public notice until %(date)s.") % {"date": ends_on.isoformat()})
            notify_application(event=Event.PUBLICITY_OPENED, application=published,
                               discriminator=f"publicity-{publicity.pk}",
                               url=reverse("publicity-detail", args=[publicity.pk]),
                               amount=application.amount, starts_on=starts_on, ends_on=ends_on)
        audit(action="publicity_opened", by=by, call=call, data={
            "publicity": publicity.pk, "working_days": working_days,
            "starts_on": starts_on.isoformat(), "ends_on": ends_on.isoformat(),
            "applications": [a.pk for a in proposed]})
    return publicity


def objection_file(*, publicity: Publicity, application, name, organization, contact, text
                   ) -> Objection:
    """A signed objection to one line of an open notice; anonymous ones are refused."""
    errors = {}
    values = {}
    for field, value, limit in (("name", name, 100), ("organization", organization, 200),
                                ("contact", contact, 200), ("text", text, 5000)):
        if not isinstance(value, str) or not value.strip():
            errors[field] = [_("This field is required: objections are signed.")]
        elif len(value.strip()) > limit:
            errors[field] = [_("At most %(limit)s characters.") % {"limit": limit}]
        else:
            values[field] = value.strip()
    application_id = getattr(application, "pk", application)
    if isinstance(application_id, bool) or not isinstance(application_id, int) or \
            not publicity.entries.filter(application_id=application_id).exists():
        errors["application"] = [_("Choose a line of this notice.")]
    if errors:
        raise invalid(errors)
    with transaction.atomic():
        locked = Publicity.objects.select_for_update().get(pk=publicity.pk)
        if not publicity_is_open(locked):
            raise DomainError("publicity_closed", _("This public notice is not open."),
                              status=409)
        objection = Objection.objects.create(publicity=locked, application_id=application_id,
                                             created_at=timezone.now(), **values)
        audit(action="objection_filed", application=objection.application,
              data={"objection": objection.pk, "organization": values["organization"]})
        notify_application(event=Event.OBJECTION_RECEIVED, application=objection.application,
                           discriminator=f"objection-{objection.pk}",
                           recipients=staff_people(),
                           url=reverse("office-publicity", args=[locked.pk]),
                           objector=values["organization"])
    return objection


def objection_resolve(*, by, objection: Objection, upheld, note) -> Objection:
    """Upheld: the application is rejected and its quota slot and ledger amount free up.
    Dismissed: it stays in the notice."""
    require_staff(by)
    errors = {}
    if not isinstance(upheld, bool):
        errors["upheld"] = [_("Say whether the objection is upheld (true or false).")]
    if not isinstance(note, str) or not note.strip():
        errors["note"] = [_("Say why, for the record.")]
    if errors:
        raise invalid(errors)
    with transaction.atomic():
        locked = Objection.objects.select_for_update().select_related("application").get(
            pk=objection.pk)
        if locked.state != ObjectionState.OPEN:
            raise DomainError("objection_resolved", _("The objection is already resolved."),
                              status=409)
        locked.state = ObjectionState.UPHELD if upheld else ObjectionState.DISMISSED
        locked.resolved_by, locked.resolved_at, locked.note = by, timezone.now(), note.strip()
        locked.save(update_fields=["state", "resolved_by", "resolved_at", "note"])
        if upheld and locked.application.status == Status.IN_PUBLICITY:
            rejected = application_transition(
                application=locked.application, to=Status.REJECTED, by=by, role=STAFF,
                reason=note.strip(), expected_from=(Status.IN_PUBLICITY,))
            award_release(by=by, application=rejected, reason=note.strip())
        audit(action="objection_resolved", by=by, application=locked.application,
              reason=note.strip(), data={"objection": locked.pk, "upheld": upheld})
        application = Application.objects.select_related("call__measure", "company").get(
            pk=locked.application_id)
        notify_application(event=Event.OBJECTION_RESOLVED, application=application,
                           discriminator=f"objection-{locked.pk}", upheld=upheld,
                           note=note.strip())
    return locked


def _finalize(publicity: Publicity, *, by, role: str) -> list[Application]:
    """`in_publicity` → `awarded` for a (locked) notice whose period has ended with every
    objection resolved."""
    now = timezone.now()
    awarded = []
    for application in Application.objects.select_for_update().filter(
            publicity_entries__publicity=publicity, status=Status.IN_PUBLICITY).order_by("pk"):
        final = application_transition(application=application, to=Status.AWARDED, by=by,
                                       role=role)
        notify_status_change(event=Event.AWARDED, application=final, amount=final.amount)
        awarded.append(final)
    Award.objects.filter(application__in=awarded, released_at__isnull=True).update(
        awarded_at=now)
    publicity.finalized_by, publicity.finalized_at = by, now
    publicity.save(update_fields=["finalized_by", "finalized_at"])
    audit(action="publicity_finalized", by=by, call=publicity.call, data={
        "publicity": publicity.pk, "awarded": [a.pk for a in awarded], "role": role})
    return awarded


def publicity_finalize(*, by, call) -> list[Application]:
    """After the notice has ended with every objection resolved: `in_publicity` → `awarded`,
    for every notice of the call that has ended.

    The decided amounts stay those of the decision (each `Award` keeps its rules, inputs and
    trace); the platform's or model's ledger already holds them."""
    require_staff(by)
    with transaction.atomic():
        pending = list(Publicity.objects.select_for_update().filter(
            call=call, finalized_at__isnull=True).order_by("opened_at", "pk"))
        if not pending:
            raise DomainError("no_publicity", _("The call has no public notice to finalize."),
                              status=409)
        now = timezone.now()
        ended = [p for p in pending if now >= publicity_ends_at(p)]
        if not ended:
            raise DomainError("publicity_not_ended", _(
                "The public notice runs until %(date)s.") % {
                "date": pending[0].ends_on.isoformat()}, status=409)
        if Objection.objects.filter(publicity__in=ended, state=ObjectionState.OPEN).exists():
            raise DomainError("objections_open", _(
                "Resolve every objection before finalizing."), status=409)
        awarded = []
        for publicity in ended:
            awarded += _finalize(publicity, by=by, role=STAFF)
    return awarded


def publicity_close_due() -> int:
    """The beat scan: finalize every notice whose period has ended with no objection open (one
    with an objection still open waits for staff). Each notice in its own transaction; running
    it twice changes nothing. Returns how many notices it finalized."""
    closed = 0
    for pk in Publicity.objects.filter(finalized_at__isnull=True).values_list("pk", flat=True):
        with transaction.atomic():
            publicity = Publicity.objects.select_for_update().select_related("call").get(pk=pk)
            if publicity.finalized_at is not None or timezone.now() < publicity_ends_at(
                    publicity) or publicity.objections.filter(
                    state=ObjectionState.OPEN).exists():
                continue
            _finalize(publicity, by=None, role=SYSTEM)
            closed += 1
    return closed


def publicity_title(publicity: Publicity) -> str:
    return _("Public notice: %(measure)s, funding year %(year)s") % {
        "measure": localized(publicity.call.measure.names), "year": publicity.call.funding_year}
