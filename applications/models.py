"""Applicants (companies and their members), calls, applications, revisions and attachments."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from measures.models import MONEY, Measure, MeasureVersion
from qianhai_grants.history import tracked


class Language(models.TextChoices):
    ZH_HANS = "zh-hans", "简体中文"
    ZH_HANT = "zh-hant", "繁體中文"
    EN = "en", "English"


class Profile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="profile")
    preferred_language = models.CharField(_("preferred language"), max_length=8,
                                          choices=Language.choices, default=Language.ZH_HANS)
    email_confirmed_at = models.DateTimeField(_("email confirmed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")

    def __str__(self):
        return str(self.user)


class RegistrationType(models.TextChoices):
    MAINLAND = "mainland", _("Mainland (Unified Social Credit Code)")
    HONG_KONG = "hong_kong", _("Hong Kong (Business Registration number)")
    OTHER = "other", _("Other")


@tracked()
class Company(models.Model):
    name = models.CharField(_("legal name (Chinese)"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    registration_type = models.CharField(_("registration type"), max_length=16,
                                         choices=RegistrationType.choices)
    registration_number = models.CharField(_("registration number"), max_length=32)
    in_qianhai = models.BooleanField(_("registered in the Qianhai cooperation zone"),
                                     default=False)
    contact_name = models.CharField(_("contact person"), max_length=100, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=40, blank=True)
    contact_email = models.EmailField(_("contact email"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        constraints = [
            # A registration number cannot be claimed twice (numbers are stored normalised).
            models.UniqueConstraint(fields=["registration_type", "registration_number"],
                                    name="company_registration_unique"),
        ]

    def __str__(self):
        return self.name


class MemberRole(models.TextChoices):
    OWNER = "owner", _("Owner")
    EDITOR = "editor", _("Editor")
    VIEWER = "viewer", _("Viewer")


@tracked()
class Membership(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="memberships")
    role = models.CharField(_("role"), max_length=8, choices=MemberRole.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [models.UniqueConstraint(fields=["company", "user"],
                                               name="membership_unique")]

    def __str__(self):
        return f"{self.user} · {self.company} · {self.role}"


class Invitation(models.Model):
    """A colleague invited by email; it becomes a membership when that person has an account."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("email"))
    role = models.CharField(_("role"), max_length=8,
                            choices=[(MemberRole.EDITOR, MemberRole.EDITOR.label),
                                     (MemberRole.VIEWER, MemberRole.VIEWER.label)])
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["company", "email"], condition=Q(accepted_at__isnull=True),
            name="invitation_pending_unique")]

    def __str__(self):
        return f"{self.email} → {self.company}"


@tracked()
class Call(models.Model):
    """A call for applications to one measure in one funding year."""

    measure = models.ForeignKey(Measure, on_delete=models.PROTECT, related_name="calls",
                                verbose_name=_("measure"))
    funding_year = models.PositiveIntegerField(_("funding year"))
    opens_at = models.DateTimeField(_("opens at"))
    closes_at = models.DateTimeField(_("closes at"))
    reviewers_per_application = models.PositiveSmallIntegerField(
        _("reviewers per application"), default=3)
    trimmed_mean = models.BooleanField(
        _("drop the highest and lowest score when there are 5 or more reviews"), default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-funding_year", "closes_at"]
        verbose_name = _("call")
        verbose_name_plural = _("calls")
        constraints = [
            models.CheckConstraint(condition=Q(closes_at__gt=models.F("opens_at")),
                                   name="call_closes_after_opening"),
            models.CheckConstraint(condition=Q(funding_year__gte=2024) & Q(
                funding_year__lte=2100), name="call_funding_year_range"),
            models.CheckConstraint(condition=Q(reviewers_per_application__gte=1),
                                   name="call_reviewers_positive"),
        ]

    def __str__(self):
        return f"{self.measure.code} {self.funding_year}"

    def status_at(self, at=None) -> str:
        at = at or timezone.now()
        if at < self.opens_at:
            return "scheduled"
        if at >= self.closes_at:
            return "closed"
        return "open"

    @property
    def status(self) -> str:
        return self.status_at()

    def is_open(self, at=None) -> bool:
        return self.status_at(at) == "open"


class Status(models.TextChoices):
    """Application statuses: stable codes (API.md). Never matched by their display text."""

    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    RETURNED = "returned", _("Returned for changes")
    ACCEPTED = "accepted", _("Accepted")
    IN_REVIEW = "in_review", _("In expert review")
    REVIEWED = "reviewed", _("Reviewed")
    PROPOSED = "proposed", _("Proposed for award")
    IN_PUBLICITY = "in_publicity", _("In public notice")
    AWARDED = "awarded", _("Awarded")
    REJECTED = "rejected", _("Rejected")
    DECLINED = "declined", _("Not selected")
    RESERVE = "reserve", _("On the reserve list")
    WITHDRAWN = "withdrawn", _("Withdrawn")


# An application that ended this way no longer blocks a new one for the same call and subject.
INACTIVE_STATUSES = (Status.WITHDRAWN, Status.REJECTED, Status.DECLINED)


@tracked()
class Application(models.Model):
    call = models.ForeignKey(Call, on_delete=models.PROTECT, related_name="applications",
                             verbose_name=_("call"))
    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="applications",
                                verbose_name=_("company"))
    measure_version = models.ForeignKey(MeasureVersion, on_delete=models.PROTECT,
                                        related_name="+", verbose_name=_("rules version"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices,
                              default=Status.DRAFT)
    inputs = models.JSONField(_("form inputs"), default=dict, blank=True)
    # The platform or model an application is for, normalised (case and spaces ignored), so that
    # one company may hold one active application per platform or model in a call.
    subject_key = models.CharField(max_length=200, blank=True, default="")
    estimate = models.DecimalField(_("estimated amount"), null=True, blank=True, **MONEY)
    amount = models.DecimalField(_("decided amount"), null=True, blank=True, **MONEY)
    revision = models.PositiveIntegerField(_("submitted versions"), default=0)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        verbose_name = _("application")
        verbose_name_plural = _("applications")
        constraints = [
            models.UniqueConstraint(
                fields=["call", "company", "subject_key"],
                condition=~Q(status__in=INACTIVE_STATUSES),
                name="application_one_active_per_company_call_subject",
                violation_error_code="duplicate_application"),
            models.CheckConstraint(condition=Q(status__in=Status.values),
                                   name="application_status_valid"),
        ]

    def __str__(self):
        return f"#{self.pk} {self.company} · {self.call}"

    @property
    def is_editable(self) -> bool:
        return self.status in (Status.DRAFT, Status.RETURNED)


class Revision(models.Model):
    """Every submitted version of an application's inputs, kept so changes can be compared."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE,
                                    related_name="revisions")
    number = models.PositiveIntegerField()
    inputs = models.JSONField()
    measure_version = models.ForeignKey(MeasureVersion, on_delete=models.PROTECT,
                                        related_name="+")
    attachments = models.JSONField(default=list)
    submitted_at = models.DateTimeField()
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     related_name="+")

    class Meta:
        ordering = ["application", "number"]
        constraints = [models.UniqueConstraint(fields=["application", "number"],
                                               name="revision_unique")]

    def __str__(self):
        return f"{self.application_id} r{self.number}"


class StatusEvent(models.Model):
    """One status change: who, when, from, to, why (DESIGN rule 3)."""

    # Indexed by `timeline` below, whose first column serves the foreign key's lookups too.
    application = models.ForeignKey(Application, on_delete=models.CASCADE,
                                    related_name="events", db_index=False)
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT,
                           related_name="+")
    from_status = models.CharField(max_length=16, choices=Status.choices)
    to_status = models.CharField(max_length=16, choices=Status.choices)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["application", "at", "pk"]
        indexes = [
            # An application's history in order, read without sorting: its page, the API, and
            # the reports' time in each stage (a window over every application's events).
            models.Index(fields=["application", "at", "id"], name="status_event_timeline_idx"),
        ]

    def __str__(self):
        return f"{self.application_id}: {self.from_status} → {self.to_status}"


@tracked()
class Attachment(models.Model):
    application = models.ForeignKey(Application, on_delete=models.CASCADE,
                                    related_name="attachments")
    kind = models.CharField(_("document"), max_length=64)
    original_name = models.CharField(_("file name"), max_length=200)
    stored_name = models.CharField(max_length=200, unique=True)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)
    # Set when a later upload replaces it or the applicant removes it while editing; kept for
    # the revisions that refer to it.
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["application", "kind", "uploaded_at"]

    def __str__(self):
        return self.original_name
