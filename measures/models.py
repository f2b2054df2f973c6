"""The measures catalogue as versioned data.

A `Measure` is the stable identity (code, pillar, names). Its rules live in `MeasureVersion` rows:
every change of parameters is a new version with who, why and from when, and old versions are
never altered, so an award can always show the rules it was computed under (DESIGN rule 4).
"""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from measures.engine import AWARD_KINDS, AwardRules, Condition
from qianhai_grants.i18n import localized


class Pillar(models.TextChoices):
    CLUSTERING = "clustering", _("Industrial clustering")
    FACTOR_SUPPLY = "factor_supply", _("Factor supply")
    APPLICATION_DEMO = "application_demo", _("Application demonstration")
    ECOSYSTEM = "ecosystem", _("Industrial ecosystem")


class AwardKind(models.TextChoices):
    PERCENT_OF_BASE = "percent_of_base", _("Percentage of a base amount")
    FIXED = "fixed", _("Fixed amount")
    UP_TO_CAP = "up_to_cap", _("Up to a cap")
    CONFIGURED = "configured", _("To be configured by staff")
    NONE = "none", _("No cash award")


assert tuple(AwardKind.values) == AWARD_KINDS


class SubjectKind(models.TextChoices):
    PLATFORM = "platform", _("Platform")
    MODEL = "model", _("Model")


class VersionSource(models.TextChoices):
    DATA_FILE = "data_file", _("Catalogue data file")
    ADMIN = "admin", _("Edited by staff")


MONEY = {"max_digits": 16, "decimal_places": 2}


class Measure(models.Model):
    code = models.SlugField(_("code"), max_length=64, unique=True)
    clause = models.CharField(_("clause"), max_length=16, blank=True)
    pillar = models.CharField(_("pillar"), max_length=32, choices=Pillar.choices)
    order = models.PositiveIntegerField(_("order"), default=0)
    name_zh_hans = models.CharField(_("name (Simplified Chinese)"), max_length=200)
    name_zh_hant = models.CharField(_("name (Traditional Chinese)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200)
    description_zh_hans = models.TextField(_("description (Simplified Chinese)"), blank=True)
    description_zh_hant = models.TextField(_("description (Traditional Chinese)"), blank=True)
    description_en = models.TextField(_("description (English)"), blank=True)
    source_quote = models.TextField(_("source sentence"), blank=True)

    class Meta:
        ordering = ["order", "code"]
        verbose_name = _("measure")
        verbose_name_plural = _("measures")

    def __str__(self):
        return f"{self.code} · {self.name}"

    @property
    def names(self) -> dict[str, str]:
        return {"zh-hans": self.name_zh_hans, "zh-hant": self.name_zh_hant, "en": self.name_en}

    @property
    def descriptions(self) -> dict[str, str]:
        return {"zh-hans": self.description_zh_hans, "zh-hant": self.description_zh_hant,
                "en": self.description_en}

    @property
    def name(self) -> str:
        return localized(self.names)

    @property
    def description(self) -> str:
        return localized(self.descriptions)


class MeasureVersion(models.Model):
    """The rules of a measure from `effective_from` on. Immutable once written."""

    measure = models.ForeignKey(Measure, on_delete=models.PROTECT, related_name="versions",
                                verbose_name=_("measure"))
    number = models.PositiveIntegerField(_("version"))
    effective_from = models.DateTimeField(_("effective from"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("created by"))
    reason = models.TextField(_("reason for the change"))
    source = models.CharField(_("source"), max_length=16, choices=VersionSource.choices)
    source_digest = models.CharField(max_length=64, blank=True, editable=False)

    award_kind = models.CharField(_("award kind"), max_length=32, choices=AwardKind.choices)
    rate = models.DecimalField(_("rate"), max_digits=7, decimal_places=6, null=True, blank=True,
                               help_text=_("A fraction: 0.05 is 5%."))
    base_field = models.CharField(_("base field"), max_length=64, blank=True)
    per_award_cap = models.DecimalField(_("cap per award"), null=True, blank=True, **MONEY)
    requested_field = models.CharField(_("requested amount field"), max_length=64, blank=True)
    cumulative_cap = models.DecimalField(_("cumulative cap"), null=True, blank=True, **MONEY)
    cumulative_over = models.CharField(_("cumulative cap counts over"), max_length=16,
                                       choices=SubjectKind.choices, blank=True)
    fixed_amount = models.DecimalField(_("fixed amount"), null=True, blank=True, **MONEY)
    once_per = models.CharField(_("one time per"), max_length=16, choices=SubjectKind.choices,
                                blank=True)
    subject_field = models.CharField(_("field naming the platform or model"), max_length=64,
                                     blank=True)
    annual_quota = models.PositiveIntegerField(_("annual quota"), null=True, blank=True)
    conditions = models.JSONField(_("eligibility conditions"), default=list, blank=True)
    fields = models.JSONField(_("form fields"), default=list, blank=True)
    documents = models.JSONField(_("required documents"), default=list, blank=True)

    class Meta:
        ordering = ["measure", "-effective_from", "-number"]
        verbose_name = _("measure version")
        verbose_name_plural = _("measure versions")
        constraints = [
            models.UniqueConstraint(fields=["measure", "number"], name="measure_version_unique"),
            models.CheckConstraint(
                condition=Q(rate__isnull=True) | (Q(rate__gte=0) & Q(rate__lte=1)),
                name="measure_version_rate_fraction"),
            models.CheckConstraint(
                condition=Q(per_award_cap__isnull=True) | Q(per_award_cap__gte=0),
                name="measure_version_cap_nonnegative"),
            models.CheckConstraint(
                condition=Q(cumulative_cap__isnull=True) | Q(cumulative_cap__gte=0),
                name="measure_version_cumulative_cap_nonnegative"),
            models.CheckConstraint(
                condition=Q(fixed_amount__isnull=True) | Q(fixed_amount__gte=0),
                name="measure_version_fixed_nonnegative"),
            models.CheckConstraint(condition=Q(award_kind__in=AWARD_KINDS),
                                   name="measure_version_award_kind_valid"),
        ]

    def __str__(self):
        return f"{self.measure.code} v{self.number}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError(_("A catalogue version cannot be changed; make a new one."))
        super().save(*args, **kwargs)

    def rules(self) -> AwardRules:
        return AwardRules(
            award_kind=self.award_kind,
            rate=self.rate,
            base_field=self.base_field or None,
            per_award_cap=self.per_award_cap,
            requested_field=self.requested_field or None,
            cumulative_cap=self.cumulative_cap,
            fixed_amount=self.fixed_amount,
            once_per=self.once_per or None,
            annual_quota=self.annual_quota,
            conditions=tuple(Condition(field=c["field"], op=c["op"], reason=c["reason"],
                                       value=c.get("value")) for c in self.conditions),
        )

    @property
    def is_configured(self) -> bool:
        return self.rules().is_configured

    def parameters(self) -> dict:
        """The rule parameters as JSON: money and rates as strings."""
        def text(value):
            return None if value is None else f"{Decimal(value):f}"

        return {
            "rate": text(self.rate.normalize()) if self.rate is not None else None,
            "base_field": self.base_field or None,
            "per_award_cap": text(self.per_award_cap),
            "requested_field": self.requested_field or None,
            "cumulative_cap": text(self.cumulative_cap),
            "cumulative_over": self.cumulative_over or None,
            "fixed_amount": text(self.fixed_amount),
            "once_per": self.once_per or None,
            "subject_field": self.subject_field or None,
        }

    def field_labels(self, language: str | None = None) -> dict[str, str]:
        return {f["name"]: localized(f.get("label"), language) for f in self.fields}
