"""Writing notices with their event: the transactional outbox, keys, languages, the hand-off."""

import datetime
import logging
from decimal import Decimal

import pytest
from django.core import mail
from django.db import transaction
from kombu.exceptions import OperationalError

from applications import services as portal
from applications.models import Application, Profile, Status
from notices import messages, services, tasks
from notices.events import Event
from notices.models import Channel, Notice, State
from tests.factories import CompanyFactory, application_in, member, staff_user
from tests.notices.conftest import person


def tell(recipients, subject_key="application-1:e1", event=Event.ACCEPTED, **context):
    return services.notify(event=event, recipients=recipients, subject_key=subject_key,
                           context={"application_id": 1, **context}, url="/applications/1/")


def test_notify_in_a_transaction_that_rolls_back_writes_and_sends_nothing(
        db, django_capture_on_commit_callbacks):
    user = person("en")
    with django_capture_on_commit_callbacks(execute=True) as callbacks, \
            pytest.raises(RuntimeError), transaction.atomic():
        tell([user])
        assert Notice.objects.count() == 2  # visible inside the transaction only
        raise RuntimeError("the event itself failed")
    assert Notice.objects.count() == 0
    assert callbacks == []
    assert mail.outbox == []


def test_notify_writes_one_email_and_one_in_app_notice_per_recipient_once(
        db, django_capture_on_commit_callbacks):
    first, second = person("en"), person("zh-hant")
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            written = tell([first, second, first])
        with transaction.atomic():
            again = tell([first, second])
    assert Notice.objects.count() == 4
    assert sorted(n.pk for n in again) == sorted(n.pk for n in written)
    assert len(mail.outbox) == 2  # the second call sent nothing either
    rows = {(n.recipient_id, n.channel): n for n in Notice.objects.all()}
    assert rows[first.pk, Channel.EMAIL].key == f"accepted:application-1:e1:{first.pk}:email"
    assert rows[first.pk, Channel.EMAIL].state == State.SENT
    in_app = rows[second.pk, Channel.IN_APP]
    assert (in_app.state, in_app.read_at, in_app.attempts) == (State.SENT, None, 0)
    assert in_app.url == "http://127.0.0.1:8000/applications/1/"


def test_the_same_event_about_another_subject_is_another_notice(db):
    user = person("en")
    tell([user], subject_key="application-1:e1")
    tell([user], subject_key="application-1:e2")
    assert Notice.objects.filter(channel=Channel.EMAIL).count() == 2


def test_inactive_users_get_nothing_and_users_without_email_only_the_in_app_notice(db):
    gone, silent = person("en", is_active=False), person("en", email="")
    tell([gone, silent])
    assert list(Notice.objects.values_list("recipient_id", "channel")) == [
        (silent.pk, Channel.IN_APP)]


def test_each_recipient_reads_the_email_in_their_own_language(
        catalogue, settings, django_capture_on_commit_callbacks):
    settings.SITE_URL = "https://grants.qianhai.example"
    application = application_in("submitted")
    company = application.company
    traditional = member(company, "viewer")
    english = member(company, "editor")
    for user, language in ((traditional, "zh-hant"), (english, "en")):
        Profile.objects.create(user=user, preferred_language=language)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        services.notify_application(event=Event.RETURNED_FOR_CHANGES, application=application,
                                    discriminator="e1", reason="请补充审计报告")
    by_address = {m.to[0]: m for m in mail.outbox}
    hant, en = by_address[traditional.email], by_address[english.email]
    assert hant.subject != en.subject
    assert "人工智能應用示範項目資金支持" in hant.subject
    assert "AI application demonstration projects" in en.subject
    assert f"#{application.pk}" in en.subject
    assert "请补充审计报告" in en.body
    assert f"https://grants.qianhai.example/applications/{application.pk}/" in en.body
    assert company.name_en in en.body and company.name in hant.body
    # The owner has no profile: Simplified Chinese.
    owner = Notice.objects.get(recipient=company.created_by, channel=Channel.EMAIL)
    assert owner.language == "zh-hans"
    assert "人工智能应用示范项目资金支持" in owner.subject
    # The Message-ID comes from the key: a second send of one notice carries the same one.
    email = Notice.objects.get(recipient=english, channel=Channel.EMAIL)
    assert en.message()["Message-ID"] == messages.message_id(email.key)
    assert messages.message_id(email.key) != messages.message_id(owner.key)


def test_the_rendered_text_is_kept_as_it_was_sent(db):
    user = person("en")
    tell([user], reason="first wording")
    notice = Notice.objects.get(channel=Channel.IN_APP)
    # Rendering again later (another reason, a catalogue edit) does not touch the row.
    messages.render_message(event=Event.ACCEPTED, language="en", context={"reason": "other"})
    notice.refresh_from_db()
    assert "first wording" in notice.body
    assert notice.context == {"application_id": 1, "reason": "first wording"}


def test_the_context_holds_plain_values_only(db):
    user = person("en")
    tell([user], amount=Decimal("1500000.00"), paid_on=datetime.date(2026, 5, 4))
    assert Notice.objects.first().context == {
        "application_id": 1, "amount": "1500000.00", "paid_on": "2026-05-04"}
    with pytest.raises(TypeError):
        tell([user], subject_key="application-2:e1", application=user)
    with pytest.raises(TypeError):
        tell([user], subject_key="application-3:e1", amount=0.1)
    with pytest.raises(ValueError):
        services.notify(event="party", recipients=[user], subject_key="x", context={})


def test_a_broker_that_is_down_loses_nothing_and_undoes_nothing(
        catalogue, monkeypatch, caplog, django_capture_on_commit_callbacks):
    application = application_in("submitted")
    staff = staff_user()

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.deliver_notices, "delay", broker_down)
    with caplog.at_level(logging.WARNING, logger="notices.services"), \
            django_capture_on_commit_callbacks(execute=True):
        portal.application_screen(by=staff, application=application, to=Status.ACCEPTED)
    assert Application.objects.get(pk=application.pk).status == Status.ACCEPTED
    email = Notice.objects.get(channel=Channel.EMAIL)
    assert (email.state, email.attempts) == (State.PENDING, 0)
    assert mail.outbox == []
    assert "beat scan will send them" in caplog.text
    # The broker is back: the scan sends what waited.
    monkeypatch.undo()
    assert services.notices_requeue_stuck(
        now=email.created_at + datetime.timedelta(minutes=3)) == 1
    email.refresh_from_db()
    assert email.state == State.SENT
    assert [m.to for m in mail.outbox] == [[application.company.created_by.email]]


def test_a_transactions_emails_go_to_celery_after_its_commit_in_chunks(
        db, monkeypatch, django_capture_on_commit_callbacks):
    people = [person("en") for _ in range(40)]
    queued = []
    monkeypatch.setattr(tasks.deliver_notices, "delay", queued.append)
    monkeypatch.setattr(services, "DELIVERY_CHUNK", 25)  # 40 emails: two tasks

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        # Two events in one transaction (as a 公示 tells every company in it).
        tell(people[:30], subject_key="application-1:e1")
        tell(people[30:], subject_key="application-2:e1")
        assert queued == []  # nothing before the commit

    emails = list(Notice.objects.filter(channel=Channel.EMAIL).order_by("pk")
                  .values_list("pk", flat=True))
    assert len(emails) == 40
    assert queued == [emails[:25], emails[25:]]


def test_emails_of_a_rolled_back_savepoint_are_not_handed_over(
        db, monkeypatch, django_capture_on_commit_callbacks):
    kept, dropped = person("en"), person("en")
    queued = []
    monkeypatch.setattr(tasks.deliver_notices, "delay", queued.append)

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            tell([dropped], subject_key="application-1:e1")
            raise RuntimeError("that part failed")
        tell([kept], subject_key="application-2:e1")

    assert queued == [[Notice.objects.get(channel=Channel.EMAIL).pk]]
    assert Notice.objects.get(channel=Channel.EMAIL).recipient == kept


def test_notice_keys_are_unique_in_the_database(db):
    from django.db import IntegrityError

    user = person("en")
    tell([user])
    duplicate = Notice.objects.filter(channel=Channel.EMAIL).values().get()
    duplicate.pop("id")
    with pytest.raises(IntegrityError), transaction.atomic():
        Notice.objects.create(**duplicate)


def test_company_people_and_staff_people(catalogue):
    company = CompanyFactory()
    viewer = member(company, "viewer")
    gone = member(company, "editor", is_active=False)
    CompanyFactory()  # another company's owner is no one here
    from notices.selectors import company_people, staff_people

    assert set(company_people(company)) == {company.created_by, viewer}
    assert gone not in company_people(company)
    staff = staff_user()
    assert list(staff_people()) == [staff]


def test_a_status_change_notified_twice_is_written_once_and_keyed_on_its_event(
        catalogue, django_capture_on_commit_callbacks):
    """`notify_status_change` right after a transition uses the event the transition kept
    (no lookup before the insert); called again for the same event, it writes nothing new."""
    from applications.models import StatusEvent

    application = application_in(Status.SUBMITTED)
    staff = staff_user()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        accepted = portal.application_transition(application=application, to=Status.ACCEPTED,
                                                 by=staff, role="staff")
        first = services.notify_status_change(event=Event.ACCEPTED, application=accepted)
        again = services.notify_status_change(event=Event.ACCEPTED, application=accepted)
    event = StatusEvent.objects.get(application=application, to_status=Status.ACCEPTED)
    assert accepted.transition_event == event
    assert sorted(n.pk for n in again) == sorted(n.pk for n in first)
    assert Notice.objects.filter(event=Event.ACCEPTED).count() == 2  # email and in-app, once
    assert {n.key.split(":")[2] for n in first} == {f"e{event.pk}"}
    assert len(mail.outbox) == 1
