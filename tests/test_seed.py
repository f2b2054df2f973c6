"""`make run`'s demo data: one account per role, the demo reviewer in the pool, open calls."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from applications.models import Call
from qianhai_grants.services import DEMO_ACCOUNTS, DEMO_CALL_MEASURES
from reviews.models import ReviewerProfile


def seed(settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_seed_demo_makes_an_account_per_role_and_open_calls(catalogue, settings):
    seed(settings)
    seed(settings)  # twice: nothing doubles

    users = get_user_model().objects.filter(username__in=[a[1] for a in DEMO_ACCOUNTS])
    assert {u.groups.get().name for u in users} == {a[0] for a in DEMO_ACCOUNTS}
    assert ReviewerProfile.objects.get(user__username=DEMO_ACCOUNTS[1][1]).active
    calls = Call.objects.all()
    assert sorted(c.measure.code for c in calls) == sorted(DEMO_CALL_MEASURES)
    assert all(c.is_open() for c in calls)


def test_seed_demo_refuses_without_debug(catalogue, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert not Call.objects.exists()
