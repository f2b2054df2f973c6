"""One world for the authorization matrix (tests/test_authorization_matrix.py): the nine people
who knock on every door, and an object behind every URL kwarg, made through the real services
where one exists.

Company A has an application in expert review (with a document), a draft and a proposed award;
company B has nothing of A's; company C's award went through a 公示 with an objection and is
partly paid. Of the reviewers: one is assigned to A's application, one was never given it, one
was given it and then declared a relation to company A (the review was recused). A fourth
reviewer, not one of the nine, scored A's application with a comment nobody but staff and
management may read (blind scoring)."""

import datetime
from dataclasses import dataclass, field
from unittest import mock

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.mail.backends.locmem import EmailBackend
from rest_framework.authtoken.models import Token

from applications import services
from applications.models import Application, MemberRole, Status
from notices.models import Channel, Notice, State
from notices.services import MAX_ATTEMPTS, notice_deliver
from qianhai_grants.roles import MANAGEMENT
from reviews.models import Award, ReviewerProfile
from reviews.services.assignments import review_assign
from reviews.services.batches import award_batch_start
from reviews.services.decisions import application_approve
from reviews.services.payments import payment_record
from reviews.services.pool import affiliation_declare
from reviews.services.publicity import (
    objection_file,
    objection_resolve,
    publicity_finalize,
    publicity_open,
)
from reviews.services.scoring import DEFAULT_CRITERIA, review_submit
from tests.factories import (
    DEMO_PROJECT_INPUTS,
    UserFactory,
    application_in,
    company_user,
    open_call,
    reviewer_user,
    staff_user,
    tiny_pdf,
    uscc,
)

ROLES = ("anonymous", "a_owner", "a_viewer", "b_owner", "rev_assigned", "rev_unassigned",
         "rev_conflicted", "staff", "management")

# What must never reach a person who may not know company A: its names, its number and its
# projects' names. Distinctive, so that finding one in a page is never a coincidence.
A_NAME = "甲矩阵保密科技有限公司"
A_NAME_EN = "Alpha Matrix Confidential Co"
A_NUMBER = uscc(770001)
A_PROJECT = "甲方保密港口调度项目"
A_DRAFT_PROJECT = "甲方保密草稿项目"
A_PROPOSED_PROJECT = "甲方保密拟资助项目"
B_NAME = "乙对照科技有限公司"
C_NAME = "丙公示科技有限公司"
C_PROJECT = "丙方公示示范项目"
# Blind scoring: the fourth reviewer's words on A's application.
SCORER_COMMENT = "盲评意见-只给工作人员看-Q7X"
SCORER_CRITERION_COMMENT = "创新不足-逐项意见-K3Z"
# Their score on every criterion, and so their weighted total (and the aggregate): numbers no
# other page of the world shows.
SCORER_SCORE = "2.83"
SCORER_TOTAL = "28.30"
# Reviewers stay anonymous to companies and to each other; staff act as "the Authority".
ASSIGNED_NAME = "已分配专家-R2D"
ASSIGNED_EMAIL = "rev.assigned@authz.test"
SCORER_NAME = "已评分专家-S7P"
SCORER_EMAIL = "rev.scorer@authz.test"
STAFF_EMAIL = "staff@authz.test"
# Applicants' own addresses: their company's and the Authority's business, not reviewers'.
A_OWNER_EMAIL = "a.owner@authz.test"
# An objection names its author: staff and management only.
OBJECTION_TEXT = "异议正文-不得公开-M5W"
OBJECTION_CONTACT = "13912345678"

CST = datetime.timezone(datetime.timedelta(hours=8))


def _at(month, day, hour=10):
    return datetime.datetime(2026, month, day, hour, tzinfo=CST)


@dataclass
class World:
    users: dict = field(default_factory=dict)   # role -> user (anonymous: None)
    tokens: dict = field(default_factory=dict)  # role -> API token key
    ids: dict = field(default_factory=dict)     # name -> id, for the paths' placeholders
    sessions: dict = field(default_factory=dict)  # role -> session key, for the pages


def _inputs(project: str) -> dict:
    return {**DEMO_PROJECT_INPUTS, "project_name": project}


def _company(owner, name, name_en, number):
    return services.company_create(by=owner, name=name, name_en=name_en,
                                   registration_type="mainland", registration_number=number,
                                   in_qianhai=True, contact_name="联系人")


def _submitted(*, owner, call, company, project):
    """A draft made, completed with every required document and submitted, as a company does."""
    application, _estimate = services.application_create(by=owner, call=call, company=company,
                                                         inputs=_inputs(project))
    for document in application.measure_version.documents:
        if document.get("required", True):
            services.attachment_add(by=owner, application=application, kind=document["kind"],
                                    upload=SimpleUploadedFile("材料.pdf", tiny_pdf(),
                                                              content_type="application/pdf"))
    return services.application_submit(by=owner, application=application)


def _scores(low: bool = False) -> dict:
    return {c["code"]: (SCORER_SCORE if low else "8") for c in DEFAULT_CRITERIA}


def _failed(notice: Notice) -> Notice:
    """Delivered to a mail server that refuses it until the last attempt: a failed notice."""
    with mock.patch.object(EmailBackend, "send_messages", side_effect=OSError("550 refused")):
        for _attempt in range(MAX_ATTEMPTS):
            notice_deliver(notice_id=notice.pk)
    notice.refresh_from_db()
    assert notice.state == State.FAILED, notice.state
    return notice


def _export_done(by):
    """A background export of every application asked for by staff, written (its task's one
    call, which would run after the commit)."""
    from reports import services as reports
    from reports.filters import ReportFilter

    job = reports.export_request(by=by, kind="applications", format="csv",
                                 filter=ReportFilter(), language="en", background=True)
    return reports.export_run(job_id=job.pk)


def build() -> World:
    """Make the world (call inside a transaction that is rolled back afterwards)."""
    from django.core.management import call_command

    call_command("load_measures", verbosity=0, stdout=open("/dev/null", "w"))  # noqa: SIM115
    world = World()
    staff = staff_user(username=STAFF_EMAIL)
    management = UserFactory(username="management@authz.test", roles=[MANAGEMENT])
    a_owner = company_user(username=A_OWNER_EMAIL)
    a_viewer = company_user(username="a.viewer@authz.test")
    b_owner = company_user(username="b.owner@authz.test")
    c_owner = company_user(username="c.owner@authz.test")
    rev_assigned = reviewer_user(name=ASSIGNED_NAME, expertise=("demo-project",),
                                 username=ASSIGNED_EMAIL)
    rev_scorer = reviewer_user(name=SCORER_NAME, expertise=("demo-project",),
                               username=SCORER_EMAIL)
    rev_conflicted = reviewer_user(name="有利害关系专家", expertise=("demo-project",),
                                   username="rev.conflicted@authz.test")
    # Another pillar: never the automatic replacement of a recused review of a demo project.
    rev_unassigned = reviewer_user(name="未分配专家", expertise=("factor_supply",),
                                   username="rev.unassigned@authz.test")

    company_a = _company(a_owner, A_NAME, A_NAME_EN, A_NUMBER)
    services.member_invite(company=company_a, by=a_owner, email=a_viewer.email,
                           role=MemberRole.VIEWER)
    company_b = _company(b_owner, B_NAME, "Beta Control Co", uscc(770002))
    company_c = _company(c_owner, C_NAME, "Gamma Publicity Co", uscc(770003))

    call = open_call("demo-project", funding_year=2026, created_by=staff)
    call_award = open_call("demo-project", funding_year=2025, created_by=staff)
    call_draft = open_call("demo-project", funding_year=2027, created_by=staff)

    # A's application in expert review: three reviewers; one scored, one declared a relation to
    # company A afterwards (their review recused, nobody to replace them), one still to score.
    application = _submitted(owner=a_owner, call=call, company=company_a, project=A_PROJECT)
    services.application_screen(by=staff, application=application, to=Status.ACCEPTED)
    review = review_assign(by=staff, application=application, reviewer=rev_assigned)
    scored = review_assign(by=staff, application=application, reviewer=rev_scorer)
    recused = review_assign(by=staff, application=application, reviewer=rev_conflicted)
    review_submit(by=rev_scorer, review=scored, scores=_scores(low=True), comment=SCORER_COMMENT,
                  comments={"innovation": SCORER_CRITERION_COMMENT})
    affiliation_declare(by=rev_conflicted, reviewer=rev_conflicted.reviewer_profile,
                        registration_number=A_NUMBER, note="曾任该公司顾问")
    application.refresh_from_db()
    assert application.status == Status.IN_REVIEW, application.status
    recused.refresh_from_db()
    assert recused.state == "recused", recused.state
    attachment = application.attachments.order_by("pk").first()

    draft, _estimate = services.application_create(by=a_owner, call=call_draft,
                                                   company=company_a,
                                                   inputs=_inputs(A_DRAFT_PROJECT))

    # C's award: scored by the reviewer who never saw A's application, proposed, published,
    # objected to (dismissed), final, partly paid.
    c_application = application_in(Status.ACCEPTED, call=call_award, company=company_c,
                                   inputs=_inputs(C_PROJECT))
    c_review = review_assign(by=staff, application=c_application, reviewer=rev_unassigned)
    review_submit(by=rev_unassigned, review=c_review, scores=_scores())
    c_application.refresh_from_db()
    application_approve(by=staff, application=c_application)
    with mock.patch("django.utils.timezone.now", return_value=_at(11, 2)):
        notice = publicity_open(by=staff, call=call_award)
    with mock.patch("django.utils.timezone.now", return_value=_at(11, 3)):
        objection = objection_file(publicity=notice, application=c_application.pk,
                                   name="王小明", organization="深圳市某咨询有限公司",
                                   contact=OBJECTION_CONTACT, text=OBJECTION_TEXT)
    objection_resolve(by=staff, objection=objection, upheld=False, note="经核实不成立")
    with mock.patch("django.utils.timezone.now", return_value=_at(11, 9)):
        publicity_finalize(by=staff, call=call_award)
    award = Award.objects.get(application=c_application)
    payment_record(by=staff, award=award, amount="500000.00", paid_on="2026-11-16",
                   reference="AUTHZ-PAY-001")

    # A's proposed award in the same call, after its 公示: not published, the company's own.
    proposed = application_in(Status.ACCEPTED, call=call_award, company=company_a,
                              inputs=_inputs(A_PROPOSED_PROJECT))
    proposed_review = review_assign(by=staff, application=proposed, reviewer=rev_scorer)
    review_submit(by=rev_scorer, review=proposed_review, scores=_scores())
    proposed.refresh_from_db()
    application_approve(by=staff, application=proposed)
    a_award = Award.objects.get(application=proposed)

    batch = award_batch_start(by=staff, call=call)  # stays pending: its task runs on commit
    export = _export_done(staff)
    in_app = Notice.objects.filter(recipient=a_owner, channel=Channel.IN_APP).order_by("pk")
    email = Notice.objects.filter(recipient=a_owner, channel=Channel.EMAIL).order_by("pk")
    failed = _failed(email.first())

    world.users = {"anonymous": None, "a_owner": a_owner, "a_viewer": a_viewer,
                   "b_owner": b_owner, "rev_assigned": rev_assigned,
                   "rev_unassigned": rev_unassigned, "rev_conflicted": rev_conflicted,
                   "staff": staff, "management": management}
    world.tokens = {role: Token.objects.create(user=user).key
                    for role, user in world.users.items() if user is not None}
    world.ids = {
        "company": company_a.pk, "company_b": company_b.pk,
        "call": call.pk, "call_award": call_award.pk, "call_draft": call_draft.pk,
        "app": application.pk, "draft": draft.pk, "proposed": proposed.pk,
        "c_app": c_application.pk,
        "att": attachment.pk,
        "review": review.pk, "review_scored": scored.pk, "review_recused": recused.pk,
        "review_c": c_review.pk,
        "reviewer": rev_assigned.pk,
        "award": award.pk, "a_award": a_award.pk,
        "publicity": notice.pk, "objection": objection.pk,
        "notification": in_app.first().pk, "failed_notice": failed.pk,
        "batch": batch.pk, "export": export.pk,
        "uid": "MQ", "token": "bad-token",
    }
    assert ReviewerProfile.objects.filter(user=rev_assigned).exists()
    assert Application.objects.get(pk=draft.pk).status == Status.DRAFT
    return world
