"""Quotas, cumulative caps, one-time awards and payment totals hold under concurrency, because
PostgreSQL enforces them (DESIGN rule 5).

Each race runs with the service's own guard (the conditional update, the row lock) and again with
that guard switched off, so the check constraints are seen to hold the line on their own.
"""

from decimal import Decimal

import pytest
from django.db import connection, transaction

from applications.models import Application, Status
from qianhai_grants.errors import DomainError
from reviews.models import Award, QuotaCounter, SubjectLedger
from reviews.services import decisions, payments
from tests.factories import CompanyFactory, open_call, staff_user
from tests.races import locked_elsewhere, race
from tests.reviews.test_decisions import MODEL, PLATFORM, reviewed

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


GUARDS = ["with the service guard", "database constraint alone"]


def switch_off_the_guard(monkeypatch) -> None:
    monkeypatch.setattr(decisions, "_room", lambda quota: {})
    monkeypatch.setattr(decisions, "_room_shown", lambda counter, quota: True)
    monkeypatch.setattr(decisions, "_ledger_row", lambda keys: SubjectLedger.objects.get(**keys))


@pytest.fixture(params=GUARDS)
def guard(request, monkeypatch):
    if request.param == "database constraint alone":
        switch_off_the_guard(monkeypatch)
    return request.param


def test_fifty_approvals_for_ten_demo_project_slots_end_with_exactly_ten(catalogue, monkeypatch):
    # Both variants in one test, one after the other: as two tests, two test processes could
    # run them at once, 100 connections together, PostgreSQL's default limit.
    staff = staff_user()
    for variant, guarded in enumerate(GUARDS):
        with monkeypatch.context() as patch:
            if guarded == "database constraint alone":
                switch_off_the_guard(patch)
            for round_number in range(20):
                # A funding year of each round's own: a quota counter of its own.
                call = open_call("demo-project", funding_year=2030 + 20 * variant + round_number)
                applications = [reviewed(call) for _ in range(50)]

                outcomes = race(50, lambda i, apps=applications: decisions.application_approve(
                    by=staff, application=apps[i]))

                where = (guarded, round_number)
                approved = [o for o in outcomes if isinstance(o, Application)]
                refused = [o for o in outcomes if isinstance(o, DomainError)]
                assert [o for o in outcomes if o not in approved and o not in refused] == [], where
                assert len(approved) == 10, (where, outcomes)
                assert len(refused) == 40, (where, outcomes)
                assert {(e.status, e.code) for e in refused} == {(409, "annual_quota_full")}
                assert Application.objects.filter(call=call,
                                                  status=Status.PROPOSED).count() == 10
                assert Award.objects.filter(application__call=call).count() == 10
                assert QuotaCounter.objects.get(measure=call.measure,
                                                funding_year=call.funding_year).used == 10


def test_two_approvals_racing_for_the_last_three_million_of_a_platform(catalogue, guard):
    staff = staff_user()
    for round_number in range(10):
        company = CompanyFactory()
        decisions.application_approve(by=staff, application=reviewed(
            open_call("compute-platform", funding_year=2024), company=company,
            inputs={**PLATFORM, "prior_year_actual_investment": "340000000.00"}))  # 17M
        racing = [reviewed(open_call("compute-platform", funding_year=2025 + i),
                           company=company, inputs=PLATFORM) for i in range(2)]  # 6M each

        outcomes = race(2, lambda i, apps=racing: decisions.application_approve(
            by=staff, application=apps[i]))

        approved = [o for o in outcomes if isinstance(o, Application)]
        refused = [o for o in outcomes if isinstance(o, DomainError)]
        assert len(approved) == 1 and len(refused) == 1, (round_number, outcomes)
        assert (refused[0].status, refused[0].code) == (409, "cumulative_cap_reached")
        assert approved[0].amount == Decimal("3000000.00")
        ledger = SubjectLedger.objects.get(company=company)
        assert ledger.committed == Decimal("20000000.00")


def test_one_model_approved_in_two_calls_at_once_is_awarded_once(catalogue, guard):
    staff = staff_user()
    company = CompanyFactory()
    racing = [reviewed(open_call("industry-llm", funding_year=2025 + i), company=company,
                       inputs=MODEL) for i in range(2)]

    outcomes = race(2, lambda i: decisions.application_approve(by=staff,
                                                               application=racing[i]))

    assert sorted(type(o).__name__ for o in outcomes) == ["Application", "DomainError"]
    assert [o.code for o in outcomes if isinstance(o, DomainError)] == ["already_awarded_once"]
    assert SubjectLedger.objects.get(company=company).awards == 1


def test_concurrent_tranches_never_pay_more_than_the_award(demo_call):
    staff = staff_user()
    application = reviewed(demo_call)
    decisions.application_approve(by=staff, application=application)
    Application.objects.filter(pk=application.pk).update(status=Status.AWARDED)
    award = Award.objects.get(application=application)  # 1,500,000.00

    outcomes = race(8, lambda i: payments.payment_record(
        by=staff, award=award, amount="500000", paid_on="2026-03-31", reference=f"QH-{i}"))

    assert sum(1 for o in outcomes if not isinstance(o, Exception)) == 3
    assert {o.code for o in outcomes if isinstance(o, DomainError)} == {"payment_exceeds_award"}
    award.refresh_from_db()
    assert award.paid == Decimal("1500000.00")


@pytest.mark.parametrize("row", ["call", "measure", "company"])
def test_an_approval_locks_its_application_not_the_rows_read_with_it(catalogue, row):
    """Another transaction holding the call, the measure or the company (as an edit of it
    does) does not hold up an approval: only the application's row is locked, so approvals
    of one call queue on the quota counter alone, not from their first statement."""
    from applications.models import Call, Company
    from measures.models import Measure

    staff = staff_user()
    call = open_call("demo-project", funding_year=2050)
    application = reviewed(call)
    model, pk = {"call": (Call, call.pk), "measure": (Measure, call.measure_id),
                 "company": (Company, application.company_id)}[row]
    # What an UPDATE of the row takes (FOR NO KEY UPDATE), held meanwhile.
    with locked_elsewhere(model.objects.filter(pk=pk), no_key=True), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '2s'")
        proposed = decisions.application_approve(by=staff, application=application)
    assert proposed.status == Status.PROPOSED
