"""Decisions within quotas and caps: approve, decline, rank-and-fill, the reserve list, release."""

from decimal import Decimal

import pytest

from applications import services as portal
from applications.models import Application, Status, StatusEvent
from qianhai_grants.errors import DomainError
from reviews.models import Assessment, AuditEntry, Award, QuotaCounter, SubjectLedger
from reviews.services import decisions
from tests.factories import CompanyFactory, application_in, company_user, open_call, staff_user

PLATFORM = {"platform_name": "前海智算中心", "platform_kind": "intelligent_computing_center",
            "authority_consent_ref": "深前海函〔2025〕12号", "total_investment": "300000000.00",
            "prior_year_actual_investment": "120000000.00"}
MODEL = {"model_name": "Qianhai-LLM", "self_developed": True, "publicly_released": True,
         "release_date": "2025-06-01",
         "market_cases": [{"client_name": f"客户{i}", "sector": "finance",
                           "contract_date": "2025-07-01", "summary": "风控"} for i in range(10)]}


def reviewed(call, score="80.00", **kwargs) -> Application:
    application = application_in(Status.REVIEWED, call=call, **kwargs)
    Assessment.objects.create(application=application, score=Decimal(score), reviews_count=3)
    return application


def refused(action) -> DomainError:
    with pytest.raises(DomainError) as caught:
        action()
    return caught.value


def status_of(application) -> str:
    return Application.objects.get(pk=application.pk).status


# ---------------------------------------------------------------- approve

def test_approval_proposes_with_the_engines_amount_and_keeps_the_rules_and_trace(demo_call,
                                                                                 staff):
    application = reviewed(demo_call)

    proposed = decisions.application_approve(by=staff, application=application)

    assert proposed.status == Status.PROPOSED
    assert proposed.amount == Decimal("1500000.00")  # 10% x 15,000,000.00 (clause 3.2)
    award = Award.objects.get(application=application)
    assert award.amount == Decimal("1500000.00")
    assert award.parameters["rate"] == "0.1" and award.parameters["per_award_cap"] == \
        "2000000.00"
    assert award.inputs == application.inputs
    assert [step["step"] for step in award.trace][-1] == "round"
    assert award.score == Decimal("80.00") and award.decided_by == staff
    assert QuotaCounter.objects.get(measure=demo_call.measure, funding_year=2026).used == 1
    assert StatusEvent.objects.get(application=application).to_status == Status.PROPOSED
    assert AuditEntry.objects.filter(action="approved", application=application).exists()


def test_the_eleventh_demo_project_of_a_year_is_refused_and_nothing_changes(demo_call, staff):
    applications = [reviewed(demo_call) for _ in range(11)]
    for application in applications[:10]:
        decisions.application_approve(by=staff, application=application)

    error = refused(lambda: decisions.application_approve(by=staff,
                                                          application=applications[10]))

    assert (error.status, error.code) == (409, "annual_quota_full")
    assert status_of(applications[10]) == Status.REVIEWED
    assert not Award.objects.filter(application=applications[10]).exists()
    assert QuotaCounter.objects.get(measure=demo_call.measure, funding_year=2026).used == 10


def test_the_quota_counts_per_funding_year(catalogue, staff):
    call_2026 = open_call("demo-project", funding_year=2026)
    call_2027 = open_call("demo-project", funding_year=2027)
    for _ in range(10):
        decisions.application_approve(by=staff, application=reviewed(call_2026))

    assert decisions.application_approve(by=staff, application=reviewed(call_2027)).status == \
        Status.PROPOSED


def test_a_quota_counter_made_late_counts_the_decisions_already_held(demo_call, staff):
    for _ in range(9):
        application_in(Status.AWARDED, call=demo_call)
    decisions.application_approve(by=staff, application=reviewed(demo_call))

    assert refused(lambda: decisions.application_approve(
        by=staff, application=reviewed(demo_call))).code == "annual_quota_full"


def test_a_platform_takes_only_what_is_left_of_its_cumulative_cap(catalogue, staff):
    company = CompanyFactory()
    first = reviewed(open_call("compute-platform", funding_year=2025), company=company,
                     inputs={**PLATFORM, "prior_year_actual_investment": "340000000.00"})
    decisions.application_approve(by=staff, application=first)
    assert Application.objects.get(pk=first.pk).amount == Decimal("17000000.00")  # 5% x 340M

    second = reviewed(open_call("compute-platform", funding_year=2026), company=company,
                      inputs=PLATFORM)  # 5% x 120M = 6M, but only 3M is left of the 20M
    decisions.application_approve(by=staff, application=second)

    award = Award.objects.get(application=second)
    assert (award.amount, award.capped_by) == (Decimal("3000000.00"), "cumulative_cap")
    ledger = SubjectLedger.objects.get(company=company, subject_key="前海智算中心")
    assert (ledger.committed, ledger.awards) == (Decimal("20000000.00"), 2)

    third = reviewed(open_call("compute-platform", funding_year=2027), company=company,
                     inputs=PLATFORM)
    error = refused(lambda: decisions.application_approve(by=staff, application=third))
    assert (error.status, error.code) == (409, "cumulative_cap_reached")


def test_another_companys_platform_of_the_same_name_has_its_own_cap(catalogue, staff):
    call = open_call("compute-platform")
    for _ in range(2):
        decisions.application_approve(by=staff, application=reviewed(
            call, inputs={**PLATFORM, "prior_year_actual_investment": "400000000.00"}))

    assert SubjectLedger.objects.filter(committed=Decimal("20000000.00")).count() == 2


def test_an_industry_model_is_awarded_once(catalogue, staff):
    company = CompanyFactory()
    first = reviewed(open_call("industry-llm", funding_year=2025), company=company, inputs=MODEL)
    assert decisions.application_approve(by=staff, application=first).amount == \
        Decimal("1000000.00")  # clause 3.1: a one-time 1,000,000.00

    again = reviewed(open_call("industry-llm", funding_year=2026), company=company,
                     inputs={**MODEL, "model_name": " qianhai-llm "})
    error = refused(lambda: decisions.application_approve(by=staff, application=again))

    assert (error.status, error.code) == (409, "already_awarded_once")
    assert status_of(again) == Status.REVIEWED


def test_an_up_to_cap_award_follows_the_reviewers_recommendation_or_staffs_amount(catalogue,
                                                                                   staff):
    call = open_call("core-algorithm")
    inputs = {"project_title": "多模态推理", "challenge_ref": "JB-2026-01",
              "requested_amount": "4000000.00", "total_budget": "9000000.00"}
    recommended = reviewed(call, inputs=inputs)
    Assessment.objects.filter(application=recommended).update(
        recommended_amount=Decimal("3500000.00"))
    decisions.application_approve(by=staff, application=recommended)
    award = Award.objects.get(application=recommended)
    assert award.amount == Decimal("3500000.00")
    assert award.trace[-1] == {"step": "decided", "amount": "3500000.00", "before": "4000000.00"}

    set_by_staff = reviewed(call, inputs=inputs)
    decisions.application_approve(by=staff, application=set_by_staff, amount="2500000")
    assert Award.objects.get(application=set_by_staff).amount == Decimal("2500000.00")

    higher = reviewed(call, inputs=inputs)
    decisions.application_approve(by=staff, application=higher, amount="9000000")
    assert Award.objects.get(application=higher).amount == Decimal("4000000.00")  # never more


@pytest.mark.parametrize("amount", ["-1", "abc", "1.234", True])
def test_a_bad_amount_is_a_400_naming_the_field(demo_call, staff, amount):
    application = reviewed(demo_call)
    error = refused(lambda: decisions.application_approve(by=staff, application=application,
                                                          amount=amount))
    assert (error.status, list(error.fields)) == (400, ["amount"])
    assert status_of(application) == Status.REVIEWED


@pytest.mark.parametrize("status", [Status.SUBMITTED, Status.IN_REVIEW, Status.PROPOSED,
                                    Status.DECLINED, Status.WITHDRAWN])
def test_only_reviewed_or_reserve_applications_are_decided(demo_call, staff, status):
    application = application_in(status, call=demo_call)
    error = refused(lambda: decisions.application_approve(by=staff, application=application))
    assert (error.status, error.code) == (409, "invalid_transition")
    assert not QuotaCounter.objects.filter(used__gt=0).exists()


@pytest.mark.parametrize("who", ["company", "reviewer", "management"])
def test_only_staff_decide(demo_call, who):
    from qianhai_grants.roles import MANAGEMENT, REVIEWER
    from tests.factories import UserFactory

    user = {"company": company_user, "reviewer": lambda: UserFactory(roles=[REVIEWER]),
            "management": lambda: UserFactory(roles=[MANAGEMENT])}[who]()
    application = reviewed(demo_call)
    assert refused(lambda: decisions.application_approve(by=user, application=application)
                   ).status == 403
    assert refused(lambda: decisions.application_decline(by=user, application=application,
                                                         reason="x")).status == 403


def test_an_ineligible_application_is_refused_with_its_reason(catalogue, staff):
    application = reviewed(open_call("industry-llm"),
                           inputs={**MODEL, "market_cases": MODEL["market_cases"][:9]})
    error = refused(lambda: decisions.application_approve(by=staff, application=application))
    assert (error.status, error.code) == (409, "too_few_market_cases")


# ---------------------------------------------------------------- decline, rank-and-fill

def test_decline_needs_a_reason(demo_call, staff):
    application = reviewed(demo_call)
    error = refused(lambda: decisions.application_decline(by=staff, application=application,
                                                          reason="  "))
    assert (error.status, list(error.fields)) == (400, ["reason"])
    declined = decisions.application_decline(by=staff, application=application,
                                             reason="预算依据不足")
    assert declined.status == Status.DECLINED
    assert StatusEvent.objects.get(application=application).reason == "预算依据不足"


def test_rank_and_fill_proposes_the_top_ten_and_keeps_the_rest_in_reserve(demo_call, staff):
    ranked = [reviewed(demo_call, score=f"{90 - i}.00") for i in range(13)]

    outcome = decisions.call_rank_and_fill(by=staff, call=demo_call, reserve=2)

    assert outcome["proposed"] == [a.pk for a in ranked[:10]]
    assert outcome["reserve"] == [a.pk for a in ranked[10:12]]
    assert outcome["declined"] == [ranked[12].pk]
    assert [status_of(a) for a in ranked] == [Status.PROPOSED] * 10 + [Status.RESERVE] * 2 + [
        Status.DECLINED]
    assert decisions.quota_use(measure=demo_call.measure, funding_year=2026, quota=10) == {
        "quota": 10, "used": 10, "left": 0}


def test_rank_and_fill_declines_what_the_rules_refuse_and_goes_on(catalogue, staff):
    call = open_call("industry-llm")
    company = CompanyFactory()
    application_in(Status.AWARDED, call=open_call("industry-llm", funding_year=2025),
                   company=company, inputs=MODEL)
    already = reviewed(call, score="95.00", company=company, inputs=MODEL)
    fresh = reviewed(call, score="70.00", inputs=MODEL)

    outcome = decisions.call_rank_and_fill(by=staff, call=call, count=5)

    assert outcome == {"proposed": [fresh.pk], "reserve": [], "declined": [already.pk]}
    assert StatusEvent.objects.get(application=already).to_status == Status.DECLINED


def test_rank_and_fill_without_a_quota_needs_a_count(catalogue, staff):
    call = open_call("core-algorithm")
    error = refused(lambda: decisions.call_rank_and_fill(by=staff, call=call))
    assert (error.status, list(error.fields)) == (400, ["count"])
    for bad in (-1, "3", True):
        assert list(refused(lambda bad=bad: decisions.call_rank_and_fill(
            by=staff, call=call, count=bad)).fields) == ["count"]


# ---------------------------------------------------------------- the reserve and release

def test_a_withdrawn_proposal_frees_its_slot_for_the_first_reserve(demo_call, staff):
    ranked = [reviewed(demo_call, score=f"{90 - i}.00") for i in range(12)]
    decisions.call_rank_and_fill(by=staff, call=demo_call)
    assert refused(lambda: decisions.call_promote_reserve(by=staff, call=demo_call)).code == \
        "annual_quota_full"

    gives_up = ranked[3]
    portal.application_withdraw(by=gives_up.company.created_by, application=gives_up,
                                reason="项目终止")
    assert Award.objects.get(application=gives_up).released_at is not None
    promoted = decisions.call_promote_reserve(by=staff, call=demo_call)

    assert promoted.pk == ranked[10].pk and promoted.status == Status.PROPOSED
    assert status_of(ranked[11]) == Status.RESERVE
    assert QuotaCounter.objects.get(measure=demo_call.measure, funding_year=2026).used == 10


def test_a_withdrawn_platform_proposal_gives_its_amount_back_to_the_ledger(catalogue, staff):
    company = CompanyFactory()
    application = reviewed(open_call("compute-platform"), company=company, inputs=PLATFORM)
    decisions.application_approve(by=staff, application=application)
    portal.application_withdraw(by=company.created_by, application=application)

    ledger = SubjectLedger.objects.get(company=company)
    assert (ledger.committed, ledger.awards) == (Decimal("0.00"), 0)


def test_promoting_from_an_empty_reserve_is_a_409(demo_call, staff):
    assert refused(lambda: decisions.call_promote_reserve(by=staff, call=demo_call)).code == \
        "reserve_empty"


def test_release_is_done_once(demo_call, staff):
    application = reviewed(demo_call)
    decisions.application_approve(by=staff, application=application)
    decisions.award_release(by=staff, application=application)
    decisions.award_release(by=staff, application=application)

    assert QuotaCounter.objects.get(measure=demo_call.measure, funding_year=2026).used == 0
    assert AuditEntry.objects.filter(action="award_released").count() == 1


def test_a_catalogue_edit_of_the_quota_applies_from_the_next_decision(demo_call):
    from measures.services import RULE_KEYS, measure_version_create

    staff = staff_user()
    for _ in range(3):
        decisions.application_approve(by=staff, application=reviewed(demo_call))
    current = demo_call.measure.versions.order_by("-number").first()
    rules = {key: getattr(current, key) for key in RULE_KEYS} | {"annual_quota": 3}
    edited = measure_version_create(measure=demo_call.measure, rules=rules, by=staff,
                                    reason="年度指标调整")
    late = reviewed(demo_call)
    Application.objects.filter(pk=late.pk).update(measure_version=edited)

    assert refused(lambda: decisions.application_approve(
        by=staff, application=late)).code == "annual_quota_full"
    assert QuotaCounter.objects.get(measure=demo_call.measure, funding_year=2026).quota == 10
