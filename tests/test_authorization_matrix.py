"""The authorization matrix: every endpoint and page of the site, by every method it takes, for
each of nine people (tests/authz_world.py), with the answer expected in each cell; and no cell
shows a person what they may not see.

The routes are found by walking the URL resolver: a route without a row in ROWS fails
`test_every_route_of_the_site_has_a_row`, so a new endpoint cannot arrive without its cells.

How to read a row: the method and path (placeholders are ids of the world), then the expected
answer per role. `LOGIN` is a redirect to the login page. An unsafe request carries an empty body
(a form with nothing in it, or `{}`), so a person allowed to act hears 400 or the state's 409 and
a person who may not hears 401, 403 or 404. Where a view reads the body before it looks at who
asks, the row sends a valid body instead (an empty one would be a 400 for everyone and prove
nothing): the person allowed then really acts. Every cell runs inside a savepoint that is rolled
back, so no cell sees another's writes.

Each answer is also read for what its reader must never see (`NEVER`): company A's names,
number and projects for those outside it, the other reviewers' scores and comments (blind
scoring) and the objector's words for everyone but staff and management.

DESIGN rule 6: what a person may not know exists answers 404 (a detail, an action on it); what
they know exists but may not do answers 403; a page or endpoint that is not for their role at all
answers 403 whatever the id. For those outside company A, every refusal about one of its things
is checked to be the same for an id that does not exist: no answer tells that a thing exists."""

import json
import re
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client, override_settings
from django.urls import Resolver404, get_resolver, resolve
from rest_framework.test import APIClient

from tests import authz_world as w
from tests.factories import tiny_pdf

AN, AO, AV, BO, RA, RU, RC, ST, MG = w.ROLES
LOGIN = "login"  # a redirect to the login page
COMPANY_A = (AO, AV)
REVIEWERS = (RA, RU, RC)
OFFICE = (ST, MG)
PDF = object()  # a multipart form with a valid document
# Valid bodies, where a view checks the body before it checks who asks: an empty body would
# answer 400 to everyone and prove nothing about who may act.
SCENE = {"inputs": {"scene": "airport"}}
REASON = {"reason": "理由"}


def cells(default, **roles):
    """The expected answer of every role: `default`, except those named (`a_owner=200`)."""
    unknown = set(roles) - set(w.ROLES)
    assert not unknown, unknown
    return {role: roles.get(role, default) for role in w.ROLES}


def some(default, groups: dict):
    """`cells` from groups of roles: {(a_owner, a_viewer): 200, staff: 409}."""
    out = dict.fromkeys(w.ROLES, default)
    for who, answer in groups.items():
        for role in (who if isinstance(who, tuple) else (who,)):
            out[role] = answer
    return out


# Pages --------------------------------------------------------------------------------------
def public(status=200):
    return cells(status)


def logged_in(status=200, anonymous=LOGIN):
    return some(status, {AN: anonymous})


def office_read():
    """A back-office page: staff and management read it; anyone else 403, whatever the id."""
    return some(403, {AN: LOGIN, OFFICE: 200})


def office_action(staff):
    """A back-office action: staff only (management reads, never acts)."""
    return some(403, {AN: LOGIN, ST: staff})


def reviewer_page(**answers):
    """A reviewer's own page: anyone who is not a reviewer 403, whatever the id."""
    return some(403, {AN: LOGIN, **answers})


# The API ------------------------------------------------------------------------------------
def api_logged_in(status=200):
    return some(status, {AN: 401})


def api_staff(staff, others=403):
    return some(others, {AN: 401, ST: staff})


def api_office_read(others=403):
    return some(others, {AN: 401, OFFICE: 200})


def on_a_application(*, owner, viewer, assigned, office, staff=None, anonymous=LOGIN):
    """A request about company A's application in review: B, the unassigned and the
    conflicted reviewer may not know it exists (404)."""
    return some(404, {AN: anonymous, AO: owner, AV: viewer, RA: assigned, OFFICE: office,
                      **({ST: staff} if staff is not None else {})})


def on_a_draft(*, owner, viewer, anonymous=LOGIN):
    """A request about company A's draft: nobody outside the company may know it exists, not
    even staff (a draft is the company's own until submitted)."""
    return some(404, {AN: anonymous, AO: owner, AV: viewer})


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    expect: dict
    body: object = None
    # What a role may read here that it may read nowhere else: {role: (secret, ...)}.
    known: dict | None = None

    @property
    def api(self) -> bool:
        return self.path.startswith("/api/")


def row(method, path, expect, body=None, known=None) -> Row:
    return Row(method, path, expect, body, known)


# The conflicted reviewer was given A's application before declaring the relation: the notice
# of that assignment, and the recused review in their own list (so they see it was taken from
# them), name the company and the project they already knew. Nothing else of A reaches them.
RECUSED_ROW = {RC: (w.A_NAME, w.A_PROJECT)}


ROWS = [
    # ---------------------------------------------------------------- the public site
    row("GET", "/", public()),
    row("GET", "/measures/demo-project/", public()),
    row("GET", "/calculator/", public()),
    row("POST", "/calculator/", public()),
    row("GET", "/calls/", public()),
    row("GET", "/publicity/", public()),
    row("GET", "/publicity/{publicity}/", public()),
    # The notice was finalized: nobody may object to it any more.
    row("POST", "/publicity/{publicity}/", public(409)),

    # ---------------------------------------------------------------- accounts
    row("GET", "/accounts/login/", public()),
    row("POST", "/accounts/login/", public()),
    row("GET", "/accounts/signup/", some(302, {AN: 200})),
    # An empty form is no submission: the form again (Django's `request.POST or None`).
    row("POST", "/accounts/signup/", some(302, {AN: 200})),
    row("GET", "/accounts/confirm/resend/", logged_in(405)),
    row("POST", "/accounts/confirm/resend/", logged_in(302)),
    row("GET", "/accounts/confirm/{uid}/{token}/", public(400)),
    row("GET", "/accounts/profile/", logged_in()),
    row("POST", "/accounts/profile/", logged_in(200)),
    row("GET", "/accounts/password-reset/", public()),
    row("POST", "/accounts/password-reset/", public()),
    row("GET", "/accounts/password-reset/sent/", public()),
    row("GET", "/accounts/password-reset/{uid}/{token}/", public()),
    row("GET", "/accounts/password-reset/complete/", public()),

    # ---------------------------------------------------------------- the company portal
    row("GET", "/companies/", logged_in()),
    row("GET", "/companies/new/", logged_in()),
    row("POST", "/companies/new/", logged_in(200)),
    row("GET", "/companies/{company}/", some(404, {AN: LOGIN, COMPANY_A: 200})),
    row("GET", "/companies/{company}/invite/", logged_in(405)),
    row("POST", "/companies/{company}/invite/", some(404, {AN: LOGIN, AO: 400, AV: 403})),
    row("GET", "/applications/", logged_in()),
    row("GET", "/applications/new/?call={call_draft}", logged_in()),
    # A's owner already has a draft in that call (409); a viewer may not start one (403).
    row("POST", "/applications/new/", some(404, {AN: LOGIN, AO: 409, AV: 403}),
        body={"call": "{call_draft}", "company": "{company}"}),
    row("GET", "/applications/{app}/", on_a_application(
        owner=200, viewer=200, assigned=200, office=200)),
    row("GET", "/applications/{draft}/", on_a_draft(owner=200, viewer=200)),
    row("GET", "/applications/{app}/edit/", on_a_application(
        owner=302, viewer=403, assigned=403, office=403)),
    row("GET", "/applications/{draft}/edit/", on_a_draft(owner=200, viewer=403)),
    # Saving a draft with nothing in it is allowed (a draft may be incomplete).
    row("POST", "/applications/{draft}/edit/", on_a_draft(owner=302, viewer=403)),
    row("GET", "/applications/{draft}/estimate/", logged_in(405)),
    row("POST", "/applications/{draft}/estimate/", on_a_draft(owner=302, viewer=403)),
    row("GET", "/applications/{draft}/submit/", logged_in(405)),
    row("POST", "/applications/{draft}/submit/", on_a_draft(owner=400, viewer=403)),
    row("GET", "/applications/{app}/withdraw/", on_a_application(
        owner=200, viewer=403, assigned=403, office=403)),
    row("POST", "/applications/{app}/withdraw/", on_a_application(
        owner=200, viewer=403, assigned=403, office=403)),
    row("GET", "/applications/{draft}/attachments/", logged_in(405)),
    row("POST", "/applications/{draft}/attachments/", on_a_draft(owner=400, viewer=403)),
    row("GET", "/applications/{app}/attachments/{att}/", on_a_application(
        owner=200, viewer=200, assigned=200, office=200)),
    row("GET", "/applications/{app}/attachments/{att}/remove/", logged_in(405)),
    # In review: documents can no longer change (409), whoever is allowed to try.
    row("POST", "/applications/{app}/attachments/{att}/remove/", on_a_application(
        owner=409, viewer=403, assigned=403, office=403)),

    # ---------------------------------------------------------------- the back office
    row("GET", "/office/", office_read()),
    row("GET", "/office/applications/", office_read()),
    row("POST", "/office/applications/accept/", office_action(302)),
    row("GET", "/office/applications/{app}/", office_read()),
    row("GET", "/office/applications/{draft}/", some(403, {AN: LOGIN, OFFICE: 404})),
    row("POST", "/office/applications/{app}/screen/", office_action(400)),
    row("POST", "/office/applications/{app}/assign/", office_action(400)),
    row("POST", "/office/applications/{app}/approve/", office_action(409)),
    row("POST", "/office/applications/{app}/decline/", office_action(400)),
    row("POST", "/office/applications/{app}/reserve/", office_action(409)),
    row("POST", "/office/applications/{c_app}/payments/", office_action(400)),
    row("GET", "/office/calls/", office_read()),
    row("GET", "/office/calls/{call}/", office_read()),
    row("POST", "/office/calls/{call}/auto-assign/", office_action(302)),
    row("POST", "/office/calls/{call}/rank-and-fill/", office_action(302)),
    row("POST", "/office/calls/{call}/promote/", office_action(302)),
    row("POST", "/office/calls/{call}/publicity/", office_action(400)),
    row("POST", "/office/calls/{call}/finalize/", office_action(409)),
    row("GET", "/office/publicity/{publicity}/", office_read()),
    row("POST", "/office/publicity/{publicity}/objections/{objection}/resolve/",
        office_action(400)),
    row("GET", "/office/awards/", office_read()),
    # A batch of the call is still pending: staff are told, and sent back to the call.
    row("POST", "/office/calls/{call}/award-batch/", office_action(302)),
    row("GET", "/office/award-batches/{batch}/", office_read()),

    # ---------------------------------------------------------------- reviewers' pages
    row("GET", "/office/reviews/", reviewer_page(rev_assigned=200, rev_unassigned=200,
                                                 rev_conflicted=200), known=RECUSED_ROW),
    row("POST", "/office/reviews/relations/", reviewer_page(
        rev_assigned=400, rev_unassigned=400, rev_conflicted=400), known=RECUSED_ROW),
    row("GET", "/office/reviews/{review}/", reviewer_page(
        rev_assigned=200, rev_unassigned=404, rev_conflicted=404)),
    row("POST", "/office/reviews/{review}/", reviewer_page(
        rev_assigned=400, rev_unassigned=404, rev_conflicted=404)),
    # Blind: the review another reviewer scored of the same application.
    row("GET", "/office/reviews/{review_scored}/", reviewer_page(
        rev_assigned=404, rev_unassigned=404, rev_conflicted=404)),
    # The conflicted reviewer's own review, recused when they declared the relation.
    row("GET", "/office/reviews/{review_recused}/", reviewer_page(
        rev_assigned=404, rev_unassigned=404, rev_conflicted=404)),
    # The unassigned reviewer's own review of C's application, scored.
    row("GET", "/office/reviews/{review_c}/", reviewer_page(
        rev_assigned=404, rev_unassigned=200, rev_conflicted=404)),
    row("POST", "/office/reviews/{review}/total/", reviewer_page(
        rev_assigned=302, rev_unassigned=404, rev_conflicted=404)),
    row("POST", "/office/reviews/{review}/recuse/", reviewer_page(
        rev_assigned=400, rev_unassigned=404, rev_conflicted=404)),
    row("GET", "/office/reviewers/", office_read()),
    row("POST", "/office/reviewers/", office_action(400)),

    # ---------------------------------------------------------------- notifications
    row("GET", "/notifications/", logged_in()),
    row("POST", "/notifications/read-all/", logged_in(302)),
    row("GET", "/notifications/{notification}/", some(404, {AN: LOGIN, AO: 302})),

    # ---------------------------------------------------------------- reports (pages)
    row("GET", "/reports/", office_read()),
    # A decision letter: staff and management read every one; a company its own once final.
    row("GET", "/reports/awards/{award}/letter.pdf", some(404, {AN: LOGIN, OFFICE: 200})),
    # A's award is only proposed: no letter for the company yet.
    row("GET", "/reports/awards/{a_award}/letter.pdf", some(404, {AN: LOGIN, OFFICE: 200})),
    row("GET", "/reports/publicity/{publicity}/list.pdf", public()),
    row("GET", "/reports/exports/", office_read()),
    row("POST", "/reports/exports/", some(403, {AN: LOGIN, OFFICE: 400})),
    # An export staff asked for: staff see every one, management its own (404 here).
    row("GET", "/reports/exports/{export}/", some(404, {AN: LOGIN, ST: 200})),
    row("GET", "/reports/exports/{export}/download/", some(404, {AN: LOGIN, ST: 200})),

    # ---------------------------------------------------------------- API: catalogue, accounts
    row("GET", "/api/v1/measures/", public()),
    row("GET", "/api/v1/measures/demo-project/", public()),
    # The calculator answers an empty quote with what is missing.
    row("POST", "/api/v1/measures/demo-project/quote/", public()),
    row("GET", "/api/v1/measures/demo-project/versions/", public()),
    row("POST", "/api/v1/auth/token/", public(400)),
    row("POST", "/api/v1/auth/register/", public(400)),
    row("GET", "/api/v1/me/", api_logged_in()),
    row("PATCH", "/api/v1/me/", api_logged_in(400)),

    # ---------------------------------------------------------------- API: companies, calls
    row("GET", "/api/v1/companies/", api_logged_in()),
    row("POST", "/api/v1/companies/", api_logged_in(400)),
    row("GET", "/api/v1/companies/{company}/", some(404, {AN: 401, COMPANY_A: 200})),
    row("GET", "/api/v1/companies/{company}/members/", some(404, {AN: 401, COMPANY_A: 200})),
    row("POST", "/api/v1/companies/{company}/members/", some(404, {AN: 401, AO: 201, AV: 403}),
        body={"email": "new.colleague@authz.test", "role": "viewer"}),
    row("GET", "/api/v1/calls/", public()),
    row("POST", "/api/v1/calls/", api_staff(400)),
    row("GET", "/api/v1/calls/{call}/", public()),

    # ---------------------------------------------------------------- API: applications
    row("GET", "/api/v1/applications/", api_logged_in()),
    row("POST", "/api/v1/applications/", api_logged_in(400)),
    row("GET", "/api/v1/applications/{app}/", on_a_application(
        owner=200, viewer=200, assigned=200, office=200, anonymous=401)),
    row("GET", "/api/v1/applications/{draft}/", on_a_draft(owner=200, viewer=200,
                                                            anonymous=401)),
    row("GET", "/api/v1/applications/{proposed}/", some(404, {
        AN: 401, COMPANY_A: 200, OFFICE: 200})),
    row("PATCH", "/api/v1/applications/{draft}/", on_a_draft(owner=200, viewer=403,
                                                              anonymous=401), body=SCENE),
    row("PATCH", "/api/v1/applications/{app}/", on_a_application(
        owner=409, viewer=403, assigned=403, office=403, anonymous=401), body=SCENE),
    row("POST", "/api/v1/applications/{draft}/attachments/", on_a_draft(
        owner=201, viewer=403, anonymous=401), body=PDF),
    row("GET", "/api/v1/applications/{app}/attachments/{att}/download/", on_a_application(
        owner=200, viewer=200, assigned=200, office=200, anonymous=401)),
    row("DELETE", "/api/v1/applications/{app}/attachments/{att}/", on_a_application(
        owner=409, viewer=403, assigned=403, office=403, anonymous=401)),
    row("POST", "/api/v1/applications/{draft}/submit/", on_a_draft(owner=400, viewer=403,
                                                                    anonymous=401)),
    # The company's own actions on the application in review: refused to its owner by its
    # state (409), to everyone else who may read it as not theirs (403).
    row("POST", "/api/v1/applications/{app}/submit/", on_a_application(
        owner=409, viewer=403, assigned=403, office=403, anonymous=401)),
    row("POST", "/api/v1/applications/{app}/attachments/", on_a_application(
        owner=409, viewer=403, assigned=403, office=403, anonymous=401), body=PDF),
    row("POST", "/api/v1/applications/{app}/withdraw/", on_a_application(
        owner=200, viewer=403, assigned=403, office=403, anonymous=401)),
    row("POST", "/api/v1/applications/{app}/accept/", on_a_application(
        owner=403, viewer=403, assigned=403, office=403, staff=409, anonymous=401)),
    row("POST", "/api/v1/applications/{app}/return/", on_a_application(
        owner=403, viewer=403, assigned=403, office=403, staff=409, anonymous=401),
        body=REASON),
    row("POST", "/api/v1/applications/{app}/reject/", on_a_application(
        owner=403, viewer=403, assigned=403, office=403, staff=409, anonymous=401),
        body=REASON),
    row("GET", "/api/v1/applications/{app}/history/", on_a_application(
        owner=200, viewer=200, assigned=200, office=200, anonymous=401)),
    row("GET", "/api/v1/applications/{app}/revisions/", on_a_application(
        owner=200, viewer=200, assigned=200, office=200, anonymous=401)),

    # ---------------------------------------------------------------- API: reviewing
    row("GET", "/api/v1/reviewers/", api_office_read()),
    row("POST", "/api/v1/reviewers/", api_staff(400)),
    row("GET", "/api/v1/reviewers/me/", some(403, {AN: 401, REVIEWERS: 200})),
    row("POST", "/api/v1/reviewers/me/affiliations/", some(403, {AN: 401, REVIEWERS: 400})),
    row("GET", "/api/v1/reviewers/{reviewer}/", api_office_read()),
    row("POST", "/api/v1/reviewers/{reviewer}/affiliations/", api_staff(400)),
    row("GET", "/api/v1/applications/{app}/assignments/", on_a_application(
        owner=403, viewer=403, assigned=403, office=200, anonymous=401)),
    row("POST", "/api/v1/applications/{app}/assignments/", on_a_application(
        owner=403, viewer=403, assigned=403, office=403, staff=400, anonymous=401)),
    row("GET", "/api/v1/applications/{app}/reviewer-candidates/", on_a_application(
        owner=403, viewer=403, assigned=403, office=200, anonymous=401)),
    row("POST", "/api/v1/calls/{call}/auto-assign/", api_staff(200)),
    row("GET", "/api/v1/calls/{call}/scorecard/", some(403, {AN: 401, OFFICE: 200, RA: 200})),
    row("PUT", "/api/v1/calls/{call}/scorecard/", api_staff(400)),
    row("GET", "/api/v1/reviews/", some(403, {AN: 401, REVIEWERS: 200}), known=RECUSED_ROW),
    row("GET", "/api/v1/reviews/{review}/", some(403, {AN: 401, RA: 200, RU: 404, RC: 404})),
    row("GET", "/api/v1/reviews/{review_scored}/", some(403, {AN: 401, REVIEWERS: 404})),
    row("GET", "/api/v1/reviews/{review_recused}/", some(403, {AN: 401, REVIEWERS: 404})),
    row("GET", "/api/v1/reviews/{review_c}/", some(403, {AN: 401, REVIEWERS: 404, RU: 200})),
    row("POST", "/api/v1/reviews/{review}/recuse/", some(403, {
        AN: 401, RA: 400, RU: 404, RC: 404})),
    row("POST", "/api/v1/reviews/{review}/submit/", some(403, {
        AN: 401, RA: 400, RU: 404, RC: 404})),

    # ---------------------------------------------------------------- API: decisions
    row("POST", "/api/v1/applications/{app}/approve/", on_a_application(
        owner=403, viewer=403, assigned=403, office=403, staff=409, anonymous=401)),
    row("POST", "/api/v1/applications/{app}/decline/", on_a_application(
        owner=403, viewer=403, assigned=403, office=403, staff=400, anonymous=401)),
    row("POST", "/api/v1/applications/{app}/reserve/", on_a_application(
        owner=403, viewer=403, assigned=403, office=403, staff=409, anonymous=401)),
    row("GET", "/api/v1/applications/{app}/checklist/", on_a_application(
        owner=403, viewer=403, assigned=403, office=200, anonymous=401)),
    row("GET", "/api/v1/applications/{app}/audit/", on_a_application(
        owner=403, viewer=403, assigned=403, office=200, anonymous=401)),
    row("GET", "/api/v1/calls/{call}/ranking/", api_office_read()),
    row("POST", "/api/v1/calls/{call}/rank-and-fill/", api_staff(200)),
    row("POST", "/api/v1/calls/{call}/promote-reserve/", api_staff(409)),

    # ---------------------------------------------------------------- API: 公示, awards
    row("POST", "/api/v1/calls/{call}/publicity/", api_staff(409)),
    row("POST", "/api/v1/calls/{call}/finalize/", api_staff(409)),
    row("GET", "/api/v1/publicity/", public()),
    row("GET", "/api/v1/publicity/{publicity}/", public()),
    row("POST", "/api/v1/publicity/{publicity}/objections/", public(400)),
    row("GET", "/api/v1/objections/", api_office_read()),
    # Objections name their authors: to anyone but staff and management none exists.
    row("POST", "/api/v1/objections/{objection}/resolve/", some(404, {
        AN: 401, ST: 400, MG: 403})),
    row("GET", "/api/v1/awards/", api_logged_in()),
    row("GET", "/api/v1/awards/{award}/", some(404, {AN: 401, OFFICE: 200})),
    row("GET", "/api/v1/awards/{a_award}/", some(404, {AN: 401, COMPANY_A: 200, OFFICE: 200})),
    row("GET", "/api/v1/awards/{award}/payments/", some(404, {AN: 401, OFFICE: 200})),
    row("GET", "/api/v1/awards/{a_award}/payments/", some(404, {
        AN: 401, COMPANY_A: 200, OFFICE: 200})),
    row("POST", "/api/v1/awards/{award}/payments/", some(404, {AN: 401, ST: 400, MG: 403})),
    row("POST", "/api/v1/calls/{call}/award-batches/", api_staff(409)),
    row("GET", "/api/v1/award-batches/{batch}/", some(404, {AN: 401, OFFICE: 200})),

    # ---------------------------------------------------------------- API: reports
    row("GET", "/api/v1/reports/summary/", api_office_read()),
    row("GET", "/api/v1/awards/{award}/letter/", some(404, {AN: 401, OFFICE: 200})),
    row("GET", "/api/v1/awards/{a_award}/letter/", some(404, {AN: 401, OFFICE: 200})),
    row("GET", "/api/v1/publicity/{publicity}/list-pdf/", public()),
    row("GET", "/api/v1/reports/exports/", api_office_read()),
    row("POST", "/api/v1/reports/exports/", some(403, {AN: 401, OFFICE: 400})),
    row("GET", "/api/v1/reports/exports/{export}/", some(403, {AN: 401, ST: 200, MG: 404})),
    row("GET", "/api/v1/reports/exports/{export}/download/", some(403, {
        AN: 401, ST: 200, MG: 404})),
    row("GET", "/api/v1/reports/applications.csv", api_office_read()),
    row("GET", "/api/v1/reports/applications.xlsx", api_office_read()),
    row("GET", "/api/v1/reports/awards.csv", api_office_read()),
    row("GET", "/api/v1/reports/awards.xlsx", api_office_read()),

    # ---------------------------------------------------------------- API: notices
    row("GET", "/api/v1/notifications/", api_logged_in(), known=RECUSED_ROW),
    row("POST", "/api/v1/notifications/read-all/", api_logged_in()),
    row("GET", "/api/v1/notifications/unread-count/", api_logged_in()),
    row("POST", "/api/v1/notifications/{notification}/read/", some(404, {AN: 401, AO: 200})),
    row("GET", "/api/v1/notices/failed/", api_staff(200)),
    row("POST", "/api/v1/notices/{failed_notice}/retry/", api_staff(200)),
]

# Not in the matrix: Django's admin (its own staff-only permissions), the language switch, the
# API's schema and its Swagger page (public documents), logging out, static files.
SKIPPED_PREFIXES = ("admin/", "i18n/", "api/schema/", "api/docs/", "accounts/logout/",
                    "static/")


@dataclass(frozen=True)
class Cell:
    row: Row
    role: str

    @property
    def expected(self):
        return self.row.expect[self.role]

    @property
    def id(self) -> str:
        return f"{self.row.method} {self.row.path} x {self.role} -> {self.expected}"


CELLS = [Cell(r, role) for r in ROWS for role in w.ROLES]


# ---------------------------------------------------------------- the world, once per module

@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """Built once inside a transaction that is rolled back at the end of the module, so no
    other test ever sees it; each cell then runs in a savepoint of its own (the `db` fixture)."""
    storage = override_settings(PRIVATE_STORAGE_ROOT=tmp_path_factory.mktemp("authz-private"))
    storage.enable()
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            built = w.build()
            assert set(built.ids) == set(_PLACEHOLDERS), set(built.ids) ^ set(_PLACEHOLDERS)
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            storage.disable()
            raise
        # One session per person, made once: a cell only presents its cookie.
        for role, user in built.users.items():
            if user is not None:
                browser = Client()
                browser.force_login(user)
                built.sessions[role] = browser.cookies[settings.SESSION_COOKIE_NAME].value
    yield built
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)
    storage.disable()


def _fill(value, ids):
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def send(world, row: Row, role: str, ids=None):
    ids = world.ids if ids is None else ids
    path = row.path.format(**ids)
    user = world.users[role]
    body = _fill(row.body, ids)
    if row.api:
        client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {world.tokens[role]}")
        if row.method == "GET":
            return client.get(path)
        if row.method == "DELETE":
            return client.delete(path)
        if body is PDF:
            return client.post(path, {"kind": "project_report", "file": SimpleUploadedFile(
                "材料.pdf", tiny_pdf(), content_type="application/pdf")}, format="multipart")
        return client.generic(row.method, path, json.dumps({} if body is None else body),
                              content_type="application/json")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        client.cookies[settings.SESSION_COOKIE_NAME] = world.sessions[role]
    if row.method == "GET":
        return client.get(path)
    assert row.method == "POST", row  # pages take forms
    return client.post(path, body or {})


def outcome(response):
    if response.status_code in (301, 302) and response["Location"].split("?")[0].endswith(
            "/accounts/login/"):
        return LOGIN
    return response.status_code


def content(response) -> str:
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    return raw.decode("utf-8", errors="replace")


# What each person must never read anywhere (staff and management may read everything).
SCORING_AND_OBJECTIONS = (w.SCORER_COMMENT, w.SCORER_CRITERION_COMMENT, w.SCORER_SCORE,
                          w.SCORER_TOTAL, w.OBJECTION_TEXT, w.OBJECTION_CONTACT)
COMPANY_A_SECRETS = (w.A_OWNER_EMAIL, w.A_NAME, w.A_NAME_EN, w.A_NUMBER, w.A_PROJECT,
                     w.A_DRAFT_PROJECT, w.A_PROPOSED_PROJECT)
# Reviewers are anonymous to companies and to one another; staff act as the Authority.
REVIEWERS_AND_STAFF = (w.ASSIGNED_NAME, w.ASSIGNED_EMAIL, w.SCORER_NAME, w.SCORER_EMAIL,
                       w.STAFF_EMAIL)
OTHER_REVIEWER = (w.SCORER_NAME, w.SCORER_EMAIL)
NEVER = {
    AN: (*COMPANY_A_SECRETS, *SCORING_AND_OBJECTIONS, *REVIEWERS_AND_STAFF),
    BO: (*COMPANY_A_SECRETS, *SCORING_AND_OBJECTIONS, *REVIEWERS_AND_STAFF),
    RU: (*COMPANY_A_SECRETS, *SCORING_AND_OBJECTIONS, *REVIEWERS_AND_STAFF),
    # They declared company A's number themselves; nothing else of A is theirs to read.
    RC: (*(s for s in COMPANY_A_SECRETS if s != w.A_NUMBER), *SCORING_AND_OBJECTIONS,
         *REVIEWERS_AND_STAFF),
    # Given A's application in review: not A's other applications, not the other reviewers.
    RA: (w.A_DRAFT_PROJECT, w.A_PROPOSED_PROJECT, w.A_OWNER_EMAIL, *SCORING_AND_OBJECTIONS,
         *OTHER_REVIEWER),
    AO: (*SCORING_AND_OBJECTIONS, *REVIEWERS_AND_STAFF),
    AV: (*SCORING_AND_OBJECTIONS, *REVIEWERS_AND_STAFF),
    ST: (),
    MG: (),
}


def leaks(text: str, role: str, known=None) -> list[str]:
    found = []
    allowed = (known or {}).get(role, ())
    for secret in NEVER[role]:
        if secret in allowed:
            continue
        if NUMBER.fullmatch(secret):
            # A number is found as a number, not as digits of another one: 28.30 is in
            # "total": "28.30" but not in a time's seconds and their fraction, 15:24:28.301234.
            if re.search(rf"(?<!\d){re.escape(secret)}(?!\d)", text):
                found.append(secret)
            continue
        escaped = json.dumps(secret)[1:-1]  # as an ASCII-only JSON encoder would write it
        if secret in text or escaped in text:
            found.append(secret)
    return found


NUMBER = re.compile(r"\d+(\.\d+)?")


# People who know nothing of company A, its applications, reviews and awards.
OUTSIDERS = (AN, BO, RU, RC)
# Placeholders of things an outsider may know exist: public calls and notices, and its own.
PUBLIC_IDS = ("call", "call_award", "call_draft", "publicity", "c_app", "uid", "token")
MISSING = 999_999_999


def missing_ids(world) -> dict:
    """The world's ids, each thing an outsider may not know of replaced by one nobody has."""
    return {k: (v if k in PUBLIC_IDS else MISSING) for k, v in world.ids.items()}


def existence_matters(cell: Cell) -> bool:
    """Whether the answer to an outsider must be the same for an id that does not exist: a
    refusal (401, 403, 404, the login page) about something it may not know exists."""
    names = [n for n in _PLACEHOLDERS if "{" + n + "}" in cell.row.path]
    return (cell.role in OUTSIDERS and cell.expected in (401, 403, 404, LOGIN)
            and any(n not in PUBLIC_IDS for n in names))


@pytest.mark.parametrize("cell", CELLS, ids=[c.id for c in CELLS])
def test_cell(world, db, cell):
    # `db` runs the cell in a savepoint of the world's transaction, rolled back afterwards: no
    # cell sees another's writes.
    response = send(world, cell.row, cell.role)
    text = content(response)

    assert outcome(response) == cell.expected, (
        response.status_code, response.get("Location"), text[:400])
    assert response.status_code < 500
    assert leaks(text, cell.role, cell.row.known) == []
    if existence_matters(cell):
        # No oracle: the same answer as for an id nobody has.
        assert outcome(send(world, cell.row, cell.role, ids=missing_ids(world))) == \
            cell.expected


# ---------------------------------------------------------------- coverage of the site

def _routes():
    """Every routed pattern: (its full regex or route, its name, the methods a DRF viewset
    maps), without the format-suffix twins DRF adds (the same view, `.json` on the end)."""
    found = []

    def walk(patterns, prefix=""):
        for entry in patterns:
            pattern = prefix + str(entry.pattern)
            if hasattr(entry, "url_patterns"):
                walk(entry.url_patterns, pattern)
            elif "(?P<format>" not in pattern and not pattern.startswith(SKIPPED_PREFIXES):
                actions = getattr(entry.callback, "actions", None) or {}
                # HEAD answers as GET does (DRF maps it to the same action).
                found.append((pattern, entry.name, {m.upper() for m in actions} - {"HEAD"}))

    walk(get_resolver().url_patterns)
    return found


def _route_of(row: Row) -> str:
    path = row.path.split("?")[0].format(**dict.fromkeys(_PLACEHOLDERS, 1))
    return resolve(path).url_name


_PLACEHOLDERS = ("company", "company_b", "call", "call_award", "call_draft", "app", "draft",
                 "proposed", "c_app", "att", "review", "review_scored", "review_recused",
                 "review_c", "reviewer", "award", "a_award", "publicity", "objection",
                 "notification", "failed_notice", "batch", "export", "uid", "token")


def test_every_route_of_the_site_has_a_row(capsys):
    routes = _routes()
    names = [name for _pattern, name, _methods in routes]
    assert None not in names, [p for p, n, _m in routes if n is None]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})
    rows_by_route: dict[str, set[str]] = {}
    for r in ROWS:
        try:
            rows_by_route.setdefault(_route_of(r), set()).add(r.method)
        except Resolver404:
            pytest.fail(f"{r.method} {r.path} is not a route of the site")
    missing = [f"{pattern} ({name})" for pattern, name, _methods in routes
               if name not in rows_by_route]
    assert missing == [], f"add rows to ROWS for: {missing}"
    methods_missing = [f"{sorted(methods - rows_by_route[name])} {pattern}"
                       for pattern, name, methods in routes
                       if methods - rows_by_route[name]]
    assert methods_missing == [], f"add rows for these methods: {methods_missing}"
    stale = set(rows_by_route) - set(names)
    assert stale == set(), stale
    assert all(set(r.expect) == set(w.ROLES) for r in ROWS)
    with capsys.disabled():
        print(f"\nauthorization matrix: {len(CELLS)} cells, {len(ROWS)} rows over "
              f"{len(routes)} routes x {len(w.ROLES)} roles")


# What the leak checks look for is really there for those who may read it, written as the
# checks search for it: else a check that never finds anything could never fail.
SHOWN = [
    (ST, "/office/applications/{app}/", (w.A_NAME, w.A_PROJECT, w.SCORER_COMMENT,
                                         w.SCORER_CRITERION_COMMENT, w.SCORER_SCORE,
                                         w.SCORER_TOTAL)),
    (MG, "/api/v1/applications/{app}/assignments/", (w.SCORER_COMMENT, w.SCORER_SCORE,
                                                     w.SCORER_TOTAL)),
    (ST, "/api/v1/objections/", (w.OBJECTION_TEXT, w.OBJECTION_CONTACT)),
    (MG, "/office/publicity/{publicity}/", (w.OBJECTION_TEXT, w.OBJECTION_CONTACT)),
    (AO, "/api/v1/applications/{proposed}/", (w.A_NAME, w.A_PROPOSED_PROJECT)),
    (AO, "/applications/{app}/", (w.A_NAME, w.A_PROJECT)),
    (AV, "/api/v1/companies/{company}/", (w.A_NAME, w.A_NAME_EN, w.A_NUMBER)),
    (AV, "/applications/{draft}/", (w.A_DRAFT_PROJECT,)),
    (RA, "/api/v1/reviews/{review}/", (w.A_PROJECT,)),
    (RA, "/office/reviews/{review}/", (w.A_PROJECT,)),
    (AN, "/publicity/{publicity}/", (w.C_NAME, w.C_PROJECT)),
    (ST, "/api/v1/applications/{app}/history/", (w.STAFF_EMAIL, w.A_OWNER_EMAIL)),
    (AO, "/api/v1/applications/{app}/history/", (w.A_OWNER_EMAIL,)),
    (MG, "/office/reviewers/", (w.ASSIGNED_NAME, w.ASSIGNED_EMAIL, w.SCORER_NAME,
                                w.SCORER_EMAIL)),
    (RA, "/api/v1/reviewers/me/", (w.ASSIGNED_NAME, w.ASSIGNED_EMAIL)),
]


@pytest.mark.parametrize(("role", "path", "secrets"), SHOWN,
                         ids=[f"{path} x {role}" for role, path, _s in SHOWN])
def test_what_the_leak_checks_look_for_is_shown_to_those_who_may_read_it(world, db, role, path,
                                                                          secrets):
    response = send(world, row("GET", path, cells(200)), role)

    assert response.status_code == 200
    text = content(response)
    assert [s for s in secrets if s not in text] == []
    assert leaks(text, role) == []


def test_a_secret_number_is_found_as_a_number_not_as_digits_of_another():
    for shown in ('{"total": "28.30"}', '{"total":28.30}', "<td>28.30</td>"):
        assert leaks(shown.replace("28.30", w.SCORER_TOTAL), AO) == [w.SCORER_TOTAL]
    for other in ('{"at": "2026-11-29T15:24:28.301234+08:00"}', "128.30", "28.305"):
        assert leaks(other.replace("28.30", w.SCORER_TOTAL), AO) == []


API_PATHS = sorted({r.path for r in ROWS if r.api})


@pytest.mark.parametrize("path", API_PATHS)
def test_an_options_request_tells_an_outsider_nothing(world, db, path):
    """OPTIONS (DRF's metadata, which may look an object up to describe its form) answers
    company B the same for A's things as for things that do not exist, and shows none of them."""
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.credentials(HTTP_AUTHORIZATION=f"Token {world.tokens[BO]}")
    answers = []
    for ids in (world.ids, missing_ids(world)):
        response = client.options(path.format(**ids))
        assert response.status_code < 500
        assert leaks(content(response), BO) == []
        answers.append(response.status_code)
    assert answers[0] == answers[1]
