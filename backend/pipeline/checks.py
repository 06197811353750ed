"""System checks for the pipeline settings, so misconfiguration fails early."""

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.utils.module_loading import import_string
from redis import ConnectionPool
from rest_framework.settings import api_settings

from .api.throttling import is_valid_rate
from .conf import conf
from .redirects import is_allowed_target
from .store import FlowStore


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    if conf.TTL <= 0:
        errors.append(
            Error("PIPELINE_TTL must be a positive number of seconds.", id="pipeline.E001")
        )
    if conf.MAX_BODY_SIZE <= 0:
        errors.append(Error("PIPELINE_MAX_BODY_SIZE must be positive.", id="pipeline.E002"))
    # Each of these at zero or below refuses every start or every step, or
    # drops a flow before it expires, rather than failing where it is set.
    if conf.MAX_ACTIVE_FLOWS <= 0:
        errors.append(Error("PIPELINE_MAX_ACTIVE_FLOWS must be positive.", id="pipeline.E009"))
    if conf.MAX_STATE_SIZE <= 0:
        errors.append(Error("PIPELINE_MAX_STATE_SIZE must be positive.", id="pipeline.E010"))
    if api_settings.NUM_PROXIES is not None and api_settings.NUM_PROXIES < 0:
        errors.append(
            Error(
                "NUM_PROXIES must be zero or more: the throttles would read a client's "
                "address from what the client wrote.",
                id="pipeline.E013",
            )
        )
    for name in ("REDIS_URL", "PIPELINE_REDIS_URL"):
        url = getattr(settings, name, "")
        try:
            if url:
                ConnectionPool.from_url(url)  # reads the URL, connects to nothing
        except ValueError as exc:
            errors.append(Error(f"{name}: {exc}", id="pipeline.E014"))
    if conf.CALLBACK_TIMEOUT < 0:
        errors.append(
            Error("PIPELINE_CALLBACK_TIMEOUT must be zero or more seconds.", id="pipeline.E015")
        )
    if conf.REDIS_GRACE < 0:
        errors.append(
            Error("PIPELINE_REDIS_GRACE must be zero or more seconds.", id="pipeline.E012")
        )
    if not conf.CLASSES:
        # Not an error: a project may add its pipelines later. But a setting
        # left blank by mistake would otherwise show only as 404s.
        errors.append(
            Warning(
                "PIPELINE_CLASSES is empty: the catalog lists nothing and every start "
                "answers 404.",
                id="pipeline.W001",
            )
        )
    if settings.SESSION_ENGINE == "django.contrib.sessions.backends.signed_cookies":
        # The session is its cookie: a logout cannot end a copy of it, and
        # an anonymous session's owner key (its first key) stays readable.
        errors.append(
            Warning(
                "Sessions kept in signed cookies cannot be ended by a logout: a copy of "
                "the cookie keeps opening the anonymous flows its session started.",
                hint="Keep sessions on the server (the database, the cache).",
                id="pipeline.W002",
            )
        )
    names: set[str] = set()
    for path in conf.CLASSES:
        try:
            cls = import_string(path)
        except ImportError as exc:
            errors.append(
                Error(f"PIPELINE_CLASSES: cannot import {path!r}: {exc}", id="pipeline.E003")
            )
            continue
        name = getattr(cls, "pipeline_name", "")
        if not name:
            errors.append(Error(f"{path} has no pipeline_name.", id="pipeline.E004"))
        elif name in names:
            errors.append(Error(f"Two pipelines are named {name!r}.", id="pipeline.E005"))
        names.add(name)
    if not is_allowed_target(conf.FRONTEND_URL):
        errors.append(
            Error(
                "PIPELINE_FRONTEND_URL must be a path, or a URL on an origin listed in "
                "PIPELINE_RETURN_TO_ORIGINS.",
                id="pipeline.E007",
            )
        )
    if conf.START_RATE is not None and not is_valid_rate(conf.START_RATE):
        errors.append(
            Error(
                f"PIPELINE_START_RATE: {conf.START_RATE!r} is not a rate such as "
                "'60/min' (a number, then s, min, hour or day).",
                id="pipeline.E008",
            )
        )
    try:
        store_cls = import_string(conf.STORE)
    except ImportError as exc:
        errors.append(
            Error(f"PIPELINE_STORE: cannot import {conf.STORE!r}: {exc}", id="pipeline.E006")
        )
    else:
        # A class must be a FlowStore; a factory of one (any other callable) is taken on trust.
        if not callable(store_cls) or (
            isinstance(store_cls, type) and not issubclass(store_cls, FlowStore)
        ):
            errors.append(
                Error(f"PIPELINE_STORE: {conf.STORE} is not a FlowStore.", id="pipeline.E011")
            )
    return errors
