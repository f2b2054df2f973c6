"""Web forms of the reviewers' pages, the reviewer pool and the public 公示 pages.

They only collect values: the services (reviews.services.*) validate them, and the services'
field errors (DomainError.fields) are put back beside the fields they concern."""

from django import forms
from django.utils.translation import gettext_lazy as _

from applications.forms import add_service_errors
from measures.models import Measure, Pillar
from qianhai_grants.i18n import localized

# ---------------------------------------------------------------- a reviewer's scores


class ScoreForm(forms.Form):
    """One number per criterion of the call's scorecard, a comment per criterion, the general
    comment and, for a measure awarded up to a cap, the amount the reviewer recommends."""

    comment = forms.CharField(label=_("General comment"), required=False, strip=False,
                              widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, criteria: list[dict], *args, with_amount: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.criteria = criteria
        for criterion in criteria:
            code, max_score = criterion["code"], criterion["max_score"]
            # Plain text fields: review_submit checks the numbers, in the reviewer's language.
            self.fields[f"score_{code}"] = forms.CharField(
                label=localized(criterion["labels"]), required=False,
                widget=forms.NumberInput(attrs={"min": 0, "max": max_score, "step": "0.5",
                                                "inputmode": "decimal"}))
            self.fields[f"comment_{code}"] = forms.CharField(
                label=_("Comment on %(criterion)s") % {"criterion": localized(criterion["labels"])},
                required=False, strip=False, widget=forms.Textarea(attrs={"rows": 2}))
        # The general comment after the criteria.
        self.fields["comment"] = self.fields.pop("comment")
        if with_amount:
            self.fields["recommended_amount"] = forms.CharField(
                label=_("Recommended amount (yuan)"), required=False,
                help_text=_("Optional: the amount you recommend, within the measure's cap."),
                widget=forms.TextInput(attrs={"inputmode": "decimal", "maxlength": 32}))

    def rows(self) -> list[dict]:
        """The criteria with their fields, for the template."""
        return [{"criterion": c, "label": localized(c["labels"]), "weight": c["weight"],
                 "max_score": c["max_score"], "score": self[f"score_{c['code']}"],
                 "comment": self[f"comment_{c['code']}"]} for c in self.criteria]

    def _value(self, name: str) -> str:
        value = (self.cleaned_data if hasattr(self, "cleaned_data") else {}).get(name)
        if value is None:
            value = self.data.get(name, "")
        return value if isinstance(value, str) else ""

    def service_kwargs(self) -> dict:
        """review_submit's arguments. A criterion left empty is not sent, so the service says
        "Score this criterion." beside it."""
        scores, comments = {}, {}
        for criterion in self.criteria:
            code = criterion["code"]
            score = self._value(f"score_{code}").strip()
            if score:
                scores[code] = score
            comment = self._value(f"comment_{code}")
            if comment.strip():
                comments[code] = comment
        kwargs = {"scores": scores, "comments": comments, "comment": self._value("comment")}
        if "recommended_amount" in self.fields:
            kwargs["recommended_amount"] = self._value("recommended_amount").strip() or None
        return kwargs

    def add_service_errors(self, fields: dict) -> None:
        """`scores.<code>` and `comments.<code>` go beside their criterion; `scores` and
        `comments` (about the whole card) above the form."""
        mapped: dict = {}
        for name, messages in (fields or {}).items():
            target = name
            if isinstance(name, str) and name.startswith("scores."):
                target = f"score_{name.removeprefix('scores.')}"
            elif isinstance(name, str) and name.startswith("comments."):
                target = f"comment_{name.removeprefix('comments.')}"
            mapped.setdefault(target if target in self.fields else None, []).extend(
                messages if isinstance(messages, list) else [messages])
        add_service_errors(self, mapped)


class RecuseForm(forms.Form):
    # Not required here: review_recuse says a reason is needed, in the same words as the API.
    reason = forms.CharField(label=_("Why do you step back from this review?"), required=False,
                             widget=forms.Textarea(attrs={"rows": 3}))


class DeclareForm(forms.Form):
    """A relation to a company the reviewer declares: every application of that company is
    then kept from them."""

    registration_number = forms.CharField(
        label=_("The company's registration number"), required=False,
        widget=forms.TextInput(attrs={"maxlength": 40, "autocomplete": "off"}),
        help_text=_("Mainland: the 18-character Unified Social Credit Code. Hong Kong: the "
                    "8-digit Business Registration number."))
    note = forms.CharField(label=_("The relation"), required=False,
                           widget=forms.TextInput(attrs={"maxlength": 200}),
                           help_text=_("For example: a former employer, a relative works "
                                       "there."))


# ---------------------------------------------------------------- the reviewer pool

def expertise_choices() -> list:
    """Pillars and measures, each by its name in the reader's language."""
    measures = [(m.code, m.name) for m in Measure.objects.all()]  # in the catalogue's order
    return [(_("Pillars"), list(Pillar.choices)), (_("Measures"), measures)]


class ReviewerCreateForm(forms.Form):
    email = forms.CharField(label=_("Email"), required=False,
                            widget=forms.EmailInput(attrs={"autocomplete": "off"}),
                            help_text=_("The reviewer logs in with it and sets a password "
                                        "through password reset."))
    name = forms.CharField(label=_("Name"), required=False)
    expertise = forms.MultipleChoiceField(label=_("Expertise"), required=False,
                                          widget=forms.CheckboxSelectMultiple)
    affiliations = forms.CharField(
        label=_("Affiliations"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The registration numbers of the companies the reviewer works for or "
                    "holds shares in, one per line."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["expertise"].choices = expertise_choices()

    def service_kwargs(self) -> dict:
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        text = data.get("affiliations") or ""
        return {"email": data.get("email") or "", "name": data.get("name") or "",
                "expertise": list(data.get("expertise") or []),
                "affiliations": [line.strip() for line in text.splitlines() if line.strip()]}


# ---------------------------------------------------------------- 公示: objections

class ObjectionForm(forms.Form):
    """A signed objection to one line of an open notice. Nothing is required here:
    objection_file refuses an unsigned one, field by field, in the reader's language."""

    # A plain field with a select: objection_file says when the line is not one of the notice.
    application = forms.CharField(label=_("Which line of the notice"), required=False,
                                  widget=forms.Select)
    name = forms.CharField(label=_("Your name"), required=False, widget=forms.TextInput(
        attrs={"autocomplete": "name", "maxlength": 100}))
    organization = forms.CharField(label=_("Your organisation"), required=False,
                                   widget=forms.TextInput(attrs={"autocomplete": "organization",
                                                                 "maxlength": 200}))
    contact = forms.CharField(label=_("How we can reach you (phone or email)"), required=False,
                              widget=forms.TextInput(attrs={"maxlength": 200}))
    text = forms.CharField(label=_("Your objection and its grounds"), required=False,
                           widget=forms.Textarea(attrs={"rows": 6, "maxlength": 5000}))

    def __init__(self, entries, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["application"].widget.choices = [("", _("Choose a line"))] + [
            (str(e.application_id), f"{e.company_name} · {e.project}" if e.project
             else e.company_name) for e in entries]

    def service_kwargs(self) -> dict:
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        raw = data.get("application") or self.data.get("application") or ""
        return {"application": int(raw) if isinstance(raw, str) and raw.isdigit() else None,
                **{name: data.get(name) or "" for name in ("name", "organization", "contact",
                                                           "text")}}
