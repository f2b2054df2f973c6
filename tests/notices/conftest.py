"""Fixtures of the notice tests: people with a preferred language, a bad mail server."""

import smtplib

import pytest
from django.core.mail.backends.locmem import EmailBackend

from applications.models import Profile
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def private_storage(settings, tmp_path):
    """Uploaded documents go to a temporary folder, never into the repository."""
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    return settings.PRIVATE_STORAGE_ROOT


def person(language=None, **kwargs):
    """A user; with `language`, a profile that prefers it (without one: no profile at all)."""
    user = UserFactory(**kwargs)
    if language:
        Profile.objects.create(user=user, preferred_language=language)
    return user


@pytest.fixture
def refusing(monkeypatch):
    """The mail server refuses the addresses put in the returned set; it sends the others."""
    refused: set[str] = set()
    send = EmailBackend.send_messages

    def send_messages(self, messages):
        for message in messages:
            if set(message.to) & refused:
                raise smtplib.SMTPRecipientsRefused(
                    dict.fromkeys(message.to, (550, b"mailbox unavailable")))
        return send(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", send_messages)
    return refused
