"""Schemathesis against the whole API as each role (API.md, conventions): whatever a client
sends, the answer is never a 5xx, its status code, content type and body are the ones the
OpenAPI schema at /api/schema/ documents, and every 4xx is in the one error shape.

The schema is fetched from the site itself and every request goes to the Django WSGI application
in-process, authenticated with a token from POST /api/v1/auth/token/. Each role's test builds one
realistic world through the real services (open calls, applications in every status, reviews,
an award with a payment, an open 公示 with an objection, notices) and every example runs inside
a savepoint that is rolled back, so each one meets the same world and a failure replays.

Generated values alone would almost never name an object that exists, so path ids and the ids
in bodies are drawn from the world's own ids as often as not: the fuzz reaches the actions'
rules, not only their 404s.
"""

import traceback
from collections import Counter
from datetime import timedelta
from unittest import mock

import pytest
import schemathesis
import yaml
from django.core import signals
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, transaction
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rest_framework.throttling import SimpleRateThrottle
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from measures.management.commands.load_measures import DEFAULT_FILE as CATALOGUE
from tests.factories import (
    DEMO_PROJECT_INPUTS,
    CompanyFactory,
    UserFactory,
    member,
    open_call,
    reviewer_user,
    staff_user,
    tiny_pdf,
)

ROLES = ["anonymous", "owner", "viewer", "reviewer", "staff", "management"]
# Examples per operation and generation mode (schema-valid data, and data that breaks it).
EXAMPLES = {GenerationMode.POSITIVE: 6, GenerationMode.NEGATIVE: 3}
# An honest check that the fuzz ran: at least this many requests per role (over 1,000 in all).
MIN_REQUESTS_PER_ROLE = 400
LANGUAGES = ["zh-hans", "zh-hant", "en"]
PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's


def error_shape(ctx, response, case):
    """API.md: every error is {"code", "message", "fields"}; a 400 names the field."""
    if not 400 <= response.status_code < 500:
        return None
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"code", "message", "fields"}, (
        f"Not the error shape: {body!r}")
    assert isinstance(body["code"], str) and body["code"], f"No code: {body!r}"
    assert isinstance(body["message"], str) and body["message"], f"No message: {body!r}"
    fields = body["fields"]
    assert isinstance(fields, dict) and all(
        isinstance(name, str) and isinstance(messages, list) and messages
        and all(isinstance(m, str) for m in messages) for name, messages in fields.items()), (
        f"Fields are not {{name: [message]}}: {body!r}")
    if response.status_code == 400:
        assert fields, f"A 400 that names no field: {body!r}"
    return None


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, error_shape]


# ---------------------------------------------------------------- the application and schema

@pytest.fixture(scope="module")
def app():
    return WSGIHandler()


@pytest.fixture(scope="module")
def schema(app, django_db_setup, django_db_blocker):
    """The schema as the site serves it (from the test database, should it read any)."""
    with django_db_blocker.unblock():
        loaded = schemathesis.openapi.from_wsgi("/api/schema/", app)
    return loaded


@pytest.fixture
def in_process(monkeypatch):
    """Requests reach the application in the test's own database transaction.

    Django closes a connection left outside autocommit at the start and end of every request;
    its test client stops that for the length of a test, and so does this. Throttles keep
    counting but never refuse (a fuzz sends far more than any rate allows); their answers are
    tested on their own. Unhandled exceptions are kept, so a 500 shows its traceback."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    monkeypatch.setattr(SimpleRateThrottle, "parse_rate", lambda self, rate: (10**9, 60))
    raised: list[str] = []

    def keep(sender, request=None, **kwargs):
        raised.append(traceback.format_exc())

    signals.got_request_exception.connect(keep)
    yield raised
    signals.got_request_exception.disconnect(keep)
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


# ---------------------------------------------------------------- the world


def build_world() -> dict:
    """Calls, companies, applications in every status, reviewers with reviews, awards with a
    payment, an open 公示 with an objection, and people of every role; made through the
    services, as the site would make them."""
    from applications import services as portal
    from applications.models import Application, Attachment, Call, Company, Membership, Status
    from measures.models import Measure
    from measures.services import catalogue_load
    from notices.models import Notice
    from qianhai_grants.roles import MANAGEMENT
    from reviews.models import (
        Award,
        AwardBatch,
        Objection,
        Publicity,
        Review,
        ReviewerProfile,
    )
    from reviews.services import assignments, decisions, payments, publicity, scoring
    from reviews.services.calendar import holidays_load

    now = timezone.now()
    # The catalogue in force since two years ago, so that last year's call had its rules.
    catalogue_load(entries=yaml.safe_load(CATALOGUE.read_text(encoding="utf-8")),
                   effective_from=now - timedelta(days=730))
    holidays_load()

    staff = staff_user()
    management = UserFactory(roles=[MANAGEMENT])
    owner = UserFactory(roles=["company"])
    company = CompanyFactory(created_by=owner)
    viewer = member(company, role="viewer")
    member(company, role="editor")
    other = CompanyFactory()
    reviewer = reviewer_user(name="甲评审", expertise=["demo-project"])
    second_reviewer = reviewer_user(name="乙评审", expertise=["demo-project"])
    third_reviewer = reviewer_user(name="丙评审", expertise=["demo-project"])
    portal.member_invite(company=company, by=owner, email="invited@example.org", role="viewer")

    current = open_call("demo-project", funding_year=2026, created_by=staff)
    past = open_call("demo-project", funding_year=2025, created_by=staff,
                     opens_at=now - timedelta(days=400), closes_at=now - timedelta(days=300))
    in_notice = open_call("demo-project", funding_year=2027, created_by=staff)
    open_call("compute-platform", funding_year=2026, created_by=staff)
    open_call("industry-llm", funding_year=2026, created_by=staff,
              opens_at=now + timedelta(days=10), closes_at=now + timedelta(days=40))

    def draft(call, of=None, by=owner, **changes):
        # A company holds one active application per call (demo projects have no subject):
        # each application of the owner's is of another of their companies.
        if of is None:
            of = CompanyFactory(created_by=owner)
            Membership.objects.create(company=of, user=viewer, role="viewer")
        application, _result = portal.application_create(
            by=by, call=call, company=of, inputs={**DEMO_PROJECT_INPUTS, **changes})
        return application

    def attach_all(application, by=owner):
        for document in application.measure_version.documents:
            portal.attachment_add(by=by, application=application, kind=document["kind"],
                                  upload=SimpleUploadedFile("document.pdf", tiny_pdf(),
                                                            content_type="application/pdf"))

    def submitted(call, of=None, by=owner, **changes):
        application = draft(call, of=of, by=by, **changes)
        attach_all(application, by=by)
        return portal.application_submit(by=by, application=application)

    def screened(to, call, **kwargs):
        return portal.application_screen(by=staff, application=submitted(call, **kwargs), to=to,
                                         reason="材料不全" if to != Status.ACCEPTED else "")

    def reviewed(call, **kwargs):
        application = screened(Status.ACCEPTED, call, **kwargs)
        reviews = [assignments.review_assign(by=staff, application=application, reviewer=r)
                   for r in (reviewer, second_reviewer, third_reviewer)]
        criteria = scoring.scorecard_for(call=call).criteria
        for review in reviews:
            scoring.review_submit(by=review.reviewer, review=review,
                                  scores={c["code"]: 8 for c in criteria}, comment="可行")
        return Application.objects.get(pk=application.pk)

    # The current call: applications of the owner's companies (and of another company's) in
    # every status before a decision, and then proposed, on the reserve list and declined.
    with_draft = draft(current, of=company, project_name="草稿项目")
    attach_all(with_draft)
    draft(current, of=other, by=other.created_by, project_name="他司草稿")
    submitted(current, project_name="已提交项目", scene="logistics")
    screened(Status.RETURNED, current, project_name="补正项目", scene="smart_manufacturing")
    screened(Status.REJECTED, current, project_name="驳回项目", scene="healthcare")
    screened(Status.ACCEPTED, current, project_name="已受理项目", scene="transport")
    in_review = screened(Status.ACCEPTED, current, of=CompanyFactory(created_by=other.created_by),
                         by=other.created_by, project_name="评审中项目")
    assignments.review_assign(by=staff, application=in_review, reviewer=reviewer)
    withdrawn = draft(current, project_name="撤回项目", scene="finance")
    portal.application_withdraw(by=owner, application=withdrawn, reason="不再申请")
    for_decision = [reviewed(current, project_name=f"评审完成{i}", scene=scene)
                    for i, scene in enumerate(["port", "logistics", "smart_manufacturing",
                                               "healthcare"])]
    decisions.application_approve(by=staff, application=for_decision[0])
    decisions.application_reserve(by=staff, application=for_decision[1], reason="名额")
    decisions.application_decline(by=staff, application=for_decision[2], reason="不足")

    # Last year's call: awarded through a 公示 that ran then, one award partly paid.
    with mock.patch("django.utils.timezone.now", return_value=now - timedelta(days=320)):
        past_awarded = [reviewed(past, project_name=f"往年项目{i}", scene="port",
                                 actual_investment="12000000.00", completion_date="2025-06-30")
                        for i in range(2)]
        for application in past_awarded:
            decisions.application_approve(by=staff, application=application)
        publicity.publicity_open(by=staff, call=past)
    with mock.patch("django.utils.timezone.now", return_value=now - timedelta(days=300)):
        publicity.publicity_finalize(by=staff, call=past)
    award = Award.objects.get(application=past_awarded[0])
    payments.payment_record(by=staff, award=award, amount="500000.00",
                            paid_on=timezone.localdate(now - timedelta(days=200)),
                            reference="FIN-2025-001")

    # Next year's call: in an open 公示, with an objection filed.
    in_publicity = reviewed(in_notice, project_name="公示中项目", scene="logistics")
    decisions.application_approve(by=staff, application=in_publicity)
    notice = publicity.publicity_open(by=staff, call=in_notice)
    objections = [publicity.objection_file(
        publicity=notice, application=in_publicity.pk, name="王小明",
        organization=f"深圳市某科技有限公司{i}", contact="13800000000",
        text="该项目实际投资额与公开信息不符。") for i in range(2)]
    publicity.objection_resolve(by=staff, objection=objections[1], upheld=False,
                                note="投资额经核实无误。")

    # A notice whose email failed, for staff's retry.
    failed = Notice.objects.filter(channel="email").order_by("pk").first()
    Notice.objects.filter(pk=failed.pk).update(state="failed", attempts=5,
                                               last_error="SMTP 550")

    users = {"owner": owner, "viewer": viewer, "reviewer": reviewer, "staff": staff,
             "management": management}
    reviewer_ids = list(ReviewerProfile.objects.values_list("user_id", flat=True))
    ids = {
        "applications": list(Application.objects.values_list("pk", flat=True)),
        "calls": list(Call.objects.values_list("pk", flat=True)),
        "companies": list(Company.objects.values_list("pk", flat=True)),
        "awards": list(Award.objects.values_list("pk", flat=True)),
        "reviews": list(Review.objects.values_list("pk", flat=True)),
        "reviewers": reviewer_ids,
        "publicity": list(Publicity.objects.values_list("pk", flat=True)),
        "objections": list(Objection.objects.values_list("pk", flat=True)),
        "notifications": list(Notice.objects.values_list("pk", flat=True)),
        "notices": list(Notice.objects.values_list("pk", flat=True)),
        "award-batches": list(AwardBatch.objects.values_list("pk", flat=True)),
        "att_id": list(Attachment.objects.values_list("pk", flat=True)),
        "code": list(Measure.objects.values_list("code", flat=True)),
    }
    codes = [c["code"] for c in scoring.scorecard_for(call=current).criteria]
    body_values = {"call": ids["calls"], "company": ids["companies"],
                   "application": ids["applications"], "reviewer": reviewer_ids,
                   "measure": ids["code"],
                   "inputs": [DEMO_PROJECT_INPUTS, {**DEMO_PROJECT_INPUTS, "scene": "airport",
                                                    "actual_investment": "80000000.00"}],
                   "scores": [dict.fromkeys(codes, 8), dict.fromkeys(codes, 3)]}
    return {"users": users, "ids": ids, "body_values": body_values}


def token_of(app, user) -> str:
    """A token through the API, as an outside client gets one."""
    from werkzeug import Client

    response = Client(app).post("/api/v1/auth/token/",
                                json={"username": user.username, "password": PASSWORD})
    assert response.status_code == 200, response.get_data()[:300]
    return response.get_json()["token"]


# ---------------------------------------------------------------- the fuzz


def with_known_ids(case, data, world) -> None:
    """As often as not, the path's ids and the body's references name the world's objects (and
    an application's inputs or a review's scores are ones a person would send)."""
    segments = [s for s in case.operation.path.split("/") if s]
    for name in list(case.path_parameters or {}):
        if name == "id":
            at = segments.index("{id}")
            source = world["ids"].get(segments[at - 1])
        else:
            source = world["ids"].get(name)
        if source and data.draw(st.booleans(), label=f"known {name}"):
            case.path_parameters[name] = data.draw(st.sampled_from(source), label=name)
    if isinstance(case.body, dict):
        for field, source in world["body_values"].items():
            if field in case.body and source and data.draw(st.booleans(), label=f"known {field}"):
                value = data.draw(st.sampled_from(source), label=field)
                case.body[field] = dict(value) if isinstance(value, dict) else value


def fuzz_operation(operation, mode, *, app, world, token, raised, sent, answers) -> None:
    """`EXAMPLES[mode]` requests to one operation; raises on the first failure (shrunk)."""
    strategy = operation.as_strategy(generation_mode=mode)

    @settings(max_examples=EXAMPLES[mode], deadline=None, database=None,
              phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data):
        case = data.draw(strategy, label="case")
        with_known_ids(case, data, world)
        headers = {"Accept-Language": data.draw(st.sampled_from(LANGUAGES), label="language")}
        if token:
            headers["Authorization"] = f"Token {token}"
        with transaction.atomic():
            raised.clear()
            response = case.call(app=app, headers=headers)
            sent[operation.label] += 1
            answers[response.status_code] += 1
            transaction.set_rollback(True)
        assert response.status_code < 500, "\n".join(
            [case.as_curl_command(headers=headers), *raised, response.text_lossy()[:2000]])
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


# The schema's security schemes, which schemathesis lists among headers and cookies.
CREDENTIALS = {"Authorization", "sessionid"}


def negatable(operation) -> bool:
    """Whether the operation takes anything that data breaking the schema could be made of."""
    inputs = [*operation.path_parameters, *operation.query, *operation.headers,
              *operation.cookies]
    return any(p.name not in CREDENTIALS for p in inputs) or bool(list(operation.body))


def fuzz(schema, *, role, **kwargs) -> tuple[Counter, list[str]]:
    """Every operation of the schema, in both modes; returns the requests sent per operation
    and the failures (and prints how many requests got which status)."""
    sent: Counter = Counter()
    answers: Counter = Counter()
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        sent[operation.label] += 0
        for mode in EXAMPLES:
            if mode == GenerationMode.NEGATIVE and not negatable(operation):
                continue
            try:
                fuzz_operation(operation, mode, sent=sent, answers=answers, **kwargs)
            except (Exception, BaseExceptionGroup) as exc:  # every operation is fuzzed; all told
                failures.append(f"--- {role}, {mode.value}: {operation.label}\n{exc}")
    print(f"\n{role}: {sum(sent.values())} requests over {len(sent)} operations; answers "
          f"{dict(sorted(answers.items()))}")
    return sent, failures


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_every_operation_as_each_role(role, app, schema, in_process, settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    world = build_world()
    token = None if role == "anonymous" else token_of(app, world["users"][role])

    sent, failures = fuzz(schema, role=role, app=app, world=world, token=token,
                          raised=in_process)

    total = sum(sent.values())
    assert not failures, "\n\n".join(failures)
    # An honest check that the fuzz ran: every operation was called, and often enough.
    assert len(sent) >= 60 and all(sent.values()), sent
    assert total >= MIN_REQUESTS_PER_ROLE, sent
