"""Every back-office event reaches its people, written in the same transaction as the event."""

import datetime
from unittest import mock

import pytest
from django.core import mail

from applications.models import Application, Profile, Status
from notices.models import Notice
from qianhai_grants.errors import DomainError
from reviews.services import assignments, decisions, payments, publicity
from reviews.services.calendar import holidays_load
from tests.factories import application_in, member, reviewer_user, staff_user
from tests.reviews.test_decisions import reviewed
from tests.reviews.test_publicity import SIGNED, at

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def private_storage(settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"


@pytest.fixture
def demo_call(catalogue):
    from tests.factories import open_call

    return open_call("demo-project", funding_year=2026)


def events_of(user) -> list[tuple[str, str]]:
    return sorted(Notice.objects.filter(recipient=user).values_list("event", "channel"))


def both(event) -> list[tuple[str, str]]:
    return [(event, "email"), (event, "in_app")]


def test_a_proposal_reaches_every_member_of_the_company(demo_call):
    staff = staff_user()
    application = reviewed(demo_call)
    viewer = member(application.company, "viewer")

    decisions.application_approve(by=staff, application=application)

    for person in (application.company.created_by, viewer):
        assert events_of(person) == both("proposed")
    notice = Notice.objects.filter(recipient=viewer, channel="in_app").get()
    assert "1,500,000.00" in notice.body or "1500000.00" in notice.body


def test_a_refused_approval_leaves_no_notice(demo_call):
    staff = staff_user()
    for _ in range(10):
        decisions.application_approve(by=staff, application=reviewed(demo_call))
    late = reviewed(demo_call)
    with pytest.raises(DomainError):
        decisions.application_approve(by=staff, application=late)

    assert events_of(late.company.created_by) == []


def test_decline_and_reserve_are_told_with_their_reason(demo_call):
    staff = staff_user()
    declined, reserved = reviewed(demo_call), reviewed(demo_call)
    decisions.application_decline(by=staff, application=declined, reason="预算依据不足")
    decisions.application_reserve(by=staff, application=reserved)

    assert events_of(declined.company.created_by) == both("declined")
    assert "预算依据不足" in Notice.objects.filter(event="declined").first().body
    assert events_of(reserved.company.created_by) == both("reserve")


def test_an_assignment_is_told_to_the_reviewer_only(demo_call):
    staff = staff_user()
    reviewer = reviewer_user()
    application = application_in(Status.ACCEPTED, call=demo_call)

    assignments.review_assign(by=staff, application=application, reviewer=reviewer)

    assert events_of(reviewer) == both("review_assigned")
    assert not Notice.objects.filter(recipient=application.company.created_by,
                                     event="review_assigned").exists()


def test_the_publicity_round_tells_companies_and_staff(demo_call):
    holidays_load()
    staff, other_staff = staff_user(), staff_user()
    application = reviewed(demo_call)
    decisions.application_approve(by=staff, application=application)
    with mock.patch("django.utils.timezone.now", return_value=at(2026, 11, 2)):
        notice = publicity.publicity_open(by=staff, call=demo_call)
        objection = publicity.objection_file(publicity=notice, application=application.pk,
                                             **SIGNED)
        publicity.objection_resolve(by=staff, objection=objection, upheld=False, note="不属实")
    with mock.patch("django.utils.timezone.now", return_value=at(2026, 11, 9)):
        publicity.publicity_finalize(by=staff, call=demo_call)

    owner = application.company.created_by
    assert {event for event, _ in events_of(owner)} == {
        "proposed", "publicity_opened", "objection_resolved", "awarded"}
    for person in (staff, other_staff):
        assert events_of(person) == both("objection_received")
    assert "深圳市某科技有限公司" in Notice.objects.filter(
        recipient=other_staff, channel="in_app").get().body


def test_a_payment_is_told_in_the_recipients_language(demo_call,
                                                      django_capture_on_commit_callbacks):
    staff = staff_user()
    application = reviewed(demo_call)
    decisions.application_approve(by=staff, application=application)
    Application.objects.filter(pk=application.pk).update(status=Status.AWARDED)
    owner = application.company.created_by
    Profile.objects.update_or_create(user=owner, defaults={"preferred_language": "zh-hant"})
    english = member(application.company, "viewer")
    Profile.objects.update_or_create(user=english, defaults={"preferred_language": "en"})
    award = application.award

    with django_capture_on_commit_callbacks(execute=True):
        payments.payment_record(by=staff, award=award, amount="500000",
                                paid_on=datetime.date(2026, 3, 31), reference="QH-1")

    sent = {message.to[0]: message for message in mail.outbox}
    assert sent[owner.email].subject != sent[english.email].subject
    assert "QH-1" in sent[english.email].body
    assert set(both("payment_made")) <= set(events_of(owner))
