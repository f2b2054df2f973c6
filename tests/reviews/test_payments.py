"""Payments: one-off or in tranches, never more than the award."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from applications.models import Application, Status
from qianhai_grants.errors import DomainError
from reviews.models import Award, Payment
from reviews.services import decisions, payments
from tests.factories import company_user
from tests.reviews.test_decisions import reviewed

TODAY = datetime.date(2026, 3, 31)


def refused(action) -> DomainError:
    with pytest.raises(DomainError) as caught:
        action()
    return caught.value


@pytest.fixture
def award(demo_call, staff):
    application = reviewed(demo_call)
    decisions.application_approve(by=staff, application=application)
    Application.objects.filter(pk=application.pk).update(status=Status.AWARDED)
    return Award.objects.get(application=application)  # 1,500,000.00


def test_tranches_add_up_to_the_award_and_no_further(award, staff):
    payments.payment_record(by=staff, award=award, amount="1000000", paid_on=TODAY,
                            reference="QH-2026-001")
    payments.payment_record(by=staff, award=award, amount="500000.00", paid_on="2026-04-30",
                            reference="QH-2026-002")
    award.refresh_from_db()
    assert award.paid == Decimal("1500000.00")

    error = refused(lambda: payments.payment_record(by=staff, award=award, amount="0.01",
                                                    paid_on=TODAY, reference="QH-2026-003"))
    assert (error.status, error.code) == (409, "payment_exceeds_award")
    assert Payment.objects.filter(award=award).count() == 2


def test_one_payment_above_the_award_is_refused_whole(award, staff):
    error = refused(lambda: payments.payment_record(by=staff, award=award, amount="1500000.01",
                                                    paid_on=TODAY, reference="QH-1"))
    assert error.code == "payment_exceeds_award"
    award.refresh_from_db()
    assert award.paid == Decimal("0.00") and not Payment.objects.exists()


def test_a_reference_is_recorded_once(award, staff):
    payments.payment_record(by=staff, award=award, amount="100", paid_on=TODAY,
                            reference="QH-9")
    error = refused(lambda: payments.payment_record(by=staff, award=award, amount="100",
                                                    paid_on=TODAY, reference="QH-9"))
    assert (error.status, error.code) == (409, "duplicate_payment")
    award.refresh_from_db()
    assert award.paid == Decimal("100.00")


@pytest.mark.parametrize(("body", "field"), [
    ({"amount": "0"}, "amount"), ({"amount": "-5"}, "amount"), ({"amount": "1.001"}, "amount"),
    ({"amount": True}, "amount"), ({"paid_on": "31/03/2026"}, "paid_on"),
    ({"paid_on": None}, "paid_on"), ({"reference": " "}, "reference"),
    ({"reference": "x" * 65}, "reference"),
])
def test_bad_input_names_the_field(award, staff, body, field):
    values = {"amount": "100", "paid_on": TODAY, "reference": "QH-1"} | body
    error = refused(lambda: payments.payment_record(by=staff, award=award, **values))
    assert (error.status, list(error.fields)) == (400, [field])


def test_a_payment_dated_in_the_future_is_refused(award, staff):
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    error = refused(lambda: payments.payment_record(by=staff, award=award, amount="1",
                                                    paid_on=tomorrow, reference="QH-1"))
    assert list(error.fields) == ["paid_on"]


def test_only_a_final_award_is_paid(demo_call, staff):
    application = reviewed(demo_call)
    decisions.application_approve(by=staff, application=application)  # proposed, not final
    award = Award.objects.get(application=application)
    error = refused(lambda: payments.payment_record(by=staff, award=award, amount="1",
                                                    paid_on=TODAY, reference="QH-1"))
    assert (error.status, error.code) == (409, "not_awarded")


def test_only_staff_record_payments(award):
    error = refused(lambda: payments.payment_record(by=company_user(), award=award, amount="1",
                                                    paid_on=TODAY, reference="QH-1"))
    assert error.status == 403
