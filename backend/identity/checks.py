"""Deployment checks of the identity providers (`manage.py check --deploy`)."""

from typing import Any

from django.core.checks import CheckMessage, Tags, Warning, register

from . import conf


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
