"""The formal screening (形式審查) checklist of an application, from its measure's data: every
required document present, every eligibility condition met by the submitted inputs (the
Authority's consent reference among them, where the measure asks for it), and the company
registered in the Qianhai cooperation zone. Staff read it beside the documents before they
accept, return or reject; it decides nothing by itself."""

from dataclasses import dataclass

from django.utils.translation import gettext as _

from measures.engine import compute_award
from measures.inputs import parse_inputs
from measures.reasons import reason_message
from qianhai_grants.i18n import localized


@dataclass(frozen=True)
class CheckItem:
    code: str
    label: str
    ok: bool
    detail: str = ""

    def as_dict(self) -> dict:
        return {"code": self.code, "label": self.label, "ok": self.ok, "detail": self.detail}


def screening_checklist(application) -> list[CheckItem]:
    version = application.measure_version
    items = []
    present = {a.kind: a for a in application.attachments.all() if a.removed_at is None}
    for document in version.documents:
        if not document.get("required", True):
            continue
        attachment = present.get(document["kind"])
        items.append(CheckItem(
            code=f"document:{document['kind']}",
            label=_("Document: %(name)s") % {
                "name": localized(document.get("label")) or document["kind"]},
            ok=attachment is not None,
            detail=attachment.original_name if attachment is not None else _("Missing")))
    values = parse_inputs(version.fields, application.inputs).values
    result = compute_award(version.rules(), values)
    labels = version.field_labels()
    for step in result.trace:
        if step.step != "condition":
            continue
        data = step.data
        items.append(CheckItem(
            code=f"condition:{data['field']}",
            label=labels.get(data["field"], data["field"]),
            ok=bool(data["holds"]),
            detail="" if data["holds"] else reason_message(data["reason"])))
    items.append(CheckItem(
        code="company:in_qianhai", label=_("Registered in the Qianhai cooperation zone"),
        ok=bool(application.company.in_qianhai),
        detail="" if application.company.in_qianhai else _("Not registered in Qianhai")))
    return items
