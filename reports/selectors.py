"""The dashboard's figures (management and staff), read with aggregate queries only.

`report_summary` answers every figure of the dashboard and of `GET /api/v1/reports/summary/` in
11 queries whatever the number of applications (pinned by the tests at 10 and at 1,000
applications; bench/bench_dashboard.py times them at 100,000): each section is one aggregate
query with conditional aggregation (`COUNT(...) FILTER (WHERE ...)`), never a query per row.

What counts, and why:
- Applications are those staff and management can see (`applications.selectors.
  applications_visible_to`): never a company's draft, nor a draft withdrawn before it was ever
  submitted (the other sections count what only a submitted application can have: status
  events after submission, reviews, awards, objections). Figures are per funding year (the
  call's) and measure; a call without an application is a row of zeros.
- The funnel (submitted → accepted → reviewed → proposed → awarded) counts the applications that
  *ever entered* each stage, from the status events every transition writes (DESIGN rule 3): an
  application rejected after its 公示 still counts as proposed, one returned for changes and
  submitted again counts once (the events are counted, not distinct applications: see
  `_funnel`). The current status is counted separately (`statuses`).
- Awards are those that stand: not released (an upheld objection or a withdrawal releases an
  award) and held by an application that is proposed, in 公示 or awarded, i.e. what takes a slot
  of the annual quota (reviews.services.decisions). `final` are those whose 公示 ended.
- The annual quota in use is the measure's counter row for the year where one exists (it is what
  the decisions enforce), else the standing awards; the quota is the counter's, else the one of
  the catalogue version in force. Caps are those of the version in force.
- Platforms are the ledger rows with a cumulative cap (compute-platform, MEASURES.md 2.1: at most
  20,000,000.00 per platform over all years): cumulative over every year by definition; a year
  filter keeps the platforms that applied in that year.
- Time in a stage runs from entering a status to the application's next status change; a stage
  an application is still in is not counted. Medians are exact (`percentile_cont(0.5)` on
  PostgreSQL; on SQLite an aggregate function registered on the connection, so the median is
  still computed by the database in the same single query).
- Reviewer turnaround is `submitted_at - assigned_at` of submitted reviews; a review is open
  while assigned and its application still in expert review.
"""

import statistics
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    Exists,
    F,
    Max,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Sum,
    Window,
)
from django.db.models.functions import Lead, NullIf
from django.utils import timezone
from django.utils.translation import gettext as _

from applications.models import Application, Call, Status, StatusEvent
from measures.models import Measure, MeasureVersion
from qianhai_grants.errors import DomainError
from qianhai_grants.money import ZERO
from qianhai_grants.roles import can_read_everything
from reports.filters import ReportFilter
from reviews.models import (
    Award,
    Objection,
    ObjectionState,
    QuotaCounter,
    Review,
    ReviewerProfile,
    ReviewState,
    SubjectLedger,
)
from reviews.services.decisions import HOLDING

# The stages of the funnel, in order (API.md, application statuses).
FUNNEL = (Status.SUBMITTED, Status.ACCEPTED, Status.REVIEWED, Status.PROPOSED, Status.AWARDED)
# Current statuses shown: every status but draft, which staff never see.
STATUSES = tuple(s for s in Status if s != Status.DRAFT)
# Stages whose time is measured: every status an application waits in before a decision ends.
STAGES = (Status.SUBMITTED, Status.RETURNED, Status.ACCEPTED, Status.IN_REVIEW, Status.REVIEWED,
          Status.RESERVE, Status.PROPOSED, Status.IN_PUBLICITY)
# Platforms listed one by one (the largest share of their cap first); the totals count all.
PLATFORM_ROWS = 50
DAY = Decimal("0.1")
SQLITE_MEDIAN = "qg_median"


def _visible() -> Q:
    """The applications staff and management see (applications.selectors, the same rule)."""
    return ~Q(status=Status.DRAFT) & ~Q(status=Status.WITHDRAWN, revision=0)


class Median(Aggregate):
    """The exact median (the mean of the two middle values of an even count).

    PostgreSQL: `percentile_cont(0.5) WITHIN GROUP (ORDER BY x)`; SQLite has no such function,
    so `_sqlite_median` is registered on the connection first (a Python aggregate run by SQLite
    inside the same query: the values of one group are held in memory while it runs)."""

    name = "Median"
    function = "percentile_cont"
    arity = 1
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)%(filter)s"

    def as_sqlite(self, compiler, connection, **extra_context):
        _sqlite_median(connection)
        return self.as_sql(compiler, connection, function=SQLITE_MEDIAN,
                           template="%(function)s(%(expressions)s)%(filter)s", **extra_context)


class _MedianOfValues:
    """SQLite aggregate: collects a group's values, answers their median."""

    def __init__(self):
        self.values = []

    def step(self, value):
        if value is not None:
            self.values.append(value)

    def finalize(self):
        return statistics.median(self.values) if self.values else None


def _sqlite_median(conn) -> None:
    """Register the median aggregate on this SQLite connection (no query; registering it again
    replaces it, and costs less than remembering: sqlite3 connections take no attributes)."""
    conn.ensure_connection()
    conn.connection.create_aggregate(SQLITE_MEDIAN, 1, _MedianOfValues)


def _days(value) -> Decimal | None:
    """A duration (a timedelta, or microseconds as SQLite answers) in days, to 0.1."""
    if value is None:
        return None
    if not isinstance(value, timedelta):
        value = timedelta(microseconds=float(value))
    micro = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    return (Decimal(micro) / Decimal(86_400_000_000)).quantize(DAY, rounding=ROUND_HALF_UP)


def _calls(f: ReportFilter):
    lookups = {}
    if f.year:
        lookups["funding_year"] = f.year
    if f.pillar:
        lookups["measure__pillar"] = f.pillar
    if f.measure:
        lookups["measure__code"] = f.measure
    return Call.objects.filter(**lookups)


def _measures(f: ReportFilter):
    lookups = {}
    if f.pillar:
        lookups["measure__pillar"] = f.pillar
    if f.measure:
        lookups["measure__code"] = f.measure
    return lookups


def _group_key(row: dict) -> tuple[int, int]:
    return row["group_year"], row["group_measure"]


def _per_group(queryset, prefix: str, **aggregates) -> dict[tuple[int, int], dict]:
    """One query: `aggregates` per (funding year, measure) of rows reaching an application
    through `prefix`."""
    rows = (queryset.order_by()
            .values(group_year=F(f"{prefix}call__funding_year"),
                    group_measure=F(f"{prefix}call__measure_id"))
            .annotate(**aggregates))
    return {_group_key(row): row for row in rows}


# ---------------------------------------------------------------- sections

def _statuses(f: ReportFilter) -> dict[tuple[int, int], dict]:
    """Applications per current status, per (year, measure) of every call in the filter: a call
    without an application is a row of zeros."""
    counts = {s.value: Count("applications", filter=Q(applications__status=s))
              for s in STATUSES}
    # A draft withdrawn before it was ever submitted stays the company's own.
    counts[Status.WITHDRAWN.value] = Count("applications", filter=Q(
        applications__status=Status.WITHDRAWN, applications__revision__gt=0))
    rows = (_calls(f).order_by()
            .values(group_year=F("funding_year"), group_measure=F("measure_id"))
            .annotate(**counts))
    return {_group_key(row): row for row in rows}


def _funnel(f: ReportFilter) -> dict[tuple[int, int], dict]:
    """Applications that ever entered each stage, counted by their events without DISTINCT
    (which would sort every event: most of this query's time at 100,000 applications).

    That holds because of the transition table (applications/transitions.py): a stage of the
    funnel, once left, is never entered again, except `submitted`, entered again from
    `returned`; its first entry is the one from `draft`. tests/reports/test_summary.py checks
    this against the table, so a new back edge fails there rather than counting twice here."""
    events = f.applications(StatusEvent.objects.filter(to_status__in=FUNNEL),
                            prefix="application__")
    entered = {s: Q(to_status=s) for s in FUNNEL}
    entered[Status.SUBMITTED] = Q(to_status=Status.SUBMITTED, from_status=Status.DRAFT)
    return _per_group(events, "application__", **{
        s.value: Count("pk", filter=entered[s]) for s in FUNNEL})


def _awards(f: ReportFilter) -> dict[tuple[int, int], dict]:
    standing = Q(released_at__isnull=True, application__status__in=HOLDING)
    final = standing & Q(application__status=Status.AWARDED)
    awards = f.applications(Award.objects.all(), prefix="application__")
    # Named apart from the model's fields: an annotation named `amount` would shadow the field
    # in the aggregates after it.
    rows = _per_group(
        awards, "application__",
        a_count=Count("pk", filter=standing),
        a_amount=Sum("amount", filter=standing, default=ZERO),
        a_final_count=Count("pk", filter=final),
        a_final_amount=Sum("amount", filter=final, default=ZERO),
        a_paid=Sum("paid", filter=standing, default=ZERO),
        a_largest=Max("amount", filter=standing),
        a_capped=Count("pk", filter=standing & ~Q(capped_by="")),
        a_released=Count("pk", filter=Q(released_at__isnull=False)),
    )
    return {key: {name[2:]: value for name, value in row.items() if name.startswith("a_")}
            for key, row in rows.items()}


def _objections(f: ReportFilter) -> dict[tuple[int, int], dict]:
    objections = f.applications(Objection.objects.all(), prefix="application__")
    return _per_group(objections, "application__", total=Count("pk"), **{
        state.value: Count("pk", filter=Q(state=state)) for state in ObjectionState})


def _quota_counters(f: ReportFilter) -> dict[tuple[int, int], QuotaCounter]:
    counters = QuotaCounter.objects.filter(**_measures(f))
    if f.year:
        counters = counters.filter(funding_year=f.year)
    return {(c.funding_year, c.measure_id): c
            for c in counters.only("measure_id", "funding_year", "quota", "used")}


def _platforms(f: ReportFilter, measures: dict[int, Measure]) -> dict:
    """Ledger rows with a cumulative cap: the totals, and the rows nearest their cap (their
    measures from `measures`: joined here, the measure misled PostgreSQL's estimate of the year
    filter into a plan a hundred times slower)."""
    ledgers = SubjectLedger.objects.filter(cumulative_cap__isnull=False, **_measures(f))
    if f.year:
        ledgers = ledgers.filter(Exists(Application.objects.filter(
            _visible(), call__measure=OuterRef("measure"), company=OuterRef("company"),
            subject_key=OuterRef("subject_key"), call__funding_year=f.year)))
    totals = ledgers.aggregate(
        p_count=Count("pk"), p_committed=Sum("committed", default=ZERO),
        p_at_cap=Count("pk", filter=Q(committed__gte=F("cumulative_cap"))))
    totals = {name[2:]: value for name, value in totals.items()}
    rows = list(ledgers.select_related("company")
                .only("measure_id", "company__name", "subject_key", "committed", "awards",
                      "cumulative_cap")
                .order_by((F("committed") / NullIf(F("cumulative_cap"), ZERO)).desc(
                    nulls_last=True), "-committed", "-pk")[:PLATFORM_ROWS])
    return {**totals, "rows": [{
        "measure": measures[ledger.measure_id], "company": {"id": ledger.company_id,
                                               "name": ledger.company.name},
        "subject": ledger.subject_key, "awards": ledger.awards,
        "committed": ledger.committed, "cap": ledger.cumulative_cap,
        "left": max(ledger.cumulative_cap - ledger.committed, ZERO),
        "percent": _percent(ledger.committed, ledger.cumulative_cap),
    } for ledger in rows]}


def _percent(part, whole) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(DAY, rounding=ROUND_HALF_UP)


def _stages(f: ReportFilter) -> list[dict]:
    """Median days per stage, in one query: a window inside (the next event of the same
    application), one filtered median per stage outside. Filtered aggregates in a single row
    rather than a GROUP BY stage: each median then sorts only its own stage's durations, in
    memory, instead of every duration being sorted by stage first (on disk, at 100,000
    applications)."""
    events = (f.applications(StatusEvent.objects.all(), prefix="application__")
              .order_by()
              .annotate(duration=Window(Lead("at"), partition_by=[F("application_id")],
                                        order_by=[F("at").asc(), F("pk").asc()]) - F("at"))
              .values("to_status", "duration"))
    inner, params = events.query.sql_with_params()
    if connection.vendor == "postgresql":
        median = "percentile_cont(0.5) WITHIN GROUP (ORDER BY s.duration)"
    else:
        _sqlite_median(connection)
        median = f"{SQLITE_MEDIAN}(s.duration)"
    columns, stages = [], []
    for stage in STAGES:
        columns += [f"{median} FILTER (WHERE s.to_status = %s)",
                    "COUNT(*) FILTER (WHERE s.to_status = %s)"]
        stages += [stage.value, stage.value]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM ({inner}) s "  # noqa: S608
                       "WHERE s.duration IS NOT NULL", [*stages, *params])
        row = cursor.fetchone()
    return [{"status": stage.value, "label": stage.label, "median_days": _days(row[2 * k]),
             "count": row[2 * k + 1]} for k, stage in enumerate(STAGES)]


def _reviewers(f: ReportFilter) -> list[dict]:
    reviews = f.applications(Review.objects.all(), prefix="application__")
    submitted = Q(state=ReviewState.SUBMITTED)
    # Grouped by the reviewer's id alone, the names looked up per group afterwards: the median
    # sorts every review of the group, and narrow rows sort in memory.
    rows = (reviews.order_by()
            .values("reviewer_id")
            .annotate(assigned=Count("pk"), submitted=Count("pk", filter=submitted),
                      open=Count("pk", filter=Q(state=ReviewState.ASSIGNED,
                                                application__status=Status.IN_REVIEW)),
                      recused=Count("pk", filter=Q(state=ReviewState.RECUSED)),
                      turnaround=Median(F("submitted_at") - F("assigned_at"),
                                        output_field=DurationField(),
                                        filter=submitted & Q(submitted_at__isnull=False)))
            .annotate(
                name=Subquery(ReviewerProfile.objects.filter(user_id=OuterRef("reviewer_id"))
                              .order_by().values("name")[:1]),
                email=Subquery(get_user_model().objects.filter(pk=OuterRef("reviewer_id"))
                               .values("email")[:1]))
            .order_by("-assigned", "name", "reviewer_id"))
    return [{"reviewer": {"id": row["reviewer_id"], "name": row["name"] or row["email"]},
             "assigned": row["assigned"], "submitted": row["submitted"], "open": row["open"],
             "recused": row["recused"], "median_turnaround_days": _days(row["turnaround"])}
            for row in rows]


# ---------------------------------------------------------------- the summary

def _catalogue() -> dict[int, tuple[Measure, MeasureVersion | None]]:
    """Every measure with its version in force (None before the first one), in two queries
    (measures.selectors.catalogue_current, keeping the measures without one)."""
    in_force = (MeasureVersion.objects.filter(effective_from__lte=timezone.now())
                .only("measure_id", "number", "effective_from", "annual_quota", "per_award_cap",
                      "cumulative_cap")
                .order_by("-effective_from", "-number"))
    measures = Measure.objects.only(
        "code", "pillar", "order", "name_zh_hans", "name_zh_hant", "name_en").prefetch_related(
        Prefetch("versions", queryset=in_force, to_attr="versions_in_force"))
    return {m.pk: (m, m.versions_in_force[0] if m.versions_in_force else None)
            for m in measures}


def _zero_statuses() -> dict[str, int]:
    return dict.fromkeys((s.value for s in STATUSES), 0)


def _group(year: int, measure: Measure, version, *, statuses, funnel, awards, objections,
           counter) -> dict:
    statuses = {s.value: (statuses or {}).get(s.value, 0) for s in STATUSES}
    annual_quota = version.annual_quota if version is not None else None
    per_award_cap = version.per_award_cap if version is not None else None
    awards = awards or {}
    count = awards.get("count", 0)
    quota = counter.quota if counter is not None else annual_quota
    used = counter.used if counter is not None else count
    return {
        "funding_year": year, "measure": measure,
        "applications": sum(statuses.values()),
        "statuses": statuses,
        "funnel": {s.value: (funnel or {}).get(s.value, 0) for s in FUNNEL},
        "reserve": statuses[Status.RESERVE],
        "awards": {"count": count, "amount": awards.get("amount", ZERO),
                   "final_count": awards.get("final_count", 0),
                   "final_amount": awards.get("final_amount", ZERO),
                   "paid": awards.get("paid", ZERO), "largest": awards.get("largest"),
                   "capped": awards.get("capped", 0), "released": awards.get("released", 0)},
        "quota": {"quota": quota, "used": used,
                  "left": None if quota is None else max(quota - used, 0)},
        "caps": {"per_award_cap": per_award_cap,
                 "cumulative_cap": version.cumulative_cap if version is not None else None,
                 # The most a year's quota can cost: every slot at the per-award cap.
                 "annual_ceiling": None if quota is None or per_award_cap is None
                 else per_award_cap * quota},
        "objections": {"total": (objections or {}).get("total", 0), **{
            state.value: (objections or {}).get(state.value, 0) for state in ObjectionState}},
    }


def _totals(groups: list[dict]) -> dict:
    def add(section: str, key: str, zero=0):
        return sum((g[section][key] for g in groups), zero)

    statuses = _zero_statuses()
    for g in groups:
        for key, value in g["statuses"].items():
            statuses[key] += value
    return {
        "applications": sum(g["applications"] for g in groups),
        "statuses": statuses,
        "funnel": {s.value: add("funnel", s.value) for s in FUNNEL},
        "reserve": statuses[Status.RESERVE],
        "awards": {"count": add("awards", "count"), "amount": add("awards", "amount", ZERO),
                   "final_count": add("awards", "final_count"),
                   "final_amount": add("awards", "final_amount", ZERO),
                   "paid": add("awards", "paid", ZERO), "capped": add("awards", "capped"),
                   "released": add("awards", "released")},
        "objections": {"total": add("objections", "total"), **{
            state.value: add("objections", state.value) for state in ObjectionState}},
    }


def report_summary(*, user, filter: ReportFilter) -> dict:
    """Every figure of the dashboard for `filter`, for staff and management (403 otherwise).

    Answers `{"filter", "groups": [per funding year and measure], "totals", "platforms",
    "stages", "reviewers"}`; money as Decimal, medians as Decimal days (one decimal).
    Makes 11 queries, whatever the data."""
    if user is None or not can_read_everything(user):
        raise DomainError("forbidden", _("Only staff and management can see this."),
                          status=403)
    f = filter
    statuses = _statuses(f)
    funnel = _funnel(f)
    awards = _awards(f)
    objections = _objections(f)
    counters = _quota_counters(f)
    catalogue = _catalogue()
    keys = set(statuses) | set(funnel) | set(awards) | set(objections)
    order = {pk: (m.order, m.code) for pk, (m, _v) in catalogue.items()}
    groups = [
        _group(year, *catalogue[measure_id], statuses=statuses.get((year, measure_id)),
               funnel=funnel.get((year, measure_id)), awards=awards.get((year, measure_id)),
               objections=objections.get((year, measure_id)),
               counter=counters.get((year, measure_id)))
        for year, measure_id in sorted(keys, key=lambda k: (-k[0], order.get(k[1], (0, ""))))
        if measure_id in catalogue
    ]
    return {
        "filter": f,
        "groups": groups,
        "totals": _totals(groups),
        "platforms": _platforms(f, {pk: m for pk, (m, _v) in catalogue.items()}),
        "stages": _stages(f),
        "reviewers": _reviewers(f),
    }
