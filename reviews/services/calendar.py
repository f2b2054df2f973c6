"""The working-day calendar: loading the State Council's holiday arrangements from the data file
(`reviews/data/holidays.yaml`) into `CalendarDay` rows."""

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import yaml
from django.db import transaction
from django.utils.translation import gettext as _

from qianhai_grants.data import yaml_load
from qianhai_grants.errors import DomainError
from reviews.models import CalendarDay, DayKind

DEFAULT_FILE = Path(__file__).resolve().parents[1] / "data" / "holidays.yaml"
NAME_MAX = CalendarDay._meta.get_field("name").max_length


@dataclass(frozen=True)
class PlannedDay:
    """One row the data file asks for. `provisional` marks a year whose State Council notice was
    not out when the file was written."""

    kind: str
    name: str
    provisional: bool


@dataclass(frozen=True)
class HolidayFile:
    days: dict[date, PlannedDay]
    years: tuple[int, ...]
    provisional_years: tuple[int, ...]


def _invalid(message, **fields) -> DomainError:
    return DomainError("invalid_calendar", message, status=400, fields=fields)


def _name(entry: dict, where: str) -> str:
    zh, en = entry.get("zh-hans"), entry.get("en")
    if not (isinstance(zh, str) and zh.strip() and isinstance(en, str) and en.strip()):
        raise _invalid(_("%(where)s needs its name in Simplified Chinese and English.") % {
            "where": where}, entry=where)
    name = f"{zh.strip()} · {en.strip()}"
    if len(name) > NAME_MAX:
        raise _invalid(_("%(where)s has a name longer than %(max)d characters.") % {
            "where": where, "max": NAME_MAX}, entry=where)
    return name


def _date(value, where: str) -> date:
    # YAML reads an unquoted 2025-10-01 as a date already; a quoted one is accepted too.
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _invalid(_("%(where)s has no valid date.") % {"where": where},
                       entry=where) from None


def holidays_read(*, path: Path | str | None = None) -> HolidayFile:
    """Read and check the holiday data file; refuse it whole rather than load part of it.

    Refused: a range that ends before it starts, a make-up working day that is not a Saturday or
    a Sunday (a weekday is a working day already, so it can only be a typing mistake), and a date
    listed twice (a day cannot be both a holiday and a working day)."""
    path = Path(path) if path else DEFAULT_FILE
    try:
        data = yaml_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise _invalid(_("The holiday file %(file)s cannot be read: %(error)s") % {
            "file": path.name, "error": exc}, file=str(path)) from exc
    years = data.get("years") if isinstance(data, dict) else None
    if not isinstance(years, dict) or not years:
        raise _invalid(_("The holiday file %(file)s has no years.") % {"file": path.name},
                       file=str(path))

    days: dict[date, PlannedDay] = {}

    def plan(day: date, planned: PlannedDay, where: str) -> None:
        if day in days:
            raise _invalid(_("%(date)s is listed twice in the holiday file (%(where)s).") % {
                "date": day.isoformat(), "where": where}, entry=where)
        days[day] = planned

    provisional_years = []
    for year, arrangement in sorted(years.items()):
        if not isinstance(arrangement, dict):
            raise _invalid(_("Year %(year)s of the holiday file is not a mapping.") % {
                "year": year}, entry=str(year))
        provisional = bool(arrangement.get("provisional", False))
        if provisional:
            provisional_years.append(year)
        for index, entry in enumerate(arrangement.get("holidays") or []):
            where = f"{year} holidays[{index}]"
            if not isinstance(entry, dict):
                raise _invalid(_("%(where)s is not a mapping.") % {"where": where}, entry=where)
            first, last = _date(entry.get("from"), where), _date(entry.get("to"), where)
            if last < first:
                raise _invalid(_("%(where)s ends before it starts.") % {"where": where},
                               entry=where)
            planned = PlannedDay(DayKind.HOLIDAY, _name(entry, where), provisional)
            for offset in range((last - first).days + 1):
                plan(first + timedelta(days=offset), planned, where)
        for index, entry in enumerate(arrangement.get("workdays") or []):
            where = f"{year} workdays[{index}]"
            if not isinstance(entry, dict):
                raise _invalid(_("%(where)s is not a mapping.") % {"where": where}, entry=where)
            day = _date(entry.get("date"), where)
            if day.weekday() < 5:
                raise _invalid(_("%(where)s: %(date)s is a weekday, not a make-up working "
                                 "day.") % {"where": where, "date": day.isoformat()},
                               entry=where)
            plan(day, PlannedDay(DayKind.WORKDAY, _name(entry, where), provisional), where)
    return HolidayFile(days=days, years=tuple(sorted(years)),
                       provisional_years=tuple(provisional_years))


def holidays_load(*, path: Path | str | None = None) -> int:
    """Load the holiday data file into `CalendarDay` rows, in one transaction; return how many
    rows were created or changed.

    Idempotent: a row that already says what the file says is not written again, so a second run
    returns 0 and leaves no trace in the row history. Rows the file does not mention (days staff
    added in the admin) are kept. A provisional year's rows are only created when missing, never
    overwritten: staff replace them in the admin with the State Council's notice once it is out,
    and `make run` reloading the file must not undo that."""
    planned = holidays_read(path=path).days
    changed = 0
    with transaction.atomic():
        existing = {row.date: row for row in CalendarDay.objects.filter(date__in=list(planned))}
        for day, want in sorted(planned.items()):
            row = existing.get(day)
            if row is not None:
                unchanged = (row.kind, row.name) == (want.kind, want.name)
                if unchanged or want.provisional:
                    continue
            CalendarDay.objects.update_or_create(date=day,
                                                 defaults={"kind": want.kind, "name": want.name})
            changed += 1
    return changed
