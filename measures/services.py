"""Every write to the catalogue (DESIGN rule 1)."""

import hashlib
import json
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from measures.engine import AWARD_KINDS, OPERATORS
from measures.inputs import FIELD_TYPES
from measures.models import Measure, MeasureVersion, Pillar, VersionSource
from qianhai_grants.errors import DomainError
from qianhai_grants.i18n import LANGUAGE_CODES

RULE_KEYS = (
    "award_kind", "rate", "base_field", "per_award_cap", "requested_field", "cumulative_cap",
    "cumulative_over", "fixed_amount", "once_per", "subject_field", "annual_quota",
    "conditions", "fields", "documents",
)
MONEY_KEYS = ("per_award_cap", "cumulative_cap", "fixed_amount")
TEXT_KEYS = ("base_field", "requested_field", "cumulative_over", "once_per", "subject_field")


def rules_validate(rules: dict) -> None:
    """Refuse rules the engine could not apply: raise DomainError(400) naming the field."""
    errors: dict[str, list[str]] = {}

    def fail(key, message):
        errors.setdefault(key, []).append(message)

    kind = rules.get("award_kind")
    if kind not in AWARD_KINDS:
        fail("award_kind", _("Unknown award kind."))
    field_specs = rules.get("fields") or []
    names = set()
    for spec in field_specs:
        problem = _field_spec_problem(spec)
        if problem:
            fail("fields", problem)
        else:
            names.add(spec["name"])
    money_fields = {s["name"] for s in field_specs if isinstance(s, dict)
                    and s.get("type") == "money"}
    if kind == "percent_of_base":
        if rules.get("rate") is None:
            fail("rate", _("A percentage award needs a rate."))
        if rules.get("base_field") not in money_fields:
            fail("base_field", _("The base must be one of the form's money fields."))
    if kind == "fixed" and rules.get("fixed_amount") is None:
        fail("fixed_amount", _("A fixed award needs its amount."))
    if kind == "up_to_cap":
        if rules.get("per_award_cap") is None:
            fail("per_award_cap", _("An award up to a cap needs the cap."))
        if rules.get("requested_field") not in money_fields:
            fail("requested_field", _("The requested amount must be one of the form's money "
                                      "fields."))
    if (rules.get("cumulative_cap") is not None or rules.get("once_per")) and (
            rules.get("subject_field") not in names):
        fail("subject_field", _("Name the field that identifies the platform or model."))
    if rules.get("cumulative_cap") is not None and not rules.get("cumulative_over"):
        fail("cumulative_over", _("Say what the cumulative cap counts over."))
    rate = _decimal(rules.get("rate"))
    if rate is not None and not (rate.is_finite() and Decimal(0) <= rate <= Decimal(1)):
        fail("rate", _("The rate is a fraction between 0 and 1 (0.05 is 5%)."))
    for key in MONEY_KEYS:
        amount = _decimal(rules.get(key))
        if amount is not None and not (amount.is_finite() and amount >= 0):
            fail(key, _("Enter an amount of 0 or more."))
    annual_quota = rules.get("annual_quota")
    if annual_quota is not None and (isinstance(annual_quota, bool) or not isinstance(
            annual_quota, int) or annual_quota < 0):
        fail("annual_quota", _("The annual quota is a whole number of 0 or more."))
    for condition in rules.get("conditions") or []:
        if not isinstance(condition, dict) or condition.get("op") not in OPERATORS or \
                condition.get("field") not in names or not condition.get("reason"):
            fail("conditions", _("Each condition needs a form field, a known operator and a "
                                 "reason code: %(condition)s") % {"condition": condition})
    for document in rules.get("documents") or []:
        if not isinstance(document, dict) or not document.get("kind") or \
                not _has_languages(document.get("label")):
            fail("documents", _("Each document needs a kind and a label in three languages."))
    if errors:
        raise DomainError("invalid_rules", _("The measure's rules are not valid."), status=400,
                          fields=errors)


def _decimal(value) -> Decimal | None:
    """A parameter as Decimal; a value that is no number at all reads as NaN (so it fails)."""
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return Decimal("NaN")


def _field_spec_problem(spec) -> str | None:
    if not isinstance(spec, dict) or not spec.get("name"):
        return _("Each form field needs a name.")
    if spec.get("type") not in FIELD_TYPES:
        return _("Field %(name)s has an unknown type.") % {"name": spec.get("name")}
    if not _has_languages(spec.get("label")):
        return _("Field %(name)s needs a label in three languages.") % {"name": spec["name"]}
    if spec["type"] == "choice" and not spec.get("choices"):
        return _("Field %(name)s needs choices.") % {"name": spec["name"]}
    if spec["type"] == "cases":
        for item in spec.get("item_fields") or []:
            problem = _field_spec_problem(item)
            if problem:
                return problem
    return None


def _has_languages(texts) -> bool:
    return isinstance(texts, dict) and all(texts.get(code) for code in LANGUAGE_CODES)


def measure_version_create(
    *,
    measure: Measure,
    rules: dict,
    by=None,
    reason: str,
    effective_from: datetime | None = None,
    source: str = VersionSource.ADMIN,
    source_digest: str = "",
) -> MeasureVersion:
    """Make a new catalogue version of `measure` with `rules`. Earlier versions stay as they are."""
    if not reason or not reason.strip():
        raise DomainError("reason_required", _("Say why the rules change."), status=400,
                          fields={"reason": [_("This field is required.")]})
    rules_validate(rules)
    with transaction.atomic():
        # Lock the measure so two simultaneous edits get consecutive numbers, not a clash.
        Measure.objects.select_for_update().get(pk=measure.pk)
        last = measure.versions.order_by("-number").values_list("number", flat=True).first()
        values = {key: rules.get(key) for key in RULE_KEYS}
        for key in TEXT_KEYS:
            values[key] = values[key] or ""
        for key in ("conditions", "fields", "documents"):
            values[key] = values[key] or []
        return MeasureVersion.objects.create(
            measure=measure,
            number=(last or 0) + 1,
            effective_from=effective_from or timezone.now(),
            created_by=by,
            reason=reason.strip(),
            source=source,
            source_digest=source_digest,
            **values,
        )


def entry_digest(entry: dict) -> str:
    rules = {key: entry.get(key) for key in ("award_kind", "annual_quota", "conditions",
                                             "fields", "documents")}
    rules["parameters"] = entry.get("parameters") or {}
    return hashlib.sha256(json.dumps(rules, sort_keys=True, default=str).encode()).hexdigest()


def catalogue_load(*, entries: list[dict], effective_from: datetime | None = None) -> dict:
    """Load the catalogue data file. Idempotent: loading the same entries twice changes nothing.

    Names and descriptions are updated in place. A new version is made only when the entry's rules
    differ from the last version loaded from the file, so a staff edit made in the admin since is
    never overwritten by a re-run of the same file.
    """
    counts = {"measures_created": 0, "measures_updated": 0, "versions_created": 0}
    codes = [e.get("code") for e in entries]
    if len(set(codes)) != len(codes):
        raise DomainError("duplicate_code", _("A measure code appears twice in the data file."),
                          status=400)
    with transaction.atomic():
        for entry in entries:
            _load_entry(entry, counts, effective_from)
    return counts


def _load_entry(entry: dict, counts: dict, effective_from) -> None:
    code = entry.get("code") or ""
    if entry.get("pillar") not in Pillar.values:
        raise DomainError("invalid_rules", _("Measure %(code)s has an unknown pillar.") % {
            "code": code}, status=400)
    for key in ("name", "description"):
        if not _has_languages(entry.get(key)):
            raise DomainError("invalid_rules", _(
                "Measure %(code)s needs its %(key)s in three languages.") % {
                "code": code, "key": key}, status=400)
    identity = {
        "clause": entry.get("clause") or "",
        "pillar": entry["pillar"],
        "order": entry.get("order") or 0,
        "name_zh_hans": entry["name"]["zh-hans"],
        "name_zh_hant": entry["name"]["zh-hant"],
        "name_en": entry["name"]["en"],
        "description_zh_hans": entry["description"]["zh-hans"],
        "description_zh_hant": entry["description"]["zh-hant"],
        "description_en": entry["description"]["en"],
        "source_quote": (entry.get("source_quote") or "").strip(),
    }
    measure = Measure.objects.filter(code=code).first()
    if measure is None:
        measure = Measure.objects.create(code=code, **identity)
        counts["measures_created"] += 1
    elif any(getattr(measure, key) != value for key, value in identity.items()):
        Measure.objects.filter(pk=measure.pk).update(**identity)
        counts["measures_updated"] += 1

    digest = entry_digest(entry)
    last_loaded = (measure.versions.filter(source=VersionSource.DATA_FILE)
                   .order_by("-number").first())
    if last_loaded is not None and last_loaded.source_digest == digest:
        return
    parameters = entry.get("parameters") or {}
    rules = {
        "award_kind": entry.get("award_kind"),
        "annual_quota": entry.get("annual_quota"),
        "conditions": entry.get("conditions") or [],
        "fields": entry.get("fields") or [],
        "documents": entry.get("documents") or [],
        **{key: parameters.get(key) for key in RULE_KEYS if key in parameters},
    }
    try:
        rules_validate(rules)
    except DomainError as exc:
        raise DomainError(exc.code, _("Measure %(code)s: %(message)s") % {
            "code": code, "message": exc.message}, status=400, fields=exc.fields) from exc
    for key in (*MONEY_KEYS, "rate"):
        if rules.get(key) is not None:
            rules[key] = Decimal(str(rules[key]))
    reason = ("Loaded from the catalogue data file" if last_loaded is None
              else "Catalogue data file changed")
    measure_version_create(measure=measure, rules=rules, reason=reason,
                           effective_from=effective_from, source=VersionSource.DATA_FILE,
                           source_digest=digest)
    counts["versions_created"] += 1
