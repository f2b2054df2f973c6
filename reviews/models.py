"""The back office: reviewer pool, conflicts, reviews and scorecards, decisions within quotas and
caps, 公示 (public notice) with objections, awards and payments, the working-day calendar and the
audit trail.

Limits live in PostgreSQL (DESIGN rule 5): an annual quota is one `QuotaCounter` row per measure
and funding year, a cumulative cap or a one-time award is one `SubjectLedger` row per platform or
model, and a payment total is kept on its `Award`; each is changed under a row lock and backed by
a check constraint, so no interleaving of requests can take more than the policy allows.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from applications.models import Application, Call, Company
from measures.models import MONEY, Measure, MeasureVersion
from qianhai_grants.history import tracked


class DayKind(models.TextChoices):
    HOLIDAY = "holiday", _("Public holiday")
    WORKDAY = "workday", _("Make-up working day")


@tracked()
class CalendarDay(models.Model):
    """An exception to the Monday-to-Friday week: a public holiday on a weekday, or a weekend day
    worked to make up for one (调休). Every other day is a working day from Monday to Friday."""

    date = models.DateField(_("date"), unique=True)
    kind = models.CharField(_("kind"), max_length=8, choices=DayKind.choices)
    name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta:
        ordering = ["date"]
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        constraints = [models.CheckConstraint(condition=Q(kind__in=DayKind.values),
                                              name="calendar_day_kind_valid")]

    def __str__(self):
        return f"{self.date} {self.get_kind_display()} {self.name}".strip()


@tracked()
class ReviewerProfile(models.Model):
    """An outside expert in the reviewer pool."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="reviewer_profile")
    name = models.CharField(_("name"), max_length=100)
    # Tags matched against a call's measure: a measure code (`demo-project`) or a pillar
    # (`application_demo`).
    expertise = models.JSONField(_("expertise"), default=list, blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("reviewer")
        verbose_name_plural = _("reviewers")

    def __str__(self):
        return self.name


class AffiliationKind(models.TextChoices):
    EMPLOYMENT = "employment", _("Works for")
    SHAREHOLDING = "shareholding", _("Holds shares in")
    DECLARED = "declared", _("Declared another relation to")


@tracked()
class Affiliation(models.Model):
    """A company a reviewer works for, holds shares in or declared a relation to: a conflict of
    interest with every application of that company. Matched by registration number, so it holds
    for a company that registers after the declaration."""

    reviewer = models.ForeignKey(ReviewerProfile, on_delete=models.CASCADE,
                                 related_name="affiliations")
    registration_number = models.CharField(_("registration number"), max_length=32)
    kind = models.CharField(_("kind"), max_length=16, choices=AffiliationKind.choices,
                            default=AffiliationKind.EMPLOYMENT)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["reviewer", "registration_number"]
        verbose_name = _("affiliation")
        verbose_name_plural = _("affiliations")
        constraints = [models.UniqueConstraint(fields=["reviewer", "registration_number"],
                                               name="affiliation_unique")]

    def __str__(self):
        return f"{self.reviewer} · {self.registration_number}"


class Scorecard(models.Model):
    """The criteria of a call's expert review: `[{code, labels: {lang: text}, weight,
    max_score}]`; weights are relative (they need not add up to 1)."""

    call = models.OneToOneField(Call, on_delete=models.CASCADE, related_name="scorecard")
    criteria = models.JSONField(_("criteria"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("scorecard")
        verbose_name_plural = _("scorecards")

    def __str__(self):
        return f"{self.call}"


class ReviewState(models.TextChoices):
    ASSIGNED = "assigned", _("To score")
    SUBMITTED = "submitted", _("Scored")
    RECUSED = "recused", _("Recused")


@tracked()
class Review(models.Model):
    """One reviewer's assignment to one application, and the scores they give (blind: no reviewer
    sees another's)."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE,
                                    related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                 related_name="reviews")
    state = models.CharField(_("state"), max_length=16, choices=ReviewState.choices,
                             default=ReviewState.ASSIGNED)
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    assigned_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    scores = models.JSONField(_("scores"), default=dict, blank=True)
    comments = models.JSONField(_("comments per criterion"), default=dict, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    recommended_amount = models.DecimalField(_("recommended amount"), null=True, blank=True,
                                             **MONEY)
    # The weighted total on a scale of 0 to 100, computed when the review is submitted.
    total = models.DecimalField(_("weighted total"), max_digits=6, decimal_places=2, null=True,
                                blank=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    recusal_reason = models.TextField(_("reason for recusal"), blank=True)
    recused_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["assigned_at", "pk"]
        verbose_name = _("review")
        verbose_name_plural = _("reviews")
        constraints = [
            models.UniqueConstraint(fields=["application", "reviewer"], name="review_unique"),
            models.CheckConstraint(condition=Q(state__in=ReviewState.values),
                                   name="review_state_valid"),
            models.CheckConstraint(
                condition=Q(recommended_amount__isnull=True) | Q(recommended_amount__gte=0),
                name="review_recommended_nonnegative"),
        ]
        indexes = [models.Index(fields=["reviewer", "state"])]

    def __str__(self):
        return f"{self.application_id} · {self.reviewer}"


@tracked()
class Assessment(models.Model):
    """The aggregate of an application's submitted reviews, kept for ranking."""

    application = models.OneToOneField(Application, on_delete=models.CASCADE,
                                       related_name="assessment")
    score = models.DecimalField(_("aggregate score"), max_digits=6, decimal_places=2)
    reviews_count = models.PositiveSmallIntegerField(_("reviews"))
    trimmed = models.BooleanField(_("highest and lowest dropped"), default=False)
    # The mean of the amounts recommended by the reviewers of an `up_to_cap` measure, if any.
    recommended_amount = models.DecimalField(_("recommended amount"), null=True, blank=True,
                                             **MONEY)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-score"]
        verbose_name = _("assessment")
        verbose_name_plural = _("assessments")

    def __str__(self):
        return f"{self.application_id}: {self.score}"


@tracked()
class QuotaCounter(models.Model):
    """How many awards a measure holds in one funding year (MEASURES.md, demo-project: "每年支持
    項目不超過10個", at most 10 a year). Taken by a conditional update; the check constraint is
    the last line of defence."""

    measure = models.ForeignKey(Measure, on_delete=models.PROTECT, related_name="+")
    funding_year = models.PositiveIntegerField()
    quota = models.PositiveIntegerField()
    used = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("annual quota")
        verbose_name_plural = _("annual quotas")
        constraints = [
            models.UniqueConstraint(fields=["measure", "funding_year"],
                                    name="quota_counter_unique"),
            models.CheckConstraint(condition=Q(used__gte=0) & Q(used__lte=F("quota")),
                                   name="quota_counter_within_quota"),
        ]

    def __str__(self):
        return f"{self.measure_id} {self.funding_year}: {self.used}/{self.quota}"


@tracked()
class SubjectLedger(models.Model):
    """What one platform or model of one company holds under a measure, over all years:
    proposed and awarded amounts (MEASURES.md, compute-platform: "每個平台累計最高不超過2000萬元";
    industry-llm: "一次性"). Changed only under a row lock."""

    measure = models.ForeignKey(Measure, on_delete=models.PROTECT, related_name="+")
    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="+")
    subject_key = models.CharField(max_length=200)
    committed = models.DecimalField(default=0, **MONEY)
    awards = models.IntegerField(default=0)
    cumulative_cap = models.DecimalField(null=True, blank=True, **MONEY)
    once = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("award ledger")
        verbose_name_plural = _("award ledgers")
        constraints = [
            models.UniqueConstraint(fields=["measure", "company", "subject_key"],
                                    name="subject_ledger_unique"),
            models.CheckConstraint(condition=Q(committed__gte=0) & Q(awards__gte=0),
                                   name="subject_ledger_nonnegative"),
            models.CheckConstraint(
                condition=Q(cumulative_cap__isnull=True) | Q(committed__lte=F("cumulative_cap")),
                name="subject_ledger_within_cap"),
            models.CheckConstraint(condition=Q(once=False) | Q(awards__lte=1),
                                   name="subject_ledger_once"),
        ]

    def __str__(self):
        return f"{self.measure_id} {self.company_id} {self.subject_key}: {self.committed}"


@tracked()
class Award(models.Model):
    """A decision: the amount and the rules, inputs and trace it was computed from (DESIGN
    rule 4). Made when staff approve (`proposed`); `awarded_at` is set when the 公示 is
    finalized; `released_at` when the decision is undone (an objection upheld)."""

    application = models.OneToOneField(Application, on_delete=models.PROTECT,
                                       related_name="award")
    measure_version = models.ForeignKey(MeasureVersion, on_delete=models.PROTECT,
                                        related_name="+")
    amount = models.DecimalField(_("amount"), **MONEY)
    capped_by = models.CharField(_("limited by"), max_length=32, blank=True)
    parameters = models.JSONField(_("rule parameters"))
    inputs = models.JSONField(_("inputs"))
    trace = models.JSONField(_("calculation"))
    score = models.DecimalField(_("aggregate score"), max_digits=6, decimal_places=2,
                                null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(default=timezone.now)
    awarded_at = models.DateTimeField(_("awarded at"), null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    paid = models.DecimalField(_("paid"), default=0, **MONEY)

    class Meta:
        ordering = ["-decided_at", "-pk"]
        verbose_name = _("award")
        verbose_name_plural = _("awards")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="award_amount_nonnegative"),
            # Payments never exceed the award (issue: "their sum never exceeds the award").
            models.CheckConstraint(condition=Q(paid__gte=0) & Q(paid__lte=F("amount")),
                                   name="award_paid_within_amount"),
        ]

    def __str__(self):
        return f"{self.application_id}: {self.amount}"


@tracked()
class Payment(models.Model):
    """One disbursement of an award: the whole at once or one of several tranches."""

    award = models.ForeignKey(Award, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(_("amount"), **MONEY)
    paid_on = models.DateField(_("paid on"))
    reference = models.CharField(_("reference"), max_length=64)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["award", "paid_on", "pk"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.UniqueConstraint(fields=["award", "reference"],
                                    name="payment_reference_unique"),
        ]

    def __str__(self):
        return f"{self.award_id}: {self.amount} {self.paid_on}"


@tracked()
class Publicity(models.Model):
    """A 公示: the public notice of a call's proposed awards, open for a number of working days.

    The period runs from `starts_on` to the end of `ends_on` (both working days, both included),
    China Standard Time."""

    call = models.ForeignKey(Call, on_delete=models.PROTECT, related_name="publicities")
    working_days = models.PositiveSmallIntegerField(_("working days"), default=5)
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("until"))
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                  related_name="+")
    opened_at = models.DateTimeField(default=timezone.now)
    finalized_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")
    finalized_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-pk"]
        verbose_name = _("public notice")
        verbose_name_plural = _("public notices")
        constraints = [
            models.CheckConstraint(condition=Q(working_days__gte=1),
                                   name="publicity_working_days_positive"),
            models.CheckConstraint(condition=Q(ends_on__gte=F("starts_on")),
                                   name="publicity_ends_after_start"),
        ]

    def __str__(self):
        return f"{self.call} {self.starts_on}–{self.ends_on}"


class PublicityEntry(models.Model):
    """One line of a 公示 list, as published (kept even if the application changes later)."""

    publicity = models.ForeignKey(Publicity, on_delete=models.CASCADE, related_name="entries")
    application = models.ForeignKey(Application, on_delete=models.PROTECT,
                                    related_name="publicity_entries")
    company_name = models.CharField(max_length=200)
    project = models.CharField(max_length=200, blank=True)
    amount = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["publicity", "pk"]
        constraints = [models.UniqueConstraint(fields=["publicity", "application"],
                                               name="publicity_entry_unique")]

    def __str__(self):
        return f"{self.company_name} {self.amount}"


class ObjectionState(models.TextChoices):
    OPEN = "open", pgettext_lazy("objection state", "Open")
    UPHELD = "upheld", _("Upheld")
    DISMISSED = "dismissed", _("Dismissed")


@tracked()
class Objection(models.Model):
    """A signed objection to one line of a 公示 (anonymous ones are refused)."""

    publicity = models.ForeignKey(Publicity, on_delete=models.PROTECT, related_name="objections")
    application = models.ForeignKey(Application, on_delete=models.PROTECT,
                                    related_name="objections")
    name = models.CharField(_("name"), max_length=100)
    organization = models.CharField(_("organisation"), max_length=200)
    contact = models.CharField(_("contact"), max_length=200)
    text = models.TextField(_("objection"))
    created_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(_("state"), max_length=16, choices=ObjectionState.choices,
                             default=ObjectionState.OPEN)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(_("resolution note"), blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("objection")
        verbose_name_plural = _("objections")
        constraints = [models.CheckConstraint(condition=Q(state__in=ObjectionState.values),
                                              name="objection_state_valid")]

    def __str__(self):
        return f"{self.application_id}: {self.name}"


class AuditEntry(models.Model):
    """What a service did, by whom, when and why: assignments, recusals, scores, decisions,
    objections, payments (status changes are `applications.StatusEvent`). Row-level history of
    the same tables is also kept by database triggers (django-pghistory)."""

    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                           on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=40)
    application = models.ForeignKey(Application, null=True, blank=True, on_delete=models.CASCADE,
                                    related_name="audit")
    call = models.ForeignKey(Call, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="audit")
    data = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        indexes = [models.Index(fields=["action", "at"])]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.action}"


class BatchState(models.TextChoices):
    PENDING = "pending", _("Waiting to start")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


# Applications per chunk of a batch, unless asked otherwise. Each chunk costs a few milliseconds
# of its own (its transaction and commit, the batch row locked, read and updated with its
# history, a task when run by Celery): 2,000 took a quarter less time than 500 over 100,000
# applications, in chunks of under a tenth of a second (bench/bench_award_batch.py).
AWARD_BATCH_CHUNK_SIZE = 2000


@tracked()
class AwardBatch(models.Model):
    """One recomputation of the provisional amounts of a call's undecided applications, after a
    catalogue edit or before a decision meeting (reviews/services/batches.py).

    Its applications are split by id into lanes (`AwardBatchLane`) that run side by side, each
    in chunks of `chunk_size` applications in id order; `processed`, `changed` and `total` add
    up what every lane did."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="award_batches",
                             verbose_name=_("call"))
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("requested by"))
    state = models.CharField(_("state"), max_length=16, choices=BatchState.choices,
                             default=BatchState.PENDING)
    total = models.PositiveIntegerField(_("applications"), default=0)
    processed = models.PositiveIntegerField(_("processed"), default=0)
    changed = models.PositiveIntegerField(_("changed"), default=0)
    chunk_size = models.PositiveIntegerField(_("chunk size"), default=AWARD_BATCH_CHUNK_SIZE)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("award batch")
        verbose_name_plural = _("award batches")
        constraints = [
            models.CheckConstraint(condition=Q(state__in=BatchState.values),
                                   name="award_batch_state_valid"),
            models.CheckConstraint(condition=Q(processed__lte=F("total")),
                                   name="award_batch_processed_within_total"),
            models.CheckConstraint(condition=Q(changed__lte=F("processed")),
                                   name="award_batch_changed_within_processed"),
            models.CheckConstraint(condition=Q(chunk_size__gte=1),
                                   name="award_batch_chunk_size_positive"),
            # One batch of a call at a time: two would compute the same rows twice.
            models.UniqueConstraint(
                fields=["call"], condition=Q(state__in=[BatchState.PENDING, BatchState.RUNNING]),
                name="award_batch_one_active_per_call"),
        ]

    def __str__(self):
        return f"{self.call} · {self.processed}/{self.total} {self.state}"

    @property
    def is_active(self) -> bool:
        return self.state in (BatchState.PENDING, BatchState.RUNNING)

    @property
    def percent(self) -> int:
        """How far the batch is, 0 to 100 (a finished batch is 100, even over no application)."""
        if self.state == BatchState.DONE:
            return 100
        if not self.total:
            return 0
        return min(100, self.processed * 100 // self.total)


class AwardBatchLane(models.Model):
    """A span of a batch's applications by id, after the lane before it and up to `upto_id`
    (the last lane has no bound: applications accepted while the batch runs come last), run
    chunk after chunk from `last_application_id`, where its next chunk starts: a lane whose
    worker died resumes where it stopped. A chunk locks its lane's row, so two workers handed
    the same lane (a redelivered task) take its chunks one after the other, never the same one
    twice, while the batch's other lanes run beside them.

    Not `tracked()`: a cursor that moves with every chunk; the batch's own history records the
    progress of all its lanes."""

    batch = models.ForeignKey(AwardBatch, on_delete=models.CASCADE, related_name="lanes")
    number = models.PositiveSmallIntegerField()
    last_application_id = models.BigIntegerField(default=0)
    upto_id = models.BigIntegerField(null=True, blank=True)
    done = models.BooleanField(default=False)
    # When a chunk last ended here (or the lane was made or handed on again): a lane unfinished
    # and untouched for long has lost its task (batches.award_batch_resume_stalled).
    touched_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["batch", "number"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "number"], name="award_batch_lane_unique"),
            models.CheckConstraint(
                condition=Q(upto_id__isnull=True) | Q(last_application_id__lte=F("upto_id")),
                name="award_batch_lane_within_its_span"),
        ]

    def __str__(self):
        return f"{self.batch_id}/{self.number}: after {self.last_application_id}"


class ProvisionalAmount(models.Model):
    """What an undecided application would be awarded under the rules in force, with the
    engine's trace: recomputed by award batches, shown before a decision. Not a decision: an
    approval computes the final amount afresh under the quota and ledger locks (`Award`).

    Deliberately not `tracked()`: a provisional amount is derived data, recomputable at any time
    from the application's inputs and the catalogue versions (both tracked and immutable), and
    its provenance is on the row itself (`batch`, `measure_version`, `computed_at`, the trace)
    and in the batch's own history (`AwardBatch` is tracked: who started it, when it ran, how
    many rows it changed). A history trigger would copy every row a batch writes into an event
    table, as much again per batch (100,000 rows for a call of 100,000 applications), and was
    most of a batch's database time (bench/bench_award_batch.py)."""

    application = models.OneToOneField(Application, on_delete=models.CASCADE,
                                       related_name="provisional")
    measure_version = models.ForeignKey(MeasureVersion, on_delete=models.PROTECT,
                                        related_name="+", verbose_name=_("rules version"))
    eligible = models.BooleanField(_("eligible"))
    amount = models.DecimalField(_("provisional amount"), **MONEY)
    capped_by = models.CharField(_("limited by"), max_length=32, blank=True)
    reasons = models.JSONField(_("reasons"), default=list, blank=True)
    trace = models.JSONField(_("calculation"), default=list, blank=True)
    batch = models.ForeignKey(AwardBatch, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="amounts")
    computed_at = models.DateTimeField(_("computed at"), default=timezone.now)

    class Meta:
        verbose_name = _("provisional amount")
        verbose_name_plural = _("provisional amounts")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0),
                                   name="provisional_amount_nonnegative"),
        ]

    def __str__(self):
        return f"{self.application_id}: {self.amount}"
