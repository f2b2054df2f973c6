"""WSGI entry of the API-list benchmark's gunicorn (settings: `bench/api_list_settings.py`)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.api_list_settings")
application = get_wsgi_application()
