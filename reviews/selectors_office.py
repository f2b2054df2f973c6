"""Reads of the back office's decisions, 公示, objections and awards, scoped to who asks
(DESIGN rule 6). The API and the pages read through these, never through the models directly."""

from django.db.models import Prefetch, Q, QuerySet

from applications.models import Application, Membership, Status
from applications.selectors import reads_everything
from reviews.models import AuditEntry, Award, Objection, Payment, Publicity, PublicityEntry

# The statuses in which a company sees its award: decided and not undone. A declined, rejected
# or withdrawn application's released award is history for the back office only.
AWARD_VISIBLE_STATUSES = (Status.PROPOSED, Status.IN_PUBLICITY, Status.AWARDED)


def _awards() -> QuerySet[Award]:
    return Award.objects.select_related(
        "application__company", "application__call__measure", "measure_version")


def awards_visible_to(user) -> QuerySet[Award]:
    """Staff and management see every award (released ones too, for the record); a company
    member sees the standing awards of their companies' applications (proposed, in 公示 or
    awarded, not released); reviewers and anonymous users see none."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Award.objects.none()
    mine = Q(application__company_id__in=Membership.objects.filter(user=user)
             .values("company_id"),
             application__status__in=AWARD_VISIBLE_STATUSES, released_at__isnull=True)
    if reads_everything(user):
        return _awards()
    return _awards().filter(mine)


def award_payments(award) -> QuerySet[Payment]:
    return award.payments.select_related("recorded_by").order_by("paid_on", "pk")


def objections_visible_to(user) -> QuerySet[Objection]:
    """Objections name the person who filed them: staff and management only."""
    if user is None or not user.is_authenticated or not user.is_active or \
            not reads_everything(user):
        return Objection.objects.none()
    return Objection.objects.select_related(
        "publicity__call__measure", "application__company", "resolved_by")


def publicity_public() -> QuerySet[Publicity]:
    """Every 公示, open or past, with its published lines: public information, for anyone."""
    return (Publicity.objects.select_related("call__measure")
            .prefetch_related(Prefetch("entries",
                                       queryset=PublicityEntry.objects.order_by("pk")))
            .order_by("-opened_at", "-pk"))


def project_of(application: Application) -> str:
    """The project's name as the applicant gave it (the same as published in a 公示)."""
    from reviews.services.publicity import _project_of  # the one definition of it

    return _project_of(application)


def application_audit(application: Application) -> list[dict]:
    """An application's whole history in time order: its status changes and what the back
    office's services did to it (assignments, scores, decisions, objections, payments), and the
    row history the database recorded (django-pghistory, PostgreSQL only), in which even a bulk
    update made outside the services shows. A fixed number of queries whatever its length."""
    rows = [{"at": e.at, "by": e.by.email if e.by_id else None, "kind": "status",
             "from": e.from_status, "to": e.to_status, "data": {}, "reason": e.reason,
             "_order": (0, e.pk)}
            for e in application.events.select_related("by")]
    rows += [{"at": e.at, "by": e.by.email if e.by_id else None, "kind": e.action,
              "from": None, "to": None, "data": e.data, "reason": e.reason,
              "_order": (1, e.pk)}
             for e in AuditEntry.objects.filter(application=application).select_related("by")]
    rows += application_row_history(application)
    # Rows of the same instant (one service call) keep a stable order: status changes first.
    rows.sort(key=lambda r: (r["at"], r["_order"]))
    for row in rows:
        del row["_order"]
    return rows


# What the row history shows of an application (the rest is bookkeeping).
ROW_FIELDS = ("status", "inputs", "subject_key", "estimate", "amount", "revision",
              "submitted_at", "measure_version_id")


def application_row_history(application: Application) -> list[dict]:
    """The application's row snapshots written by database triggers, as changes between
    consecutive snapshots: `{kind: "row_insert" | "row_update" | "row_delete", data: {"changes":
    {field: [before, after]}}, by}` (by: the user the request was made by, when there was one)."""
    from django.apps import apps
    from django.contrib.auth import get_user_model

    events = apps.get_model("applications", "ApplicationEvent").objects.filter(
        pgh_obj_id=application.pk).select_related("pgh_context").order_by("pgh_id")
    snapshots = list(events)
    user_ids = {e.pgh_context.metadata.get("user") for e in snapshots if e.pgh_context_id}
    emails = dict(get_user_model().objects.filter(pk__in=[u for u in user_ids if u])
                  .values_list("pk", "email")) if any(user_ids) else {}
    rows, before = [], None
    for event in snapshots:
        after = {name: _plain(getattr(event, name)) for name in ROW_FIELDS}
        changes = {name: [before.get(name) if before else None, value]
                   for name, value in after.items() if before is None or before[name] != value}
        user = event.pgh_context.metadata.get("user") if event.pgh_context_id else None
        rows.append({"at": event.pgh_created_at, "by": emails.get(user),
                     "kind": f"row_{event.pgh_label}", "from": None, "to": None,
                     "data": {"changes": changes}, "reason": "", "_order": (2, event.pgh_id)})
        before = after
    return rows


def _plain(value):
    """A snapshot value as JSON shows it."""
    if value is None or isinstance(value, (str, int, bool, list, dict)):
        return value
    return str(value)
