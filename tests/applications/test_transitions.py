"""The one table of status changes, and the service that applies it (DESIGN rule 3)."""

import itertools

import pytest
from django.utils import translation

from applications import services
from applications.models import Application, Status, StatusEvent
from applications.transitions import COMPANY, STAFF, SYSTEM, TRANSITIONS, allowed, next_statuses
from qianhai_grants.errors import DomainError
from tests.factories import DEMO_PROJECT_INPUTS, CompanyFactory, open_call, staff_user, uscc

ROLES = (COMPANY, STAFF, SYSTEM)
ALL = list(itertools.product(Status.values, Status.values, ROLES))
TERMINAL = {Status.AWARDED, Status.REJECTED, Status.DECLINED, Status.WITHDRAWN}


# ---------------------------------------------------------------- the table as data

def test_every_triple_names_real_statuses_and_roles():
    for frm, to, role in TRANSITIONS:
        assert frm in Status.values and to in Status.values and role in ROLES
        assert frm != to


@pytest.mark.parametrize(("frm", "to", "role"), ALL)
def test_allowed_is_exactly_the_table(frm, to, role):
    assert allowed(frm, to, role) is ((frm, to, role) in TRANSITIONS)


def test_nothing_leaves_a_final_status_and_nothing_returns_to_draft():
    assert not [t for t in TRANSITIONS if t[0] in TERMINAL or t[1] == Status.DRAFT]


def test_the_company_only_submits_and_withdraws():
    assert {to for _, to, role in TRANSITIONS if role == COMPANY} == {Status.SUBMITTED,
                                                                      Status.WITHDRAWN}


def test_withdrawal_is_possible_until_the_award_is_final():
    assert {frm for frm, to, _ in TRANSITIONS if to == Status.WITHDRAWN} == {
        Status.DRAFT, Status.SUBMITTED, Status.RETURNED, Status.ACCEPTED, Status.IN_REVIEW,
        Status.REVIEWED, Status.RESERVE, Status.PROPOSED, Status.IN_PUBLICITY}


def test_every_status_is_reachable_from_draft():
    reached, frontier = {Status.DRAFT}, [Status.DRAFT]
    while frontier:
        current = frontier.pop()
        for frm, to, _ in TRANSITIONS:
            if frm == current and to not in reached:
                reached.add(to)
                frontier.append(to)
    assert reached == set(Status.values)


@pytest.mark.parametrize(("frm", "role", "expected"), [
    (Status.DRAFT, COMPANY, [Status.SUBMITTED, Status.WITHDRAWN]),
    (Status.SUBMITTED, STAFF, [Status.ACCEPTED, Status.REJECTED, Status.RETURNED]),
    (Status.REVIEWED, STAFF, [Status.DECLINED, Status.PROPOSED, Status.RESERVE]),
    (Status.IN_REVIEW, SYSTEM, [Status.REVIEWED]),
    (Status.AWARDED, STAFF, []),
    (Status.DRAFT, STAFF, []),
])
def test_next_statuses(frm, role, expected):
    assert next_statuses(frm, role) == sorted(expected)


# ---------------------------------------------------------------- the service

@pytest.fixture
def application(catalogue):
    company = CompanyFactory(registration_number=uscc(31))
    return services.application_create(by=company.created_by, call=open_call(), company=company,
                                       inputs=DEMO_PROJECT_INPUTS)[0]


def at(application, status):
    Application.objects.filter(pk=application.pk).update(status=status)
    return application


@pytest.mark.parametrize(("frm", "to", "role"), sorted(TRANSITIONS))
def test_every_triple_of_the_table_is_applied(application, frm, to, role):
    by = staff_user() if role == STAFF else None if role == SYSTEM else application.created_by
    result = services.application_transition(application=at(application, frm), to=to, by=by,
                                             role=role, reason=" 理由 ")
    assert result.status == to
    assert Application.objects.get(pk=application.pk).status == to
    event = StatusEvent.objects.get(application=application)
    assert (event.from_status, event.to_status, event.by, event.reason) == (frm, to, by, "理由")
    assert event.at is not None


SAMPLE_REFUSED = [
    (Status.DRAFT, Status.ACCEPTED, STAFF),            # screening skips submission
    (Status.DRAFT, Status.SUBMITTED, STAFF),           # staff do not submit for a company
    (Status.SUBMITTED, Status.ACCEPTED, COMPANY),      # a company does not accept itself
    (Status.SUBMITTED, Status.SUBMITTED, COMPANY),
    (Status.SUBMITTED, Status.AWARDED, STAFF),
    (Status.ACCEPTED, Status.PROPOSED, STAFF),         # no decision without review
    (Status.IN_REVIEW, Status.REVIEWED, COMPANY),
    (Status.REVIEWED, Status.PROPOSED, SYSTEM),
    (Status.AWARDED, Status.WITHDRAWN, COMPANY),       # the award is final
    (Status.PROPOSED, Status.WITHDRAWN, STAFF),        # only the company gives up an award
    (Status.AWARDED, Status.REJECTED, STAFF),
    (Status.DECLINED, Status.PROPOSED, STAFF),
    (Status.WITHDRAWN, Status.DRAFT, COMPANY),
    (Status.WITHDRAWN, Status.SUBMITTED, COMPANY),
    (Status.REJECTED, Status.SUBMITTED, COMPANY),
    (Status.RETURNED, Status.ACCEPTED, STAFF),         # the company resubmits first
    (Status.SUBMITTED, Status.ACCEPTED, "management"),
    (Status.SUBMITTED, Status.ACCEPTED, ""),
]


def test_the_sample_is_really_outside_the_table():
    assert not set(SAMPLE_REFUSED) & TRANSITIONS


@pytest.mark.parametrize(("frm", "to", "role"), SAMPLE_REFUSED)
def test_a_change_outside_the_table_is_409_and_writes_nothing(application, frm, to, role):
    with pytest.raises(DomainError) as caught:
        services.application_transition(application=at(application, frm), to=to,
                                        by=staff_user(), role=role)
    assert (caught.value.status, caught.value.code) == (409, "invalid_transition")
    assert Application.objects.get(pk=application.pk).status == frm
    assert not StatusEvent.objects.exists()


@pytest.mark.parametrize("to", ["approved", "", None, "DRAFT", "Submitted"])
def test_an_unknown_status_is_400_naming_to(application, to):
    with pytest.raises(DomainError) as caught:
        services.application_transition(application=application, to=to, by=None, role=STAFF)
    assert (caught.value.status, list(caught.value.fields)) == (400, ["to"])
    assert not StatusEvent.objects.exists()


def test_the_service_reads_the_status_from_the_row_not_the_callers_copy(application):
    at(application, Status.AWARDED)
    assert application.status == Status.DRAFT  # stale
    with pytest.raises(DomainError):
        services.application_transition(application=application, to=Status.WITHDRAWN,
                                        by=application.created_by, role=COMPANY)


def test_expected_from_narrows_the_table(application):
    at(application, Status.IN_PUBLICITY)
    with pytest.raises(DomainError) as caught:
        services.application_transition(application=application, to=Status.REJECTED,
                                        by=None, role=STAFF, expected_from=(Status.SUBMITTED,))
    assert caught.value.code == "invalid_transition"
    services.application_transition(application=application, to=Status.REJECTED, by=None,
                                    role=STAFF, expected_from=(Status.IN_PUBLICITY,))


def test_the_refusal_names_both_statuses_in_the_readers_language(application):
    at(application, Status.AWARDED)
    with translation.override("en"), pytest.raises(DomainError) as caught:
        services.application_transition(application=application, to=Status.WITHDRAWN,
                                        by=None, role=COMPANY)
    assert str(caught.value.message) == "An application that is Awarded cannot become Withdrawn."
