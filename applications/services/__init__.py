"""Every write of the company portal (DESIGN rules 1 and 2), one module per subject.

Callers import from here: `from applications import services; services.application_submit(...)`.
"""

from applications.selectors import subject_key_of
from applications.services.accounts import (
    email_confirm,
    invitations_accept,
    profile_of,
    profile_update,
    user_register,
)
from applications.services.attachments import attachment_add, attachment_remove
from applications.services.calls import call_open, call_validate
from applications.services.companies import company_create, company_validate, member_invite
from applications.services.drafts import _version_for, application_create, application_update
from applications.services.lifecycle import (
    SCREENING_OUTCOMES,
    application_screen,
    application_submit,
    application_transition,
    application_withdraw,
)

__all__ = [
    "SCREENING_OUTCOMES", "_version_for", "application_create", "application_screen",
    "application_submit", "application_transition", "application_update",
    "application_withdraw", "attachment_add", "attachment_remove", "call_open", "call_validate",
    "company_create", "company_validate", "email_confirm", "invitations_accept", "member_invite",
    "profile_of", "profile_update", "subject_key_of", "user_register",
]
