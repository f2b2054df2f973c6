"""Web forms of the company portal. They only collect values: the services validate them, and
their field errors (DomainError.fields) are put back on these forms' fields."""

from django import forms
from django.utils.translation import gettext_lazy as _

from applications.models import Language, MemberRole, RegistrationType
from measures.forms import schema_field
from measures.inputs import MAX_CASES, parse_value
from qianhai_grants.i18n import localized

# ---------------------------------------------------------------- helpers


def add_service_errors(form: forms.Form, fields: dict) -> None:
    """Put a DomainError's field messages on the form's fields (unknown names: on the form)."""
    for name, messages in (fields or {}).items():
        messages = [str(m) for m in (messages if isinstance(messages, list) else [messages])]
        form.add_error(name if name in form.fields else None, messages)


# ---------------------------------------------------------------- accounts

class SignupForm(forms.Form):
    email = forms.EmailField(label=_("Email"), max_length=150,
                             widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(label=_("Password"), strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password_again = forms.CharField(
        label=_("Password again"), strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    preferred_language = forms.ChoiceField(label=_("Preferred language"),
                                           choices=Language.choices)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password") and cleaned.get("password") != cleaned.get("password_again"):
            self.add_error("password_again", _("The two passwords are not the same."))
        return cleaned


class ProfileForm(forms.Form):
    preferred_language = forms.ChoiceField(label=_("Preferred language"),
                                           choices=Language.choices)


# ---------------------------------------------------------------- companies

class CompanyForm(forms.Form):
    # Not required here: company_create says what is missing, in the same words as the API.
    name = forms.CharField(label=_("Legal name (Chinese)"), max_length=200, required=False)
    name_en = forms.CharField(label=_("English name"), max_length=200, required=False)
    registration_type = forms.CharField(label=_("Registration type"), required=False,
                                        widget=forms.RadioSelect(
                                            choices=RegistrationType.choices))
    registration_number = forms.CharField(
        label=_("Registration number"), max_length=40, required=False,
        help_text=_("Mainland: the 18-character Unified Social Credit Code. Hong Kong: the "
                    "8-digit Business Registration number."))
    in_qianhai = forms.BooleanField(label=_("Registered in the Qianhai cooperation zone"),
                                    required=False)
    contact_name = forms.CharField(label=_("Contact person"), max_length=100, required=False)
    contact_phone = forms.CharField(label=_("Contact phone"), max_length=40, required=False)
    contact_email = forms.CharField(label=_("Contact email"), max_length=254, required=False,
                                    widget=forms.EmailInput)


class InviteForm(forms.Form):
    # Plain text here: member_invite checks the address and the role.
    email = forms.CharField(label=_("Colleague's email"), max_length=254, required=False,
                            widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    role = forms.CharField(label=_("Role"), required=False, widget=forms.Select(choices=[
        (MemberRole.EDITOR.value, MemberRole.EDITOR.label),
        (MemberRole.VIEWER.value, MemberRole.VIEWER.label)]))


# ---------------------------------------------------------------- applications

class StartForm(forms.Form):
    """Which company applies to the chosen call."""

    company = forms.TypedChoiceField(label=_("Company"), coerce=int)

    def __init__(self, companies, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["company"].choices = [(c.pk, c.name) for c in companies]


def _initial(spec: dict, value):
    if value is None:
        return ""
    if spec["type"] == "boolean":
        return {True: "true", False: "false"}.get(value, "")
    return str(value)


def _raw(spec: dict, value):
    """A posted string as the JSON value parse_inputs expects."""
    if spec["type"] == "boolean":
        return {"true": True, "false": False}.get(value)
    return value


def _row_count(data, name: str) -> int:
    try:
        count = int(data.get(f"{name}-TOTAL", 0))
    except (TypeError, ValueError):
        count = 0
    return max(0, min(count, MAX_CASES + 1))


class ApplicationForm(forms.Form):
    """The form generated from a measure version's field schema.

    A list field (type `cases`, e.g. market cases) is real rows: inputs named
    `<name>-<i>-<item>`, a removal box `<name>-<i>-DELETE` and the row count `<name>-TOTAL`.
    Rows left blank or marked for removal are dropped. `raw_inputs` is what the services take.
    """

    def __init__(self, version, data=None, *, inputs=None, add_row_to=None, **kwargs):
        super().__init__(data, **kwargs)
        self.version = version
        inputs = inputs or {}
        self.row_counts: dict[str, int] = {}
        self.case_errors: dict[str, list[str]] = {}
        for spec in version.fields:
            name = spec["name"]
            if spec["type"] != "cases":
                self.fields[name] = schema_field(spec)
                if name in inputs:
                    self.initial[name] = _initial(spec, inputs[name])
                continue
            existing = inputs.get(name) if isinstance(inputs.get(name), list) else []
            count = _row_count(data, name) if self.is_bound else len(existing) + 1
            if add_row_to == name:
                count = min(count + 1, MAX_CASES + 1)
            self.row_counts[name] = count
            for index in range(count):
                row = existing[index] if index < len(existing) else {}
                for item in spec.get("item_fields", []):
                    key = f"{name}-{index}-{item['name']}"
                    self.fields[key] = schema_field(item)
                    if item["name"] in row:
                        self.initial[key] = _initial(item, row[item["name"]])
                self.fields[f"{name}-{index}-DELETE"] = forms.BooleanField(
                    label=_("Remove"), required=False)

    # -- reading the rows

    def _row_values(self, spec, index) -> dict:
        name = spec["name"]
        return {item["name"]: self.data.get(f"{name}-{index}-{item['name']}", "")
                for item in spec.get("item_fields", [])}

    def kept_rows(self, spec) -> list[tuple[int, dict]]:
        """(row index, posted values) of the rows neither blank nor marked for removal."""
        name, rows = spec["name"], []
        for index in range(self.row_counts.get(name, 0)):
            if self.data.get(f"{name}-{index}-DELETE") in ("on", "true", "1", "True"):
                continue
            values = self._row_values(spec, index)
            if all(not str(v).strip() for v in values.values()):
                continue
            rows.append((index, values))
        return rows

    @property
    def raw_inputs(self) -> dict:
        """The posted values as the JSON inputs of the API (blank values left out)."""
        raw = {}
        for spec in self.version.fields:
            name = spec["name"]
            if spec["type"] == "cases":
                rows = [{item["name"]: _raw(item, values.get(item["name"]))
                         for item in spec.get("item_fields", [])
                         if str(values.get(item["name"]) or "").strip()}
                        for _index, values in self.kept_rows(spec)]
                if rows:
                    raw[name] = rows
            else:
                value = _raw(spec, self.data.get(name, ""))
                if value is not None and value != "":
                    raw[name] = value
        return raw

    def compacted(self, add_row: bool = False) -> dict:
        """The posted data with the kept rows renumbered from 0 (so "Row 3" in a message is
        the third row shown) and one empty row after them."""
        data = {k: v for k, v in self.data.items()
                if not any(k.startswith(f"{s['name']}-") for s in self.case_specs)}
        for spec in self.case_specs:
            kept = self.kept_rows(spec)
            for new_index, (_old, values) in enumerate(kept):
                for item_name, value in values.items():
                    data[f"{spec['name']}-{new_index}-{item_name}"] = value
            data[f"{spec['name']}-TOTAL"] = str(min(len(kept) + 1, MAX_CASES + 1))
        return data

    @property
    def case_specs(self) -> list[dict]:
        return [s for s in self.version.fields if s["type"] == "cases"]

    # -- errors from the services

    def add_service_errors(self, fields: dict) -> list[tuple[str, str]]:
        """Messages for our fields go on them; a list field's message goes on its rows, each
        cell checked by the same parser for the cell's own message. Returns the rest as
        (name, message) pairs (documents, eligibility) for the page to show."""
        rest = []
        specs = {s["name"]: s for s in self.version.fields}
        for name, messages in (fields or {}).items():
            messages = [str(m) for m in (messages if isinstance(messages, list) else [messages])]
            spec = specs.get(name)
            if spec is None:
                rest.extend((name, m) for m in messages)
            elif spec["type"] == "cases":
                self.case_errors[name] = messages
                self._cell_errors(spec)
            else:
                self.add_error(name, messages)
        return rest

    def _cell_errors(self, spec) -> None:
        for index, values in self.kept_rows(spec):
            for item in spec.get("item_fields", []):
                key = f"{spec['name']}-{index}-{item['name']}"
                value = _raw(item, values.get(item["name"]))
                if value is None or (isinstance(value, str) and not value.strip()):
                    if item.get("required", True):
                        self.add_error(key, _("This field is required."))
                    continue
                try:
                    parse_value(item, value)
                except ValueError as exc:
                    self.add_error(key, str(exc))

    # -- layout for the template

    def layout(self) -> list[dict]:
        """The schema's fields in order; a list field with its rows of bound fields."""
        parts = []
        for spec in self.version.fields:
            name = spec["name"]
            if spec["type"] != "cases":
                parts.append({"kind": "field", "field": self[name]})
                continue
            rows = []
            for index in range(self.row_counts[name]):
                rows.append({
                    "number": index + 1,
                    "cells": [self[f"{name}-{index}-{item['name']}"]
                              for item in spec.get("item_fields", [])],
                    "delete": self[f"{name}-{index}-DELETE"]})
            parts.append({
                "kind": "cases", "name": name, "label": localized(spec.get("label")),
                "help": localized(spec.get("help")) if spec.get("help") else "",
                "headers": [localized(i.get("label")) for i in spec.get("item_fields", [])],
                "rows": rows, "total": self.row_counts[name],
                "errors": self.case_errors.get(name, []),
                "full": self.row_counts[name] > MAX_CASES})
        return parts


class AttachmentForm(forms.Form):
    # Plain text here: attachment_add checks the kind against the measure's documents.
    kind = forms.CharField(label=_("Document"), required=False, widget=forms.Select)
    file = forms.FileField(label=_("File"), required=False, help_text=_(
        "PDF, JPEG, PNG, DOCX or XLSX, at most 20 MB."))

    def __init__(self, version, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].widget.choices = [(d["kind"], localized(d.get("label")))
                                       for d in version.documents]


class WithdrawForm(forms.Form):
    reason = forms.CharField(label=_("Why (optional)"), required=False, max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 3}))
