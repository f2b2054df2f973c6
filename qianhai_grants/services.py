"""Account set-up shared by every app."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from qianhai_grants.errors import DomainError
from qianhai_grants.roles import COMPANY, MANAGEMENT, REVIEWER, ROLES, STAFF

DEMO_ACCOUNTS = (
    # (role, username/email, password). Demo only: seed_demo refuses to run without DEBUG.
    (COMPANY, "company@demo.qianhai-grants.test", "demo-company-2024"),
    (REVIEWER, "reviewer@demo.qianhai-grants.test", "demo-reviewer-2024"),
    (STAFF, "staff@demo.qianhai-grants.test", "demo-staff-2024"),
    (MANAGEMENT, "management@demo.qianhai-grants.test", "demo-management-2024"),
)


def roles_ensure() -> dict[str, Group]:
    """Create the role groups if missing. In the admin, staff manage the catalogue and calls and
    read applications (whose admin pages are read-only); management reads only."""
    groups = {name: Group.objects.get_or_create(name=name)[0] for name in ROLES}
    admin_apps = Permission.objects.filter(content_type__app_label__in=(
        "measures", "applications", "reviews"))
    groups[STAFF].permissions.add(*admin_apps)
    groups[MANAGEMENT].permissions.add(*admin_apps.filter(codename__startswith="view_"))
    return groups


def demo_accounts_create() -> list[tuple[str, str, str]]:
    """One account per role for a local demo. Idempotent; passwords are reset to the demo ones."""
    if not settings.DEBUG:
        raise DomainError("demo_refused", "Demo accounts are only created with DEBUG on.")
    user_model = get_user_model()
    with transaction.atomic():
        groups = roles_ensure()
        for role, email, password in DEMO_ACCOUNTS:
            user, _ = user_model.objects.get_or_create(username=email,
                                                       defaults={"email": email})
            user.set_password(password)
            user.is_staff = role in (STAFF, MANAGEMENT)  # the admin: staff edit, management read
            user.save()
            user.groups.set([groups[role]])
            if role == REVIEWER:
                _demo_reviewer_profile(user)
        _demo_calls(user_model.objects.get(username=DEMO_ACCOUNTS[2][1]))
    return list(DEMO_ACCOUNTS)


DEMO_CALL_MEASURES = ("compute-platform", "core-algorithm", "industry-llm", "demo-project")


def _demo_calls(staff) -> None:
    """Open calls for the measures with money in the source, this funding year, so a local demo
    has something to apply to (skipped for a measure that already has a call this year)."""
    from datetime import timedelta

    from django.utils import timezone

    from applications.models import Call
    from applications.services import call_open
    from measures.models import Measure

    now = timezone.now()
    for measure in Measure.objects.filter(code__in=DEMO_CALL_MEASURES):
        if not Call.objects.filter(measure=measure, funding_year=now.year).exists():
            call_open(by=staff, measure=measure, funding_year=now.year,
                      opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=60))


def _demo_reviewer_profile(user) -> None:
    """The demo reviewer is in the pool with every pillar as expertise, so auto-assignment in a
    local demo has someone to assign."""
    from measures.models import Pillar
    from reviews.models import ReviewerProfile

    ReviewerProfile.objects.update_or_create(user=user, defaults={
        "name": "Demo reviewer", "expertise": list(Pillar.values), "active": True})
