"""Management reports (dashboards and exports) read the other apps; what they keep of their own
is the export jobs: an export too large to download at once is written by a background job into
private storage, and kept there for a limited time (reports/services.py)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ExportKind(models.TextChoices):
    APPLICATIONS = "applications", _("Applications")
    AWARDS = "awards", _("Awards")


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "XLSX (Excel)"


class ExportState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Expired")


class ExportJob(models.Model):
    """One export written in the background: what was asked (kind, format, the dashboard's
    filters, the language of the headers and labels), how far it got, and the file it wrote.

    The file lives in private storage (`applications.uploads.private_storage`, outside every
    served folder) under `stored_name`; only the requester and staff download it, until
    `expires_at`, when the beat scan deletes it and marks the job expired."""

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                     related_name="export_jobs", verbose_name=_("requested by"))
    kind = models.CharField(_("kind"), max_length=16, choices=ExportKind.choices)
    format = models.CharField(_("format"), max_length=8, choices=ExportFormat.choices)
    # ReportFilter.as_query(): {"funding_year", "pillar", "measure"}, the empty ones left out.
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    language = models.CharField(_("language"), max_length=8, default="zh-hans")
    state = models.CharField(_("state"), max_length=8, choices=ExportState.choices,
                             default=ExportState.QUEUED)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    rows_done = models.PositiveIntegerField(_("rows written"), default=0)
    error = models.TextField(_("error"), blank=True)
    stored_name = models.CharField(max_length=200, blank=True)
    file_name = models.CharField(_("file name"), max_length=200, blank=True)
    size = models.PositiveBigIntegerField(_("size"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"))

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        constraints = [
            models.CheckConstraint(condition=Q(state__in=ExportState.values),
                                   name="export_job_state_valid"),
            models.CheckConstraint(condition=Q(kind__in=ExportKind.values),
                                   name="export_job_kind_valid"),
            models.CheckConstraint(condition=Q(format__in=ExportFormat.values),
                                   name="export_job_format_valid"),
        ]
        indexes = [
            # "My exports", newest first.
            models.Index(fields=["requested_by", "-created_at"], name="export_job_mine_idx"),
            # The expiry scan: unexpired jobs by expiry time.
            models.Index(fields=["expires_at"], condition=~Q(state="expired"),
                         name="export_job_expiry_idx"),
        ]

    def __str__(self):
        return f"#{self.pk} {self.kind}.{self.format} ({self.state})"

    @property
    def percent(self) -> int:
        if self.state == ExportState.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(100, self.rows_done * 100 // self.rows_total)

    @property
    def is_active(self) -> bool:
        return self.state in (ExportState.QUEUED, ExportState.RUNNING)

    @property
    def is_ready(self) -> bool:
        return self.state == ExportState.DONE and bool(self.stored_name)
