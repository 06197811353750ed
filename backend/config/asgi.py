"""ASGI entry point."""

import os

from django.core.asgi import get_asgi_application

from .charsets import guard_asgi

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")

application = guard_asgi(get_asgi_application())
