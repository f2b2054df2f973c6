"""parse_inputs and dump_inputs against the real field schemas of the catalogue data file."""

from datetime import date
from decimal import Decimal

import pytest
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from measures.inputs import InputParser, dump_inputs, parse_inputs
from tests.measures.test_engine import fields_for


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def parse(code, raw):
    return parse_inputs(fields_for(code), raw)


def assert_refused(result, name):
    assert not result.ok
    assert list(result.errors) == [name]
    assert result.errors[name] and all(isinstance(m, str) and m for m in result.errors[name])
    assert name not in result.values


def case_row(**changes):
    row = {"client_name": "Ping An", "sector": "finance", "contract_date": "2024-03-01",
           "summary": "Claims triage."}
    row.update(changes)
    return {k: v for k, v in row.items() if v is not None}


# ---------------------------------------------------------------- money

@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("15000000", "15000000.00"),
        ("15000000.5", "15000000.50"),
        (15000000, "15000000.00"),
        (15000000.5, "15000000.50"),
        ("15,000,000.00", "15000000.00"),
        ("0", "0.00"),
        (" 100000000.00 ", "100000000.00"),
    ],
)
def test_money_accepts_decimal_amounts(raw, expected):
    result = parse("compute-platform", {"total_investment": raw})
    assert result.ok, result.errors
    assert result.values == {"total_investment": Decimal(expected)}
    assert result.values["total_investment"].as_tuple().exponent == -2


@pytest.mark.parametrize(
    "raw",
    ["-1", "-0.01", "abc", "1e400", "1E+5", "NaN", "Infinity", "-Infinity", "inf", True, False,
     [], {}, ["1"], "1.001", "0.005", "100000000000000", 10**400, float("nan"), "1,5", "１"],
)
def test_money_refuses_what_is_not_a_non_negative_amount(raw):
    result = parse("compute-platform", {"total_investment": raw,
                                        "prior_year_actual_investment": "15000000"})
    assert_refused(result, "total_investment")
    assert result.values["prior_year_actual_investment"] == Decimal("15000000.00")


# ---------------------------------------------------------------- booleans

@pytest.mark.parametrize("raw", [True, False])
def test_booleans_accept_true_and_false(raw):
    result = parse("industry-llm", {"self_developed": raw})
    assert result.ok
    assert result.values == {"self_developed": raw}
    assert result.values["self_developed"] is raw


@pytest.mark.parametrize("raw", ["true", "false", "True", 1, 0, "yes", "no", "1", [], {}])
def test_booleans_refuse_anything_else(raw):
    assert_refused(parse("industry-llm", {"self_developed": raw}), "self_developed")


# ---------------------------------------------------------------- integers

@pytest.mark.parametrize(("raw", "expected"), [(12, 12), (0, 0), ("12", 12), (" 7 ", 7)])
def test_integers_accept_whole_numbers(raw, expected):
    result = parse("icv-pilot", {"vehicle_count": raw})
    assert result.ok
    assert result.values == {"vehicle_count": expected}
    assert type(result.values["vehicle_count"]) is int


@pytest.mark.parametrize(
    "raw", [-1, "-1", 1.5, 12.0, "12.0", True, False, "abc", 10**13, [], {}, "1e3"],
)
def test_integers_refuse_negatives_floats_and_booleans(raw):
    assert_refused(parse("icv-pilot", {"vehicle_count": raw}), "vehicle_count")


# ---------------------------------------------------------------- dates

@pytest.mark.parametrize("raw", ["2024-01-02", " 2024-01-02 "])
def test_dates_accept_iso(raw):
    result = parse("industry-llm", {"release_date": raw})
    assert result.values == {"release_date": date(2024, 1, 2)}


@pytest.mark.parametrize(
    "raw",
    ["2024/01/02", "02/01/2024", "01-02-2024", "2024-1-2", "2024-02-30", "2024-13-01",
     "2024-01-02T10:00", "tomorrow", "2024年1月2日", 20240102, True, [2024, 1, 2]],
)
def test_dates_refuse_anything_but_iso(raw):
    assert_refused(parse("industry-llm", {"release_date": raw}), "release_date")


# ---------------------------------------------------------------- choices, text, urls

@pytest.mark.parametrize("raw", ["airport", "port", "smart_manufacturing", "other"])
def test_choices_accept_listed_values(raw):
    assert parse("demo-project", {"scene": raw}).values == {"scene": raw}


@pytest.mark.parametrize("raw", ["Airport", "机场", "space", 1, ["airport"], True])
def test_choices_refuse_values_not_listed(raw):
    result = parse("demo-project", {"scene": raw})
    assert_refused(result, "scene")
    assert "airport" in result.errors["scene"][0]  # the message lists what may be chosen


def test_text_is_stripped_and_bounded():
    assert parse("demo-project", {"project_name": "  Port  "}).values == {"project_name": "Port"}
    assert_refused(parse("demo-project", {"project_name": "x" * 201}), "project_name")
    assert parse("demo-project", {"project_name": "x" * 200}).ok
    assert_refused(parse("demo-project", {"project_name": 5}), "project_name")
    assert_refused(parse("demo-project", {"project_name": "a\x00b"}), "project_name")


@pytest.mark.parametrize("raw", ["ftp://example.com/m", "javascript:alert(1)", "example.com"])
def test_urls_need_http_or_https(raw):
    assert_refused(parse("industry-llm", {"release_url": raw}), "release_url")
    ok = parse("industry-llm", {"release_url": "https://example.com/model"})
    assert ok.values == {"release_url": "https://example.com/model"}


# ---------------------------------------------------------------- cases

def test_cases_parse_each_row_by_its_item_fields():
    result = parse("industry-llm", {"market_cases": [case_row(), case_row(sector="logistics")]})
    assert result.ok, result.errors
    rows = result.values["market_cases"]
    assert len(rows) == 2
    assert rows[0] == {"client_name": "Ping An", "sector": "finance",
                       "contract_date": date(2024, 3, 1), "summary": "Claims triage."}
    assert rows[1]["sector"] == "logistics"


def test_cases_drop_unknown_keys_in_a_row():
    result = parse("industry-llm", {"market_cases": [case_row(extra="ignored")]})
    assert "extra" not in result.values["market_cases"][0]


@pytest.mark.parametrize(
    ("raw", "row", "field"),
    [
        ([case_row(), "not an object"], 2, None),
        ([case_row(), case_row(), case_row(client_name=None)], 3, "client_name"),
        ([case_row(sector="mining")], 1, "sector"),
        ([case_row(), case_row(contract_date="2024/03/01")], 2, "contract_date"),
        ([case_row(summary="   ")], 1, "summary"),
    ],
)
def test_a_bad_row_is_named(raw, row, field):
    result = parse("industry-llm", {"market_cases": raw})
    assert_refused(result, "market_cases")
    message = result.errors["market_cases"][0]
    assert f"Row {row}" in message
    if field:
        assert field in message


@pytest.mark.parametrize("raw", ["ten cases", {"client_name": "A"}, 10, True])
def test_cases_must_be_a_list(raw):
    assert_refused(parse("industry-llm", {"market_cases": raw}), "market_cases")


def test_cases_are_bounded():
    assert_refused(parse("industry-llm", {"market_cases": [case_row()] * 501}), "market_cases")
    assert parse("industry-llm", {"market_cases": [case_row()] * 500}).ok


# ---------------------------------------------------------------- blanks, unknown keys, non-objects

@pytest.mark.parametrize("blank", ["", None, "   "])
def test_blank_values_count_as_absent(blank):
    raw = {"total_investment": blank, "authority_consent_ref": blank,
           "platform_kind": blank, "prior_year_actual_investment": "1"}
    result = parse("compute-platform", raw)
    assert result.ok
    assert result.values == {"prior_year_actual_investment": Decimal("1.00")}


def test_false_and_zero_are_values_not_blanks():
    result = parse("low-altitude-pilot", {"evtol_route_opened": False, "requested_amount": 0})
    assert result.values == {"evtol_route_opened": False, "requested_amount": Decimal("0.00")}


def test_unknown_keys_are_ignored():
    result = parse("demo-project", {"actual_investment": "15000000", "hack": "x", "rate": "1"})
    assert result.ok
    assert result.values == {"actual_investment": Decimal("15000000.00")}


def test_every_malformed_field_is_reported():
    result = parse("industry-llm", {"self_developed": "yes", "release_date": "soon",
                                    "market_cases": "many", "model_name": "M"})
    assert set(result.errors) == {"self_developed", "release_date", "market_cases"}
    assert result.values == {"model_name": "M"}


@pytest.mark.parametrize("raw", [[], ["total_investment"], "x", None, 5, True])
def test_a_non_object_is_refused_under_inputs(raw):
    result = parse("compute-platform", raw)
    assert not result.ok
    assert list(result.errors) == ["inputs"]
    assert result.values == {}


# ---------------------------------------------------------------- dump_inputs

def test_dump_gives_money_with_two_places_and_iso_dates():
    raw = {"model_name": "Qianhai-LLM", "self_developed": True, "publicly_released": False,
           "release_date": "2024-02-01", "market_cases": [case_row()]}
    parsed = parse("industry-llm", raw)
    assert parsed.ok
    dumped = dump_inputs(parsed.values)
    assert dumped == {"model_name": "Qianhai-LLM", "self_developed": True,
                      "publicly_released": False, "release_date": "2024-02-01",
                      "market_cases": [case_row()]}


@pytest.mark.parametrize(
    ("raw", "dumped"),
    [("15,000,000", "15000000.00"), (15000000.5, "15000000.50"), ("0", "0.00"),
     ("99999999999999.99", "99999999999999.99")],
)
def test_money_round_trips_as_two_place_strings(raw, dumped):
    parsed = parse("demo-project", {"actual_investment": raw, "completion_date": "2024-06-30",
                                    "scene": "port"})
    out = dump_inputs(parsed.values)
    assert out == {"actual_investment": dumped, "completion_date": "2024-06-30", "scene": "port"}
    again = parse("demo-project", out)
    assert again.values == parsed.values
    assert dump_inputs(again.values) == out


# ---------------------------------------------------------------- a schema prepared once

ODD_VALUES = [
    None, "", "   ", True, False, 0, 7, -3, 12.5, 1e400, [], ["a"], {"a": 1},
    "15000000", "15000000.5", "15000000.00", " 15000000.00 ", "15,000,000.00", "0", "0.00",
    "-0", "-1", "+5", "1e5", "NaN", "12.345", "00012.50", "12345678901234.99",
    "123456789012345", "123456789012345.00", "١٢٣", "１２３", "2025-12-31", " 2025-12-31 ",
    "20251231", "2025-13-01", "2025-1-1", "port", " port", "PORT", "finance", "https://a.b/c",
    "ftp://a.b", "x" * 200, "x" * 201, "x" * 5001, "前海港口智能调度示范", "a\x00b", "\ud800",
    "true", "12", " 12 ", "１２",
]


def every_field() -> list[tuple[str, dict]]:
    from tests.measures.test_engine import catalogue_codes

    return [(code, spec) for code in catalogue_codes() for spec in fields_for(code)]


@pytest.mark.parametrize("raw", ODD_VALUES, ids=repr)
def test_a_prepared_schema_parses_every_value_as_parse_inputs_does(raw):
    """InputParser reads the usual values by a shorter path: the same values and the same
    messages as parse_inputs, field by field, over every field of the catalogue."""
    for code, spec in every_field():
        fields = fields_for(code)
        inputs = {spec["name"]: raw}
        expected, got = parse_inputs(fields, inputs), InputParser(fields)(inputs)
        assert (got.values, got.errors) == (expected.values, expected.errors), (code, spec)
        assert [type(v) for v in got.values.values()] == [
            type(v) for v in expected.values.values()]


@given(data=st.data())
@settings(max_examples=300, deadline=None)
def test_a_prepared_schema_agrees_with_parse_inputs_on_any_json(data):
    code = data.draw(st.sampled_from(sorted({code for code, _spec in every_field()})))
    fields = fields_for(code)
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30),
                        st.from_regex(r"\s?[0-9]{1,16}(\.[0-9]{0,3})?\s?", fullmatch=True),
                        st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True),
                        st.sampled_from(ODD_VALUES[:30]))
    raw = data.draw(st.dictionaries(st.sampled_from([f["name"] for f in fields] + ["other"]),
                                    st.one_of(scalars, st.lists(scalars, max_size=3)),
                                    max_size=len(fields) + 1))
    expected, got = parse_inputs(fields, raw), InputParser(fields)(raw)
    assert (got.values, got.errors) == (expected.values, expected.errors)


def test_a_prepared_schema_refuses_a_non_object_as_parse_inputs_does():
    fields = fields_for("demo-project")
    for raw in (None, [], "x", 3):
        expected, got = parse_inputs(fields, raw), InputParser(fields)(raw)
        assert (got.values, got.errors) == (expected.values, expected.errors)
