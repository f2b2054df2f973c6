"""Row history by database triggers (django-pghistory): even a bulk update made outside the
services leaves a trace, with who made it when it came through a request."""

import pytest
from django.apps import apps

from applications.models import Application, Status
from reviews.services import decisions
from tests.factories import application_in
from tests.reviews.test_decisions import reviewed

pytestmark = pytest.mark.postgres


def events(model_label: str, **filters):
    return apps.get_model(model_label).objects.filter(**filters)


def test_a_bulk_update_is_recorded_by_the_database(demo_call):
    application = application_in(Status.SUBMITTED, call=demo_call)

    Application.objects.filter(pk=application.pk).update(status=Status.REJECTED)

    rows = events("applications.ApplicationEvent", pgh_obj_id=application.pk)
    assert [(row.pgh_label, row.status) for row in rows.order_by("pgh_id")] == [
        ("insert", Status.SUBMITTED), ("update", Status.REJECTED)]


def test_decisions_leave_row_history_of_the_award_and_the_quota(demo_call, staff):
    application = reviewed(demo_call)
    decisions.application_approve(by=staff, application=application)

    assert events("reviews.AwardEvent", application_id=application.pk,
                  pgh_label="insert").count() == 1
    counter_rows = events("reviews.QuotaCounterEvent").order_by("pgh_id")
    assert [row.used for row in counter_rows] == [0, 1]


def test_a_change_through_a_request_records_the_user(demo_call, client_for, staff):
    application = application_in(Status.SUBMITTED, call=demo_call)
    answer = client_for(staff).post(f"/api/v1/applications/{application.pk}/accept/")
    assert answer.status_code == 200, answer.content

    update = events("applications.ApplicationEvent", pgh_obj_id=application.pk,
                    pgh_label="update").select_related("pgh_context").last()
    assert update is not None and update.status == Status.ACCEPTED
    assert update.pgh_context is not None
    assert update.pgh_context.metadata["user"] == staff.pk


def test_staff_see_a_bulk_update_in_the_applications_history(demo_call, client_for, staff):
    application = application_in(Status.SUBMITTED, call=demo_call)
    Application.objects.filter(pk=application.pk).update(amount="123.45")

    rows = client_for(staff).get(f"/api/v1/applications/{application.pk}/audit/").json()[
        "results"]

    updates = [row for row in rows if row["kind"] == "row_update"]
    assert updates[-1]["data"]["changes"] == {"amount": [None, "123.45"]}
    assert rows[0]["kind"] == "row_insert"

