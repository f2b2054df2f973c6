"""Disbursements: an award paid at once or in tranches, never more than the award."""

import datetime

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from applications.models import Status
from notices.events import Event
from notices.services import notify_application
from qianhai_grants.errors import DomainError
from qianhai_grants.money import parse_money
from reviews.models import Award, Payment
from reviews.services._common import audit, invalid, require_staff


def payment_record(*, by, award: Award, amount, paid_on, reference) -> Payment:
    """Record one payment of a final award. The award row is locked and its running total is
    raised in the same statement as the check (and a check constraint backs it), so two
    concurrent tranches can never pay more than the award."""
    require_staff(by)
    errors = {}
    try:
        value = parse_money(amount)
        if value <= 0:
            raise ValueError("not positive")
    except ValueError:
        errors["amount"] = [_("Enter an amount in yuan above 0.00, such as 500000.00.")]
        value = None
    day = paid_on
    if isinstance(day, str):
        try:
            day = datetime.date.fromisoformat(day)
        except ValueError:
            day = None
    if not isinstance(day, datetime.date) or isinstance(day, datetime.datetime):
        errors["paid_on"] = [_("Enter a date such as 2026-03-31.")]
    elif day > timezone.localdate():
        errors["paid_on"] = [_("A payment cannot be dated in the future.")]
    if not isinstance(reference, str) or not reference.strip():
        errors["reference"] = [_("Enter the payment's reference.")]
    elif len(reference.strip()) > 64:
        errors["reference"] = [_("At most %(limit)s characters.") % {"limit": 64}]
    if errors:
        raise invalid(errors)
    with transaction.atomic():
        locked = Award.objects.select_for_update().select_related("application").get(
            pk=award.pk)
        if locked.application.status != Status.AWARDED or locked.released_at is not None:
            raise DomainError("not_awarded", _("Only a final award can be paid."), status=409)
        if locked.paid + value > locked.amount:
            raise DomainError("payment_exceeds_award", _(
                "Payments would exceed the award: %(left)s is left to pay.") % {
                "left": f"{locked.amount - locked.paid:f}"}, status=409)
        try:
            with transaction.atomic():
                payment = Payment.objects.create(award=locked, amount=value, paid_on=day,
                                                 reference=reference.strip(), recorded_by=by)
        except IntegrityError:
            raise DomainError("duplicate_payment", _(
                "A payment with this reference is already recorded."), status=409) from None
        Award.objects.filter(pk=locked.pk).update(paid=F("paid") + value)
        notify_application(event=Event.PAYMENT_MADE, application=locked.application,
                           discriminator=f"payment-{payment.pk}", amount=value, paid_on=day,
                           reference=payment.reference, paid_total=locked.paid + value,
                           award_amount=locked.amount)
        audit(action="payment_recorded", by=by, application=locked.application, data={
            "award": locked.pk, "payment": payment.pk, "amount": f"{value:f}",
            "paid_on": day.isoformat(), "reference": payment.reference})
    return payment
