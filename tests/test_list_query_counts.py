"""Every list endpoint of the API makes the same number of queries for a page of 10 rows as for a
page of 100 (no query per row). The endpoints are found by walking the URL resolver, so a new list
endpoint without a row here fails the coverage test."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.test.utils import CaptureQueriesContext
from django.urls import get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from applications.models import Application, Attachment, Membership, Revision, Status, StatusEvent
from notices.models import Channel, Notice, State
from reports.models import ExportJob
from reviews.models import (
    Affiliation,
    Assessment,
    AuditEntry,
    Award,
    Objection,
    Payment,
    Publicity,
    PublicityEntry,
    Review,
    ReviewerProfile,
)
from tests.factories import (
    CompanyFactory,
    UserFactory,
    application_in,
    company_user,
    open_call,
    reviewer_user,
    staff_user,
)

ROWS = 105  # more than the largest page (100), so a page of 100 is full

# Every paginated GET list of the API: its route name, and (user, path) found in the world.
LISTS = {
    "api-company-list": ("owner", "/api/v1/companies/"),
    "api-company-members": ("owner", "/api/v1/companies/{company}/members/"),
    "api-call-list": ("anonymous", "/api/v1/calls/"),
    "api-application-list": ("staff", "/api/v1/applications/"),
    "api-application-history": ("staff", "/api/v1/applications/{application}/history/"),
    "api-application-revisions": ("staff", "/api/v1/applications/{application}/revisions/"),
    "api-application-decision-audit": ("staff", "/api/v1/applications/{application}/audit/"),
    "api-application-reviewing-assignments": (
        "staff", "/api/v1/applications/{application}/assignments/"),
    "api-application-reviewing-reviewer-candidates": (
        "staff", "/api/v1/applications/{other}/reviewer-candidates/"),
    "api-reviewer-list": ("staff", "/api/v1/reviewers/"),
    "api-review-list": ("reviewer", "/api/v1/reviews/"),
    "api-publicity-list": ("anonymous", "/api/v1/publicity/"),
    "api-objection-list": ("staff", "/api/v1/objections/"),
    "api-award-list": ("staff", "/api/v1/awards/"),
    "api-award-payments": ("staff", "/api/v1/awards/{award}/payments/"),
    "api-notification-list": ("owner", "/api/v1/notifications/"),
    "api-notice-failed": ("staff", "/api/v1/notices/failed/"),
    "api-report-export-list": ("staff", "/api/v1/reports/exports/"),
}

# Lists answered whole, by design (a ranking is read entire; a measure's versions are its
# history): the same number of queries with 10 rows as with over 100.
WHOLE = {
    "api-measure-versions": ("anonymous", "/api/v1/measures/demo-project/versions/"),
    "api-call-decision-ranking": ("staff", "/api/v1/calls/{call}/ranking/"),
}

# GET routes that answer one object or an action, not a list; and the catalogue's list of
# measures, which is the catalogue itself (14 measures, answered whole in one query).
NOT_LISTS = {
    "api-measure-list",
    "api-measure-detail", "api-company-detail", "api-call-detail", "api-application-detail",
    "api-application-attachment", "api-application-attachment-download", "api-account-me",
    "api-reviewer-me", "api-reviewer-detail", "api-review-detail", "api-publicity-detail",
    "api-award-detail", "api-award-batch-detail", "api-notification-unread-count",
    "api-application-decision-checklist", "api-call-reviewing-scorecard",
    "api-call-publicity-publicity", "api-call-award-batch-award-batches",
    "api-application-estimate",
    # PDF documents of one award or one notice (tests/reports/test_api_pdf.py).
    "api-award-letter", "api-publicity-list-pdf",
    # One summary object, its query count pinned in tests/reports/test_api_summary.py.
    "api-reports-summary",
    # One export job, its file, and the exports answered at once (files; their query counts
    # pinned in tests/reports/test_exports_csv.py).
    "api-report-export-detail", "api-report-export-download", "api-reports-applications-csv",
    "api-reports-applications-xlsx", "api-reports-awards-csv", "api-reports-awards-xlsx",
}


def _api_routes() -> set[str]:
    names = set()

    def walk(patterns, prefix=""):
        for entry in patterns:
            if hasattr(entry, "url_patterns"):
                walk(entry.url_patterns, prefix + str(entry.pattern))
            elif (prefix + str(entry.pattern)).startswith("api/v1/") and entry.name and \
                    not entry.name.endswith("-root") and "format" not in str(entry.pattern):
                callback = entry.callback
                actions = getattr(callback, "actions", None) or {}
                methods = set(actions) if actions else {
                    m for m in ("get",) if hasattr(getattr(callback, "view_class", None), m)}
                if "get" in methods:
                    names.add(entry.name)

    walk(get_resolver().url_patterns)
    return names


def test_every_get_route_of_the_api_is_a_known_list_or_a_known_single_object():
    routes = _api_routes()
    assert "api-application-list" in routes  # the walk finds the router's routes
    unknown = routes - set(LISTS) - set(WHOLE) - NOT_LISTS
    assert unknown == set(), f"add these GET routes to LISTS, WHOLE or NOT_LISTS: {sorted(unknown)}"
    assert set(LISTS) | set(WHOLE) <= routes, sorted(set(LISTS) | set(WHOLE) - routes)


@pytest.fixture
def world(catalogue):
    """Over 100 rows behind every list, and every relation a row could fetch one by one."""
    now = timezone.now()
    staff = staff_user()
    owner = company_user()
    company = CompanyFactory(created_by=owner)
    members = [UserFactory() for _ in range(ROWS)]
    Membership.objects.bulk_create(Membership(company=company, user=u, role="viewer")
                                   for u in members)
    for _ in range(ROWS):
        CompanyFactory(owner=owner)
    call = open_call("demo-project", funding_year=2026, created_by=staff)
    for year in range(2027, 2101):  # 74 more calls of the demo projects, 37 of the platforms
        open_call("demo-project", funding_year=year, created_by=staff)
    for year in range(2024, 2061):
        open_call("compute-platform", funding_year=year, created_by=staff)
    applications = [application_in(Status.REVIEWED, call=call) for _ in range(ROWS)]
    application, other = applications[0], applications[1]
    version = application.measure_version
    Assessment.objects.bulk_create(
        Assessment(application=a, score=Decimal(50 + i % 50), reviews_count=3)
        for i, a in enumerate(applications))
    Attachment.objects.bulk_create(
        Attachment(application=application, kind="invoice", original_name=f"发票{i}.pdf",
                   stored_name=f"stored-{i}.pdf", content_type="application/pdf", size=100,
                   sha256="0" * 64, uploaded_by=owner) for i in range(ROWS))
    StatusEvent.objects.bulk_create(
        StatusEvent(application=application, by=staff if i % 2 else owner,
                    from_status=Status.SUBMITTED, to_status=Status.ACCEPTED, reason=f"第{i}次")
        for i in range(ROWS))
    Revision.objects.bulk_create(
        Revision(application=application, number=i + 2, inputs=application.inputs,
                 measure_version=version, submitted_at=now, submitted_by=owner)
        for i in range(ROWS))
    AuditEntry.objects.bulk_create(
        AuditEntry(by=staff, action="approved", application=application, call=call,
                   data={"n": i}) for i in range(ROWS))
    reviewers = [reviewer_user(name=f"评审{i}") for i in range(ROWS)]
    reviewer = reviewers[0]
    profile = ReviewerProfile.objects.get(user=reviewer)
    Affiliation.objects.bulk_create(
        Affiliation(reviewer=profile, registration_number=f"9144030000000{i:05d}")
        for i in range(ROWS))
    Review.objects.bulk_create(Review(application=application, reviewer=r, assigned_by=staff)
                               for r in reviewers)
    Review.objects.bulk_create(Review(application=a, reviewer=reviewer, assigned_by=staff)
                               for a in applications[1:])
    publicities = Publicity.objects.bulk_create(
        Publicity(call=call, starts_on=date(2026, 1, 5), ends_on=date(2026, 1, 9),
                  opened_by=staff) for _ in range(ROWS))
    PublicityEntry.objects.bulk_create(
        PublicityEntry(publicity=p, application=a, company_name=a.company.name,
                       project="前海示范项目", amount=Decimal("1500000.00"))
        for p in publicities[:3] for a in applications[:40])
    publicity = publicities[0]
    Objection.objects.bulk_create(
        Objection(publicity=publicity, application=applications[i % 5], name="张三",
                  organization="前海某机构", contact="13800000000", text=f"异议{i}")
        for i in range(ROWS))
    awards = Award.objects.bulk_create(
        Award(application=a, measure_version=version, amount=Decimal("1500000.00"),
              parameters={}, inputs=a.inputs, trace=[], decided_by=staff)
        for a in applications)
    Payment.objects.bulk_create(
        Payment(award=awards[0], amount=Decimal("100.00"), paid_on=date(2026, 2, 1) +
                timedelta(days=i % 20), reference=f"PAY-{i}", recorded_by=staff)
        for i in range(ROWS))
    Notice.objects.bulk_create(
        Notice(recipient=owner, event="accepted", channel=Channel.IN_APP, key=f"k-in-app-{i}",
               subject=f"通知{i}", body="正文", url="/applications/") for i in range(ROWS))
    Notice.objects.bulk_create(
        Notice(recipient=members[i], event="accepted", channel=Channel.EMAIL,
               key=f"k-failed-{i}", subject=f"通知{i}", body="正文", state=State.FAILED,
               attempts=5, last_error="SMTP 550") for i in range(ROWS))
    ExportJob.objects.bulk_create(
        ExportJob(requested_by=staff, kind="applications", format="csv",
                  expires_at=now + timedelta(days=7)) for _ in range(ROWS))
    history = version.__class__.objects.get(pk=version.pk)
    for n in range(ROWS):  # earlier versions of the catalogue entry
        history.pk, history.number = None, version.number + n + 1
        history.effective_from = version.effective_from - timedelta(days=n + 1)
        history.save()
    return {
        "users": {"anonymous": None, "staff": staff, "owner": owner, "reviewer": reviewer},
        "shrink": {
            # Down to 10 rows: the other versions dropped, the other applications back to draft
            # (out of the ranking).
            "api-measure-versions": lambda: version.__class__.objects.filter(
                measure=version.measure, number__gt=version.number + 9).delete(),
            "api-call-decision-ranking": lambda: Application.objects.filter(
                pk__in=[a.pk for a in applications[10:]]).update(status=Status.DRAFT),
        },
        "ids": {"company": company.pk, "application": application.pk, "other": other.pk,
                "call": call.pk, "profile": profile.pk, "publicity": publicity.pk,
                "award": awards[0].pk},
    }


def _count(client, url) -> tuple[int, dict]:
    from django.db import connection

    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200, (url, response.status_code, response.content[:300])
    return len(queries.captured_queries), response.json()


def _client(world, who) -> APIClient:
    client = APIClient()
    if world["users"][who] is not None:
        client.force_authenticate(world["users"][who])
    return client


# One world for all the lists (building it is most of the time): each list is checked in turn and
# every mismatch is reported together.
def test_a_page_of_100_rows_costs_the_same_queries_as_a_page_of_10(world):
    counts, problems = {}, []
    for route, (who, path) in sorted(LISTS.items()):
        url = path.format(**world["ids"])
        client = _client(world, who)
        client.get(url + "?page_size=1")  # warm caches (content types, catalogue), as a live site
        small, small_body = _count(client, url + "?page_size=10")
        large, large_body = _count(client, url + "?page_size=100")
        counts[route] = (small, large)
        if len(small_body["results"]) != 10 or len(large_body["results"]) != 100:
            problems.append(f"{route}: pages of {len(small_body['results'])} and "
                            f"{len(large_body['results'])} rows, not 10 and 100")
        if small != large:
            problems.append(f"{route}: {small} queries for 10 rows, {large} for 100")
    assert problems == [], problems
    assert len(counts) == len(LISTS)


def test_a_list_answered_whole_costs_the_same_queries_for_10_rows_as_for_over_100(world):
    problems = []
    for route, (who, path) in sorted(WHOLE.items()):
        url = path.format(**world["ids"])
        client = _client(world, who)
        client.get(url)  # warm caches
        large, large_body = _count(client, url)
        world["shrink"][route]()
        small, small_body = _count(client, url)
        if not (len(large_body["results"]) > 100 and len(small_body["results"]) == 10):
            problems.append(f"{route}: {len(large_body['results'])} then "
                            f"{len(small_body['results'])} rows")
        if small != large:
            problems.append(f"{route}: {small} queries for 10 rows, {large} for over 100")
    assert problems == [], problems
