"""The notice outbox: one row per (event, subject, recipient, channel), written in the same
transaction as the event it tells about, and delivered afterwards (DESIGN rules 3 and 7)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from notices.events import Event


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    IN_APP = "in_app", _("Notification centre")


class State(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class Notice(models.Model):
    """One message to one person on one channel.

    `key` is f"{event}:{subject}:{recipient_id}:{channel}" and unique: writing the same notice
    twice (a retried request, a scan that runs again) creates nothing. Subject and body are
    rendered when the row is written, in the recipient's language then, so what was sent can be
    shown as it was. In-app notices are `sent` at once (the centre reads them from here); email
    notices go pending → sending → sent, or back to pending with a backoff, and `failed` after
    the last attempt, where staff can retry them."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                  related_name="notices", verbose_name=_("recipient"))
    event = models.CharField(_("event"), max_length=32, choices=Event.choices)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    key = models.CharField(_("key"), max_length=255)
    language = models.CharField(_("language"), max_length=8, default="zh-hans")
    context = models.JSONField(_("context"), default=dict, blank=True)
    url = models.CharField(_("link"), max_length=500, blank=True)
    subject = models.CharField(_("subject"), max_length=300)
    body = models.TextField(_("body"))
    state = models.CharField(_("state"), max_length=8, choices=State.choices,
                             default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    # When a worker claimed the row (state `sending`): a claim older than the scan's limit
    # belongs to a worker that died, and the notice goes back to pending.
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        constraints = [
            models.UniqueConstraint(fields=["key"], name="notice_key_unique"),
            models.CheckConstraint(condition=Q(state__in=State.values),
                                   name="notice_state_valid"),
            models.CheckConstraint(condition=Q(channel__in=Channel.values),
                                   name="notice_channel_valid"),
        ]
        indexes = [
            # The notification centre: one's own in-app notices, newest first.
            models.Index(fields=["recipient", "channel", "-created_at"],
                         name="notice_centre_idx"),
            # The unread badge counts only unread in-app rows.
            models.Index(fields=["recipient"], condition=Q(channel="in_app", read_at=None),
                         name="notice_unread_idx"),
            # The beat scan: pending and sending email notices by due time and claim time.
            models.Index(fields=["state", "next_attempt_at"],
                         condition=Q(state__in=["pending", "sending"]),
                         name="notice_due_idx"),
            models.Index(fields=["state", "claimed_at"], condition=Q(state="sending"),
                         name="notice_claimed_idx"),
            # Staff's list of failed notices.
            models.Index(fields=["state", "-created_at"], condition=Q(state="failed"),
                         name="notice_failed_idx"),
        ]

    def __str__(self):
        return self.key

    @property
    def summary(self) -> str:
        """The body's first paragraph (what the notification centre lists)."""
        return self.body.strip().split("\n\n", 1)[0]
