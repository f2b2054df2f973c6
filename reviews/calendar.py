"""Working days in mainland China, as pure functions (no ORM), so they are tested by tables.

The 公示 (public notice) period of an award decision runs for a number of working days, and in
China a working day is not simply Monday to Friday: the State Council's yearly notice on holiday
arrangements (国务院办公厅关于部分节假日安排的通知) turns some weekdays into public holidays
and some weekends into make-up working days (调休上班). So a calendar is the plain week plus two
sets of exceptions, `holidays` and `workdays`, which the selector `calendar_current()` reads from
the `CalendarDay` rows.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

ONE_DAY = timedelta(days=1)


def is_working_day(day: date, holidays: set[date], workdays: set[date]) -> bool:
    """Whether offices work on `day`.

    A holiday is never a working day (even if it were also listed as a workday, which the loader
    refuses); a make-up working day is one whatever the weekday; every other day is one from
    Monday to Friday."""
    if day in holidays:
        return False
    if day in workdays:
        return True
    return day.weekday() < 5


def add_working_days(start: date, n: int, holidays: set[date], workdays: set[date]) -> date:
    """The n-th working day from `start`, counting `start` itself if it is a working day.

    This is the last day of a period of n working days opened on `start`: a 5-working-day 公示
    opened on a Monday of a week without holidays ends that Friday, and one opened on a Saturday
    starts counting on the next working day. A period of no days has no last day, so n < 1 is
    refused rather than answered with a date that would end a notice before it began."""
    if n < 1:
        raise ValueError(f"a period has at least one working day, not {n}")
    day, counted = start, 0
    while True:
        if is_working_day(day, holidays, workdays):
            counted += 1
            if counted == n:
                return day
        day += ONE_DAY


def working_days_between(a: date, b: date, holidays: set[date], workdays: set[date]) -> int:
    """How many working days there are from `a` to `b`, both included (0 if `b` is before `a`).

    Inclusive on both ends so that it answers the question a notice asks: a period opened on `a`
    that ends on `add_working_days(a, n, ...)` lasted exactly n working days."""
    count, day = 0, a
    while day <= b:
        if is_working_day(day, holidays, workdays):
            count += 1
        day += ONE_DAY
    return count


@dataclass(frozen=True)
class Calendar:
    """A working-day calendar: the Monday-to-Friday week with its exceptions. Immutable, so one
    read of the calendar can be passed around and used for a whole request."""

    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)

    def is_working_day(self, day: date) -> bool:
        return is_working_day(day, self.holidays, self.workdays)

    def add_working_days(self, start: date, n: int) -> date:
        return add_working_days(start, n, self.holidays, self.workdays)

    def working_days_between(self, a: date, b: date) -> int:
        return working_days_between(a, b, self.holidays, self.workdays)
