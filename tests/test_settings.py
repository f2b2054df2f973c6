"""Settings per environment: production refuses weak secrets and passes `check --deploy`."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETUP = ("import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = "
         "'qianhai_grants.settings.production'; django.setup()")


def run(args, **env_changes) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SECRET_KEY", "DJANGO_SETTINGS_MODULE", "ALLOWED_HOSTS", "DEBUG")}
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def good_key() -> str:
    key = secrets.token_urlsafe(48)
    assert len(key) == 64
    return key


@pytest.mark.parametrize("secret_key", [
    None,
    "",
    "short",
    "x" * 49,
    "insecure-" + "x" * 60,
    "django-insecure-" + "x" * 60,
    "insecure-local-development-key-not-for-production",
])
def test_production_refuses_a_missing_or_weak_secret_key(secret_key):
    result = run(["-c", SETUP], SECRET_KEY=secret_key, ALLOWED_HOSTS="grants.example.org")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr


def test_production_starts_with_a_strong_secret_key():
    result = run(["-c", SETUP + "; from django.conf import settings; "
                  "print(settings.DEBUG, settings.ALLOWED_HOSTS, settings.SESSION_COOKIE_SECURE)"],
                 SECRET_KEY=good_key(), ALLOWED_HOSTS="grants.example.org")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False ['grants.example.org'] True"


def test_production_passes_check_deploy():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                 SECRET_KEY=good_key(), ALLOWED_HOSTS="grants.example.org",
                 DJANGO_SETTINGS_MODULE="qianhai_grants.settings.production")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_local_settings_warn_in_check_deploy():
    # The same check does catch an unsafe configuration, so the test above means something.
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                 DJANGO_SETTINGS_MODULE="qianhai_grants.settings.local")

    assert result.returncode != 0


CELERY_PROBE = ("import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = "
                "'qianhai_grants.settings.local'; django.setup(); "
                "from django.conf import settings; from qianhai_grants.celery import app; "
                "print(settings.CELERY_TASK_ALWAYS_EAGER, settings.CELERY_BROKER_URL, "
                "app.conf.task_always_eager)")


def test_without_redis_url_celery_runs_tasks_in_process():
    result = run(["-c", CELERY_PROBE], REDIS_URL=None)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "memory://", "True"]


def test_with_redis_url_celery_uses_the_broker():
    result = run(["-c", CELERY_PROBE], REDIS_URL="redis://127.0.0.1:6379/0")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "redis://127.0.0.1:6379/0", "False"]


def test_tests_run_celery_tasks_eagerly(settings):
    assert settings.CELERY_TASK_ALWAYS_EAGER is True
    assert settings.CELERY_TASK_EAGER_PROPAGATES is True


DRF_SETTINGS_PROBE = ("import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = "
                      "'qianhai_grants.settings.local'; django.setup(); "
                      "from rest_framework.settings import api_settings; "
                      "print(api_settings.DEFAULT_PAGINATION_CLASS.__name__, "
                      "[p.__name__ for p in api_settings.DEFAULT_PARSER_CLASSES][0])")


def test_drf_settings_resolve_before_any_view_is_imported():
    # `makemigrations` runs DRF's system checks before a URLconf is loaded: the classes the
    # settings name must import without going through rest_framework.views.
    result = run(["-c", DRF_SETTINGS_PROBE])

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["Pagination", "JSONBodyParser"]
