"""Helpers shared by the portal's services."""


from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _

from applications import selectors
from applications.models import Membership
from qianhai_grants.errors import DomainError

User = get_user_model()


def _invalid(fields: dict, message=None) -> DomainError:
    return DomainError("invalid", message or _("The input is not valid."), status=400,
                       fields=fields)


def _require_editor(user, company):
    if not selectors.can_edit_for(user, company):
        if selectors.membership_of(user, company) is None:
            raise DomainError("not_found", _("Not found."), status=404)
        raise DomainError("forbidden", _("Viewers cannot change applications."), status=403)


def _require_editor_of_members(user, company) -> list:
    """`_require_editor` from one read of every member of the company, with their users and
    profiles, returned: the active ones in the order `notices.selectors.company_people` lists
    them, for a service that tells the company of what it did (a submission's receipt), so
    that the members are not read a second time."""
    memberships = list(Membership.objects.filter(company=company)
                       .select_related("user__profile").order_by("user_id"))
    mine = next((m for m in memberships if m.user_id == user.pk), None) \
        if user.is_authenticated else None
    if mine is None:
        raise DomainError("not_found", _("Not found."), status=404)
    if mine.role not in selectors.EDIT_ROLES:
        raise DomainError("forbidden", _("Viewers cannot change applications."), status=403)
    return [m.user for m in memberships if m.user.is_active]
