"""The portal's events tell every member of the company: submission, return, accept, reject."""

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from applications import services as portal
from applications.models import Profile, Status, StatusEvent
from notices.events import Event
from notices.models import Channel, Notice
from qianhai_grants.errors import DomainError
from tests.factories import (
    DEMO_PROJECT_INPUTS,
    CompanyFactory,
    application_in,
    member,
    open_call,
    staff_user,
    tiny_pdf,
)

DEMO_DOCUMENTS = ("investment_evidence", "project_report")


@pytest.fixture
def company(catalogue):
    company = CompanyFactory()
    member(company, "editor")
    viewer = member(company, "viewer")
    Profile.objects.create(user=viewer, preferred_language="en")
    return company


@pytest.fixture
def people(company):
    return set(company.memberships.values_list("user__email", flat=True))


@pytest.fixture
def ready(company):
    owner = company.created_by
    application, _ = portal.application_create(by=owner, call=open_call(), company=company,
                                               inputs=DEMO_PROJECT_INPUTS)
    for kind in DEMO_DOCUMENTS:
        portal.attachment_add(by=owner, application=application, kind=kind,
                              upload=SimpleUploadedFile(f"{kind}.pdf", tiny_pdf()))
    return application


def test_submitting_tells_every_member(company, people, ready,
                                       django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        portal.application_submit(by=company.created_by, application=ready)
    notices = Notice.objects.filter(event=Event.SUBMISSION_RECEIVED)
    assert set(notices.filter(channel=Channel.IN_APP).values_list(
        "recipient__email", flat=True)) == people
    assert {m.to[0] for m in mail.outbox} == people
    viewer = Profile.objects.get(preferred_language="en").user
    english = next(m for m in mail.outbox if m.to == [viewer.email])
    assert f"#{ready.pk}" in english.subject
    assert "AI application demonstration projects" in english.subject


def test_a_refused_submission_tells_no_one(company, ready):
    portal.attachment_remove(by=company.created_by, attachment=ready.attachments.first())
    with pytest.raises(DomainError):
        portal.application_submit(by=company.created_by, application=ready)
    assert not Notice.objects.exists()


@pytest.mark.parametrize(("to", "event", "reason"), [
    (Status.RETURNED, Event.RETURNED_FOR_CHANGES, "请补充经审计的投资报告"),
    (Status.ACCEPTED, Event.ACCEPTED, ""),
    (Status.REJECTED, Event.REJECTED, "项目不在前海合作区"),
])
def test_screening_tells_every_member_with_the_reason(company, people, to, event, reason,
                                                     django_capture_on_commit_callbacks):
    application = application_in("submitted", company=company)
    screener = staff_user()
    with django_capture_on_commit_callbacks(execute=True):
        portal.application_screen(by=screener, application=application, to=to, reason=reason)
    emails = Notice.objects.filter(event=event, channel=Channel.EMAIL)
    assert set(emails.values_list("recipient__email", flat=True)) == people
    assert {m.to[0] for m in mail.outbox} == people  # the screener is told nothing
    status_event = StatusEvent.objects.get(application=application, to_status=to)
    assert emails.first().key.startswith(f"{event}:application-{application.pk}:e"
                                         f"{status_event.pk}:")
    if reason:
        assert all(reason in m.body for m in mail.outbox)


def test_returned_twice_is_two_notices(company, ready, django_capture_on_commit_callbacks):
    owner, screener = company.created_by, staff_user()
    with django_capture_on_commit_callbacks(execute=True):
        for round_ in (1, 2):
            portal.application_submit(by=owner, application=ready)
            portal.application_screen(by=screener, application=ready, to=Status.RETURNED,
                                      reason=f"第{round_}次补正")
    assert Notice.objects.filter(event=Event.RETURNED_FOR_CHANGES, channel=Channel.EMAIL,
                                 recipient=owner).count() == 2
    assert Notice.objects.filter(event=Event.SUBMISSION_RECEIVED, channel=Channel.EMAIL,
                                 recipient=owner).count() == 2
    second = Notice.objects.filter(event=Event.SUBMISSION_RECEIVED, recipient=owner,
                                   channel=Channel.IN_APP).order_by("pk").last()
    assert second.context["revision"] == 2


def test_a_screening_refused_by_the_transition_table_tells_no_one(company):
    application = application_in("accepted", company=company)
    with pytest.raises(DomainError):
        portal.application_screen(by=staff_user(), application=application,
                                  to=Status.REJECTED, reason="太迟")
    assert not Notice.objects.exists()
