"""Limits hold under concurrency because PostgreSQL enforces them (DESIGN rule 5).

Each race is run twice: with the service's own check in front, and with that check switched off,
so the database constraint is seen to hold the line on its own.
"""


import pytest
from django.db import connection

from applications import selectors, services
from applications.models import Application, Company, Membership
from qianhai_grants.errors import DomainError
from tests.factories import (
    DEMO_PROJECT_INPUTS,
    VALID_USCC,
    CompanyFactory,
    company_user,
    open_call,
    uscc,
)
from tests.races import locked_elsewhere, race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(params=["with the service check", "database constraint alone"])
def check(request, monkeypatch):
    if request.param == "database constraint alone":
        monkeypatch.setattr(selectors, "active_duplicate_exists", lambda **kwargs: False)
        monkeypatch.setattr(selectors, "company_number_taken", lambda **kwargs: False)
    return request.param


def test_eight_simultaneous_drafts_make_one_application(catalogue, check):
    company = CompanyFactory(registration_number=uscc(51))
    call = open_call("demo-project")
    editors = [company.created_by]
    for _ in range(7):
        user = company_user()
        Membership.objects.create(company=company, user=user, role="editor")
        editors.append(user)

    outcomes = race(8, lambda i: services.application_create(
        by=editors[i], call=call, company=company,
        inputs={**DEMO_PROJECT_INPUTS, "project_name": f"项目{i}"})[0])

    created = [o for o in outcomes if isinstance(o, Application)]
    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(created) == 1, outcomes
    assert len(refused) == 7
    assert {(e.status, e.code) for e in refused} == {(409, "duplicate_application")}
    assert Application.objects.filter(call=call, company=company).count() == 1


def test_two_simultaneous_registrations_of_one_number_make_one_company(catalogue, check):
    users = [company_user(), company_user()]
    spellings = [VALID_USCC, VALID_USCC.lower()]

    outcomes = race(2, lambda i: services.company_create(
        by=users[i], name=f"同号公司{i}", registration_type="mainland",
        registration_number=spellings[i]))

    created = [o for o in outcomes if isinstance(o, Company)]
    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(created) == 1, outcomes
    assert len(refused) == 1
    assert (refused[0].status, list(refused[0].fields)) == (400, ["registration_number"])
    assert Company.objects.filter(registration_number=VALID_USCC).count() == 1
    assert Membership.objects.filter(role="owner").count() == 1  # no owner of a lost company


@pytest.mark.parametrize("row", ["call", "measure", "company"])
def test_a_submission_locks_its_draft_not_the_rows_read_with_it(catalogue, row, settings,
                                                                 tmp_path):
    """Another transaction holding the call, the measure or the company (as an edit of it
    does) does not hold up a submission: only the draft's row is locked, so the submissions to
    one call do not queue one behind the other."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import transaction

    from applications.models import Call, Status
    from measures.models import Measure
    from tests.factories import tiny_pdf

    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    company = CompanyFactory(registration_number=uscc(61))
    owner = company.created_by
    call = open_call("demo-project")
    draft, _ = services.application_create(by=owner, call=call, company=company,
                                           inputs=DEMO_PROJECT_INPUTS)
    for document in draft.measure_version.documents:
        services.attachment_add(by=owner, application=draft, kind=document["kind"],
                                upload=SimpleUploadedFile("x.pdf", tiny_pdf()))
    model, pk = {"call": (Call, call.pk), "measure": (Measure, call.measure_id),
                 "company": (Company, company.pk)}[row]
    # What an UPDATE of the row takes (FOR NO KEY UPDATE), held meanwhile.
    with locked_elsewhere(model.objects.filter(pk=pk), no_key=True), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '2s'")
        submitted = services.application_submit(by=owner, application=draft)
    assert submitted.status == Status.SUBMITTED
