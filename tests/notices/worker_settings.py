"""Settings of a real Celery worker started by the real-services tests and the notices benchmark
(and of bench/bench_submission.py, which hands its tasks to the broker with no worker).

The test settings, except that tasks go through a broker (not eagerly), to the database, queue
and mail folder the starting process names in the environment:

    NOTICES_DB_NAME      the database (pytest-django's test database, e.g. test_qianhai_grants)
    NOTICES_BROKER_URL   the Redis broker
    NOTICES_QUEUE        the queue the worker consumes and the notices tasks are sent to
    NOTICES_MAIL_DIR     a folder: each message sent is written there (Django's file backend),
                         so it can be counted by Message-ID even after the worker is killed;
                         without it, mail is kept in memory (the locmem backend)
"""

import os

from qianhai_grants.settings.test import *  # noqa: F403
from qianhai_grants.settings.test import DATABASES

DATABASES["default"]["NAME"] = os.environ["NOTICES_DB_NAME"]

CELERY_TASK_ALWAYS_EAGER = False
CELERY_BROKER_URL = os.environ["NOTICES_BROKER_URL"]
CELERY_TASK_DEFAULT_QUEUE = os.environ["NOTICES_QUEUE"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

if os.environ.get("NOTICES_MAIL_DIR"):
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.filebased.EmailBackend",
                           "OPTIONS": {"file_path": os.environ["NOTICES_MAIL_DIR"]}}}
else:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
