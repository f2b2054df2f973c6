"""Helpers shared by the portal's services."""


from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _

from applications import selectors
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
