"""Settings of the API-list benchmark's gunicorn: the test settings (no throttling in the way)
with a URL configuration that adds the bare view beside the site (`bench/api_list_urls.py`)."""

from qianhai_grants.settings.test import *  # noqa: F403

ROOT_URLCONF = "bench.api_list_urls"
CELERY_TASK_ALWAYS_EAGER = True
