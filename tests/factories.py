"""Factories for test data (factory-boy)."""

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True  # the roles hook only adds groups

    username = factory.Sequence(lambda n: f"user{n}@example.org")
    email = factory.SelfAttribute("username")
    password = factory.django.Password("correct horse battery staple")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        for name in extracted or ():
            self.groups.add(Group.objects.get_or_create(name=name)[0])


def company_user(**kwargs):
    from qianhai_grants.roles import COMPANY

    return UserFactory(roles=[COMPANY], **kwargs)


def staff_user(**kwargs):
    from qianhai_grants.roles import STAFF

    return UserFactory(roles=[STAFF], is_staff=True, **kwargs)


VALID_USCC = "91350100M000100Y43"  # a valid GB 32100-2015 code (check character 3)


def uscc(n: int) -> str:
    """The n-th made-up but valid Unified Social Credit Code."""
    from applications.registration import uscc_check_character

    first17 = f"9144030{n:010d}"
    return first17 + uscc_check_character(first17)


class CompanyFactory(factory.django.DjangoModelFactory):
    """A company with an owner (created through the model; the service is tested on its own)."""

    class Meta:
        model = "applications.Company"
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"前海测试科技有限公司{n}")
    name_en = factory.Sequence(lambda n: f"Qianhai Test Technology Co. {n}")
    registration_type = "mainland"
    registration_number = factory.Sequence(uscc)
    in_qianhai = True
    contact_name = "联系人"
    created_by = factory.SubFactory(UserFactory)

    @factory.post_generation
    def owner(self, create, extracted, **kwargs):
        from applications.models import Membership

        user = extracted or self.created_by
        Membership.objects.get_or_create(company=self, user=user, defaults={"role": "owner"})
        from django.contrib.auth.models import Group

        user.groups.add(Group.objects.get_or_create(name="company")[0])


def member(company, role="editor", **kwargs):
    from applications.models import Membership

    user = company_user(**kwargs)
    Membership.objects.create(company=company, user=user, role=role)
    return user


def open_call(code="demo-project", *, funding_year=2026, days_open=30, **kwargs):
    """An open call for a measure of the loaded catalogue (use the `catalogue` fixture)."""
    from datetime import timedelta

    from django.utils import timezone

    from applications.models import Call
    from measures.models import Measure

    now = timezone.now()
    return Call.objects.create(
        measure=Measure.objects.get(code=code), funding_year=funding_year,
        opens_at=kwargs.pop("opens_at", now - timedelta(days=1)),
        closes_at=kwargs.pop("closes_at", now + timedelta(days=days_open)),
        created_by=kwargs.pop("created_by", None) or staff_user(), **kwargs)


DEMO_PROJECT_INPUTS = {
    "project_name": "前海港口智能调度示范",
    "scene": "port",
    "actual_investment": "15000000.00",
    "completion_date": "2025-12-31",
}


def tiny_pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def reviewer_user(*, name="评审专家", expertise=("application_demo",), affiliations=(), **kwargs):
    """A reviewer in the pool (made through the model; the pool's service is tested on its own)."""
    from qianhai_grants.roles import REVIEWER
    from reviews.models import Affiliation, ReviewerProfile

    user = UserFactory(roles=[REVIEWER], **kwargs)
    profile = ReviewerProfile.objects.create(user=user, name=name, expertise=list(expertise))
    for number in affiliations:
        Affiliation.objects.create(reviewer=profile, registration_number=number)
    return user


def application_in(status="submitted", *, call=None, company=None, inputs=None, code=None,
                   subject_key=None):
    """An application of a call, already in `status` (made through the model, as if it had
    walked there: submitted once, with the catalogue's current rules and its estimate)."""
    from django.utils import timezone

    from applications.models import Application
    from applications.selectors import inputs_quote, subject_key_of
    from measures.inputs import dump_inputs, parse_inputs
    from measures.selectors import version_current

    call = call or open_call(code or "demo-project")
    company = company or CompanyFactory()
    version = version_current(measure=call.measure)
    values = parse_inputs(version.fields, DEMO_PROJECT_INPUTS if inputs is None else inputs).values
    key = subject_key_of(version, values) if subject_key is None else subject_key
    quote = inputs_quote(version=version, values=values, measure_id=call.measure_id,
                         company_id=company.pk, subject_key=key)
    return Application.objects.create(
        call=call, company=company, measure_version=version, status=status,
        inputs=dump_inputs(values), subject_key=key, estimate=quote.result.amount,
        revision=0 if status == "draft" else 1,
        submitted_at=None if status == "draft" else timezone.now(),
        created_by=company.created_by)
