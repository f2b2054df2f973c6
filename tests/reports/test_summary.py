"""The dashboard's figures (reports.selectors.report_summary) on a small dataset whose every
figure is known: the funnel, statuses, awards against the quota and caps, platforms against
their cumulative cap, the reserve list, median days per stage, reviewer workload and
turnaround, objections; filters narrow them; the number of queries is the same at 10 and at
1,000 applications."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from applications.models import Application, Status, StatusEvent
from qianhai_grants.errors import DomainError
from qianhai_grants.roles import MANAGEMENT, can_read_everything
from reports.filters import ReportFilter
from reports.selectors import report_summary
from reviews.models import (
    Assessment,
    Award,
    Objection,
    ObjectionState,
    Publicity,
    QuotaCounter,
    Review,
    ReviewState,
    SubjectLedger,
)
from reviews.services import decisions
from tests.factories import (
    CompanyFactory,
    UserFactory,
    application_in,
    company_user,
    open_call,
    reviewer_user,
    staff_user,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PLATFORM = {"platform_name": "前海智算中心", "platform_kind": "intelligent_computing_center",
            "authority_consent_ref": "深前海函〔2025〕12号", "total_investment": "300000000.00",
            "prior_year_actual_investment": "120000000.00"}
MODEL = {"model_name": "Qianhai-LLM", "self_developed": True, "publicly_released": True,
         "release_date": "2025-06-01",
         "market_cases": [{"client_name": f"客户{i}", "sector": "finance",
                           "contract_date": "2025-07-01", "summary": "风控"} for i in range(10)]}
S, RT, A, IR, RV, RS, P, IP, AW, RJ, W = (
    Status.SUBMITTED, Status.RETURNED, Status.ACCEPTED, Status.IN_REVIEW, Status.REVIEWED,
    Status.RESERVE, Status.PROPOSED, Status.IN_PUBLICITY, Status.AWARDED, Status.REJECTED,
    Status.WITHDRAWN)


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def walk(application, *steps) -> Application:
    """Status events (status, day) from T0, as the transitions would have written them; the
    application ends in the last status."""
    before = Status.DRAFT
    for status, day in steps:
        StatusEvent.objects.create(application=application, from_status=before, to_status=status,
                                   at=at(day))
        before = status
    Application.objects.filter(pk=application.pk).update(status=before)
    application.status = before
    return application


def award(application, amount, *, by, capped_by="", paid="0.00", released=False) -> Award:
    version = application.measure_version
    return Award.objects.create(
        application=application, measure_version=version, amount=Decimal(amount),
        capped_by=capped_by, parameters=version.parameters(), inputs=application.inputs,
        trace=[], decided_by=by, paid=Decimal(paid),
        released_at=at(15) if released else None)


def review(application, reviewer, assigned: float, submitted: float | None = None,
           state=ReviewState.ASSIGNED) -> Review:
    if submitted is not None:
        state = ReviewState.SUBMITTED
    return Review.objects.create(
        application=application, reviewer=reviewer, state=state, assigned_at=at(assigned),
        submitted_at=at(submitted) if submitted is not None else None)


@dataclass
class World:
    staff: object
    management: object
    demo_2026: object
    demo_2025: object
    platform_2026: object
    algorithm_2026: object
    apps: dict = field(default_factory=dict)
    reviewers: tuple = ()


@pytest.fixture
def world(catalogue) -> World:
    staff = staff_user()
    w = World(staff=staff, management=UserFactory(roles=[MANAGEMENT]),
              demo_2026=open_call("demo-project", funding_year=2026),
              demo_2025=open_call("demo-project", funding_year=2025),
              platform_2026=open_call("compute-platform", funding_year=2026),
              algorithm_2026=open_call("core-algorithm", funding_year=2026))
    call = w.demo_2026

    def app(name, *steps, **kwargs):
        application = application_in(Status.SUBMITTED, call=kwargs.pop("call", call), **kwargs)
        w.apps[name] = walk(application, *steps)
        return w.apps[name]

    a1 = app("a1", (S, 0), (A, 2), (IR, 4), (RV, 10), (P, 12), (IP, 13), (AW, 20))
    a2 = app("a2", (S, 0), (A, 4), (IR, 5), (RV, 9), (P, 12), (IP, 13))
    a3 = app("a3", (S, 0), (RT, 1), (S, 3), (A, 6), (IR, 7), (RV, 12), (RS, 12))
    app("a4", (S, 0), (RJ, 5))
    a5 = app("a5", (S, 0), (A, 1), (IR, 2), (RV, 6), (P, 8), (IP, 9), (RJ, 15))
    # Never seen by staff: a draft, and a draft withdrawn before it was ever submitted.
    w.apps["a6"] = application_in(Status.DRAFT, call=call)
    a7 = application_in(Status.DRAFT, call=call)
    w.apps["a7"] = walk(a7, (W, 1))
    app("a8", (S, 0))
    a9 = app("a9", (S, 0), (A, 1), (IR, 2))
    a10 = app("a10", (S, 0), (A, 1), (IR, 2), (W, 4))
    b1 = app("b1", (S, 0), (A, 2), (IR, 3), (RV, 6), (P, 7), (IP, 8), (AW, 15),
             call=w.demo_2025)
    c1 = app("c1", (S, 0), (A, 1), (IR, 2), (RV, 4), (P, 5), call=w.platform_2026,
             inputs=PLATFORM)

    award(a1, "1500000.00", by=staff, paid="500000.00")
    award(a2, "2000000.00", by=staff, capped_by="cap")
    award(a5, "1800000.00", by=staff, released=True)
    award(b1, "1000000.00", by=staff)
    award(c1, "6000000.00", by=staff, capped_by="cumulative_cap")
    # The 2026 counter, as the approvals left it; 2025 has none (decided before counters).
    QuotaCounter.objects.create(measure=call.measure, funding_year=2026, quota=10, used=2)

    platform = w.platform_2026.measure
    SubjectLedger.objects.create(measure=platform, company=c1.company, subject_key=c1.subject_key,
                                 committed=Decimal("18000000.00"), awards=2,
                                 cumulative_cap=Decimal("20000000.00"))
    # A platform funded in earlier years, with no application in 2026.
    SubjectLedger.objects.create(measure=platform, company=CompanyFactory(),
                                 subject_key="前海二号算力平台", committed=Decimal("20000000.00"),
                                 awards=3, cumulative_cap=Decimal("20000000.00"))
    # A one-time award's ledger (industry-llm) has no cumulative cap: not a platform.
    llm = open_call("industry-llm", funding_year=2024)
    SubjectLedger.objects.create(measure=llm.measure, company=CompanyFactory(),
                                 subject_key="qianhai-llm", committed=Decimal("1000000.00"),
                                 awards=1, once=True)
    llm.delete()

    r1 = reviewer_user(name="评审专家甲")
    r2 = reviewer_user(name="评审专家乙")
    w.reviewers = (r1, r2)
    review(a1, r1, 4, 6)
    review(a2, r1, 5, 9)
    review(a3, r1, 7, 8)
    review(a5, r1, 2, state=ReviewState.RECUSED)
    review(a1, r2, 4, 7.5)
    review(a9, r2, 2)      # open: its application is in review
    review(a10, r2, 2)     # assigned, but its application was withdrawn

    notice = Publicity.objects.create(call=call, starts_on=date(2026, 3, 16),
                                      ends_on=date(2026, 3, 20), opened_by=staff)
    for application, state in ((a5, ObjectionState.UPHELD), (a2, ObjectionState.OPEN),
                               (a1, ObjectionState.DISMISSED)):
        Objection.objects.create(publicity=notice, application=application, name="王小明",
                                 organization="某公司", contact="13800000000", text="异议",
                                 state=state)
    return w


def summary(world, **filters):
    return report_summary(user=world.staff, filter=ReportFilter(**filters))


def group(result, code, year):
    found = [g for g in result["groups"]
             if g["measure"].code == code and g["funding_year"] == year]
    assert len(found) == 1, [(g["measure"].code, g["funding_year"]) for g in result["groups"]]
    return found[0]


def money(text: str) -> Decimal:
    return Decimal(text)


# ---------------------------------------------------------------- figures

def test_one_row_per_funding_year_and_measure_newest_year_first(world):
    result = summary(world)

    assert [(g["funding_year"], g["measure"].code) for g in result["groups"]] == [
        (2026, "compute-platform"), (2026, "core-algorithm"), (2026, "demo-project"),
        (2025, "demo-project")]


def test_the_funnel_counts_applications_that_ever_entered_each_stage(world):
    demo = group(summary(world), "demo-project", 2026)

    # a3 was submitted twice (returned for changes) and counts once; a5 was proposed before an
    # objection was upheld and counts as proposed; drafts never count.
    assert demo["funnel"] == {"submitted": 8, "accepted": 6, "reviewed": 4, "proposed": 3,
                              "awarded": 1}


def test_the_funnel_may_count_events_because_no_stage_is_entered_twice():
    """reports.selectors._funnel counts events, not distinct applications: right only while
    no stage of the funnel can be entered again once left (but `submitted`, entered again
    from `returned`; its first entry is from `draft`, which is never entered)."""
    from applications.transitions import TRANSITIONS

    edges = {}
    for before, after, _role in TRANSITIONS:
        edges.setdefault(before, set()).add(after)

    def reachable(start):
        seen, todo = set(), [start]
        while todo:
            for after in edges.get(todo.pop(), ()):
                if after not in seen:
                    seen.add(after)
                    todo.append(after)
        return seen

    for stage in (A, RV, P, AW):
        assert stage not in reachable(stage), stage
    assert {before for before, after, _role in TRANSITIONS if after == S} == {
        Status.DRAFT, RT}
    assert Status.DRAFT not in {after for _before, after, _role in TRANSITIONS}


def test_current_statuses_leave_out_what_staff_never_see(world):
    result = summary(world)
    demo = group(result, "demo-project", 2026)

    assert demo["statuses"] == {
        "submitted": 1, "returned": 0, "accepted": 0, "in_review": 1, "reviewed": 0,
        "proposed": 0, "in_publicity": 1, "awarded": 1, "rejected": 2, "declined": 0,
        "reserve": 1, "withdrawn": 1}
    assert "draft" not in demo["statuses"]
    assert demo["applications"] == 8
    assert demo["reserve"] == 1
    assert result["totals"]["applications"] == 10
    assert result["totals"]["funnel"] == {"submitted": 10, "accepted": 8, "reviewed": 6,
                                          "proposed": 5, "awarded": 2}


def test_a_call_without_applications_is_a_row_of_zeros(world):
    algorithm = group(summary(world), "core-algorithm", 2026)

    assert algorithm["applications"] == 0
    assert set(algorithm["funnel"].values()) == {0}
    assert algorithm["awards"]["count"] == 0 and algorithm["awards"]["amount"] == Decimal("0")
    assert algorithm["caps"]["per_award_cap"] == money("5000000.00")


def test_awards_leave_out_released_ones_and_count_against_the_annual_quota(world):
    demo = group(summary(world), "demo-project", 2026)

    assert demo["awards"] == {
        "count": 2, "amount": money("3500000.00"), "final_count": 1,
        "final_amount": money("1500000.00"), "paid": money("500000.00"),
        "largest": money("2000000.00"), "capped": 1, "released": 1}
    # MEASURES.md 3.2: at most 10 demonstration projects a funding year.
    assert demo["quota"] == {"quota": 10, "used": 2, "left": 8}
    assert demo["caps"] == {"per_award_cap": money("2000000.00"), "cumulative_cap": None,
                            "annual_ceiling": money("20000000.00")}


def test_a_year_without_a_quota_counter_counts_its_standing_awards(world):
    demo_2025 = group(summary(world), "demo-project", 2025)

    assert demo_2025["quota"] == {"quota": 10, "used": 1, "left": 9}
    assert demo_2025["awards"]["amount"] == money("1000000.00")


def test_a_measure_without_a_quota_shows_none(world):
    platform = group(summary(world), "compute-platform", 2026)

    assert platform["quota"] == {"quota": None, "used": 1, "left": None}
    assert platform["caps"]["cumulative_cap"] == money("20000000.00")
    assert platform["awards"]["amount"] == money("6000000.00")


def test_totals_add_up_the_rows(world):
    totals = summary(world)["totals"]

    assert totals["awards"]["count"] == 4
    assert totals["awards"]["amount"] == money("10500000.00")
    assert totals["awards"]["final_amount"] == money("2500000.00")
    assert totals["reserve"] == 1
    assert totals["objections"] == {"total": 3, "open": 1, "upheld": 1, "dismissed": 1}


def test_platforms_against_their_cumulative_cap_fullest_first(world):
    platforms = summary(world)["platforms"]

    # MEASURES.md 2.1: each platform at most 20,000,000.00 over all years.
    assert (platforms["count"], platforms["committed"], platforms["at_cap"]) == (
        2, money("38000000.00"), 1)
    rows = [(r["subject"], r["committed"], r["cap"], r["left"], r["percent"])
            for r in platforms["rows"]]
    assert rows == [
        ("前海二号算力平台", money("20000000.00"), money("20000000.00"), money("0.00"),
         Decimal("100.0")),
        (world.apps["c1"].subject_key, money("18000000.00"), money("20000000.00"),
         money("2000000.00"), Decimal("90.0")),
    ]
    assert platforms["rows"][1]["company"]["name"] == world.apps["c1"].company.name


def test_median_days_in_each_stage(world):
    stages = {row["status"]: (row["median_days"], row["count"])
              for row in summary(world)["stages"]}

    assert stages == {
        "submitted": (Decimal("1.5"), 10),   # 1,1,1,1,1,2,2,3,4,5
        "returned": (Decimal("2.0"), 1),
        "accepted": (Decimal("1.0"), 8),
        "in_review": (Decimal("4.0"), 7),    # 2,2,3,4,4,5,6
        "reviewed": (Decimal("1.5"), 6),     # 0,1,1,2,2,3
        "reserve": (None, 0),                # still waiting: not counted
        "proposed": (Decimal("1.0"), 4),
        "in_publicity": (Decimal("7.0"), 3),  # 6,7,7
    }


def test_reviewer_workload_and_median_turnaround(world):
    r1, r2 = world.reviewers
    rows = [(r["reviewer"]["id"], r["reviewer"]["name"], r["assigned"], r["submitted"],
             r["open"], r["recused"], r["median_turnaround_days"])
            for r in summary(world)["reviewers"]]

    assert rows == [
        (r1.pk, "评审专家甲", 4, 3, 0, 1, Decimal("2.0")),   # 2, 4, 1 days
        (r2.pk, "评审专家乙", 3, 1, 1, 0, Decimal("3.5")),
    ]


def test_objections_by_outcome(world):
    demo = group(summary(world), "demo-project", 2026)

    assert demo["objections"] == {"total": 3, "open": 1, "upheld": 1, "dismissed": 1}


# ---------------------------------------------------------------- filters

def test_the_year_narrows_every_section(world):
    result = summary(world, year=2026)

    assert {g["funding_year"] for g in result["groups"]} == {2026}
    assert result["totals"]["funnel"]["submitted"] == 9
    assert result["totals"]["awards"]["amount"] == money("9500000.00")
    # Only the platform that applied in 2026; its use is still cumulative over the years.
    assert [(r["subject"], r["committed"]) for r in result["platforms"]["rows"]] == [
        (world.apps["c1"].subject_key, money("18000000.00"))]
    stages = {row["status"]: row for row in result["stages"]}
    assert (stages["submitted"]["median_days"], stages["submitted"]["count"]) == (
        Decimal("1.0"), 9)
    assert stages["in_publicity"]["median_days"] == Decimal("6.5")


def test_the_pillar_and_the_measure_narrow_the_rows(world):
    by_pillar = summary(world, pillar="factor_supply")
    assert {g["measure"].code for g in by_pillar["groups"]} == {"compute-platform",
                                                                "core-algorithm"}
    assert by_pillar["totals"]["applications"] == 1
    assert by_pillar["reviewers"] == []
    assert by_pillar["platforms"]["count"] == 2

    by_measure = summary(world, measure="demo-project")
    assert [(g["funding_year"], g["measure"].code) for g in by_measure["groups"]] == [
        (2026, "demo-project"), (2025, "demo-project")]
    assert by_measure["platforms"] == {"count": 0, "committed": Decimal("0"), "at_cap": 0,
                                       "rows": []}
    assert by_measure["totals"]["objections"]["total"] == 3


def test_a_filter_matching_nothing_gives_zeros(world):
    result = summary(world, year=2030)

    assert result["groups"] == []
    assert result["totals"]["applications"] == 0
    assert all(row["count"] == 0 and row["median_days"] is None for row in result["stages"])


# ---------------------------------------------------------------- real decisions

def test_approvals_through_the_service_show_in_the_quota_and_awards(catalogue):
    staff = staff_user()
    call = open_call("demo-project", funding_year=2027)
    for score in ("90.00", "80.00"):
        application = application_in(Status.REVIEWED, call=call)
        Assessment.objects.create(application=application, score=Decimal(score),
                                  reviews_count=3)
        decisions.application_approve(by=staff, application=application)

    demo = group(report_summary(user=staff, filter=ReportFilter(year=2027)), "demo-project",
                 2027)

    assert demo["quota"] == {"quota": 10, "used": 2, "left": 8}
    # 10% x 15,000,000.00 each (MEASURES.md 3.2).
    assert demo["awards"]["amount"] == money("3000000.00")
    assert demo["funnel"]["proposed"] == 2 and demo["statuses"]["proposed"] == 2


# ---------------------------------------------------------------- who may read

@pytest.mark.parametrize("who", ["anonymous", "company", "reviewer"])
def test_only_staff_and_management_read_the_figures(db, who):
    from django.contrib.auth.models import AnonymousUser

    user = {"anonymous": AnonymousUser, "company": company_user,
            "reviewer": reviewer_user}[who]()
    with pytest.raises(DomainError) as caught:
        report_summary(user=user, filter=ReportFilter())
    assert caught.value.status == 403


def test_management_reads_the_same_figures_as_staff(world):
    as_staff = summary(world)
    as_management = report_summary(user=world.management, filter=ReportFilter())

    assert as_management["totals"] == as_staff["totals"]


# ---------------------------------------------------------------- a fixed number of queries

def grow(n: int) -> None:
    """n applications over three calls with events, reviews, awards, objections and platform
    ledgers, made in bulk."""
    staff = staff_user()
    calls = [open_call("demo-project", funding_year=2026),
             open_call("demo-project", funding_year=2025),
             open_call("compute-platform", funding_year=2026)]
    template = {c.pk: application_in(Status.SUBMITTED, call=c,
                                     inputs=PLATFORM if c.measure.code == "compute-platform"
                                     else None) for c in calls}
    companies = [CompanyFactory() for _ in range(5)]
    reviewers = [reviewer_user(name=f"专家{i}") for i in range(5)]
    path = (S, A, IR, RV, P, IP, AW)
    rows = []
    for i in range(n):
        call = calls[i % 3]
        t = template[call.pk]
        rows.append(Application(
            call=call, company=companies[i % 5], measure_version=t.measure_version,
            status=path[i % len(path)], inputs=t.inputs, subject_key=f"subject-{i}",
            revision=1, submitted_at=T0, created_by=t.created_by))
    made = Application.objects.bulk_create(rows)
    events, reviews, awards, ledgers = [], [], [], []
    for i, application in enumerate(made):
        steps = path[: path.index(application.status) + 1]
        before = Status.DRAFT
        for day, status in enumerate(steps):
            events.append(StatusEvent(application=application, from_status=before,
                                      to_status=status, at=at(day + i % 4)))
            before = status
        if application.status not in (S, A):
            reviews.append(Review(application=application, reviewer=reviewers[i % 5],
                                  state=ReviewState.SUBMITTED, assigned_at=at(2),
                                  submitted_at=at(3 + i % 5)))
        if application.status in (P, IP, AW):
            awards.append(Award(application=application,
                                measure_version=application.measure_version,
                                amount=Decimal("100000.00"), parameters={}, inputs={},
                                trace=[], decided_by=staff))
        if application.call_id == calls[2].pk and i % 2:
            ledgers.append(SubjectLedger(measure=calls[2].measure, company=application.company,
                                         subject_key=application.subject_key,
                                         committed=Decimal("1000000.00"), awards=1,
                                         cumulative_cap=Decimal("20000000.00")))
    StatusEvent.objects.bulk_create(events)
    Review.objects.bulk_create(reviews)
    Award.objects.bulk_create(awards)
    SubjectLedger.objects.bulk_create(ledgers)
    notice = Publicity.objects.create(call=calls[0], starts_on=date(2026, 3, 16),
                                      ends_on=date(2026, 3, 20), opened_by=staff)
    Objection.objects.bulk_create([
        Objection(publicity=notice, application=a, name="王小明", organization="某公司",
                  contact="13800000000", text="异议", state=list(ObjectionState)[i % 3])
        for i, a in enumerate(made[:: max(n // 10, 1)])])


@pytest.mark.parametrize("n", [10, 1000])
def test_the_summary_makes_the_same_number_of_queries_whatever_the_data(
        catalogue, django_assert_num_queries, n):
    grow(n)
    management = UserFactory(roles=[MANAGEMENT])
    assert can_read_everything(management)  # the roles are read once, before counting

    with django_assert_num_queries(11):
        result = report_summary(user=management, filter=ReportFilter())

    assert result["totals"]["applications"] == n + 3
    assert result["reviewers"] and result["platforms"]["count"]
