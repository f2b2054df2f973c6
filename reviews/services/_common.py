"""Helpers shared by the back office's services."""

from django.utils.translation import gettext as _

from applications import selectors as application_selectors
from qianhai_grants.errors import DomainError
from reviews.models import AuditEntry


def invalid(fields: dict, message=None) -> DomainError:
    return DomainError("invalid", message or _("The input is not valid."), status=400,
                       fields=fields)


def require_staff(user) -> None:
    if not application_selectors.is_staff_officer(user):
        raise DomainError("forbidden", _("Only staff can do this."), status=403)


def audit(*, action: str, by=None, application=None, call=None, data=None, reason: str = ""
          ) -> AuditEntry:
    """Record what a service did (call it inside the service's transaction)."""
    return AuditEntry.objects.create(
        action=action, by=by, application=application,
        call=call if call is not None else getattr(application, "call", None),
        data=data or {}, reason=reason or "")


def not_found() -> DomainError:
    """What a user may not know exists (DESIGN rule 6): the same answer as for nothing there."""
    return DomainError("not_found", _("Not found."), status=404)
