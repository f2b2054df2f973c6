"""The award engine against the catalogue data file and MEASURES.md.

Rules are built from measures/data/measures.yaml exactly as MeasureVersion.rules() builds them
from a loaded version, so these tables pin the numbers in the data file against the policy text.
"""

import copy
import functools
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from measures import engine
from measures.engine import AwardRules, Condition, compute_award

DATA_FILE = Path(__file__).resolve().parents[2] / "measures" / "data" / "measures.yaml"

MONEY_MEASURES = (
    "compute-platform", "core-algorithm", "industry-llm", "demo-project", "icv-pilot",
    "low-altitude-pilot", "innovation-center",
)
UNCONFIGURED_MEASURES = (
    "cluster-rent", "income-tax", "growth-reward", "investment-support", "cross-border-data",
    "tech-platform", "industry-organization",
)


@functools.cache
def _entries() -> dict[str, dict]:
    entries = yaml.safe_load(DATA_FILE.read_text(encoding="utf-8"))
    return {entry["code"]: entry for entry in entries}


def catalogue_entry(code: str) -> dict:
    """A copy of the data file's entry for `code`."""
    return copy.deepcopy(_entries()[code])


def catalogue_codes() -> tuple[str, ...]:
    return tuple(_entries())


def fields_for(code: str) -> list[dict]:
    """The form field schema of `code`, as the data file gives it."""
    return catalogue_entry(code).get("fields") or []


def _decimal(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def rules_for(code: str) -> AwardRules:
    """AwardRules for `code` from the data file, the way MeasureVersion.rules() builds them."""
    entry = catalogue_entry(code)
    parameters = entry.get("parameters") or {}
    return AwardRules(
        award_kind=entry["award_kind"],
        rate=_decimal(parameters.get("rate")),
        base_field=parameters.get("base_field") or None,
        per_award_cap=_decimal(parameters.get("per_award_cap")),
        requested_field=parameters.get("requested_field") or None,
        cumulative_cap=_decimal(parameters.get("cumulative_cap")),
        fixed_amount=_decimal(parameters.get("fixed_amount")),
        once_per=parameters.get("once_per") or None,
        annual_quota=entry.get("annual_quota"),
        conditions=tuple(
            Condition(field=c["field"], op=c["op"], reason=c["reason"], value=c.get("value"))
            for c in entry.get("conditions") or []
        ),
    )


def D(text) -> Decimal:
    return Decimal(text)


def quote(code, inputs, awarded_to_date="0", quota_used=None):
    return compute_award(rules_for(code), inputs, awarded_to_date=D(awarded_to_date),
                         quota_used=quota_used)


def check(result, eligible, amount, capped_by, reasons):
    assert result.eligible is eligible
    assert result.amount == D(amount)
    assert f"{result.amount:f}" == amount
    assert result.amount.as_tuple().exponent == -2
    assert result.capped_by == capped_by
    assert sorted(result.reasons) == sorted(reasons)
    assert len(set(result.reasons)) == len(result.reasons)
    if not eligible:
        assert result.amount == D("0.00")
        assert result.capped_by is None
        assert reasons, "an ineligible result names at least one reason"


def with_(base: dict, **changes) -> dict:
    """`base` with `changes`; a change to None removes the key."""
    merged = {**base, **changes}
    return {k: v for k, v in merged.items() if v is not None}


# ---------------------------------------------------------------- the data file itself

def test_catalogue_has_the_fourteen_measures_of_the_policy():
    assert sorted(catalogue_codes()) == sorted(MONEY_MEASURES + UNCONFIGURED_MEASURES)


@pytest.mark.parametrize(
    ("code", "award_kind", "parameters", "annual_quota"),
    [
        ("compute-platform", "percent_of_base",
         {"rate": D("0.05"), "base_field": "prior_year_actual_investment",
          "cumulative_cap": D("20000000.00")}, None),
        ("core-algorithm", "up_to_cap",
         {"per_award_cap": D("5000000.00"), "requested_field": "requested_amount"}, None),
        ("industry-llm", "fixed", {"fixed_amount": D("1000000.00"), "once_per": "model"}, None),
        ("demo-project", "percent_of_base",
         {"rate": D("0.10"), "base_field": "actual_investment",
          "per_award_cap": D("2000000.00")}, 10),
        ("icv-pilot", "up_to_cap",
         {"per_award_cap": D("10000000.00"), "requested_field": "requested_amount"}, None),
        ("low-altitude-pilot", "up_to_cap",
         {"per_award_cap": D("2000000.00"), "requested_field": "requested_amount"}, None),
        ("innovation-center", "up_to_cap",
         {"per_award_cap": D("5000000.00"), "requested_field": "requested_amount"}, None),
    ],
)
def test_money_measures_carry_the_policy_numbers(code, award_kind, parameters, annual_quota):
    rules = rules_for(code)
    assert rules.award_kind == award_kind
    assert rules.is_configured
    unset = {"rate", "base_field", "per_award_cap", "requested_field", "cumulative_cap",
             "fixed_amount", "once_per"} - set(parameters)
    for name, expected in parameters.items():
        assert getattr(rules, name) == expected, name
    for name in unset:
        assert getattr(rules, name) is None, name
    assert rules.annual_quota == annual_quota


@pytest.mark.parametrize("code", UNCONFIGURED_MEASURES)
def test_measures_without_money_have_no_invented_numbers(code):
    entry = catalogue_entry(code)
    assert entry["award_kind"] == "configured"
    assert all(value is None for value in entry["parameters"].values())
    assert entry.get("annual_quota") is None
    assert not entry.get("conditions")


@pytest.mark.django_db
def test_rules_for_builds_what_a_loaded_catalogue_version_builds(catalogue):
    from measures.models import Measure

    for code in catalogue_codes():
        version = Measure.objects.get(code=code).versions.first()
        assert version.rules() == rules_for(code), code


# ---------------------------------------------------------------- compute-platform (clause 2.1)

PLATFORM = {
    "platform_name": "Qianhai Compute One",
    "platform_kind": "intelligent_computing_center",
    "authority_consent_ref": "QH-2024-017",
    "total_investment": D("150000000.00"),
    "prior_year_actual_investment": D("15000000.00"),
}


@pytest.mark.parametrize(
    ("inputs", "awarded", "eligible", "amount", "capped_by", "reasons"),
    [
        pytest.param(PLATFORM, "0", True, "750000.00", None, [], id="5pct-of-prior-year"),
        pytest.param(with_(PLATFORM, total_investment=D("100000000.00")), "0",
                     True, "750000.00", None, [], id="total-exactly-100m"),
        pytest.param(with_(PLATFORM, total_investment=D("99999999.99")), "0",
                     False, "0.00", None, ["below_min_total_investment"], id="total-just-below"),
        pytest.param(with_(PLATFORM, total_investment=D("0.00")), "0",
                     False, "0.00", None, ["below_min_total_investment"], id="total-zero"),
        pytest.param(with_(PLATFORM, authority_consent_ref=None), "0",
                     False, "0.00", None, ["consent_missing"], id="consent-absent"),
        pytest.param(with_(PLATFORM, authority_consent_ref=""), "0",
                     False, "0.00", None, ["consent_missing"], id="consent-empty"),
        pytest.param(with_(PLATFORM, authority_consent_ref="   "), "0",
                     False, "0.00", None, ["consent_missing"], id="consent-blank"),
        pytest.param(with_(PLATFORM, authority_consent_ref=None,
                           total_investment=D("99999999.99")), "0",
                     False, "0.00", None, ["consent_missing", "below_min_total_investment"],
                     id="both-failing"),
        pytest.param(with_(PLATFORM, total_investment=None), "0",
                     False, "0.00", None, ["missing_input"], id="total-missing"),
        pytest.param(with_(PLATFORM, prior_year_actual_investment=None), "0",
                     False, "0.00", None, ["missing_input"], id="prior-year-missing"),
        pytest.param(with_(PLATFORM, prior_year_actual_investment=D("0.00")), "0",
                     True, "0.00", None, [], id="no-investment-last-year"),
        pytest.param(with_(PLATFORM, prior_year_actual_investment=D("40000000.00")),
                     "19000000.00", True, "1000000.00", "cumulative_cap", [],
                     id="cut-to-the-remaining-room"),
        pytest.param(with_(PLATFORM, prior_year_actual_investment=D("20000000.00")),
                     "19000000.00", True, "1000000.00", None, [],
                     id="exactly-the-remaining-room"),
        pytest.param(with_(PLATFORM, prior_year_actual_investment=D("19999999.80")),
                     "19000000.00", True, "999999.99", None, [],
                     id="one-cent-under-the-room"),
        pytest.param(PLATFORM, "19999999.99", True, "0.01", "cumulative_cap", [],
                     id="one-cent-of-room-left"),
        pytest.param(with_(PLATFORM, prior_year_actual_investment=D("400000000.00")), "0",
                     True, "20000000.00", None, [], id="first-award-exactly-the-cap"),
        pytest.param(with_(PLATFORM, prior_year_actual_investment=D("400000000.20")), "0",
                     True, "20000000.00", "cumulative_cap", [], id="first-award-over-the-cap"),
        pytest.param(PLATFORM, "20000000.00", False, "0.00", None, ["cumulative_cap_reached"],
                     id="cap-used-up"),
        pytest.param(PLATFORM, "25000000.00", False, "0.00", None, ["cumulative_cap_reached"],
                     id="cap-overrun"),
        pytest.param(with_(PLATFORM, authority_consent_ref=None), "20000000.00",
                     False, "0.00", None, ["consent_missing", "cumulative_cap_reached"],
                     id="consent-missing-and-cap-used-up"),
    ],
)
def test_compute_platform(inputs, awarded, eligible, amount, capped_by, reasons):
    check(quote("compute-platform", inputs, awarded), eligible, amount, capped_by, reasons)


# ---------------------------------------------------------------- core-algorithm (clause 2.3)

ALGORITHM = {"project_title": "Sparse attention", "challenge_ref": "JB-2024-03",
             "total_budget": D("9000000.00")}


@pytest.mark.parametrize(
    ("requested", "eligible", "amount", "capped_by", "reasons"),
    [
        (D("3000000.00"), True, "3000000.00", "requested_amount", []),
        (D("4999999.99"), True, "4999999.99", "requested_amount", []),
        (D("5000000.00"), True, "5000000.00", "requested_amount", []),
        (D("5000000.01"), True, "5000000.00", "cap", []),
        (D("99999999999999.99"), True, "5000000.00", "cap", []),
        (D("0.01"), True, "0.01", "requested_amount", []),
        (D("0.00"), False, "0.00", None, ["requested_amount_invalid"]),
        (None, False, "0.00", None, ["missing_input"]),
        ("", False, "0.00", None, ["missing_input"]),
    ],
)
def test_core_algorithm(requested, eligible, amount, capped_by, reasons):
    inputs = with_(ALGORITHM, requested_amount=requested)
    check(quote("core-algorithm", inputs), eligible, amount, capped_by, reasons)


# ---------------------------------------------------------------- industry-llm (clause 3.1)

def cases(count: int) -> list[dict]:
    return [{"client_name": f"Client {i}", "sector": "finance",
             "contract_date": date(2024, 3, 1), "summary": "Deployed."} for i in range(count)]


MODEL = {"model_name": "Qianhai-LLM", "self_developed": True, "publicly_released": True,
         "release_date": date(2024, 2, 1), "market_cases": cases(10)}


@pytest.mark.parametrize(
    ("inputs", "awarded", "eligible", "amount", "reasons"),
    [
        pytest.param(MODEL, "0", True, "1000000.00", [], id="ten-cases"),
        pytest.param(with_(MODEL, market_cases=cases(11)), "0", True, "1000000.00", [],
                     id="eleven-cases"),
        pytest.param(with_(MODEL, market_cases=cases(9)), "0", False, "0.00",
                     ["too_few_market_cases"], id="nine-cases"),
        pytest.param(with_(MODEL, market_cases=[]), "0", False, "0.00",
                     ["too_few_market_cases"], id="no-cases"),
        pytest.param(with_(MODEL, self_developed=False), "0", False, "0.00",
                     ["not_self_developed"], id="not-self-developed"),
        pytest.param(with_(MODEL, publicly_released=False), "0", False, "0.00",
                     ["not_publicly_released"], id="not-released"),
        pytest.param(MODEL, "1000000.00", False, "0.00", ["already_awarded_once"],
                     id="second-award"),
        pytest.param(MODEL, "0.01", False, "0.00", ["already_awarded_once"],
                     id="anything-awarded-before"),
        pytest.param(with_(MODEL, self_developed=False, publicly_released=False,
                           market_cases=cases(9)), "1000000.00", False, "0.00",
                     ["not_self_developed", "not_publicly_released", "too_few_market_cases",
                      "already_awarded_once"], id="all-failing"),
        pytest.param(with_(MODEL, self_developed=None), "0", False, "0.00", ["missing_input"],
                     id="self-developed-unanswered"),
        pytest.param(with_(MODEL, market_cases=None), "0", False, "0.00", ["missing_input"],
                     id="cases-missing"),
    ],
)
def test_industry_llm(inputs, awarded, eligible, amount, reasons):
    capped_by = None
    check(quote("industry-llm", inputs, awarded), eligible, amount, capped_by, reasons)


# ---------------------------------------------------------------- demo-project (clause 3.2)

DEMO = {"project_name": "Smart port", "scene": "port", "completion_date": date(2024, 6, 30)}


@pytest.mark.parametrize(
    ("investment", "quota_used", "eligible", "amount", "capped_by", "reasons"),
    [
        (D("15000000.00"), None, True, "1500000.00", None, []),
        (D("19999999.90"), None, True, "1999999.99", None, []),
        (D("20000000.00"), None, True, "2000000.00", None, []),
        (D("20000000.10"), None, True, "2000000.00", "cap", []),
        (D("500000000.00"), None, True, "2000000.00", "cap", []),
        (D("15000000.00"), 0, True, "1500000.00", None, []),
        (D("15000000.00"), 9, True, "1500000.00", None, []),
        (D("15000000.00"), 10, False, "0.00", None, ["annual_quota_full"]),
        (D("15000000.00"), 11, False, "0.00", None, ["annual_quota_full"]),
        (None, None, False, "0.00", None, ["missing_input"]),
        (None, 10, False, "0.00", None, ["missing_input", "annual_quota_full"]),
    ],
)
def test_demo_project(investment, quota_used, eligible, amount, capped_by, reasons):
    inputs = with_(DEMO, actual_investment=investment)
    result = quote("demo-project", inputs, quota_used=quota_used)
    check(result, eligible, amount, capped_by, reasons)


# ---------------------------------------------------------------- icv, low-altitude, innovation

@pytest.mark.parametrize(
    ("code", "inputs", "eligible", "amount", "capped_by", "reasons"),
    [
        pytest.param("icv-pilot", {"vehicle_count": 30, "requested_amount": D("8000000.00")},
                     True, "8000000.00", "requested_amount", [], id="icv-under-cap"),
        pytest.param("icv-pilot", {"vehicle_count": 30, "requested_amount": D("10000000.00")},
                     True, "10000000.00", "requested_amount", [], id="icv-at-cap"),
        pytest.param("icv-pilot", {"vehicle_count": 30, "requested_amount": D("10000000.01")},
                     True, "10000000.00", "cap", [], id="icv-over-cap"),
        pytest.param("icv-pilot", {"vehicle_count": 30, "requested_amount": D("0.00")},
                     False, "0.00", None, ["requested_amount_invalid"], id="icv-zero"),
        pytest.param("low-altitude-pilot",
                     {"evtol_route_opened": True, "requested_amount": D("1500000.00")},
                     True, "1500000.00", "requested_amount", [], id="low-altitude-under-cap"),
        pytest.param("low-altitude-pilot",
                     {"evtol_route_opened": True, "requested_amount": D("2000000.00")},
                     True, "2000000.00", "requested_amount", [], id="low-altitude-at-cap"),
        pytest.param("low-altitude-pilot",
                     {"evtol_route_opened": True, "requested_amount": D("2500000.00")},
                     True, "2000000.00", "cap", [], id="low-altitude-over-cap"),
        pytest.param("low-altitude-pilot",
                     {"evtol_route_opened": False, "requested_amount": D("1500000.00")},
                     False, "0.00", None, ["route_not_opened"], id="low-altitude-no-route"),
        pytest.param("low-altitude-pilot", {"requested_amount": D("1500000.00")},
                     False, "0.00", None, ["missing_input"], id="low-altitude-route-unanswered"),
        pytest.param("low-altitude-pilot",
                     {"evtol_route_opened": False, "requested_amount": D("0.00")},
                     False, "0.00", None, ["route_not_opened", "requested_amount_invalid"],
                     id="low-altitude-both-failing"),
        pytest.param("innovation-center",
                     {"lead_type": "fortune_global_500", "requested_amount": D("3000000.00")},
                     True, "3000000.00", "requested_amount", [], id="innovation-fortune-500"),
        pytest.param("innovation-center",
                     {"lead_type": "national_innovation_carrier",
                      "requested_amount": D("3000000.00")},
                     True, "3000000.00", "requested_amount", [], id="innovation-national"),
        pytest.param("innovation-center",
                     {"lead_type": "national_innovation_carrier",
                      "requested_amount": D("5000000.01")},
                     True, "5000000.00", "cap", [], id="innovation-over-cap"),
        pytest.param("innovation-center",
                     {"lead_type": "other", "requested_amount": D("3000000.00")},
                     False, "0.00", None, ["lead_type_not_eligible"], id="innovation-other-lead"),
        pytest.param("innovation-center", {"requested_amount": D("3000000.00")},
                     False, "0.00", None, ["missing_input"], id="innovation-lead-unanswered"),
    ],
)
def test_capped_pilots_and_centres(code, inputs, eligible, amount, capped_by, reasons):
    check(quote(code, inputs), eligible, amount, capped_by, reasons)


# ---------------------------------------------------------------- measures without money

@pytest.mark.parametrize("code", UNCONFIGURED_MEASURES)
@pytest.mark.parametrize("inputs", [{}, {"project_name": "X", "summary": "Y"}])
def test_measures_without_money_answer_not_configured(code, inputs):
    result = quote(code, inputs, awarded_to_date="0", quota_used=0)
    check(result, False, "0.00", None, ["measure_not_configured"])
    assert result.reasons == ("measure_not_configured",)
    assert result.trace[-1].step == "ineligible"


# ---------------------------------------------------------------- rounding: once, half-up, last

@pytest.mark.parametrize(
    ("code", "base", "expected"),
    [
        ("demo-project", "0.05", "0.01"),  # 10% = 0.005
        ("demo-project", "0.04", "0.00"),  # 10% = 0.004
        ("compute-platform", "0.10", "0.01"),  # 5% = 0.005
        ("compute-platform", "0.09", "0.00"),  # 5% = 0.0045; rounding to 0.005 first gives 0.01
        ("compute-platform", "1234567.89", "61728.39"),  # 61728.3945; via .395 it would be .40
        ("compute-platform", "0.29", "0.01"),  # 0.0145; double rounding would give 0.02
        ("demo-project", "12345.65", "1234.57"),  # 1234.565
    ],
)
def test_rounding_is_half_up_once_at_the_end(code, base, expected):
    base_field = rules_for(code).base_field
    inputs = {**(PLATFORM if code == "compute-platform" else DEMO), base_field: D(base)}
    result = quote(code, inputs)
    assert result.eligible
    assert f"{result.amount:f}" == expected
    assert result.trace[-1].step == "round"
    assert result.trace[-1].data["after"] == D(expected)
    assert result.trace[-1].data["before"] == rules_for(code).rate * D(base)


# ---------------------------------------------------------------- the trace

def steps(result) -> list[str]:
    return [step.step for step in result.trace]


def step(result, name):
    found = [s for s in result.trace if s.step == name]
    assert len(found) == 1, f"expected one {name!r} step in {steps(result)}"
    return found[0]


def test_trace_of_a_percent_award_shows_rate_base_and_result():
    result = quote("demo-project", with_(DEMO, actual_investment=D("15000000.00")))
    percent = step(result, "percent")
    assert percent.data["rate"] == D("0.10")
    assert percent.data["base"] == D("15000000.00")
    assert percent.data["base_field"] == "actual_investment"
    assert percent.data["result"] == D("1500000.00")
    assert "cap" not in steps(result)
    assert steps(result)[-1] == "round"
    as_dict = percent.as_dict()
    assert as_dict["step"] == "percent"
    assert as_dict["rate"] == "0.10"
    assert as_dict["result"] == "1500000.0000"


def test_trace_of_a_capped_award_shows_the_cap():
    result = quote("demo-project", with_(DEMO, actual_investment=D("30000000.00")))
    cap = step(result, "cap")
    assert cap.data["cap"] == D("2000000.00")
    assert cap.data["before"] == D("3000000.00")
    assert steps(result).index("percent") < steps(result).index("cap") < len(result.trace) - 1
    assert result.trace[-1].step == "round"
    assert result.trace[-1].data["after"] == D("2000000.00")


def test_trace_of_a_cumulative_cut_shows_the_room():
    inputs = with_(PLATFORM, prior_year_actual_investment=D("40000000.00"))
    result = quote("compute-platform", inputs, "19000000.00")
    assert step(result, "cumulative_room").data["room"] == D("1000000.00")
    cut = step(result, "cumulative_cap")
    assert cut.data["room"] == D("1000000.00")
    assert cut.data["before"] == D("2000000.00")
    assert result.trace[-1].step == "round"


def test_trace_of_an_up_to_cap_award_shows_the_request():
    result = quote("core-algorithm", with_(ALGORITHM, requested_amount=D("6000000.00")))
    assert step(result, "requested").data["requested"] == D("6000000.00")
    assert step(result, "cap").data["cap"] == D("5000000.00")
    assert steps(result)[-1] == "round"


def test_trace_of_a_fixed_award():
    result = quote("industry-llm", MODEL)
    assert step(result, "fixed").data["amount"] == D("1000000.00")
    conditions = [s for s in result.trace if s.step == "condition"]
    assert [c.data["field"] for c in conditions] == [
        "self_developed", "publicly_released", "market_cases"]
    assert all(c.data["holds"] for c in conditions)
    # A list is shown by its length, not copied into the trace.
    assert conditions[-1].data["actual"] == 10
    assert steps(result)[-1] == "round"


@pytest.mark.parametrize(
    ("code", "inputs", "awarded", "reasons"),
    [
        ("compute-platform", with_(PLATFORM, authority_consent_ref=None,
                                   total_investment=D("1.00")), "0",
         ["consent_missing", "below_min_total_investment"]),
        ("compute-platform", PLATFORM, "20000000.00", ["cumulative_cap_reached"]),
        ("industry-llm", with_(MODEL, self_developed=False), "1.00",
         ["not_self_developed", "already_awarded_once"]),
        ("core-algorithm", ALGORITHM, "0", ["missing_input"]),
        ("tech-platform", {}, "0", ["measure_not_configured"]),
    ],
)
def test_trace_of_an_ineligible_result_ends_listing_every_reason(code, inputs, awarded, reasons):
    result = quote(code, inputs, awarded)
    last = result.trace[-1]
    assert last.step == "ineligible"
    assert sorted(last.data["reasons"]) == sorted(reasons)
    assert list(last.data["reasons"]) == list(result.reasons)
    assert "round" not in steps(result)


def test_trace_names_the_missing_fields():
    result = quote("compute-platform", {"authority_consent_ref": "QH-1"})
    missing = [s.data["field"] for s in result.trace if s.step == "missing"]
    assert sorted(missing) == ["prior_year_actual_investment", "total_investment"]
    assert sorted(result.missing_fields) == sorted(missing)


# ---------------------------------------------------------------- the general condition evaluator

def one_condition(op, value, award_kind="fixed"):
    fixed = D("100.00") if award_kind == "fixed" else None
    return AwardRules(award_kind=award_kind, fixed_amount=fixed,
                      conditions=(Condition(field="x", op=op, reason="x_fails", value=value),))


@pytest.mark.parametrize(
    ("op", "value", "actual", "holds"),
    [
        ("present", None, "a", True),
        ("present", None, D("0.00"), True),
        ("present", None, 0, True),
        ("present", None, False, True),
        ("is_true", None, True, True),
        ("is_true", None, False, False),
        ("is_true", None, "true", False),
        ("is_true", None, 1, False),
        ("gte", "10.00", D("10.00"), True),
        ("gte", "10.00", D("9.99"), False),
        ("gte", 10, 10, True),
        ("gte", 10, 9, False),
        ("gte", "10", True, False),  # a boolean is not a number
        ("gt", "10.00", D("10.00"), False),
        ("gt", "10.00", D("10.01"), True),
        ("gt", 2, 3, True),
        ("lte", "10.00", D("10.00"), True),
        ("lte", "10.00", D("10.01"), False),
        ("lt", "10.00", D("10.00"), False),
        ("lt", "10.00", D("9.99"), True),
        ("lt", 5, 4, True),
        ("eq", "10", D("10.00"), True),
        ("eq", "10.00", D("10.01"), False),
        ("eq", 3, 3, True),
        ("eq", 3, 4, False),
        ("eq", 1, True, False),  # True is not 1 here
        ("gte", "not a number", D("10.00"), False),
        ("in", ["a", "b"], "a", True),
        ("in", ["a", "b"], "b", True),
        ("in", ["a", "b"], "c", False),
        ("in", None, "a", False),
        ("min_items", 3, [1, 2, 3], True),
        ("min_items", 3, [1, 2, 3, 4], True),
        ("min_items", 3, [1, 2], False),
        ("min_items", 1, [], False),
        ("min_items", 0, [], True),
        ("min_items", 2, 5, False),  # a number is not a list
    ],
)
def test_condition_operators(op, value, actual, holds):
    result = compute_award(one_condition(op, value), {"x": actual})
    assert result.eligible is holds
    assert result.reasons == (() if holds else ("x_fails",))
    assert result.amount == (D("100.00") if holds else D("0.00"))
    evaluated = [s for s in result.trace if s.step == "condition"]
    assert len(evaluated) == 1
    assert evaluated[0].data["holds"] is holds


@pytest.mark.parametrize("op", ["is_true", "gte", "gt", "lte", "lt", "eq", "in", "min_items"])
@pytest.mark.parametrize("absent", [{}, {"x": None}, {"x": ""}, {"x": "  "}])
def test_a_condition_on_an_absent_field_is_not_evaluated(op, absent):
    value = ["a"] if op == "in" else 1
    result = compute_award(one_condition(op, value), absent)
    assert result.reasons == ("missing_input",)
    assert result.missing_fields == ("x",)
    assert "condition" not in steps(result)


@pytest.mark.parametrize("absent", [{}, {"x": None}, {"x": ""}, {"x": "  "}])
def test_present_reports_its_own_reason_not_missing_input(absent):
    result = compute_award(one_condition("present", None), absent)
    assert result.reasons == ("x_fails",)
    assert result.missing_fields == ()
    assert step(result, "condition").data["holds"] is False


def test_an_input_no_rule_needs_is_never_missing():
    rules = AwardRules(award_kind="none")
    result = compute_award(rules, {})
    check(result, True, "0.00", None, [])
    assert steps(result) == ["no_cash", "round"]


def test_award_kind_none_with_a_failing_condition():
    result = compute_award(one_condition("is_true", None, award_kind="none"), {"x": False})
    check(result, False, "0.00", None, ["x_fails"])


def test_every_failing_condition_is_reported_in_order():
    rules = AwardRules(award_kind="fixed", fixed_amount=D("1.00"), conditions=(
        Condition(field="a", op="is_true", reason="a_fails"),
        Condition(field="b", op="gte", reason="b_fails", value="5"),
        Condition(field="c", op="in", reason="c_fails", value=["x"]),
    ))
    result = compute_award(rules, {"a": False, "b": D("4.99"), "c": "y"})
    assert result.reasons == ("a_fails", "b_fails", "c_fails")


def test_two_conditions_with_the_same_reason_report_it_once():
    rules = AwardRules(award_kind="fixed", fixed_amount=D("1.00"), conditions=(
        Condition(field="a", op="is_true", reason="same"),
        Condition(field="b", op="is_true", reason="same"),
    ))
    assert compute_award(rules, {"a": False, "b": False}).reasons == ("same",)


def test_eq_compares_text_values_too():
    # rules_validate accepts `eq` on any form field, choice fields included; the data README
    # says "the field compared with value", decimals only for money and integers.
    rules = one_condition("eq", "intelligent_computing_center")
    result = compute_award(rules, {"x": "intelligent_computing_center"})
    assert result.eligible, result.reasons
    assert not compute_award(rules, {"x": "computing_scheduling_platform"}).eligible


def test_a_comparison_of_unlike_types_fails_the_condition_instead_of_crashing():
    # A staff-configured `gte` on a date field (rules_validate allows any form field) must make
    # the condition fail with its reason, not raise out of the engine (a 500 on every quote).
    rules = one_condition("gte", 5)
    result = compute_award(rules, {"x": date(2024, 1, 2)})
    assert result.reasons == ("x_fails",)


def test_an_unknown_operator_is_refused():
    with pytest.raises(ValueError, match="operator"):
        Condition(field="x", op="contains", reason="r")


@pytest.mark.parametrize("kind", ["bonus", "", "PERCENT_OF_BASE", None])
def test_an_unknown_award_kind_is_refused(kind):
    with pytest.raises(ValueError, match="award kind"):
        AwardRules(award_kind=kind)


@pytest.mark.parametrize(
    "rules",
    [
        AwardRules(award_kind="configured"),
        AwardRules(award_kind="percent_of_base", base_field="b"),
        AwardRules(award_kind="percent_of_base", rate=D("0.05")),
        AwardRules(award_kind="fixed"),
        AwardRules(award_kind="up_to_cap", requested_field="r"),
        AwardRules(award_kind="up_to_cap", per_award_cap=D("1.00")),
    ],
)
def test_rules_missing_a_parameter_are_not_configured(rules):
    result = compute_award(rules, {"b": D("100.00"), "r": D("1.00")})
    check(result, False, "0.00", None, ["measure_not_configured"])


# ---------------------------------------------------------------- no code branches in the engine

def test_the_engine_never_branches_on_a_measure_code():
    source = Path(engine.__file__).read_text(encoding="utf-8")
    found = [code for code in catalogue_codes() if code in source]
    assert found == []
    # Field names of single measures do not belong in the engine either.
    for name in ("prior_year_actual_investment", "total_investment", "market_cases",
                 "actual_investment", "evtol_route_opened", "lead_type"):
        assert name not in source, name


def test_a_trace_step_as_json_keeps_plain_values_and_writes_the_others_as_text():
    step = engine.TraceStep("condition", {
        "field": "total_investment", "value": Decimal("100000000.00"), "actual": 3,
        "holds": False, "reason": None, "on": date(2025, 12, 31),
        "values": [Decimal("1.50"), date(2026, 1, 2), "a", [Decimal("2")]]})
    assert step.as_dict() == {
        "step": "condition", "field": "total_investment", "value": "100000000.00",
        "actual": 3, "holds": False, "reason": None, "on": "2025-12-31",
        "values": ["1.50", "2026-01-02", "a", ["2"]]}
    assert list(step.as_dict()) == ["step", *step.data]


def test_rules_read_what_they_need_once_and_stay_equal_to_rules_alike():
    rules, alike = rules_for("demo-project"), rules_for("demo-project")
    assert rules.needed_fields == ("actual_investment",) and rules.is_configured
    assert rules == alike and hash(rules) == hash(alike)  # the cache is not part of them
    assert compute_award(rules, {}) == compute_award(alike, {})
