"""Who is told, in which language, and the reads of the notification centre (scoped to the
user asking, DESIGN rule 6)."""

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from applications.models import Language, Profile
from notices.models import Channel, Notice, State
from qianhai_grants.roles import STAFF

User = get_user_model()

DEFAULT_LANGUAGE = Language.ZH_HANS.value


def company_people(company) -> QuerySet:
    """Every active member of `company` (owners, editors and viewers), with their profile."""
    return (User.objects.filter(memberships__company=company, is_active=True)
            .select_related("profile").order_by("pk"))


def staff_people() -> QuerySet:
    """Every active user in the staff group."""
    return (User.objects.filter(groups__name=STAFF, is_active=True)
            .select_related("profile").distinct().order_by("pk"))


def user_language(user) -> str:
    """The user's preferred language (their profile), Simplified Chinese when none is set."""
    try:
        language = user.profile.preferred_language
    except Profile.DoesNotExist:
        return DEFAULT_LANGUAGE
    return language if language in Language.values else DEFAULT_LANGUAGE


def notifications_of(user) -> QuerySet[Notice]:
    """The user's own in-app notices, newest first; nothing for an anonymous user."""
    if not user.is_authenticated:
        return Notice.objects.none()
    return Notice.objects.filter(recipient=user, channel=Channel.IN_APP).order_by(
        "-created_at", "-pk")


def unread_count(user) -> int:
    """One COUNT query: the user's unread in-app notices (the nav badge)."""
    if not user.is_authenticated:
        return 0
    return Notice.objects.filter(recipient=user, channel=Channel.IN_APP,
                                 read_at__isnull=True).count()


def failed_notices() -> QuerySet[Notice]:
    """Email notices that gave up after their last attempt (for staff), newest first."""
    return (Notice.objects.filter(channel=Channel.EMAIL, state=State.FAILED)
            .select_related("recipient").order_by("-created_at", "-pk"))
