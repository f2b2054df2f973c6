"""Opening calls: staff only, for a configured measure, closing after it opens."""

from datetime import timedelta

import pytest
from django.utils import timezone

from applications import services
from applications.models import Call
from measures.models import Measure
from qianhai_grants.errors import DomainError
from qianhai_grants.roles import MANAGEMENT, REVIEWER
from tests.factories import CompanyFactory, UserFactory, company_user, staff_user

NOW = timezone.now()


def open_call(by, **overrides):
    data = {"measure": Measure.objects.get(code="demo-project"), "funding_year": 2026,
            "opens_at": NOW, "closes_at": NOW + timedelta(days=30)}
    return services.call_open(by=by, **{**data, **overrides})


def refused(call) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value


@pytest.mark.parametrize("code", ["compute-platform", "core-algorithm", "industry-llm",
                                  "demo-project", "icv-pilot", "low-altitude-pilot",
                                  "innovation-center"])
def test_staff_open_a_call_for_every_configured_measure(catalogue, code):
    staff = staff_user()
    call = open_call(staff, measure=Measure.objects.get(code=code), reviewers_per_application=5,
                     trimmed_mean=True)
    assert (call.measure.code, call.funding_year, call.created_by) == (code, 2026, staff)
    assert (call.reviewers_per_application, call.trimmed_mean) == (5, True)
    assert call.status == "open"


@pytest.mark.parametrize("make_user", [
    company_user,
    lambda: UserFactory(roles=[REVIEWER]),
    lambda: UserFactory(roles=[MANAGEMENT]),
    lambda: UserFactory(is_staff=True),                 # Django's flag is not the staff role
    lambda: CompanyFactory().created_by,
])
def test_only_staff_officers_open_calls(catalogue, make_user):
    error = refused(lambda: open_call(make_user()))
    assert (error.status, error.code) == (403, "forbidden")
    assert not Call.objects.exists()


@pytest.mark.parametrize("code", ["cluster-rent", "income-tax", "growth-reward",
                                  "investment-support", "cross-border-data", "tech-platform",
                                  "industry-organization"])
def test_unconfigured_measure_is_refused_naming_measure(catalogue, code):
    error = refused(lambda: open_call(staff_user(), measure=Measure.objects.get(code=code)))
    assert (error.status, list(error.fields)) == (400, ["measure"])
    assert not Call.objects.exists()


def test_a_measure_without_any_version_is_refused(catalogue):
    bare = Measure.objects.create(code="bare", pillar="ecosystem", name_zh_hans="空",
                                  name_zh_hant="空", name_en="Bare")
    error = refused(lambda: open_call(staff_user(), measure=bare))
    assert "measure" in error.fields


@pytest.mark.parametrize(("overrides", "field"), [
    ({"closes_at": NOW}, "closes_at"),                           # closes when it opens
    ({"closes_at": NOW - timedelta(seconds=1)}, "closes_at"),   # closes before it opens
    ({"opens_at": None}, "opens_at"),
    ({"closes_at": None}, "closes_at"),
    ({"opens_at": "2026-01-01"}, "opens_at"),
    ({"opens_at": NOW.replace(year=400, month=1, day=1)}, "opens_at"),  # a typing slip
    ({"closes_at": NOW.replace(year=2101, month=1, day=1)}, "closes_at"),
    ({"funding_year": 2023}, "funding_year"),
    ({"funding_year": 2101}, "funding_year"),
    ({"funding_year": "2026"}, "funding_year"),
    ({"funding_year": True}, "funding_year"),
    ({"reviewers_per_application": 0}, "reviewers_per_application"),
    ({"reviewers_per_application": 16}, "reviewers_per_application"),
    ({"reviewers_per_application": True}, "reviewers_per_application"),
    ({"measure": None}, "measure"),
])
def test_invalid_call_is_400_naming_the_field(catalogue, overrides, field):
    error = refused(lambda: open_call(staff_user(), **overrides))
    assert error.status == 400 and field in error.fields
    assert not Call.objects.exists()


@pytest.mark.parametrize(("opens", "closes", "status"), [
    (timedelta(days=1), timedelta(days=2), "scheduled"),
    (timedelta(days=-2), timedelta(days=-1), "closed"),
    (timedelta(days=-1), timedelta(days=1), "open"),
])
def test_a_call_may_be_opened_for_any_period(catalogue, opens, closes, status):
    call = open_call(staff_user(), opens_at=NOW + opens, closes_at=NOW + closes)
    assert call.status == status


def test_boundary_years_are_accepted(catalogue):
    staff = staff_user()
    assert open_call(staff, funding_year=2024).funding_year == 2024
    assert open_call(staff, funding_year=2100).funding_year == 2100
