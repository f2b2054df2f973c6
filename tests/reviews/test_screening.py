"""The formal screening checklist: documents, eligibility conditions, registration in Qianhai."""

from django.core.files.uploadedfile import SimpleUploadedFile

from applications import services as portal
from applications.models import Status
from reviews.screening import screening_checklist
from tests.factories import CompanyFactory, application_in, open_call, tiny_pdf
from tests.reviews.test_decisions import PLATFORM


def by_code(application) -> dict:
    return {item.code: item for item in screening_checklist(application)}


def test_a_complete_platform_application_passes_every_check(catalogue):
    company = CompanyFactory(in_qianhai=True)
    application = application_in(Status.DRAFT, call=open_call("compute-platform"),
                                 company=company, inputs=PLATFORM)
    for kind in ("consent_letter", "audited_investment_report"):
        portal.attachment_add(by=company.created_by, application=application, kind=kind,
                              upload=SimpleUploadedFile(f"{kind}.pdf", tiny_pdf()))

    items = by_code(application)

    assert all(item.ok for item in items.values()), items
    assert items["document:consent_letter"].detail == "consent_letter.pdf"
    assert {"condition:authority_consent_ref", "condition:total_investment",
            "company:in_qianhai"} <= set(items)


def test_what_is_missing_is_named(catalogue):
    company = CompanyFactory(in_qianhai=False)
    application = application_in(Status.SUBMITTED, call=open_call("compute-platform"),
                                 company=company, inputs={
                                     **PLATFORM, "authority_consent_ref": "",
                                     "total_investment": "90000000.00"})

    failing = {code for code, item in by_code(application).items() if not item.ok}

    assert failing == {"document:consent_letter", "document:audited_investment_report",
                       "condition:authority_consent_ref", "condition:total_investment",
                       "company:in_qianhai"}
