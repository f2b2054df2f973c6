"""Drafts: who may create and edit them, input checking, estimates, one active application."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from applications import services
from applications.models import Application, Status
from measures.models import Measure
from measures.selectors import version_current
from measures.services import RULE_KEYS, measure_version_create
from qianhai_grants.errors import DomainError
from qianhai_grants.roles import MANAGEMENT
from tests.factories import (
    DEMO_PROJECT_INPUTS,
    CompanyFactory,
    UserFactory,
    company_user,
    member,
    open_call,
    staff_user,
    uscc,
)

PLATFORM = {
    "platform_name": "Alpha Platform",
    "platform_kind": "intelligent_computing_center",
    "authority_consent_ref": "深前海〔2024〕12号",
    "total_investment": "150000000",
    "prior_year_actual_investment": "30000000",
}


@pytest.fixture
def company(catalogue):
    return CompanyFactory(registration_number=uscc(1))


@pytest.fixture
def owner(company):
    return company.created_by


@pytest.fixture
def call(catalogue):
    return open_call("demo-project")


@pytest.fixture
def platform_call(catalogue):
    return open_call("compute-platform")


def refused(call) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value


def create(by, call, company, inputs=None):
    return services.application_create(by=by, call=call, company=company,
                                       inputs=DEMO_PROJECT_INPUTS if inputs is None else inputs)


def new_version(code, **changes):
    measure = Measure.objects.get(code=code)
    current = version_current(measure=measure)
    rules = {key: getattr(current, key) for key in RULE_KEYS}
    return measure_version_create(measure=measure, rules={**rules, **changes},
                                  reason="test: new rules", effective_from=timezone.now())


# ---------------------------------------------------------------- create

def test_a_draft_with_its_estimate(owner, call, company):
    application, result = create(owner, call, company)
    assert application.status == Status.DRAFT
    assert application.inputs == {**DEMO_PROJECT_INPUTS, "actual_investment": "15000000.00"}
    assert application.estimate == result.amount == Decimal("1500000.00")
    assert result.eligible and result.reasons == ()
    assert application.measure_version == version_current(measure=call.measure)
    assert (application.created_by, application.revision, application.subject_key) == (
        owner, 0, "")
    assert not application.events.exists()


def test_the_cap_limits_the_estimate(owner, call, company):
    _, result = create(owner, call, company, {**DEMO_PROJECT_INPUTS,
                                              "actual_investment": "50000000"})
    assert (result.amount, result.capped_by) == (Decimal("2000000.00"), "cap")


@pytest.mark.parametrize("inputs", [{}, None, {"project_name": "只填了名称"}])
def test_an_incomplete_draft_is_saved_without_an_estimate(owner, call, company, inputs):
    application, result = services.application_create(by=owner, call=call, company=company,
                                                       inputs=inputs)
    assert application.estimate is None
    assert not result.eligible and "missing_input" in result.reasons


def test_an_ineligible_draft_has_no_estimate(owner, platform_call, company):
    application, result = create(owner, platform_call, company,
                                 {**PLATFORM, "total_investment": "99999999.99"})
    assert application.estimate is None
    assert result.reasons == ("below_min_total_investment",)


def test_unknown_input_names_are_dropped(owner, call, company):
    application, _ = create(owner, call, company, {**DEMO_PROJECT_INPUTS, "is_admin": True,
                                                   "amount": "99999999"})
    assert set(application.inputs) == set(DEMO_PROJECT_INPUTS)


def test_an_editor_may_create(call, company):
    application, _ = create(member(company, "editor"), call, company)
    assert application.company == company


def test_a_viewer_gets_403(call, company):
    error = refused(lambda: create(member(company, "viewer"), call, company))
    assert (error.status, error.code) == (403, "forbidden")
    assert not Application.objects.exists()


@pytest.mark.parametrize("make_user", [company_user, staff_user,
                                       lambda: UserFactory(roles=[MANAGEMENT]),
                                       lambda: CompanyFactory(registration_number=uscc(2))
                                       .created_by])
def test_a_non_member_gets_404(call, company, make_user):
    error = refused(lambda: create(make_user(), call, company))
    assert (error.status, error.code) == (404, "not_found")
    assert not Application.objects.exists()


@pytest.mark.parametrize(("field", "value"), [
    ("actual_investment", "abc"),
    ("actual_investment", "-1"),
    ("actual_investment", "1.234"),
    ("actual_investment", "NaN"),
    ("actual_investment", True),
    ("actual_investment", [1]),
    ("scene", "moon"),
    ("scene", 3),
    ("completion_date", "31/12/2025"),
    ("completion_date", "2025-02-30"),
    ("project_name", 123),
    ("project_name", "名" * 201),
    ("project_name", "bad\x00byte"),
])
def test_malformed_input_is_400_naming_the_field_and_nothing_is_saved(
        owner, call, company, field, value):
    error = refused(lambda: create(owner, call, company, {**DEMO_PROJECT_INPUTS, field: value}))
    assert (error.status, error.code) == (400, "invalid")
    assert list(error.fields) == [field]
    assert not Application.objects.exists()


def test_every_malformed_field_is_named_at_once(owner, call, company):
    error = refused(lambda: create(owner, call, company, {
        **DEMO_PROJECT_INPUTS, "actual_investment": "x", "scene": "moon",
        "completion_date": "soon"}))
    assert set(error.fields) == {"actual_investment", "scene", "completion_date"}


@pytest.mark.parametrize("inputs", [[], "text", 42])
def test_inputs_that_are_not_an_object_are_400(owner, call, company, inputs):
    error = refused(lambda: create(owner, call, company, inputs))
    assert list(error.fields) == ["inputs"]


def test_a_closed_call_is_refused(owner, company, catalogue):
    now = timezone.now()
    closed = open_call(opens_at=now - timedelta(days=10), closes_at=now - timedelta(seconds=1))
    error = refused(lambda: create(owner, closed, company))
    assert (error.status, error.code) == (409, "call_closed")
    assert not Application.objects.exists()


def test_a_draft_may_be_prepared_before_the_call_opens(owner, company, catalogue):
    now = timezone.now()
    scheduled = open_call(opens_at=now + timedelta(days=1), closes_at=now + timedelta(days=9))
    application, _ = create(owner, scheduled, company)
    assert application.status == Status.DRAFT


# ---------------------------------------------------------------- one active application

def test_one_active_demo_project_per_company_and_call(owner, call, company):
    create(owner, call, company)
    error = refused(lambda: create(owner, call, company, {**DEMO_PROJECT_INPUTS,
                                                          "project_name": "另一个项目"}))
    assert (error.status, error.code) == (409, "duplicate_application")
    assert Application.objects.count() == 1


def test_another_company_or_another_call_is_not_a_duplicate(owner, call, company, catalogue):
    create(owner, call, company)
    other = CompanyFactory(registration_number=uscc(3))
    create(other.created_by, call, other)
    create(owner, open_call(funding_year=2027), company)
    assert Application.objects.count() == 3


@pytest.mark.parametrize("end", [Status.WITHDRAWN, Status.REJECTED, Status.DECLINED])
def test_an_ended_application_frees_the_slot(owner, call, company, end):
    first, _ = create(owner, call, company)
    Application.objects.filter(pk=first.pk).update(status=end)
    second, _ = create(owner, call, company)
    assert second.pk != first.pk


def test_a_withdrawn_draft_frees_the_slot(owner, call, company):
    first, _ = create(owner, call, company)
    services.application_withdraw(by=owner, application=first)
    second, _ = create(owner, call, company)
    assert Application.objects.exclude(status=Status.WITHDRAWN).get() == second


@pytest.mark.parametrize("active", [Status.SUBMITTED, Status.RETURNED, Status.ACCEPTED,
                                    Status.IN_REVIEW, Status.REVIEWED, Status.PROPOSED,
                                    Status.IN_PUBLICITY, Status.AWARDED, Status.RESERVE])
def test_an_application_in_progress_keeps_the_slot(owner, call, company, active):
    first, _ = create(owner, call, company)
    Application.objects.filter(pk=first.pk).update(status=active)
    assert refused(lambda: create(owner, call, company)).code == "duplicate_application"


@pytest.mark.parametrize("second_name", ["alphaplatform", "ALPHA PLATFORM", " Alpha   Platform ",
                                         "alpha\tplatform", "Ａｌｐｈａ Ｐｌａｔｆｏｒｍ"])
def test_the_same_platform_written_differently_is_a_duplicate(owner, platform_call, company,
                                                              second_name):
    first, _ = create(owner, platform_call, company, PLATFORM)
    assert first.subject_key == "alphaplatform"
    error = refused(lambda: create(owner, platform_call, company,
                                   {**PLATFORM, "platform_name": second_name}))
    assert (error.status, error.code) == (409, "duplicate_application")
    assert Application.objects.count() == 1


def test_different_platforms_may_apply_in_one_call(owner, platform_call, company):
    create(owner, platform_call, company, PLATFORM)
    second, _ = create(owner, platform_call, company, {**PLATFORM, "platform_name": "Beta 平台"})
    assert second.subject_key == "beta平台"
    assert Application.objects.count() == 2


def test_the_platform_of_another_company_is_another_platform(owner, platform_call, company):
    create(owner, platform_call, company, PLATFORM)
    other = CompanyFactory(registration_number=uscc(4))
    create(other.created_by, platform_call, other, PLATFORM)
    assert Application.objects.count() == 2


def test_cumulative_cap_counts_the_applicants_own_platform_only(owner, company, catalogue):
    past = open_call("compute-platform", funding_year=2025)
    awarded, _ = create(owner, past, company, PLATFORM)
    Application.objects.filter(pk=awarded.pk).update(status=Status.AWARDED,
                                                     amount=Decimal("19000000.00"))
    this_year = open_call("compute-platform", funding_year=2026)
    _, mine = create(owner, this_year, company, PLATFORM)
    assert (mine.amount, mine.capped_by) == (Decimal("1000000.00"), "cumulative_cap")
    other = CompanyFactory(registration_number=uscc(5))
    _, theirs = create(other.created_by, this_year, other, PLATFORM)
    assert (theirs.amount, theirs.capped_by) == (Decimal("1500000.00"), None)


def test_a_used_up_platform_is_ineligible(owner, company, catalogue):
    past = open_call("compute-platform", funding_year=2025)
    awarded, _ = create(owner, past, company, PLATFORM)
    Application.objects.filter(pk=awarded.pk).update(status=Status.AWARDED,
                                                     amount=Decimal("20000000.00"))
    application, result = create(owner, open_call("compute-platform"), company,
                                 {**PLATFORM, "platform_name": "alpha platform"})
    assert result.reasons == ("cumulative_cap_reached",)
    assert application.estimate is None


def test_a_model_awarded_once_is_not_awarded_again(owner, company, catalogue):
    cases = [{"client_name": f"客户{i}", "sector": "finance", "contract_date": "2024-03-01",
              "summary": "智能风控"} for i in range(10)]
    model = {"model_name": "QH-LLM", "self_developed": True, "publicly_released": True,
             "release_date": "2024-01-10", "market_cases": cases}
    first, result = create(owner, open_call("industry-llm", funding_year=2025), company, model)
    assert result.amount == Decimal("1000000.00")
    Application.objects.filter(pk=first.pk).update(status=Status.AWARDED, amount=result.amount)
    _, again = create(owner, open_call("industry-llm"), company, {**model, "model_name": "qh-llm"})
    assert again.reasons == ("already_awarded_once",)


# ---------------------------------------------------------------- update

@pytest.fixture
def draft(owner, call, company):
    return create(owner, call, company)[0]


def test_update_saves_inputs_and_estimate(owner, draft):
    application, result = services.application_update(
        by=owner, application=draft, inputs={**DEMO_PROJECT_INPUTS, "actual_investment": "8000000"})
    assert application.inputs["actual_investment"] == "8000000.00"
    assert application.estimate == result.amount == Decimal("800000.00")
    draft.refresh_from_db()
    assert draft.estimate == Decimal("800000.00")


def test_update_replaces_the_inputs(owner, draft):
    application, result = services.application_update(by=owner, application=draft,
                                                      inputs={"project_name": "新名称"})
    assert application.inputs == {"project_name": "新名称"}
    assert application.estimate is None and "missing_input" in result.reasons


@pytest.mark.parametrize(("field", "value"), [("actual_investment", "lots"),
                                              ("scene", "mars"),
                                              ("completion_date", "2025-13-01")])
def test_malformed_update_is_400_and_the_previous_inputs_stay(owner, draft, field, value):
    before = Application.objects.values().get(pk=draft.pk)
    error = refused(lambda: services.application_update(
        by=owner, application=draft, inputs={**DEMO_PROJECT_INPUTS, "project_name": "改过的",
                                             field: value}))
    assert (error.status, list(error.fields)) == (400, [field])
    assert Application.objects.values().get(pk=draft.pk) == before


def test_a_viewer_cannot_update(draft, company):
    error = refused(lambda: services.application_update(by=member(company, "viewer"),
                                                        application=draft, inputs={}))
    assert error.status == 403
    assert Application.objects.get(pk=draft.pk).inputs["project_name"] == "前海港口智能调度示范"


def test_a_stranger_gets_404_on_update(draft):
    error = refused(lambda: services.application_update(by=staff_user(), application=draft,
                                                        inputs={}))
    assert error.status == 404


@pytest.mark.parametrize("status", [Status.SUBMITTED, Status.ACCEPTED, Status.AWARDED,
                                    Status.WITHDRAWN, Status.REJECTED])
def test_only_drafts_and_returned_applications_are_edited(owner, draft, status):
    Application.objects.filter(pk=draft.pk).update(status=status)
    error = refused(lambda: services.application_update(by=owner, application=draft,
                                                        inputs=DEMO_PROJECT_INPUTS))
    assert (error.status, error.code) == (409, "invalid_transition")


def test_a_returned_application_is_edited(owner, draft):
    Application.objects.filter(pk=draft.pk).update(status=Status.RETURNED)
    application, _ = services.application_update(
        by=owner, application=draft, inputs={**DEMO_PROJECT_INPUTS, "scene": "airport"})
    assert application.inputs["scene"] == "airport"
    assert application.status == Status.RETURNED


def test_a_draft_follows_the_catalogue_version_in_force(owner, draft):
    old = draft.measure_version
    newer = new_version("demo-project", rate=Decimal("0.12"))
    application, result = services.application_update(by=owner, application=draft,
                                                      inputs=DEMO_PROJECT_INPUTS)
    assert application.measure_version == newer != old
    assert result.amount == Decimal("1800000.00")


def test_a_draft_is_checked_by_the_fields_of_the_version_in_force(owner, draft):
    version = draft.measure_version
    fields = [f if f["name"] != "scene" else {**f, "choices": [
        c for c in f["choices"] if c["value"] != "port"]} for f in version.fields]
    new_version("demo-project", fields=fields)
    error = refused(lambda: services.application_update(by=owner, application=draft,
                                                        inputs=DEMO_PROJECT_INPUTS))
    assert list(error.fields) == ["scene"]


def test_a_returned_application_keeps_the_version_it_was_submitted_under(owner, draft):
    old = draft.measure_version
    Application.objects.filter(pk=draft.pk).update(status=Status.RETURNED)
    new_version("demo-project", rate=Decimal("0.12"))
    application, result = services.application_update(by=owner, application=draft,
                                                      inputs=DEMO_PROJECT_INPUTS)
    assert application.measure_version == old
    assert result.amount == Decimal("1500000.00")


def test_renaming_onto_another_active_platform_is_409_and_changes_nothing(
        owner, platform_call, company):
    create(owner, platform_call, company, PLATFORM)
    beta, _ = create(owner, platform_call, company, {**PLATFORM, "platform_name": "Beta"})
    error = refused(lambda: services.application_update(
        by=owner, application=beta, inputs={**PLATFORM, "platform_name": "ALPHA platform"}))
    assert error.code == "duplicate_application"
    beta.refresh_from_db()
    assert (beta.subject_key, beta.inputs["platform_name"]) == ("beta", "Beta")


def test_an_application_may_keep_or_respell_its_own_platform(owner, platform_call, company):
    application, _ = create(owner, platform_call, company, PLATFORM)
    application, _ = services.application_update(
        by=owner, application=application, inputs={**PLATFORM, "platform_name": "ALPHA  Platform"})
    assert application.subject_key == "alphaplatform"
