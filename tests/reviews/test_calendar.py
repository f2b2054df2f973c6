"""The working-day calendar that times the 公示 period: the pure functions, the holiday data file
and its loader, and the selector."""

from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from qianhai_grants.errors import DomainError
from reviews.calendar import Calendar, add_working_days, is_working_day, working_days_between
from reviews.models import CalendarDay, DayKind
from reviews.selectors_calendar import calendar_current
from reviews.services.calendar import holidays_load, holidays_read

D = date.fromisoformat


def _file_calendar() -> Calendar:
    """The calendar of the shipped data file, read without the database."""
    days = holidays_read().days
    return Calendar(
        holidays=frozenset(d for d, p in days.items() if p.kind == DayKind.HOLIDAY),
        workdays=frozenset(d for d, p in days.items() if p.kind == DayKind.WORKDAY),
    )


CAL = _file_calendar()


# ---------------------------------------------------------------- the pure functions

@pytest.mark.parametrize(("day", "holidays", "workdays", "expected"), [
    (D("2026-03-02"), set(), set(), True),                     # a plain Monday
    (D("2026-03-06"), set(), set(), True),                     # a plain Friday
    (D("2026-03-07"), set(), set(), False),                    # Saturday
    (D("2026-03-08"), set(), set(), False),                    # Sunday
    (D("2026-03-02"), {D("2026-03-02")}, set(), False),        # a holiday on a Monday
    (D("2026-03-07"), set(), {D("2026-03-07")}, True),         # a make-up Saturday
    (D("2026-03-07"), {D("2026-03-07")}, {D("2026-03-07")}, False),  # a holiday wins
])
def test_is_working_day(day, holidays, workdays, expected):
    assert is_working_day(day, holidays, workdays) is expected


@pytest.mark.parametrize(("start", "n", "expected"), [
    # Weekends, no holiday: a 5-day notice opened on a Monday ends that Friday.
    (D("2026-03-02"), 5, D("2026-03-06")),
    (D("2026-03-02"), 1, D("2026-03-02")),
    (D("2026-03-02"), 10, D("2026-03-13")),
    (D("2026-03-06"), 2, D("2026-03-09")),    # Fri, then over the weekend to Mon
    (D("2026-03-07"), 1, D("2026-03-09")),    # opened on a Saturday: counting starts Monday
    (D("2026-03-08"), 5, D("2026-03-13")),    # opened on a Sunday
])
def test_add_working_days_across_weekends(start, n, expected):
    assert add_working_days(start, n, set(), set()) == expected
    assert CAL.add_working_days(start, n) == expected


@pytest.mark.parametrize(("start", "n", "expected"), [
    # 2025 National Day and Mid-Autumn: Oct 1-8 off, Sun Sep 28 and Sat Oct 11 worked.
    # Fri 26, Sun 28, Mon 29, Tue 30, then Thu Oct 9.
    (D("2025-09-26"), 5, D("2025-10-09")),
    (D("2025-09-26"), 4, D("2025-09-30")),
    (D("2025-09-27"), 1, D("2025-09-28")),    # opened on the Saturday: the make-up Sunday counts
    (D("2025-10-01"), 1, D("2025-10-09")),    # opened during the holiday
    (D("2025-10-09"), 3, D("2025-10-11")),    # Thu 9, Fri 10, make-up Sat 11
    (D("2025-10-09"), 4, D("2025-10-13")),
    # 2026 Spring Festival: Feb 15-23 off, Sat Feb 14 and Sat Feb 28 worked.
    (D("2026-02-12"), 5, D("2026-02-25")),    # Thu 12, Fri 13, Sat 14, Tue 24, Wed 25
    (D("2026-02-16"), 1, D("2026-02-24")),
    (D("2026-02-24"), 5, D("2026-02-28")),    # Tue 24 .. Fri 27, make-up Sat 28
    (D("2026-02-24"), 6, D("2026-03-02")),
    # 2026 New Year: Jan 1-3 off, Sun Jan 4 worked.
    (D("2025-12-31"), 2, D("2026-01-04")),
    # 2024 Spring Festival: the Eve (Fri Feb 9) was a working day, Feb 10-17 off, Sun 18 worked.
    (D("2024-02-08"), 3, D("2024-02-18")),
])
def test_add_working_days_across_holidays(start, n, expected):
    assert add_working_days(start, n, CAL.holidays, CAL.workdays) == expected
    assert CAL.add_working_days(start, n) == expected


@pytest.mark.parametrize("n", [0, -1, -5])
def test_add_working_days_refuses_a_period_of_no_days(n):
    with pytest.raises(ValueError, match="at least one working day"):
        add_working_days(D("2026-03-02"), n, set(), set())
    with pytest.raises(ValueError, match="at least one working day"):
        CAL.add_working_days(D("2026-03-02"), n)


@pytest.mark.parametrize(("a", "b", "expected"), [
    (D("2026-03-02"), D("2026-03-08"), 5),    # one plain week
    (D("2026-03-02"), D("2026-03-02"), 1),    # a working day on its own
    (D("2026-03-07"), D("2026-03-07"), 0),    # a Saturday on its own
    (D("2026-03-09"), D("2026-03-02"), 0),    # backwards: an empty span
    (D("2025-09-26"), D("2025-10-09"), 5),    # across National Day 2025
    (D("2025-10-01"), D("2025-10-08"), 0),    # the holiday itself
    (D("2026-02-14"), D("2026-02-28"), 6),    # Sat 14, Tue 24 .. Fri 27, Sat 28
])
def test_working_days_between(a, b, expected):
    assert working_days_between(a, b, CAL.holidays, CAL.workdays) == expected
    assert CAL.working_days_between(a, b) == expected


@given(start=st.dates(min_value=D("2023-12-01"), max_value=D("2027-12-31")),
       n=st.integers(min_value=1, max_value=40))
def test_a_period_ends_on_a_working_day_and_lasts_n_working_days(start, n):
    end = CAL.add_working_days(start, n)
    assert end >= start
    assert CAL.is_working_day(end)
    assert CAL.working_days_between(start, end) == n


# ---------------------------------------------------------------- the data file

def test_the_data_file_covers_2024_to_2027_with_only_2027_provisional():
    holiday_file = holidays_read()
    assert holiday_file.years == (2024, 2025, 2026, 2027)
    assert holiday_file.provisional_years == (2027,)


def test_every_make_up_working_day_is_a_weekend_day():
    assert CAL.workdays
    assert all(day.weekday() >= 5 for day in CAL.workdays)


# Pinned days of the State Council's notices: False = no work, True = a working day.
PINNED = [
    # 2024 (国办发明电〔2023〕7号)
    ("2024-01-01", False), ("2024-02-04", True), ("2024-02-09", True), ("2024-02-12", False),
    ("2024-02-17", False), ("2024-02-18", True), ("2024-04-04", False), ("2024-04-07", True),
    ("2024-04-28", True), ("2024-05-03", False), ("2024-05-11", True), ("2024-06-10", False),
    ("2024-09-14", True), ("2024-09-16", False), ("2024-09-29", True), ("2024-10-07", False),
    ("2024-10-08", True), ("2024-10-12", True),
    # 2025 (国办发明电〔2024〕12号, the first year with the Eve and May 2 as statutory days)
    ("2025-01-01", False), ("2025-01-26", True), ("2025-01-28", False), ("2025-02-04", False),
    ("2025-02-05", True), ("2025-02-08", True), ("2025-04-04", False), ("2025-04-27", True),
    ("2025-05-05", False), ("2025-06-02", False), ("2025-09-28", True), ("2025-10-06", False),
    ("2025-10-08", False), ("2025-10-11", True),
    # 2026 (notice of 2025-11-04)
    ("2026-01-02", False), ("2026-01-04", True), ("2026-02-14", True), ("2026-02-16", False),
    ("2026-02-23", False), ("2026-02-28", True), ("2026-04-06", False), ("2026-05-05", False),
    ("2026-05-09", True), ("2026-06-19", False), ("2026-09-20", True), ("2026-09-25", False),
    ("2026-10-07", False), ("2026-10-08", True), ("2026-10-10", True),
    # 2027 (provisional: the statutory days only)
    ("2027-01-01", False), ("2027-02-05", False), ("2027-02-08", False), ("2027-04-05", False),
    ("2027-06-09", False), ("2027-09-15", False), ("2027-10-01", False),
]


@pytest.mark.django_db
def test_loaded_calendar_matches_the_state_council_notices():
    holidays_load()
    calendar = calendar_current()
    wrong = [(day, working) for day, working in PINNED
             if calendar.is_working_day(D(day)) is not working]
    assert wrong == []


@pytest.mark.django_db
def test_loaded_rows_carry_kind_and_both_names():
    holidays_load()
    national_day = CalendarDay.objects.get(date=D("2025-10-01"))
    assert national_day.kind == DayKind.HOLIDAY
    assert "国庆节" in national_day.name
    assert "National Day" in national_day.name
    make_up = CalendarDay.objects.get(date=D("2026-02-28"))
    assert make_up.kind == DayKind.WORKDAY
    assert "春节" in make_up.name
    # Spring Festival 2026 is nine days off in a row.
    assert CalendarDay.objects.filter(date__range=(D("2026-02-15"), D("2026-02-23")),
                                      kind=DayKind.HOLIDAY).count() == 9


# ---------------------------------------------------------------- the loader

def _rows():
    return list(CalendarDay.objects.order_by("date").values_list("id", "date", "kind", "name"))


@pytest.mark.django_db
def test_holidays_load_is_idempotent():
    created = holidays_load()
    assert created == CalendarDay.objects.count() == len(holidays_read().days)
    before = _rows()

    assert holidays_load() == 0
    assert _rows() == before


@pytest.mark.django_db
def test_holidays_load_restores_an_official_day_and_keeps_staff_additions():
    holidays_load()
    CalendarDay.objects.filter(date=D("2026-02-28")).update(kind=DayKind.HOLIDAY, name="typo")
    CalendarDay.objects.create(date=D("2026-12-31"), kind=DayKind.HOLIDAY, name="staff-added")

    assert holidays_load() == 1
    restored = CalendarDay.objects.get(date=D("2026-02-28"))
    assert restored.kind == DayKind.WORKDAY
    assert CalendarDay.objects.filter(date=D("2026-12-31"), name="staff-added").exists()


@pytest.mark.django_db
def test_holidays_load_never_overwrites_a_provisional_year_edited_by_staff():
    holidays_load()
    CalendarDay.objects.filter(date=D("2027-02-05")).update(name="春节 · official notice")
    CalendarDay.objects.filter(date=D("2027-04-05")).delete()

    assert holidays_load() == 1    # the missing day is created again, the edited one is kept
    assert CalendarDay.objects.get(date=D("2027-02-05")).name == "春节 · official notice"
    assert CalendarDay.objects.filter(date=D("2027-04-05")).exists()


BAD_FILES = {
    "weekday_workday": """
years:
  2026:
    holidays: [{from: 2026-03-02, to: 2026-03-02, zh-hans: 测试, en: Test}]
    workdays: [{date: 2026-03-03, zh-hans: 测试, en: Test}]
""",
    "listed_twice": """
years:
  2026:
    holidays: [{from: 2026-03-02, to: 2026-03-03, zh-hans: 测试, en: Test}]
    workdays: []
  2027:
    holidays: [{from: 2026-03-03, to: 2026-03-03, zh-hans: 测试, en: Test}]
""",
    "backwards_range": """
years:
  2026:
    holidays: [{from: 2026-03-05, to: 2026-03-02, zh-hans: 测试, en: Test}]
""",
    "no_english_name": """
years:
  2026:
    holidays: [{from: 2026-03-02, to: 2026-03-02, zh-hans: 测试}]
""",
    "no_years": "{}",
    "not_yaml": "years: [unclosed",
}


@pytest.mark.django_db
@pytest.mark.parametrize("content", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_holidays_load_refuses_a_bad_file_whole(tmp_path, content):
    path = tmp_path / "holidays.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DomainError) as refused:
        holidays_load(path=path)
    assert refused.value.code == "invalid_calendar"
    assert CalendarDay.objects.count() == 0


@pytest.mark.django_db
def test_load_holidays_command_prints_a_one_line_summary():
    out = StringIO()
    with translation.override("en"):
        call_command("load_holidays", stdout=out)
    first = out.getvalue().strip()
    assert "\n" not in first
    assert first.startswith(f"{CalendarDay.objects.count()} calendar days created or changed")
    assert "2027" in first

    out = StringIO()
    with translation.override("en"):
        call_command("load_holidays", stdout=out)
    assert out.getvalue().startswith("0 calendar days created or changed")


# ---------------------------------------------------------------- the selector

@pytest.mark.django_db
def test_calendar_current_reads_the_rows_in_one_query(django_assert_num_queries):
    CalendarDay.objects.create(date=D("2026-03-02"), kind=DayKind.HOLIDAY, name="x")
    CalendarDay.objects.create(date=D("2026-03-07"), kind=DayKind.WORKDAY, name="y")
    with django_assert_num_queries(1):
        calendar = calendar_current()
    assert calendar == Calendar(holidays=frozenset({D("2026-03-02")}),
                                workdays=frozenset({D("2026-03-07")}))
    assert calendar.add_working_days(D("2026-03-02"), 5) == D("2026-03-07")
