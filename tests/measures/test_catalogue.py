"""The catalogue as versioned data: load_measures, versions, validation, MEASURES.md numbers."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
import yaml
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from measures import selectors
from measures.management.commands.load_measures import DEFAULT_FILE
from measures.models import Measure, MeasureVersion, VersionSource
from measures.services import RULE_KEYS, measure_version_create, rules_validate
from qianhai_grants.errors import DomainError
from tests.factories import UserFactory

LANGUAGES = ("zh-hans", "zh-hant", "en")
CONFIGURED = {"cluster-rent", "income-tax", "growth-reward", "investment-support",
              "cross-border-data", "tech-platform", "industry-organization"}


def load(*args) -> str:
    out = StringIO()
    call_command("load_measures", *args, stdout=out)
    return out.getvalue()


def rules_of(version: MeasureVersion) -> dict:
    return {key: getattr(version, key) for key in RULE_KEYS}


def snapshot(version: MeasureVersion) -> dict:
    return {f.attname: getattr(version, f.attname) for f in MeasureVersion._meta.concrete_fields}


def current(code: str, at=None) -> MeasureVersion:
    return selectors.version_current(measure=Measure.objects.get(code=code), at=at)


def data_entries() -> list[dict]:
    return yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))


def write_entries(tmp_path, entries) -> str:
    path = tmp_path / "measures.yaml"
    path.write_text(yaml.safe_dump(entries, allow_unicode=True), encoding="utf-8")
    return str(path)


def entry(entries, code) -> dict:
    return next(e for e in entries if e["code"] == code)


# ---------------------------------------------------------------- load_measures

def test_load_measures_creates_fourteen_measures_each_at_version_one(db):
    output = load()

    assert "14 created" in output
    assert "14 new versions" in output
    assert Measure.objects.count() == 14
    assert MeasureVersion.objects.count() == 14
    for measure in Measure.objects.all():
        versions = list(measure.versions.all())
        assert [v.number for v in versions] == [1], measure.code
        assert versions[0].source == VersionSource.DATA_FILE
        assert versions[0].created_by is None
        assert versions[0].reason
        assert selectors.version_current(measure=measure) == versions[0]


def test_load_measures_twice_changes_nothing(db):
    load()
    before = {v.pk: snapshot(v) for v in MeasureVersion.objects.all()}
    names = list(Measure.objects.values_list("code", "name_en", "order"))

    output = load()

    assert "0 created, 0 updated, 0 new versions" in output
    assert Measure.objects.count() == 14
    assert MeasureVersion.objects.count() == 14
    assert {v.pk: snapshot(v) for v in MeasureVersion.objects.all()} == before
    assert list(Measure.objects.values_list("code", "name_en", "order")) == names


def test_catalogue_is_in_the_order_of_the_data_file(catalogue):
    codes = [m.code for m, _ in selectors.catalogue_current()]

    assert codes == [e["code"] for e in data_entries()]


def test_a_changed_data_file_adds_a_version(catalogue, tmp_path):
    entries = data_entries()
    entry(entries, "demo-project")["parameters"]["per_award_cap"] = "2500000.00"

    output = load("--file", write_entries(tmp_path, entries))

    assert "0 created" in output and "1 new versions" in output
    demo = Measure.objects.get(code="demo-project")
    assert [v.number for v in demo.versions.order_by("number")] == [1, 2]
    assert current("demo-project").per_award_cap == Decimal("2500000.00")
    assert current("demo-project").source == VersionSource.DATA_FILE
    assert demo.versions.get(number=1).per_award_cap == Decimal("2000000.00")
    assert MeasureVersion.objects.count() == 15
    # Loading the same changed file again changes nothing more.
    assert "0 new versions" in load("--file", write_entries(tmp_path, entries))


def test_a_changed_name_is_updated_in_place_without_a_version(catalogue, tmp_path):
    entries = data_entries()
    entry(entries, "icv-pilot")["name"]["en"] = "Connected-vehicle pilots"

    output = load("--file", write_entries(tmp_path, entries))

    assert "1 updated" in output and "0 new versions" in output
    assert Measure.objects.get(code="icv-pilot").name_en == "Connected-vehicle pilots"
    assert MeasureVersion.objects.count() == 14


@pytest.mark.parametrize("content", ["not: a list", "- [unclosed", ""])
def test_load_measures_refuses_an_unreadable_file_with_a_message(db, tmp_path, content):
    path = tmp_path / "bad.yaml"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(CommandError):
        load("--file", str(path))
    assert Measure.objects.count() == 0


def test_load_measures_refuses_a_missing_file(db, tmp_path):
    with pytest.raises(CommandError):
        load("--file", str(tmp_path / "missing.yaml"))


def test_load_measures_refuses_invalid_rules_and_loads_nothing(db, tmp_path):
    entries = data_entries()
    entry(entries, "demo-project")["parameters"]["rate"] = "1.5"

    with pytest.raises(CommandError):
        load("--file", write_entries(tmp_path, entries))
    assert Measure.objects.count() == 0  # all or nothing


def test_load_measures_refuses_a_duplicate_code(db, tmp_path):
    entries = data_entries()
    entries.append(dict(entries[0]))

    with pytest.raises(CommandError):
        load("--file", write_entries(tmp_path, entries))
    assert Measure.objects.count() == 0


@pytest.mark.parametrize(("key", "value"), [("rate", "abc"), ("per_award_cap", "2 million")])
def test_load_measures_with_a_non_numeric_parameter_is_a_command_error(db, tmp_path, key,
                                                                      value):
    # A typo in the data file must give the command's own error, not a decimal traceback.
    entries = data_entries()
    entry(entries, "demo-project")["parameters"][key] = value

    with pytest.raises(CommandError):
        load("--file", write_entries(tmp_path, entries))


# ---------------------------------------------------------------- versions

def test_measure_version_create_makes_the_next_version(catalogue):
    staff = UserFactory(roles=["staff"])
    measure = Measure.objects.get(code="demo-project")
    first = measure.versions.get(number=1)
    first_before = snapshot(first)
    rules = {**rules_of(first), "per_award_cap": Decimal("3000000.00")}
    when = timezone.now()

    version = measure_version_create(measure=measure, rules=rules, by=staff,
                                     reason="  Board decision 2025-03  ", effective_from=when)

    version.refresh_from_db()
    assert version.number == 2
    assert version.created_by == staff
    assert version.reason == "Board decision 2025-03"
    assert version.effective_from == when
    assert version.source == VersionSource.ADMIN
    assert version.per_award_cap == Decimal("3000000.00")
    assert current("demo-project") == version
    first.refresh_from_db()
    assert snapshot(first) == first_before
    assert first.per_award_cap == Decimal("2000000.00")


def test_the_api_quotes_with_the_version_in_force(catalogue):
    measure = Measure.objects.get(code="demo-project")
    rules = {**rules_of(measure.versions.get(number=1)), "per_award_cap": Decimal("3000000.00")}
    measure_version_create(measure=measure, rules=rules, reason="Raise the cap")

    body = APIClient().post("/api/v1/measures/demo-project/quote/",
                            {"inputs": {"actual_investment": "25000000"}}, format="json").json()

    assert body["amount"] == "2500000.00"
    assert body["version"] == 2


def test_a_version_in_the_future_is_not_yet_current(catalogue):
    measure = Measure.objects.get(code="demo-project")
    first = measure.versions.get(number=1)
    now = timezone.now()
    tomorrow = now + timedelta(days=1)
    future = measure_version_create(
        measure=measure, rules={**rules_of(first), "per_award_cap": Decimal("1000000.00")},
        reason="From tomorrow", effective_from=tomorrow)

    assert selectors.version_current(measure=measure) == first
    assert selectors.version_current(measure=measure, at=now) == first
    assert selectors.version_current(measure=measure, at=tomorrow - timedelta(seconds=1)) == first
    assert selectors.version_current(measure=measure, at=tomorrow) == future
    assert selectors.version_current(measure=measure, at=tomorrow + timedelta(days=30)) == future
    in_force = {m.code: v for m, v in selectors.catalogue_current()}
    assert in_force["demo-project"] == first
    later = {m.code: v for m, v in selectors.catalogue_current(at=tomorrow)}
    assert later["demo-project"] == future
    body = APIClient().get("/api/v1/measures/demo-project/").json()
    assert body["parameters"]["per_award_cap"] == "2000000.00"


def test_a_version_before_the_first_leaves_the_measure_unavailable(catalogue):
    measure = Measure.objects.get(code="demo-project")
    first = measure.versions.get(number=1)

    assert selectors.version_current(measure=measure, at=first.effective_from
                                     - timedelta(days=1)) is None


def test_load_measures_after_a_staff_edit_keeps_the_edit(catalogue):
    measure = Measure.objects.get(code="compute-platform")
    staff = UserFactory(roles=["staff"])
    edit = measure_version_create(
        measure=measure, by=staff, reason="Cap raised by the Authority",
        rules={**rules_of(current("compute-platform")),
               "cumulative_cap": Decimal("25000000.00")})

    output = load()

    assert "0 new versions" in output
    assert current("compute-platform") == edit
    assert current("compute-platform").cumulative_cap == Decimal("25000000.00")
    assert measure.versions.count() == 2


def test_measure_version_create_needs_a_reason(catalogue):
    measure = Measure.objects.get(code="demo-project")

    with pytest.raises(DomainError) as error:
        measure_version_create(measure=measure, rules=rules_of(current("demo-project")),
                               reason="   ")
    assert error.value.code == "reason_required"
    assert "reason" in error.value.fields
    assert measure.versions.count() == 1


def test_measure_version_create_with_bad_rules_creates_nothing(catalogue):
    measure = Measure.objects.get(code="demo-project")

    with pytest.raises(DomainError):
        measure_version_create(measure=measure, reason="oops",
                               rules={**rules_of(current("demo-project")), "rate": None})
    assert measure.versions.count() == 1


def test_a_version_cannot_be_changed_after_creation(catalogue):
    version = current("demo-project")
    before = snapshot(version)

    version.per_award_cap = Decimal("9999999.00")
    with pytest.raises(ValidationError):
        version.save()

    version.refresh_from_db()
    assert snapshot(version) == before


# ---------------------------------------------------------------- rules_validate

def demo_rules(catalogue_version=None) -> dict:
    return rules_of(catalogue_version or current("demo-project"))


def _without_rate(r):
    r["rate"] = None


def _text_base(r):
    r["base_field"] = "project_name"


def _unknown_base(r):
    r["base_field"] = "no_such_field"


def _unknown_op(r):
    r["conditions"] = [{"field": "actual_investment", "op": "approximately",
                        "value": "1", "reason": "x"}]


def _condition_on_unknown_field(r):
    r["conditions"] = [{"field": "nope", "op": "gte", "value": "1", "reason": "x"}]


def _condition_without_reason(r):
    r["conditions"] = [{"field": "actual_investment", "op": "gte", "value": "1"}]


def _rate_above_one(r):
    r["rate"] = Decimal("1.5")


def _negative_rate(r):
    r["rate"] = Decimal("-0.1")


def _negative_cap(r):
    r["per_award_cap"] = Decimal("-1")


def _unknown_kind(r):
    r["award_kind"] = "lottery"


def _fixed_without_amount(r):
    r["award_kind"] = "fixed"
    r["fixed_amount"] = None


def _cap_without_cap(r):
    r["award_kind"] = "up_to_cap"
    r["per_award_cap"] = None
    r["requested_field"] = "actual_investment"


def _cap_without_requested(r):
    r["award_kind"] = "up_to_cap"
    r["requested_field"] = ""


def _cumulative_without_subject(r):
    r["cumulative_cap"] = Decimal("100")
    r["cumulative_over"] = "platform"
    r["subject_field"] = ""


def _cumulative_without_over(r):
    r["cumulative_cap"] = Decimal("100")
    r["subject_field"] = "project_name"
    r["cumulative_over"] = ""


def _label_in_one_language(r):
    r["fields"] = [*r["fields"], {"name": "extra", "type": "text", "label": {"en": "Extra"}}]


def _unknown_field_type(r):
    r["fields"] = [*r["fields"], {"name": "extra", "type": "colour",
                                  "label": dict.fromkeys(LANGUAGES, "x")}]


def _choice_without_choices(r):
    r["fields"] = [*r["fields"], {"name": "extra", "type": "choice",
                                  "label": dict.fromkeys(LANGUAGES, "x")}]


def _document_without_label(r):
    r["documents"] = [{"kind": "report", "label": {"en": "Report"}}]


@pytest.mark.parametrize(("change", "field"), [
    (_without_rate, "rate"),
    (_text_base, "base_field"),
    (_unknown_base, "base_field"),
    (_unknown_op, "conditions"),
    (_condition_on_unknown_field, "conditions"),
    (_condition_without_reason, "conditions"),
    (_rate_above_one, "rate"),
    (_negative_rate, "rate"),
    (_negative_cap, "per_award_cap"),
    (_unknown_kind, "award_kind"),
    (_fixed_without_amount, "fixed_amount"),
    (_cap_without_cap, "per_award_cap"),
    (_cap_without_requested, "requested_field"),
    (_cumulative_without_subject, "subject_field"),
    (_cumulative_without_over, "cumulative_over"),
    (_label_in_one_language, "fields"),
    (_unknown_field_type, "fields"),
    (_choice_without_choices, "fields"),
    (_document_without_label, "documents"),
])
def test_rules_validate_refuses_bad_rules_naming_the_field(catalogue, change, field):
    rules = demo_rules()
    change(rules)

    with pytest.raises(DomainError) as error:
        rules_validate(rules)

    assert error.value.code == "invalid_rules"
    assert error.value.status == 400
    assert field in error.value.fields, error.value.fields
    assert all(isinstance(m, str) and m for m in error.value.fields[field])


def test_rules_validate_accepts_every_version_in_the_catalogue(catalogue):
    for measure, version in selectors.catalogue_current():
        rules_validate(rules_of(version))  # raises on failure
        assert measure.code


def test_rules_validate_names_several_problems_at_once(catalogue):
    rules = demo_rules()
    rules["rate"] = Decimal("2")
    rules["per_award_cap"] = Decimal("-5")

    with pytest.raises(DomainError) as error:
        rules_validate(rules)
    assert {"rate", "per_award_cap"} <= set(error.value.fields)


# ---------------------------------------------------------------- MEASURES.md numbers

def test_compute_platform_parameters(catalogue):
    v = current("compute-platform")

    assert v.award_kind == "percent_of_base"
    assert v.rate == Decimal("0.05")
    assert v.base_field == "prior_year_actual_investment"
    assert v.cumulative_cap == Decimal("20000000.00")
    assert v.cumulative_over == "platform"
    assert v.subject_field == "platform_name"
    assert v.per_award_cap is None
    assert v.annual_quota is None
    assert {"field": "total_investment", "op": "gte", "value": "100000000.00",
            "reason": "below_min_total_investment"} in v.conditions
    assert {"field": "authority_consent_ref", "op": "present",
            "reason": "consent_missing"} in v.conditions
    kinds = next(f for f in v.fields if f["name"] == "platform_kind")["choices"]
    assert [c["value"] for c in kinds] == ["intelligent_computing_center",
                                           "computing_scheduling_platform"]


def test_core_algorithm_parameters(catalogue):
    v = current("core-algorithm")

    assert v.award_kind == "up_to_cap"
    assert v.per_award_cap == Decimal("5000000.00")
    assert v.requested_field == "requested_amount"


def test_industry_llm_parameters(catalogue):
    v = current("industry-llm")

    assert v.award_kind == "fixed"
    assert v.fixed_amount == Decimal("1000000.00")
    assert v.once_per == "model"
    assert v.subject_field == "model_name"
    assert {"field": "market_cases", "op": "min_items", "value": 10,
            "reason": "too_few_market_cases"} in v.conditions
    assert {c["reason"] for c in v.conditions} == {
        "not_self_developed", "not_publicly_released", "too_few_market_cases"}
    sectors = next(f for f in v.fields if f["name"] == "market_cases")["item_fields"]
    sector_values = {c["value"] for c in next(i for i in sectors
                                              if i["name"] == "sector")["choices"]}
    assert {"manufacturing", "finance", "logistics", "commerce"} <= sector_values


def test_demo_project_parameters(catalogue):
    v = current("demo-project")

    assert v.award_kind == "percent_of_base"
    assert v.rate == Decimal("0.10")
    assert v.base_field == "actual_investment"
    assert v.per_award_cap == Decimal("2000000.00")
    assert v.annual_quota == 10
    scenes = {c["value"] for c in next(f for f in v.fields if f["name"] == "scene")["choices"]}
    assert scenes == {"airport", "port", "exhibition_center", "smart_manufacturing", "finance",
                      "logistics", "transport", "commerce", "culture_tourism", "healthcare",
                      "other"}


@pytest.mark.parametrize(("code", "cap"), [
    ("icv-pilot", "10000000.00"),
    ("low-altitude-pilot", "2000000.00"),
    ("innovation-center", "5000000.00"),
    ("core-algorithm", "5000000.00"),
])
def test_up_to_cap_measures(catalogue, code, cap):
    v = current(code)

    assert v.award_kind == "up_to_cap"
    assert v.per_award_cap == Decimal(cap)
    assert v.requested_field == "requested_amount"
    assert v.annual_quota is None


def test_low_altitude_and_innovation_center_conditions(catalogue):
    assert [c["reason"] for c in current("low-altitude-pilot").conditions] == [
        "route_not_opened"]
    (lead,) = current("innovation-center").conditions
    assert lead["op"] == "in"
    assert sorted(lead["value"]) == ["fortune_global_500", "national_innovation_carrier"]


def test_the_seven_measures_without_money_are_to_be_configured(catalogue):
    configured = {m.code for m, v in selectors.catalogue_current()
                  if v.award_kind == "configured"}

    assert configured == CONFIGURED
    for code in CONFIGURED:
        v = current(code)
        assert not v.is_configured
        assert v.parameters() == dict.fromkeys(v.parameters())  # every parameter null
        assert v.annual_quota is None


@pytest.mark.parametrize(("code", "pillar", "clause"), [
    ("compute-platform", "factor_supply", "2.1"),
    ("core-algorithm", "factor_supply", "2.3"),
    ("industry-llm", "application_demo", "3.1"),
    ("demo-project", "application_demo", "3.2"),
    ("icv-pilot", "application_demo", "3.3"),
    ("low-altitude-pilot", "application_demo", "3.4"),
    ("innovation-center", "ecosystem", "4.1"),
    ("cluster-rent", "clustering", ""),
    ("income-tax", "clustering", ""),
    ("growth-reward", "clustering", ""),
    ("investment-support", "clustering", ""),
    ("cross-border-data", "factor_supply", ""),
    ("tech-platform", "ecosystem", ""),
    ("industry-organization", "ecosystem", ""),
])
def test_pillar_and_clause_of_each_measure(catalogue, code, pillar, clause):
    measure = Measure.objects.get(code=code)

    assert measure.pillar == pillar
    assert measure.clause == clause


def _texts_of_field(spec, where):
    yield f"{where} label", spec.get("label")
    if "help" in spec:
        yield f"{where} help", spec["help"]
    for choice in spec.get("choices") or []:
        yield f"{where} choice {choice['value']}", choice.get("label")
    for item in spec.get("item_fields") or []:
        yield from _texts_of_field(item, f"{where}.{item['name']}")


def test_every_text_exists_in_three_languages(catalogue):
    for measure, version in selectors.catalogue_current():
        texts = [("name", measure.names), ("description", measure.descriptions)]
        for spec in version.fields:
            texts.extend(_texts_of_field(spec, f"field {spec['name']}"))
        for document in version.documents:
            texts.append((f"document {document['kind']}", document.get("label")))
        for what, value in texts:
            assert isinstance(value, dict), (measure.code, what)
            for language in LANGUAGES:
                assert isinstance(value.get(language), str) and value[language].strip(), (
                    measure.code, what, language)
        assert measure.names["zh-hans"] != measure.names["en"], measure.code
