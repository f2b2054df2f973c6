"""Properties of the award engine, on the real catalogue rules and on hand-made ones."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from measures.engine import AwardRules, compute_award
from qianhai_grants.money import round_money
from tests.measures.test_engine import MODEL, PLATFORM, rules_for

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)

TEN_TO_12 = Decimal(10) ** 12
CUMULATIVE_CAP = Decimal("20000000.00")


def money(max_value=TEN_TO_12, min_value=Decimal(0)):
    return st.decimals(min_value=min_value, max_value=max_value, places=2,
                       allow_nan=False, allow_infinity=False)


def has_two_places(amount: Decimal) -> bool:
    return amount.as_tuple().exponent == -2


UP_TO_CAP_INPUTS = {
    "core-algorithm": {},
    "icv-pilot": {"vehicle_count": 12},
    "low-altitude-pilot": {"evtol_route_opened": True},
    "innovation-center": {"lead_type": "fortune_global_500"},
}


@PROPERTY_SETTINGS
@given(code=st.sampled_from(sorted(UP_TO_CAP_INPUTS)), requested=money())
def test_up_to_cap_never_exceeds_the_cap_or_the_request(code, requested):
    rules = rules_for(code)
    result = compute_award(rules, {**UP_TO_CAP_INPUTS[code], "requested_amount": requested})
    assert has_two_places(result.amount)
    assert result.amount >= 0
    if requested == 0:
        assert result.reasons == ("requested_amount_invalid",)
        return
    assert result.eligible
    assert result.amount <= rules.per_award_cap
    assert result.amount <= requested
    assert result.amount == min(requested, rules.per_award_cap)
    expected_by = "cap" if requested > rules.per_award_cap else "requested_amount"
    assert result.capped_by == expected_by


@PROPERTY_SETTINGS
@given(investment=money(), quota_used=st.none() | st.integers(min_value=0, max_value=20))
def test_demo_project_is_ten_percent_up_to_the_cap(investment, quota_used):
    rules = rules_for("demo-project")
    result = compute_award(rules, {"actual_investment": investment}, quota_used=quota_used)
    assert has_two_places(result.amount)
    assert result.amount >= 0
    if quota_used is not None and quota_used >= 10:
        assert result.reasons == ("annual_quota_full",)
        assert result.amount == 0
        return
    assert result.eligible
    assert result.amount <= Decimal("2000000.00")
    assert result.amount == round_money(min(investment * Decimal("0.10"),
                                            Decimal("2000000.00")))


@PROPERTY_SETTINGS
@given(prior=money(), awarded=money(max_value=Decimal("30000000.00")))
def test_compute_platform_stays_within_the_remaining_room(prior, awarded):
    inputs = {**PLATFORM, "prior_year_actual_investment": prior}
    result = compute_award(rules_for("compute-platform"), inputs, awarded_to_date=awarded)
    assert has_two_places(result.amount)
    assert result.amount >= 0
    room = CUMULATIVE_CAP - awarded
    if room <= 0:
        assert not result.eligible
        assert result.reasons == ("cumulative_cap_reached",)
        return
    assert result.eligible
    assert result.amount <= room
    assert awarded + result.amount <= CUMULATIVE_CAP
    assert result.amount == round_money(min(prior * Decimal("0.05"), room))


@PROPERTY_SETTINGS
@given(
    code=st.sampled_from(["compute-platform", "demo-project"]),
    smaller=money(),
    extra=money(),
    awarded=money(max_value=Decimal("19999999.99")),
)
def test_a_larger_base_never_gives_less(code, smaller, extra, awarded):
    rules = rules_for(code)
    base_inputs = PLATFORM if code == "compute-platform" else {}

    def amount(base):
        inputs = {**base_inputs, rules.base_field: base}
        result = compute_award(rules, inputs, awarded_to_date=awarded)
        assert result.eligible
        return result.amount

    assert amount(smaller) <= amount(smaller + extra)


@PROPERTY_SETTINGS
@given(investments=st.lists(money(max_value=Decimal("1000000000.00")), min_size=1,
                            max_size=12))
def test_successive_compute_platform_awards_never_pass_the_cumulative_cap(investments):
    rules = rules_for("compute-platform")
    total = Decimal("0.00")
    for prior in investments:
        inputs = {**PLATFORM, "prior_year_actual_investment": prior}
        result = compute_award(rules, inputs, awarded_to_date=total)
        if total == CUMULATIVE_CAP:
            assert not result.eligible
            assert result.reasons == ("cumulative_cap_reached",)
            assert result.amount == 0
            continue
        assert result.eligible
        total += result.amount
        assert total <= CUMULATIVE_CAP
    # Keep applying with a large investment: the awards use the cap up exactly, then stop.
    for _year in range(3):
        inputs = {**PLATFORM, "prior_year_actual_investment": Decimal("500000000.00")}
        result = compute_award(rules, inputs, awarded_to_date=total)
        total += result.amount
    assert total == CUMULATIVE_CAP
    assert result.reasons == ("cumulative_cap_reached",)


@PROPERTY_SETTINGS
@given(awarded=money(max_value=Decimal("10000000.00")))
def test_industry_llm_pays_once(awarded):
    result = compute_award(rules_for("industry-llm"), MODEL, awarded_to_date=awarded)
    if awarded == 0:
        assert result.eligible
        assert result.amount == Decimal("1000000.00")
    else:
        assert result.reasons == ("already_awarded_once",)
        assert result.amount == Decimal("0.00")
    assert has_two_places(result.amount)


@st.composite
def hand_made_rules(draw):
    kind = draw(st.sampled_from(["percent_of_base", "up_to_cap", "fixed"]))
    cap = draw(st.none() | money(max_value=Decimal("100000000.00")))
    if kind == "up_to_cap" and cap is None:
        cap = draw(money(max_value=Decimal("100000000.00")))
    return AwardRules(
        award_kind=kind,
        rate=draw(st.decimals(min_value=0, max_value=1, places=4)) if kind != "fixed" else None,
        base_field="base" if kind == "percent_of_base" else None,
        per_award_cap=cap,
        requested_field="requested" if kind == "up_to_cap" else None,
        cumulative_cap=draw(st.none() | money(max_value=Decimal("100000000.00"))),
        fixed_amount=draw(money(max_value=Decimal("10000000.00"))) if kind == "fixed" else None,
    )


@PROPERTY_SETTINGS
@given(rules=hand_made_rules(), base=money(), requested=money(), awarded=money())
def test_the_amount_respects_every_limit(rules, base, requested, awarded):
    result = compute_award(rules, {"base": base, "requested": requested},
                           awarded_to_date=awarded)
    assert has_two_places(result.amount)
    assert result.amount >= 0
    if not result.eligible:
        assert result.amount == Decimal("0.00")
        assert result.capped_by is None
        assert result.reasons
        return
    if rules.per_award_cap is not None:
        assert result.amount <= rules.per_award_cap
    if rules.cumulative_cap is not None:
        assert result.amount <= rules.cumulative_cap - awarded
    if rules.award_kind == "up_to_cap":
        assert result.amount <= requested
    if result.capped_by is None:
        # Nothing limited it: the amount is the plain formula, rounded once.
        formula = {"percent_of_base": lambda: (rules.rate or 0) * base,
                   "fixed": lambda: rules.fixed_amount}[rules.award_kind]()
        assert result.amount == round_money(formula)
    assert result.trace[-1].step == "round"
