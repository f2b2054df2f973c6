"""Reads with rules: every query here is scoped to who asks (DESIGN rule 6)."""

import unicodedata
from decimal import Decimal

from django.db.models import Q, QuerySet, Sum

from applications.models import (
    INACTIVE_STATUSES,
    Application,
    Call,
    Company,
    MemberRole,
    Membership,
    Status,
)
from qianhai_grants.roles import MANAGEMENT, REVIEWER, STAFF

EDIT_ROLES = (MemberRole.OWNER, MemberRole.EDITOR)


def user_roles(user) -> set[str]:
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_role_names", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._role_names = cached
    return cached


def is_staff_officer(user) -> bool:
    return STAFF in user_roles(user)


def reads_everything(user) -> bool:
    return bool(user_roles(user) & {STAFF, MANAGEMENT})


def companies_of(user) -> QuerySet[Company]:
    if not user.is_authenticated:
        return Company.objects.none()
    return Company.objects.filter(memberships__user=user).distinct()


def membership_of(user, company) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, company=company).first()


def sees_applicants_people(user, company) -> bool:
    """Whether the user may learn which of a company's people did what (their login names, which
    are email addresses): its members and the Authority's staff and management may; a reviewer
    given one of its applications reads the application, not who at the company wrote it."""
    return reads_everything(user) or membership_of(user, company) is not None


def can_edit_for(user, company) -> bool:
    membership = membership_of(user, company)
    return membership is not None and membership.role in EDIT_ROLES


def applications_visible_to(user) -> QuerySet[Application]:
    """A company member sees its companies' applications; staff and management see every
    application once it has been submitted, never another company's draft, not even one that was
    withdrawn before it was ever submitted; a reviewer sees the applications they were given to
    score (a review assigned or submitted), never one of a company they are affiliated with, nor
    one they recused themselves from; everyone else sees nothing here."""
    from reviews.models import Affiliation, Review, ReviewState  # reviews builds on applications

    base = Application.objects.select_related("call__measure", "company", "measure_version")
    if not user.is_authenticated or not user.is_active:
        return base.none()
    # A subquery, not a join: no duplicates, so no DISTINCT (which would break locking and
    # aggregation on the result).
    mine = Q(company_id__in=Membership.objects.filter(user=user).values("company_id"))
    visible = mine
    if reads_everything(user):
        # A draft withdrawn by its company was never submitted (revision 0): still private.
        visible |= ~Q(status=Status.DRAFT) & ~Q(status=Status.WITHDRAWN, revision=0)
    if REVIEWER in user_roles(user):
        # Conflicts are checked on every read, not only at assignment: an affiliation declared
        # later hides the application at once, even before the review is recused.
        given = Review.objects.filter(
            reviewer=user, state__in=(ReviewState.ASSIGNED, ReviewState.SUBMITTED))
        affiliated = Affiliation.objects.filter(reviewer__user=user)
        visible |= Q(pk__in=given.values("application_id")) & ~Q(
            company__registration_number__in=affiliated.values("registration_number"))
    return base.filter(visible)


def calls_visible() -> QuerySet[Call]:
    return Call.objects.select_related("measure")


def awarded_to_date(*, measure_id: int, subject_key: str,
                    exclude_application_id: int | None = None,
                    company_id: int | None = None) -> Decimal:
    """What the platform or model already received under this measure, over all years.

    With `company_id`, only that applicant's awards count (MEASURES.md, industry-llm: a second
    award "for the same applicant and model"); another company's platform or model of the same
    name is a different subject.
    """
    if not subject_key:
        return Decimal("0.00")
    rows = Application.objects.filter(call__measure_id=measure_id, subject_key=subject_key,
                                      status=Status.AWARDED)
    if company_id is not None:
        rows = rows.filter(company_id=company_id)
    if exclude_application_id:
        rows = rows.exclude(pk=exclude_application_id)
    return rows.aggregate(total=Sum("amount"))["total"] or Decimal("0.00")


def company_number_taken(*, registration_type: str, registration_number: str) -> bool:
    """Whether a (normalised) registration number is already claimed."""
    return Company.objects.filter(registration_type=registration_type,
                                  registration_number=registration_number).exists()


def active_duplicate_exists(*, call, company, subject_key, exclude_id=None) -> bool:
    rows = Application.objects.filter(call=call, company=company, subject_key=subject_key) \
        .exclude(status__in=INACTIVE_STATUSES)
    if exclude_id:
        rows = rows.exclude(pk=exclude_id)
    return rows.exists()


def subject_key_of(version, values: dict) -> str:
    """The platform or model an application is for, case- and space-insensitively
    (MEASURES.md, industry-llm: `model_name` compared case- and space-insensitively)."""
    if not version.subject_field:
        return ""
    raw = values.get(version.subject_field)
    if not raw:
        return ""
    # NFKC first: a name typed with full-width letters (as Chinese input methods may) is the same
    # name.
    return "".join(unicodedata.normalize("NFKC", str(raw)).split()).casefold()[:200]


def inputs_quote(*, version, values: dict, measure_id: int, company_id: int,
                 subject_key: str | None = None, application_id: int | None = None):
    """The engine's quote for these inputs, counting what this company's platform or model
    already received under the measure. The one place an application's estimate is computed:
    services store it, pages and the API show it."""
    from measures.quotes import quote_from_values

    key = subject_key_of(version, values) if subject_key is None else subject_key
    awarded = awarded_to_date(measure_id=measure_id, subject_key=key, company_id=company_id,
                              exclude_application_id=application_id)
    return quote_from_values(version=version, values=values, awarded_to_date=awarded)
