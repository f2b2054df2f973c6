"""The events a person must learn about: stable codes (they are part of every notice's key)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Event(models.TextChoices):
    SUBMISSION_RECEIVED = "submission_received", _("Submission received")
    RETURNED_FOR_CHANGES = "returned_for_changes", _("Returned for changes")
    ACCEPTED = "accepted", _("Accepted in screening")
    REJECTED = "rejected", _("Rejected")
    REVIEW_ASSIGNED = "review_assigned", _("Review assigned")
    REVIEW_OVERDUE = "review_overdue", _("Review overdue")
    PROPOSED = "proposed", _("Proposed for award")
    RESERVE = "reserve", _("On the reserve list")
    DECLINED = "declined", _("Not selected")
    PUBLICITY_OPENED = "publicity_opened", _("Public notice opened")
    OBJECTION_RECEIVED = "objection_received", _("Objection received")
    OBJECTION_RESOLVED = "objection_resolved", _("Objection resolved")
    AWARDED = "awarded", _("Awarded")
    PAYMENT_MADE = "payment_made", _("Payment made")
    CALL_CLOSING_SOON = "call_closing_soon", _("Call closing soon")
    EXPORT_READY = "export_ready", _("Export ready")
    EXPORT_FAILED = "export_failed", _("Export failed")
