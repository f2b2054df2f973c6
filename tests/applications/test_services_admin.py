"""The admin shows the portal's data to staff; every change still goes through the services."""

import pytest
from django.test import Client
from django.utils import timezone

from applications import services
from applications.models import Attachment, Call, StatusEvent
from measures.models import Measure
from tests.factories import DEMO_PROJECT_INPUTS, CompanyFactory, UserFactory, open_call, uscc

MODELS = ("company", "membership", "call", "application", "attachment", "statusevent")


@pytest.fixture
def admin_user(catalogue):
    return UserFactory(is_staff=True, is_superuser=True, roles=["staff"])


@pytest.fixture
def client(admin_user):
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    return client


@pytest.fixture
def application(catalogue):
    company = CompanyFactory(registration_number=uscc(61))
    application, _ = services.application_create(by=company.created_by, call=open_call(),
                                                 company=company, inputs=DEMO_PROJECT_INPUTS)
    services.application_withdraw(by=company.created_by, application=application,
                                  reason="测试")
    return application


@pytest.mark.parametrize("model", MODELS)
def test_every_model_is_listed_with_its_filters(client, application, model):
    response = client.get(f"/admin/applications/{model}/")
    assert response.status_code == 200
    assert 'id="changelist-filter"' in response.content.decode()


@pytest.mark.parametrize(("model", "filters"), [
    ("application", "status__exact=withdrawn&call__funding_year=2026"),
    ("statusevent", "to_status__exact=withdrawn"),
    ("attachment", "removed_at__isempty=1"),
    ("company", "registration_type__exact=mainland&in_qianhai__exact=1"),
    ("call", "funding_year__exact=2026"),
])
def test_filters_answer(client, application, model, filters):
    assert client.get(f"/admin/applications/{model}/?{filters}").status_code == 200


def test_an_application_is_shown_read_only(client, application):
    page = client.get(f"/admin/applications/application/{application.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="_save"' not in html
    assert "前海港口智能调度示范" in html  # the inputs, shown
    assert 'name="inputs"' not in html and 'name="status"' not in html


def test_an_application_cannot_be_changed_added_or_deleted_here(client, application):
    url = f"/admin/applications/application/{application.pk}/"
    assert client.post(url + "change/", {"status": "awarded"}).status_code == 403
    assert client.post(url + "delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/applications/application/add/").status_code == 403
    application.refresh_from_db()
    assert application.status == "withdrawn"


def test_status_events_are_read_only(client, application):
    event = StatusEvent.objects.get(application=application)
    url = f"/admin/applications/statusevent/{event.pk}/"
    assert client.post(url + "change/", {"reason": "changed"}).status_code == 403
    assert client.post(url + "delete/", {"post": "yes"}).status_code == 403
    event.refresh_from_db()
    assert event.reason == "测试"


def test_attachments_are_read_only(client):
    assert client.get("/admin/applications/attachment/add/").status_code == 403
    assert not Attachment.objects.exists()


def test_the_registration_number_is_not_edited_here(client, application):
    company = application.company
    number = company.registration_number
    url = f"/admin/applications/company/{company.pk}/change/"
    response = client.post(url, {
        "name": "改名公司", "name_en": "", "in_qianhai": "on", "contact_name": "",
        "contact_phone": "", "contact_email": "", "registration_number": "123",
        "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"})
    assert response.status_code == 302
    company.refresh_from_db()
    assert (company.name, company.registration_number) == ("改名公司", number)
    assert client.get("/admin/applications/company/add/").status_code == 403


def call_form(measure, **overrides):
    now = timezone.localtime()
    later = now + timezone.timedelta(days=30)
    data = {"measure": str(measure.pk), "funding_year": "2026",
            "opens_at_0": now.strftime("%Y-%m-%d"), "opens_at_1": now.strftime("%H:%M:%S"),
            "closes_at_0": later.strftime("%Y-%m-%d"), "closes_at_1": later.strftime("%H:%M:%S"),
            "reviewers_per_application": "3"}
    return {**data, **overrides}


def test_a_call_added_here_is_opened_by_the_service(client, admin_user):
    measure = Measure.objects.get(code="demo-project")
    response = client.post("/admin/applications/call/add/", call_form(measure))
    assert response.status_code == 302
    call = Call.objects.get()
    assert (call.measure, call.created_by) == (measure, admin_user)


def test_an_unconfigured_measure_is_refused_on_its_field(client):
    measure = Measure.objects.get(code="cluster-rent")
    response = client.post("/admin/applications/call/add/", call_form(measure))
    assert response.status_code == 200
    assert "measure" in response.context["adminform"].form.errors
    assert not Call.objects.exists()


def test_a_call_that_closes_before_it_opens_is_refused(client):
    measure = Measure.objects.get(code="demo-project")
    response = client.post("/admin/applications/call/add/", call_form(
        measure, closes_at_0="2020-01-01", closes_at_1="00:00:00"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert not Call.objects.exists()


def test_only_staff_officers_add_calls(catalogue):
    superuser = UserFactory(is_staff=True, is_superuser=True)  # not in the staff role
    client = Client()
    client.force_login(superuser)
    assert client.get("/admin/applications/call/add/").status_code == 403
    assert client.get("/admin/applications/call/").status_code == 200
