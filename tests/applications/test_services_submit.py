"""Submitting, returning, resubmitting, withdrawing and screening applications."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone, translation

from applications import services
from applications.models import Application, Call, Revision, Status, StatusEvent
from measures.models import Measure
from measures.selectors import version_current
from measures.services import RULE_KEYS, measure_version_create
from qianhai_grants.errors import DomainError
from qianhai_grants.roles import MANAGEMENT, REVIEWER
from tests.factories import (
    DEMO_PROJECT_INPUTS,
    CompanyFactory,
    UserFactory,
    company_user,
    member,
    open_call,
    staff_user,
    tiny_pdf,
    uscc,
)

DEMO_DOCUMENTS = ("investment_evidence", "project_report")
PLATFORM = {
    "platform_name": "前海智算一号",
    "platform_kind": "intelligent_computing_center",
    "authority_consent_ref": "深前海〔2024〕12号",
    "total_investment": "150000000",
    "prior_year_actual_investment": "30000000",
}


@pytest.fixture
def company(catalogue):
    return CompanyFactory(registration_number=uscc(21))


@pytest.fixture
def owner(company):
    return company.created_by


@pytest.fixture
def staff(catalogue):
    return staff_user()


@pytest.fixture
def call(catalogue):
    return open_call()


def draft_of(owner, company, call, inputs=DEMO_PROJECT_INPUTS, documents=DEMO_DOCUMENTS):
    application, _ = services.application_create(by=owner, call=call, company=company,
                                                 inputs=inputs)
    for kind in documents:
        services.attachment_add(by=owner, application=application, kind=kind,
                                upload=SimpleUploadedFile(f"{kind}.pdf", tiny_pdf()))
    return application


@pytest.fixture
def ready(owner, company, call):
    """A complete draft with every document."""
    return draft_of(owner, company, call)


def refused(call) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value


def unchanged(application) -> dict:
    """Everything a failed submission must leave as it was."""
    return {"row": Application.objects.values().get(pk=application.pk),
            "revisions": Revision.objects.filter(application=application).count(),
            "events": StatusEvent.objects.filter(application=application).count()}


def set_status(application, status):
    Application.objects.filter(pk=application.pk).update(status=status)
    application.refresh_from_db()


# ---------------------------------------------------------------- submit

def test_submission_writes_revision_1_and_an_event(owner, ready):
    submitted = services.application_submit(by=owner, application=ready)
    assert submitted.status == Status.SUBMITTED
    assert (submitted.revision, submitted.estimate) == (1, Decimal("1500000.00"))
    assert submitted.submitted_at is not None
    revision = Revision.objects.get(application=ready)
    assert (revision.number, revision.submitted_by) == (1, owner)
    assert revision.inputs == Application.objects.get(pk=ready.pk).inputs
    assert revision.measure_version == submitted.measure_version
    assert sorted(a["kind"] for a in revision.attachments) == sorted(DEMO_DOCUMENTS)
    event = StatusEvent.objects.get(application=ready)
    assert (event.from_status, event.to_status, event.by, event.reason) == (
        Status.DRAFT, Status.SUBMITTED, owner, "")


def test_an_editor_may_submit(ready, company):
    assert services.application_submit(by=member(company, "editor"),
                                       application=ready).status == Status.SUBMITTED


def test_a_viewer_gets_403_and_a_stranger_404(ready, company, staff):
    before = unchanged(ready)
    assert refused(lambda: services.application_submit(
        by=member(company, "viewer"), application=ready)).status == 403
    assert refused(lambda: services.application_submit(by=staff, application=ready)).status == 404
    assert refused(lambda: services.application_submit(
        by=company_user(), application=ready)).status == 404
    assert unchanged(ready) == before


@pytest.mark.parametrize(("opens", "closes"), [
    (timedelta(hours=1), timedelta(days=10)),          # not open yet
    (timedelta(days=-10), timedelta(seconds=-1)),      # closed
    (timedelta(days=-10), timedelta(0)),               # closes_at is the first closed moment
])
def test_submission_only_while_the_call_is_open(ready, owner, call, opens, closes):
    now = timezone.now()
    Call.objects.filter(pk=call.pk).update(opens_at=now + opens, closes_at=now + closes)
    before = unchanged(ready)
    error = refused(lambda: services.application_submit(by=owner, application=ready))
    assert (error.status, error.code) == (409, "call_closed")
    assert unchanged(ready) == before


def test_every_missing_field_and_document_is_reported_at_once(owner, company, call):
    application = draft_of(owner, company, call, inputs={}, documents=())
    before = unchanged(application)
    error = refused(lambda: services.application_submit(by=owner, application=application))
    assert (error.status, error.code) == (400, "not_submittable")
    assert set(error.fields) == {"project_name", "scene", "actual_investment",
                                 "completion_date", "attachments"}
    assert "eligibility" not in error.fields  # missing inputs are named by field instead
    assert unchanged(application) == before


def test_a_missing_document_is_named_by_its_label(owner, company, call):
    application = draft_of(owner, company, call, documents=("investment_evidence",))
    with translation.override("en"):
        error = refused(lambda: services.application_submit(by=owner, application=application))
    assert list(error.fields) == ["attachments"]
    assert "Project report" in error.fields["attachments"][0]
    assert "Evidence of actual investment" not in error.fields["attachments"][0]


def test_a_removed_document_does_not_count(owner, ready):
    attachment = ready.attachments.get(kind="project_report")
    services.attachment_remove(by=owner, attachment=attachment)
    error = refused(lambda: services.application_submit(by=owner, application=ready))
    assert list(error.fields) == ["attachments"]


def test_fields_documents_and_eligibility_are_reported_together(owner, company, catalogue):
    inputs = {**PLATFORM, "platform_kind": None, "authority_consent_ref": "",
              "total_investment": "99999999.99"}
    application = draft_of(owner, company, open_call("compute-platform"), inputs=inputs,
                           documents=("consent_letter",))
    before = unchanged(application)
    with translation.override("en"):
        error = refused(lambda: services.application_submit(by=owner, application=application))
    assert set(error.fields) == {"platform_kind", "attachments", "eligibility"}
    assert error.reasons == ("consent_missing", "below_min_total_investment")
    assert error.fields["eligibility"] == [
        "The Qianhai Authority's consent to support the build is missing.",
        "The project's total investment is below the minimum the measure requires."]
    assert unchanged(application) == before


def test_an_eligible_platform_submits(owner, company, catalogue):
    application = draft_of(owner, company, open_call("compute-platform"), inputs=PLATFORM,
                           documents=("consent_letter", "audited_investment_report"))
    submitted = services.application_submit(by=owner, application=application)
    assert submitted.estimate == Decimal("1500000.00")


def test_submission_uses_the_stored_inputs_not_the_callers_copy(owner, ready, company, call):
    ready.inputs = {}  # an unsaved change in the caller's object
    assert services.application_submit(by=owner, application=ready).status == Status.SUBMITTED
    assert Revision.objects.get().inputs["project_name"] == DEMO_PROJECT_INPUTS["project_name"]

    other = CompanyFactory(registration_number=uscc(22))
    incomplete = draft_of(other.created_by, other, call, inputs={"project_name": "只有名称"})
    incomplete.inputs = dict(DEMO_PROJECT_INPUTS)  # never saved: it does not count
    error = refused(lambda: services.application_submit(by=other.created_by,
                                                        application=incomplete))
    assert "actual_investment" in error.fields


def test_cannot_submit_twice(owner, ready):
    services.application_submit(by=owner, application=ready)
    before = unchanged(ready)
    error = refused(lambda: services.application_submit(by=owner, application=ready))
    assert (error.status, error.code) == (409, "invalid_transition")
    assert unchanged(ready) == before


@pytest.mark.parametrize("status", [Status.ACCEPTED, Status.AWARDED, Status.WITHDRAWN,
                                    Status.REJECTED])
def test_only_drafts_and_returned_applications_are_submitted(owner, ready, status):
    set_status(ready, status)
    assert refused(lambda: services.application_submit(
        by=owner, application=ready)).code == "invalid_transition"


def test_a_draft_is_submitted_under_the_version_in_force(owner, ready):
    measure = Measure.objects.get(code="demo-project")
    current = version_current(measure=measure)
    newer = measure_version_create(
        measure=measure, rules={**{k: getattr(current, k) for k in RULE_KEYS},
                                "rate": Decimal("0.12")},
        reason="test", effective_from=timezone.now())
    submitted = services.application_submit(by=owner, application=ready)
    assert submitted.measure_version == newer
    assert submitted.estimate == Decimal("1800000.00")
    assert Revision.objects.get().measure_version == newer


def test_a_draft_submitted_when_the_new_version_wants_another_document(owner, ready):
    measure = Measure.objects.get(code="demo-project")
    current = version_current(measure=measure)
    label = {"zh-hans": "环评", "zh-hant": "環評", "en": "Environmental assessment"}
    measure_version_create(
        measure=measure, rules={**{k: getattr(current, k) for k in RULE_KEYS},
                                "documents": [*current.documents, {
                                    "kind": "environment", "required": True, "label": label}]},
        reason="test", effective_from=timezone.now())
    with translation.override("en"):
        error = refused(lambda: services.application_submit(by=owner, application=ready))
    assert error.fields == {"attachments": ["Attach: Environmental assessment."]}


# ---------------------------------------------------------------- return and resubmit

def test_return_edit_and_resubmit_makes_revision_2(owner, ready, staff):
    services.application_submit(by=owner, application=ready)
    returned = services.application_screen(by=staff, application=ready, to=Status.RETURNED,
                                           reason="  请补充投资发票  ")
    assert returned.status == Status.RETURNED
    services.application_update(by=owner, application=returned,
                                inputs={**DEMO_PROJECT_INPUTS, "actual_investment": "16000000"})
    resubmitted = services.application_submit(by=owner, application=returned)
    assert (resubmitted.status, resubmitted.revision) == (Status.SUBMITTED, 2)
    first, second = Revision.objects.filter(application=ready).order_by("number")
    assert (first.number, second.number) == (1, 2)
    assert first.inputs["actual_investment"] == "15000000.00"
    assert second.inputs["actual_investment"] == "16000000.00"
    assert resubmitted.estimate == Decimal("1600000.00")
    assert list(StatusEvent.objects.filter(application=ready).values_list(
        "from_status", "to_status", "by", "reason")) == [
        (Status.DRAFT, Status.SUBMITTED, owner.pk, ""),
        (Status.SUBMITTED, Status.RETURNED, staff.pk, "请补充投资发票"),
        (Status.RETURNED, Status.SUBMITTED, owner.pk, ""),
    ]


@pytest.mark.parametrize("to", [Status.RETURNED, Status.REJECTED])
@pytest.mark.parametrize("reason", ["", "   ", None])
def test_return_and_reject_need_a_reason(owner, ready, staff, to, reason):
    services.application_submit(by=owner, application=ready)
    before = unchanged(ready)
    error = refused(lambda: services.application_screen(by=staff, application=ready, to=to,
                                                        reason=reason))
    assert (error.status, list(error.fields)) == (400, ["reason"])
    assert unchanged(ready) == before


# ---------------------------------------------------------------- screening

@pytest.fixture
def submitted(owner, ready):
    return services.application_submit(by=owner, application=ready)


@pytest.mark.parametrize(("to", "reason"), [(Status.ACCEPTED, ""),
                                            (Status.ACCEPTED, "材料齐全"),
                                            (Status.REJECTED, "不在前海合作区")])
def test_staff_screen_a_submitted_application(submitted, staff, to, reason):
    screened = services.application_screen(by=staff, application=submitted, to=to,
                                           reason=reason)
    assert screened.status == to
    event = StatusEvent.objects.filter(application=submitted).last()
    assert (event.from_status, event.to_status, event.by, event.reason) == (
        Status.SUBMITTED, to, staff, reason)


@pytest.mark.parametrize("make_user", [
    lambda company: company.created_by,
    lambda company: member(company, "editor"),
    lambda company: UserFactory(roles=[MANAGEMENT]),
    lambda company: UserFactory(roles=[REVIEWER]),
    lambda company: UserFactory(is_staff=True),
])
def test_only_staff_screen(submitted, company, make_user):
    before = unchanged(submitted)
    error = refused(lambda: services.application_screen(
        by=make_user(company), application=submitted, to=Status.ACCEPTED))
    assert (error.status, error.code) == (403, "forbidden")
    assert unchanged(submitted) == before


@pytest.mark.parametrize("to", [Status.IN_REVIEW, Status.AWARDED, Status.PROPOSED,
                                Status.WITHDRAWN, Status.DRAFT, "approved", "", None])
def test_screening_has_three_outcomes_only(submitted, staff, to):
    before = unchanged(submitted)
    error = refused(lambda: services.application_screen(by=staff, application=submitted,
                                                        to=to, reason="x"))
    assert (error.status, list(error.fields)) == (400, ["to"])
    assert unchanged(submitted) == before


@pytest.mark.parametrize("status", [Status.DRAFT, Status.ACCEPTED, Status.RETURNED,
                                    Status.IN_PUBLICITY, Status.WITHDRAWN])
def test_screening_acts_on_submitted_applications_only(ready, staff, status):
    set_status(ready, status)
    for to in (Status.ACCEPTED, Status.REJECTED):
        error = refused(lambda to=to: services.application_screen(
            by=staff, application=ready, to=to, reason="x"))
        assert (error.status, error.code) == (409, "invalid_transition")
    assert not StatusEvent.objects.filter(application=ready).exists()


# ---------------------------------------------------------------- withdraw

# A proposed award may still be given up (its quota slot frees for the reserve list); an
# award made final, or an application already out, may not.
WITHDRAWABLE = [Status.DRAFT, Status.SUBMITTED, Status.RETURNED, Status.ACCEPTED,
                Status.IN_REVIEW, Status.REVIEWED, Status.RESERVE, Status.PROPOSED,
                Status.IN_PUBLICITY]
DECIDED = [Status.AWARDED, Status.DECLINED, Status.REJECTED, Status.WITHDRAWN]


@pytest.mark.parametrize("status", WITHDRAWABLE)
def test_withdraw_until_the_award_is_final(owner, ready, status):
    set_status(ready, status)
    withdrawn = services.application_withdraw(by=owner, application=ready, reason="项目调整")
    assert withdrawn.status == Status.WITHDRAWN
    event = StatusEvent.objects.get(application=ready)
    assert (event.from_status, event.to_status, event.by, event.reason) == (
        status, Status.WITHDRAWN, owner, "项目调整")


@pytest.mark.parametrize("status", DECIDED)
def test_no_withdrawal_once_final_or_out(owner, ready, status):
    set_status(ready, status)
    error = refused(lambda: services.application_withdraw(by=owner, application=ready))
    assert (error.status, error.code) == (409, "invalid_transition")
    assert Application.objects.get(pk=ready.pk).status == status
    assert not StatusEvent.objects.filter(application=ready).exists()


def test_withdrawal_by_a_viewer_or_a_stranger_is_refused(ready, company, staff):
    assert refused(lambda: services.application_withdraw(
        by=member(company, "viewer"), application=ready)).status == 403
    assert refused(lambda: services.application_withdraw(by=staff, application=ready)
                   ).status == 404
    assert Application.objects.get(pk=ready.pk).status == Status.DRAFT


def test_messages_follow_the_active_language(owner, company, call):
    application = draft_of(owner, company, call, inputs={}, documents=())
    with translation.override("en"):
        english = refused(lambda: services.application_submit(by=owner, application=application))
    with translation.override("zh-hans"):
        chinese = refused(lambda: services.application_submit(by=owner, application=application))
    assert english.fields["scene"] == ["This field is required."]
    assert chinese.fields["scene"] != english.fields["scene"]


def test_a_returned_application_can_be_resubmitted_after_the_call_closed(catalogue):
    """補正 answers a request from staff: the deadline bound the first submission only."""
    from datetime import timedelta

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone

    from applications import services
    from applications.models import Call, Status
    from tests import factories

    company = factories.CompanyFactory()
    owner = company.created_by
    call = factories.open_call("demo-project")
    application, _estimate = services.application_create(
        by=owner, call=call, company=company, inputs=factories.DEMO_PROJECT_INPUTS)
    for document in application.measure_version.documents:
        services.attachment_add(by=owner, application=application, kind=document["kind"],
                                upload=SimpleUploadedFile("x.pdf", factories.tiny_pdf()))
    services.application_submit(by=owner, application=application)
    services.application_screen(by=factories.staff_user(), application=application,
                                to=Status.RETURNED, reason="补充投资证明")
    Call.objects.filter(pk=call.pk).update(closes_at=timezone.now() - timedelta(minutes=1))
    application.refresh_from_db()

    resubmitted = services.application_submit(by=owner, application=application)

    assert resubmitted.status == Status.SUBMITTED
    assert resubmitted.revisions.count() == 2


# ---------------------------------------------------------------- what a submission reads, writes

def test_a_duplicate_caught_by_the_database_alone_changes_nothing(owner, company, monkeypatch):
    """The stored inputs name a platform another active application of the company already
    holds in the call: with the service's check off, the unique constraint refuses the UPDATE,
    and the whole submission goes (revision, event, notices), answered as a duplicate."""
    from applications import selectors
    from notices.models import Notice

    call = open_call("compute-platform")
    documents = ("consent_letter", "audited_investment_report")
    draft_of(owner, company, call, inputs=PLATFORM, documents=documents)
    other = draft_of(owner, company, call, documents=documents,
                     inputs={**PLATFORM, "platform_name": "前海智算二号"})
    Application.objects.filter(pk=other.pk).update(inputs={**other.inputs, **{
        "platform_name": "前海智算一号"}})  # edited past the check, as a race would
    monkeypatch.setattr(selectors, "active_duplicate_exists", lambda **kwargs: False)
    before = unchanged(other)

    error = refused(lambda: services.application_submit(by=owner, application=other))

    assert (error.status, error.code) == (409, "duplicate_application")
    assert unchanged(other) == before
    assert not Notice.objects.filter(key__contains=f"application-{other.pk}:").exists()


def test_a_submission_reads_each_row_once(owner, ready):
    """The company's members (who may submit, who hears of it) in one read; the locked draft
    with its call, measure, company and rules (and the id of the version in force) in one; the
    documents once; revision, event and one UPDATE of the draft; the notices inserted. Not read
    again: the members, the draft, its status event, call, measure or company."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        services.application_submit(by=owner, application=ready)

    statements = [q["sql"] for q in captured.captured_queries]
    reads = [s for s in statements if s.startswith("SELECT")]
    application_reads = [s for s in reads if s.startswith(
        'SELECT "applications_application"."id"')]
    assert len(application_reads) == 1
    assert not [s for s in reads if 'FROM "applications_statusevent"' in s]
    assert not [s for s in reads if s.startswith(('SELECT "applications_call"',
                                                  'SELECT "applications_company"',
                                                  'SELECT "measures_measure'))]
    assert len([s for s in statements if s.startswith('UPDATE "applications_application"')]) \
        == 1
    assert len([s for s in reads if 'FROM "applications_attachment"' in s]) == 1
    assert len([s for s in reads if 'FROM "applications_membership"' in s]) == 1
    assert not [s for s in reads if s.startswith('SELECT "auth_user"')]


def test_a_submission_under_a_newer_version_reads_that_version(owner, ready):
    """The version in force is read with the draft; only when it is not the one the draft
    holds is it read whole (see test_a_draft_is_submitted_under_the_version_in_force)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    measure = Measure.objects.get(code="demo-project")
    current = version_current(measure=measure)
    newer = measure_version_create(
        measure=measure, rules={**{k: getattr(current, k) for k in RULE_KEYS},
                                "rate": Decimal("0.12")},
        reason="test", effective_from=timezone.now())
    with CaptureQueriesContext(connection) as captured:
        submitted = services.application_submit(by=owner, application=ready)
    assert submitted.measure_version == newer
    assert len([q for q in captured.captured_queries
                if q["sql"].startswith('SELECT "measures_measureversion"')]) == 1
