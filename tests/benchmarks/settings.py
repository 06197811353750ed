"""Settings of the benchmark: the project's, plus the peer and the floor.

`DJANGO_SETTINGS_MODULE=tests.benchmarks.settings`, with `DATABASE_URL`,
`REDIS_URL` and `PIPELINE_STORE` set by the driver (`run.py`) for each
configuration measured. On top of the project's settings: django-formtools
installed, the bench URLs (the project's plus /bench/floor/, /bench/bare/
and /bench/wizard/), CORS handled on them as on the API, the bench
templates, no start throttle, DEBUG off.
"""

from pathlib import Path

from backend.config import settings as _project
from backend.config.settings import *  # noqa: F403

DEBUG = False

INSTALLED_APPS = [*_project.INSTALLED_APPS, "formtools"]

ROOT_URLCONF = "tests.benchmarks.urls"

TEMPLATES = [
    {**_project.TEMPLATES[0], "DIRS": [Path(__file__).resolve().parent / "templates"]},
]

# A benchmark starts flows from one address far faster than any person.
PIPELINE_START_RATE = None

# The floor, bare and the wizard answer under the same middleware as ours:
# the project's CORS applies to its API's paths, and to theirs here.
CORS_URLS_REGEX = r"^/(api|bench)/.*$"
