"""The working-day calendar as the database holds it (public data: no scoping by who asks)."""

from reviews.calendar import Calendar
from reviews.models import CalendarDay, DayKind


def calendar_current() -> Calendar:
    """The calendar of every `CalendarDay` row, in one query: read it once and time many periods
    with it."""
    rows = list(CalendarDay.objects.values_list("date", "kind"))
    return Calendar(
        holidays=frozenset(day for day, kind in rows if kind == DayKind.HOLIDAY),
        workdays=frozenset(day for day, kind in rows if kind == DayKind.WORKDAY),
    )
