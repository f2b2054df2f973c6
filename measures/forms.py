"""Web forms generated from a measure version's field schema."""

from django import forms
from django.utils.translation import gettext_lazy as _

from measures.inputs import parse_inputs
from qianhai_grants.i18n import localized
from qianhai_grants.money import ZERO, parse_money

BOOLEAN_CHOICES = [("", "—"), ("true", _("Yes")), ("false", _("No"))]


def schema_field(spec: dict, *, count_cases: bool = False) -> forms.Field:
    """A form field for one schema field. Parsing and messages stay in `parse_inputs`."""
    label = localized(spec.get("label"))
    help_text = localized(spec.get("help")) if spec.get("help") else ""
    common = {"label": label, "help_text": help_text, "required": False}
    kind = spec["type"]
    if kind == "money":
        return forms.CharField(widget=forms.TextInput(attrs={"inputmode": "decimal",
                                                             "autocomplete": "off"}), **common)
    if kind == "integer":
        return forms.CharField(widget=forms.NumberInput(attrs={"min": 0, "step": 1}), **common)
    if kind == "boolean":
        return forms.ChoiceField(choices=BOOLEAN_CHOICES, **common)
    if kind == "choice":
        choices = [("", "—")] + [(c["value"], localized(c.get("label")))
                                 for c in spec.get("choices", [])]
        return forms.ChoiceField(choices=choices, **common)
    if kind == "date":
        return forms.CharField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if kind == "textarea":
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), **common)
    if kind == "cases" and count_cases:
        common["label"] = _("%(label)s: how many") % {"label": label}
        return forms.IntegerField(min_value=0, max_value=500, **common)
    if kind == "url":
        return forms.CharField(widget=forms.URLInput(), **common)
    return forms.CharField(**common)


class QuoteForm(forms.Form):
    """The calculator. Lists of rows (market cases) are asked only as a count: an estimate
    needs how many there are, the application form asks for each row."""

    def __init__(self, version, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.version = version
        for spec in version.fields:
            self.fields[spec["name"]] = schema_field(spec, count_cases=True)
        if version.cumulative_cap is not None or version.once_per:
            self.fields["awarded_to_date"] = forms.CharField(
                label=_("Already awarded to this platform or model (yuan)"), required=False,
                widget=forms.TextInput(attrs={"inputmode": "decimal"}))
        self.values: dict = {}
        self.awarded_to_date = ZERO

    def clean(self):
        cleaned = super().clean()
        raw, counts = {}, {}
        for spec in self.version.fields:
            value = cleaned.get(spec["name"])
            if spec["type"] == "cases":
                if value is not None:
                    counts[spec["name"]] = value
            elif spec["type"] == "boolean":
                raw[spec["name"]] = {"true": True, "false": False}.get(value)
            else:
                raw[spec["name"]] = value
        parsed = parse_inputs(self.version.fields, raw)
        for name, messages in parsed.errors.items():
            self.add_error(name, messages)
        self.values = {**parsed.values, **{name: [{}] * n for name, n in counts.items()}}
        awarded = cleaned.get("awarded_to_date")
        if awarded:
            try:
                self.awarded_to_date = parse_money(awarded)
            except ValueError:
                self.add_error("awarded_to_date", _(
                    "Enter an amount in yuan: a number of 0 or more with at most two decimal "
                    "places."))
        return cleaned
