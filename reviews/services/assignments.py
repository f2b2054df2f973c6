"""Who scores what: assignments by staff or automatically, recusals and their replacements.

Conflicts of interest (an affiliation with the applicant, matched by registration number) are
checked under locks, so no interleaving with a declaration assigns a conflicted reviewer:
- an assignment locks the application row, then the reviewer's profile row, and checks the
  conflict only then;
- `affiliation_declare` locks the same rows in the same order (applications, then the profile)
  before it writes the affiliation and recuses what the reviewer holds.
A reviewer is never given the same application twice (a recusal counts): the unique constraint
(application, reviewer) backs it, so two automatic assignments at once cannot exceed the call's
number of reviewers either (each tops an application up under its row lock).
"""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from applications.models import Application, Status
from applications.services import application_transition
from applications.transitions import STAFF, SYSTEM
from notices.events import Event
from notices.services import notify_application
from qianhai_grants.errors import DomainError
from reviews import selectors
from reviews.models import Review, ReviewerProfile, ReviewState
from reviews.services._common import audit, invalid, not_found, require_staff
from reviews.services.scoring import review_complete

# An application takes reviewers once screening accepted it, until its review is closed.
ASSIGNABLE = (Status.ACCEPTED, Status.IN_REVIEW)


def _lock_application(pk) -> Application | None:
    # `of=("self",)`: the call, measure and company rows read with it are not locked.
    return (Application.objects.select_for_update(of=("self",))
            .select_related("call__measure", "company").filter(pk=pk).first())


def _not_a_reviewer() -> DomainError:
    return invalid({"reviewer": [_("Choose an active reviewer from the pool.")]})


def _reviewer_user(reviewer):
    """The user named by `reviewer` (a user or a user id) if an active reviewer, else a 400."""
    User = get_user_model()
    if isinstance(reviewer, int | str) and not isinstance(reviewer, bool) and \
            str(reviewer).isdigit():
        reviewer = User.objects.filter(pk=int(reviewer)).first()
    if not isinstance(reviewer, User) or not selectors.is_active_reviewer(reviewer):
        raise _not_a_reviewer()
    return reviewer


def _active_count(application) -> int:
    return Review.objects.filter(application=application,
                                 state__in=selectors.ACTIVE_REVIEW_STATES).count()


def _place(*, application: Application, reviewer, by, due_at=None, data=None) -> Review:
    """Give the (locked) application to the reviewer: the rules re-checked under the reviewer's
    profile lock, the review made, and the application's first review moves it into review."""
    profile = ReviewerProfile.objects.select_for_update().filter(user=reviewer).first()
    if profile is None or not selectors.is_active_reviewer(reviewer):
        raise _not_a_reviewer()
    if selectors.is_conflicted(reviewer=reviewer, company=application.company):
        raise DomainError("reviewer_conflicted", _(
            "This reviewer has declared a relation to the applicant and cannot review it."),
            status=409)
    if Review.objects.filter(application=application, reviewer=reviewer).exists():
        raise _already_assigned()
    try:
        with transaction.atomic():
            review = Review.objects.create(application=application, reviewer=reviewer,
                                           assigned_by=by, due_at=due_at)
    except IntegrityError:  # given to the same reviewer at the same moment
        raise _already_assigned() from None
    if application.status == Status.ACCEPTED:
        moved = application_transition(
            application=application, to=Status.IN_REVIEW, by=by,
            role=SYSTEM if by is None else STAFF, reason=_("Expert review has started."))
        application.status = moved.status
    audit(action="review_assigned", by=by, application=application, data={
        "review": review.pk, "reviewer": reviewer.pk, "automatic": False, **(data or {})})
    notify_application(event=Event.REVIEW_ASSIGNED, application=application,
                       discriminator=f"review-{review.pk}", recipients=[reviewer],
                       url=reverse("office-review", args=[review.pk]), due_at=review.due_at)
    return review


def _already_assigned() -> DomainError:
    return DomainError("already_assigned", _(
        "This reviewer already has (or had) this application."), status=409)


def _top_up(*, application: Application, by, target: int, limit: int | None = None,
            data=None) -> list[Review]:
    """Assign the best candidates until the (locked) application has `target` active reviews
    (at most `limit` new ones)."""
    need = target - _active_count(application)
    if limit is not None:
        need = min(need, limit)
    made: list[Review] = []
    if need <= 0:
        return made
    for candidate in selectors.reviewer_candidates(application=application):
        if len(made) >= need:
            break
        try:
            made.append(_place(application=application, reviewer=candidate, by=by,
                               data={"automatic": True, **(data or {})}))
        except DomainError:
            continue  # changed since the candidates were read: the next one
    return made


def review_assign(*, by, application: Application, reviewer, due_at=None) -> Review:
    """Staff give an accepted application to a reviewer of the pool (any expertise: staff may
    choose beyond the automatic rule); never a conflicted reviewer, never twice."""
    require_staff(by)
    user = _reviewer_user(reviewer)
    if due_at is not None and (not isinstance(due_at, datetime) or timezone.is_naive(due_at)
                               or due_at <= timezone.now()):
        raise invalid({"due_at": [_("Enter a date and time in the future.")]})
    with transaction.atomic():
        locked = _lock_application(application.pk)
        if locked is None:
            raise not_found()
        if locked.status not in ASSIGNABLE:
            raise DomainError("invalid_transition", _(
                "An application that is %(status)s cannot be given to reviewers.") % {
                "status": Status(locked.status).label}, status=409)
        return _place(application=locked, reviewer=user, by=by, due_at=due_at)


def call_auto_assign(*, by, call) -> dict:
    """Top up every accepted or in-review application of the call to the call's number of
    reviewers: among the reviewers whose expertise covers the measure (or its pillar), not
    conflicted and never given the application before, the least loaded first.

    Each application is its own transaction, under its row lock: a second run (or a concurrent
    one) adds nothing where the number is reached. Returns the count of new reviews and the
    applications that could not reach the number."""
    require_staff(by)
    target = call.reviewers_per_application
    pks = list(Application.objects.filter(call=call, status__in=ASSIGNABLE)
               .order_by("submitted_at", "pk").values_list("pk", flat=True))
    assigned, short = 0, []
    for pk in pks:
        with transaction.atomic():
            locked = _lock_application(pk)
            if locked is None or locked.status not in ASSIGNABLE:
                continue
            assigned += len(_top_up(application=locked, by=by, target=target))
            if _active_count(locked) < target:
                short.append(pk)
    with transaction.atomic():
        audit(action="auto_assigned", by=by, call=call,
              data={"assigned": assigned, "short": short})
    return {"assigned": assigned, "short": short}


def review_recuse(*, by, review: Review, reason: str) -> Review:
    """The assigned reviewer steps back (a conflict, or any other reason they give); another
    eligible reviewer is assigned in their place when there is one."""
    with transaction.atomic():
        application = _lock_application(review.application_id)
        locked = Review.objects.select_for_update().filter(pk=review.pk).first()
        if application is None or locked is None or by is None or locked.reviewer_id != by.pk:
            raise not_found()
        if locked.state != ReviewState.ASSIGNED:
            raise DomainError("invalid_transition", _(
                "Only a review still to be scored can be recused."), status=409)
        if not (isinstance(reason, str) and reason.strip()):
            raise invalid({"reason": [_("Say why you step back from this review.")]})
        return _recuse(application=application, review=locked, by=by, reason=reason.strip())


def _recuse(*, application: Application, review: Review, by, reason: str) -> Review:
    """Recuse a locked review of the locked application, assign one replacement (automatically:
    no person chose them) and close the review when this was the last one outstanding."""
    review.state = ReviewState.RECUSED
    review.recusal_reason = reason
    review.recused_at = timezone.now()
    review.save(update_fields=["state", "recusal_reason", "recused_at"])
    entry = audit(action="review_recused", by=by, application=application, reason=reason,
                  data={"review": review.pk, "reviewer": review.reviewer_id})
    replacement = None
    if application.status in ASSIGNABLE:
        made = _top_up(application=application, by=None,
                       target=application.call.reviewers_per_application, limit=1,
                       data={"replaces": review.pk})
        replacement = made[0] if made else None
    entry.data |= {
        "replacement": replacement.reviewer_id if replacement else None,
        "replacement_review": replacement.pk if replacement else None,
        # The application keeps fewer reviewers than the call asks for.
        "short": _active_count(application) < application.call.reviewers_per_application,
    }
    entry.save(update_fields=["data"])
    review_complete(application=application)
    return review


def reviews_recuse_for_affiliation(*, by, profile: ReviewerProfile, registration_number: str,
                                   reason: str) -> list[Review]:
    """Recuse every review the reviewer still has to score of a company with this number.
    Call inside the declaring transaction, with the applications and the profile locked."""
    recused = []
    rows = (Review.objects.select_for_update(of=("self",))
            .filter(reviewer=profile.user, state=ReviewState.ASSIGNED,
                    application__company__registration_number=registration_number)
            .order_by("application_id", "pk"))
    for review in rows:
        application = _lock_application(review.application_id)
        recused.append(_recuse(application=application, review=review, by=by, reason=reason))
    return recused


def applications_lock_for_affiliation(*, profile: ReviewerProfile, registration_number: str
                                      ) -> list[Application]:
    """Lock, in id order, the applications a new affiliation may concern: those of companies
    with the number that take reviewers, and those the reviewer holds a review of. Taken before
    the profile, in the order assignments take them, so the two never deadlock."""
    held = Review.objects.filter(reviewer=profile.user, state=ReviewState.ASSIGNED)
    return list(Application.objects.select_for_update(of=("self",))
                .filter(company__registration_number=registration_number)
                .filter(Q(status__in=ASSIGNABLE) | Q(pk__in=held.values("application_id")))
                .order_by("pk"))


__all__ = ["ASSIGNABLE", "call_auto_assign", "review_assign", "review_recuse"]
