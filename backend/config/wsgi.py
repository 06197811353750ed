"""WSGI entry point (gunicorn backend.config.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

from .charsets import guard_wsgi

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")

application = guard_wsgi(get_wsgi_application())
