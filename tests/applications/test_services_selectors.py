"""Scoped reads (DESIGN rule 6): who sees which applications."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser

from applications import selectors, services
from applications.models import Application, Status
from qianhai_grants.roles import MANAGEMENT, REVIEWER
from tests.factories import (
    DEMO_PROJECT_INPUTS,
    CompanyFactory,
    UserFactory,
    company_user,
    member,
    open_call,
    staff_user,
    uscc,
)


@pytest.fixture
def world(catalogue):
    """Two companies, each with an application in every status."""
    call = open_call()
    calls = [call, *(open_call(funding_year=2027 + i) for i in range(len(Status.values) - 1))]
    mine, theirs = CompanyFactory(registration_number=uscc(41)), CompanyFactory(
        registration_number=uscc(42))
    rows = {}
    for company in (mine, theirs):
        for status, each_call in zip(Status.values, calls, strict=True):
            application, _ = services.application_create(
                by=company.created_by, call=each_call, company=company,
                inputs=DEMO_PROJECT_INPUTS)
            Application.objects.filter(pk=application.pk).update(
                status=status, revision=0 if status == Status.DRAFT else 1)
            rows[company.pk, status] = application.pk
    return {"mine": mine, "theirs": theirs, "rows": rows}


def visible(user) -> set[int]:
    return set(selectors.applications_visible_to(user).values_list("pk", flat=True))


def of(world, company, statuses=None) -> set[int]:
    statuses = Status.values if statuses is None else statuses
    return {pk for (c, s), pk in world["rows"].items() if c == world[company].pk
            and s in statuses}


@pytest.mark.parametrize("role", ["owner", "editor", "viewer"])
def test_a_member_sees_every_application_of_its_company_and_nothing_else(world, role):
    user = world["mine"].created_by if role == "owner" else member(world["mine"], role)
    assert visible(user) == of(world, "mine")


def test_a_member_of_two_companies_sees_both_without_duplicates(world):
    user = member(world["mine"], "editor")
    member_row = world["theirs"].memberships.create(user=user, role="viewer")
    assert member_row.pk
    rows = list(selectors.applications_visible_to(user).values_list("pk", flat=True))
    assert len(rows) == len(set(rows)) == 2 * len(Status.values)


@pytest.mark.parametrize("make_user", [staff_user, lambda: UserFactory(roles=[MANAGEMENT])])
def test_staff_and_management_never_see_another_companys_drafts(world, make_user):
    seen = visible(make_user())
    submitted = [s for s in Status.values if s != Status.DRAFT]
    assert seen == of(world, "mine", submitted) | of(world, "theirs", submitted)


def test_a_draft_withdrawn_before_submission_stays_private(world):
    staff = staff_user()
    call = open_call(funding_year=2099)
    application, _ = services.application_create(
        by=world["mine"].created_by, call=call, company=world["mine"],
        inputs=DEMO_PROJECT_INPUTS)
    services.application_withdraw(by=world["mine"].created_by, application=application)
    assert application.pk not in visible(staff)
    assert application.pk in visible(world["mine"].created_by)


def test_a_withdrawal_after_submission_is_seen_by_staff(world):
    staff = staff_user()
    withdrawn = world["rows"][world["theirs"].pk, Status.WITHDRAWN]  # revision 1
    assert withdrawn in visible(staff)


def test_staff_who_belong_to_a_company_see_its_drafts(world):
    staff = staff_user()
    world["mine"].memberships.create(user=staff, role="viewer")
    assert world["rows"][world["mine"].pk, Status.DRAFT] in visible(staff)
    assert world["rows"][world["theirs"].pk, Status.DRAFT] not in visible(staff)


@pytest.mark.parametrize("make_user", [company_user, lambda: UserFactory(roles=[REVIEWER]),
                                       lambda: UserFactory(is_staff=True), AnonymousUser])
def test_everyone_else_sees_nothing_here(world, make_user):
    assert visible(make_user()) == set()


def test_an_inactive_member_sees_nothing(world):
    owner = world["mine"].created_by
    owner.is_active = False
    owner.save()
    assert visible(owner) == set()


def test_the_result_can_be_counted_and_locked(world):
    qs = selectors.applications_visible_to(world["mine"].created_by)
    assert qs.count() == len(Status.values)
    assert "DISTINCT" not in str(qs.query).upper()


# ---------------------------------------------------------------- the other selectors

def test_membership_helpers(world):
    owner, viewer = world["mine"].created_by, member(world["mine"], "viewer")
    assert selectors.membership_of(owner, world["mine"]).role == "owner"
    assert selectors.membership_of(owner, world["theirs"]) is None
    assert selectors.membership_of(AnonymousUser(), world["mine"]) is None
    assert selectors.can_edit_for(owner, world["mine"])
    assert not selectors.can_edit_for(viewer, world["mine"])
    assert list(selectors.companies_of(viewer)) == [world["mine"]]
    assert not selectors.companies_of(AnonymousUser()).exists()


def test_awarded_to_date_counts_awards_of_the_subject(world):
    mine, theirs = world["mine"], world["theirs"]
    award = world["rows"][mine.pk, Status.AWARDED]
    their_award = world["rows"][theirs.pk, Status.AWARDED]
    Application.objects.filter(pk__in=[award, their_award]).update(
        subject_key="alpha", amount=Decimal("700000.00"))
    measure_id = Application.objects.get(pk=award).call.measure_id
    assert selectors.awarded_to_date(measure_id=measure_id, subject_key="alpha") == Decimal(
        "1400000.00")
    assert selectors.awarded_to_date(measure_id=measure_id, subject_key="alpha",
                                     company_id=mine.pk) == Decimal("700000.00")
    assert selectors.awarded_to_date(measure_id=measure_id, subject_key="alpha",
                                     company_id=mine.pk, exclude_application_id=award) == 0
    assert selectors.awarded_to_date(measure_id=measure_id, subject_key="") == 0
    assert selectors.awarded_to_date(measure_id=measure_id, subject_key="beta") == 0


def test_company_number_taken(world):
    mine = world["mine"]
    assert selectors.company_number_taken(registration_type="mainland",
                                          registration_number=mine.registration_number)
    assert not selectors.company_number_taken(registration_type="other",
                                              registration_number=mine.registration_number)
