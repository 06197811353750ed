"""System checks of the accounts settings, so misconfiguration fails early."""

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from backend.pipeline.api.throttling import is_valid_rate


@register()
def check_login_rate(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    rate = getattr(settings, "AUTH_LOGIN_RATE", None)
    if not rate or is_valid_rate(rate):
        return []
    return [
        Error(
            f"AUTH_LOGIN_RATE: {rate!r} is not a rate such as '10/min' "
            "(a number, then s, min, hour or day).",
            id="accounts.E001",
        )
    ]
