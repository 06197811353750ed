"""Identity settings: provider credentials and how long to wait for providers."""

from typing import Any

from django.conf import settings


def provider_settings(key: str) -> dict[str, Any]:
    """`IDENTITY_PROVIDERS[key]`: client id and secret, and so on."""
    configured = getattr(settings, "IDENTITY_PROVIDERS", {}).get(key, {})
    return dict(configured) if isinstance(configured, dict) else {}


def http_timeout() -> float:
    """Seconds to wait for a provider's answer."""
    return float(getattr(settings, "IDENTITY_HTTP_TIMEOUT", 10))
