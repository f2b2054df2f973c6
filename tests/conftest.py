import copy
import functools

import pytest
from django.db import connection

# Real Celery workers and Redis brokers, as fixtures (`shared_redis`, `workers`, ...).
pytest_plugins = ["tests.celery_workers"]


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgres` run on PostgreSQL only; elsewhere they are skipped, visibly."""
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" in engine:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL (CI runs it)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def catalogue(db):
    """The real catalogue, loaded from measures/data/measures.yaml as `manage.py load_measures`
    loads it (the file read once per test process; the command itself has tests of its own)."""
    from measures.services import catalogue_load

    catalogue_load(entries=copy.deepcopy(_catalogue_entries()))
    return connection


@functools.cache
def _catalogue_entries() -> list:
    from measures.management.commands.load_measures import DEFAULT_FILE
    from qianhai_grants.data import yaml_load

    return yaml_load(DEFAULT_FILE.read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def _clear_cache():
    """Throttles and axes keep counters in the cache; every test starts clean."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _default_language():
    """Every test starts in the site's default language, whatever a test before it activated
    (a request or a command activates one for the thread, and nothing resets it)."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can act on failures
    (the browser tests save a screenshot)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
