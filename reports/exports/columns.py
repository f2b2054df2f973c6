"""The columns of each export, defined once for CSV and XLSX alike, and the rows they read.

A `Table` is one export: its `columns` (key, lazily translated label, the type that tells the
writers how to show a value: text, money, decimal, int, datetime), the `fields` its query reads
with `values_list`, and `cells`, the function that turns one fetched tuple into the row's cells,
column by column. One function per table, not one per cell: at 100,000 rows a Python call per
cell costs more than the database takes to produce the row (bench/bench_exports.py).

Rows are read with one `values_list` query, joined to what they show (call, company, assessment,
award), and iterated in chunks (`.iterator(chunk_size=CHUNK)`: a server-side cursor on
PostgreSQL), so an export of any size holds one chunk of tuples in memory and costs the same
number of queries: this one, plus one for the measures' names. No model instance is built per
row, and nothing is converted twice: the writers get the cells as they show them, with
`text` applied to every text cell (the CSV neutralises formulas there) and `when` to every
date-time (in the site's time zone, TIME_ZONE = Asia/Shanghai, as the pages show them). On
PostgreSQL the database itself turns times into local time (`AT TIME ZONE`). Rows come in id
order.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import DateTimeField, F, Func, Q, Value
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from applications.models import Application, Status
from measures.models import Measure
from qianhai_grants.i18n import localized
from qianhai_grants.money import ZERO
from reports.filters import ReportFilter
from reviews.models import Award

TEXT, MONEY, DECIMAL, INT, DATETIME = "text", "money", "decimal", "int", "datetime"
TYPES = (TEXT, MONEY, DECIMAL, INT, DATETIME)
# Rows fetched at a time: the memory an export holds, and how often a job reports progress.
CHUNK = 2000

# What limited an award's amount (measures.engine CAPPED_BY_*), as people read it.
CAPPED_BY = {
    "cap": _("cap per award"),
    "cumulative_cap": _("cumulative cap"),
    "requested_amount": _("Amount requested"),
}
NO_MEASURE = ("", "", "")


@dataclass(frozen=True)
class Column:
    key: str
    label: Promise
    type: str
    width: int = 14  # in characters, for the XLSX sheet


@dataclass(frozen=True)
class Labels:
    """What the rows translate, read once per export in its language: the statuses, the
    measures (code, clause, name) and what limited an amount; each already passed through the
    writer's `text` (they are text cells too)."""

    statuses: dict[str, str]
    measures: dict[int, tuple[str, str, str]]
    capped_by: dict[str, str]

    @classmethod
    def build(cls, language: str, text: Callable[[str], str] = str) -> "Labels":
        with translation.override(language):
            return cls(
                statuses={s.value: text(str(s.label)) for s in Status},
                # One query: the catalogue is a few dozen rows.
                measures={m.pk: (text(m.code), text(m.clause or ""),
                                 text(localized(m.names, language)))
                          for m in Measure.objects.only(
                              "code", "clause", "name_zh_hans", "name_zh_hant", "name_en")},
                capped_by={code: text(str(label)) for code, label in CAPPED_BY.items()},
            )


class LocalTime(Func):
    """A time in the site's time zone, without zone (`text`: as text, YYYY-MM-DD HH:MM:SS).
    PostgreSQL converts (and formats) it itself; elsewhere the value stays as stored (aware)
    and `rows` converts it in Python."""

    # A date-time for every database: SQLite's value is then parsed as one. PostgreSQL's text
    # passes as it is (Django converts no date-time there; psycopg reads the type it gets).
    output_field = DateTimeField()

    def __init__(self, expression, *, text: bool = False):
        super().__init__(expression, Value(settings.TIME_ZONE))
        self.text = text

    def as_sql(self, compiler, connection, **extra_context):
        return compiler.compile(self.source_expressions[0])

    def as_postgresql(self, compiler, connection, **extra_context):
        template = ("to_char((%(expressions)s), 'YYYY-MM-DD HH24:MI:SS')" if self.text
                    else "(%(expressions)s)")
        return super().as_sql(compiler, connection, template=template,
                              arg_joiner=" AT TIME ZONE ", **extra_context)


def local_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def local(value: datetime | None, zone: ZoneInfo | None = None) -> datetime | None:
    """A `LocalTime` value as a time without zone, in the site's time zone."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(zone or local_zone()).replace(tzinfo=None)


@dataclass(frozen=True)
class Table:
    kind: str
    label: Promise  # the sheet's name
    columns: tuple[Column, ...]
    fields: tuple[str, ...]  # what `cells` reads, in this order
    queryset: Callable[[ReportFilter], Any]  # the rows in the filter
    computed: Callable[[bool], dict]  # the annotations among `fields` (times as text?)
    # (fetched tuples, labels, text, when) -> the rows' cells, one per column
    cells: Callable[..., Iterator[tuple]]


def _visible_applications():
    """The applications staff and management see (applications.selectors.
    applications_visible_to, the same rule): never a company's draft, nor a draft withdrawn
    before it was ever submitted."""
    return Application.objects.filter(~Q(status=Status.DRAFT)
                                      & ~Q(status=Status.WITHDRAWN, revision=0))


# ---------------------------------------------------------------- applications

def _applications(f: ReportFilter):
    return f.applications(_visible_applications())


def _application_times(text: bool) -> dict:
    return {"submitted_local": LocalTime(F("submitted_at"), text=text)}


def _application_cells(rows, labels: Labels, text, when) -> Iterator[tuple]:
    measures, statuses = labels.measures, labels.statuses
    for (pk, year, measure_id, name, name_en, number, status, submitted, score, amount,
         released_at, paid) in rows:
        code, clause, measure = measures.get(measure_id, NO_MEASURE)
        yield (pk, year, code, measure, clause, text(name), text(name_en), text(number),
               statuses.get(status, status), status,
               None if submitted is None else when(submitted), score,
               # The award's amount while it stands: a released award (an upheld objection, a
               # withdrawal) is no longer owed, and a sum over the column would count it.
               amount if released_at is None else None, paid)


APPLICATIONS = Table(
    kind="applications",
    label=_("Applications"),
    columns=(
        Column("application", _("Application no."), INT, width=10),
        Column("funding_year", _("Funding year"), INT, width=10),
        Column("measure_code", _("Measure code"), TEXT, width=22),
        Column("measure", _("Measure"), TEXT, width=36),
        Column("clause", _("Clause"), TEXT, width=8),
        Column("company", _("Legal name (Chinese)"), TEXT, width=36),
        Column("company_en", _("English name"), TEXT, width=36),
        Column("registration_number", _("Registration number"), TEXT, width=22),
        Column("status", _("Status"), TEXT, width=16),
        Column("status_code", _("Status code"), TEXT, width=14),
        Column("submitted_at", _("Submitted at"), DATETIME, width=18),
        Column("score", _("Aggregate score"), DECIMAL, width=10),
        Column("award_amount", _("Decided amount"), MONEY, width=18),
        Column("paid", _("Paid"), MONEY, width=18),
    ),
    fields=("pk", "call__funding_year", "call__measure_id", "company__name",
            "company__name_en", "company__registration_number", "status", "submitted_local",
            "assessment__score", "award__amount", "award__released_at", "award__paid"),
    queryset=_applications,
    computed=_application_times,
    cells=_application_cells,
)


# ---------------------------------------------------------------- awards

def _awards(f: ReportFilter):
    return f.applications(Award.objects.all(), prefix="application__")


def _award_times(text: bool) -> dict:
    return {"decided_local": LocalTime(F("decided_at"), text=text),
            "awarded_local": LocalTime(F("awarded_at"), text=text),
            "released_local": LocalTime(F("released_at"), text=text)}


def _award_cells(rows, labels: Labels, text, when) -> Iterator[tuple]:
    measures, statuses, capped = labels.measures, labels.statuses, labels.capped_by
    for (pk, application, year, measure_id, name, number, status, amount, paid, capped_by,
         decided, awarded, released) in rows:
        code, _clause, measure = measures.get(measure_id, NO_MEASURE)
        yield (pk, application, year, code, measure, text(name), text(number),
               statuses.get(status, status), amount, paid,
               # Nothing is left to pay on a released award.
               amount - paid if released is None else ZERO,
               capped.get(capped_by) or text(capped_by),
               None if decided is None else when(decided),
               None if awarded is None else when(awarded),
               None if released is None else when(released))


AWARDS = Table(
    kind="awards",
    label=_("Awards"),
    columns=(
        Column("award", _("Award no."), INT, width=10),
        Column("application", _("Application no."), INT, width=10),
        Column("funding_year", _("Funding year"), INT, width=10),
        Column("measure_code", _("Measure code"), TEXT, width=22),
        Column("measure", _("Measure"), TEXT, width=36),
        Column("company", _("Legal name (Chinese)"), TEXT, width=36),
        Column("registration_number", _("Registration number"), TEXT, width=22),
        Column("status", _("Status"), TEXT, width=16),
        Column("amount", _("Amount"), MONEY, width=18),
        Column("paid", _("Paid"), MONEY, width=18),
        Column("left_to_pay", _("Left to pay"), MONEY, width=18),
        Column("capped_by", _("Limited by"), TEXT, width=18),
        Column("decided_at", _("Decided at"), DATETIME, width=18),
        Column("awarded_at", _("Awarded at"), DATETIME, width=18),
        Column("released_at", _("Released at"), DATETIME, width=18),
    ),
    fields=("pk", "application_id", "application__call__funding_year",
            "application__call__measure_id", "application__company__name",
            "application__company__registration_number", "application__status", "amount",
            "paid", "capped_by", "decided_local", "awarded_local", "released_local"),
    queryset=_awards,
    computed=_award_times,
    cells=_award_cells,
)

TABLES = {table.kind: table for table in (APPLICATIONS, AWARDS)}


def query(table: Table, f: ReportFilter, *, text_times: bool = False):
    """The export's one query: a values_list of its fields, in id order; with `text_times`,
    PostgreSQL answers its times as text (what a CSV shows; elsewhere they stay times)."""
    return (table.queryset(f).annotate(**table.computed(text_times)).order_by("pk")
            .values_list(*table.fields))


def count(table: Table, f: ReportFilter) -> int:
    return table.queryset(f).count()


def _same(value):
    return value


def rows(table: Table, f: ReportFilter, labels: Labels, *,
         text: Callable[[str], str] = _same,
         when: Callable[[datetime], str] | None = None) -> Iterator[tuple]:
    """The export's rows as tuples of cells, one per column: str (through `text`), int,
    Decimal, a date-time as a local time without zone, or None for an empty cell. With
    `when`, date-times are text: `when(local time)`, or the database's own text of it."""
    zone = local_zone()
    database_converts = connection.vendor == "postgresql"
    if database_converts:
        convert = _same  # the database answered local times, as text if asked
    elif when is None:
        def convert(value):
            return local(value, zone)
    else:
        def convert(value):
            return when(local(value, zone))
    values = query(table, f, text_times=when is not None)
    return table.cells(values.iterator(chunk_size=CHUNK), labels, text, convert)
