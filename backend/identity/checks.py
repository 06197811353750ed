"""Checks of the identity settings: errors always, a warning on deploy."""

from typing import Any
from urllib.parse import urlsplit

from django.core.checks import CheckMessage, Error, Tags, Warning, register

from . import conf


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    if conf.http_timeout() <= 0:
        # requests would refuse every call, and each sign-in would fail as the provider's fault.
        errors.append(Error("IDENTITY_HTTP_TIMEOUT must be positive.", id="identity.E001"))
    base_url = str(conf.provider_settings("local").get("base_url") or "")
    parts = urlsplit(base_url)
    if base_url and not (parts.scheme in ("http", "https") and parts.netloc):
        errors.append(
            Error(
                f"LOCAL_OAUTH_BASE_URL: {base_url!r} is not an http or https URL.",
                id="identity.E002",
            )
        )
    return errors


@register(Tags.security, deploy=True)
def check_local_provider(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    local = conf.provider_settings("local")
    if not local.get("enabled") or local.get("base_url"):
        return []
    return [
        Warning(
            "The local OAuth provider is enabled without LOCAL_OAUTH_BASE_URL, so it "
            "sends its client secret to the origin a request names. Django checks a "
            "request's host but not its port, which the client chooses.",
            hint="Set LOCAL_OAUTH_BASE_URL to the server's own origin, or leave the "
            "local provider to development.",
            id="identity.W001",
        )
    ]
