"""The pipeline settings, read from Django settings with their defaults.

Reading through properties (rather than copying values at import) keeps
`override_settings` working in tests.
"""

from django.conf import settings


class PipelineSettings:
    @property
    def CLASSES(self) -> list[str]:
        return list(getattr(settings, "PIPELINE_CLASSES", []))

    @property
    def TTL(self) -> int:
        """Seconds a flow lives after its last change."""
        return int(getattr(settings, "PIPELINE_TTL", 3600))

    @property
    def MAX_BODY_SIZE(self) -> int:
        """Bytes accepted in one request body to the API."""
        return int(getattr(settings, "PIPELINE_MAX_BODY_SIZE", 64 * 1024))

    @property
    def MAX_STATE_SIZE(self) -> int:
        """Bytes of JSON one flow may keep (its bound state, nested ones included)."""
        return int(getattr(settings, "PIPELINE_MAX_STATE_SIZE", 256 * 1024))

    @property
    def MAX_ACTIVE_FLOWS(self) -> int:
        """Unfinished flows one session (or user) may have at once."""
        return int(getattr(settings, "PIPELINE_MAX_ACTIVE_FLOWS", 50))

    @property
    def CALLBACK_TIMEOUT(self) -> int:
        """Seconds a callback may take: its state, spent less long ago, is still awaited."""
        return int(getattr(settings, "PIPELINE_CALLBACK_TIMEOUT", 30))

    @property
    def START_RATE(self) -> str | None:
        """How often one client may start flows, in DRF's notation ("60/min"); None: no limit."""
        rate = getattr(settings, "PIPELINE_START_RATE", "60/min")
        return str(rate) if rate else None

    @property
    def STORE(self) -> str:
        return str(getattr(settings, "PIPELINE_STORE", "backend.pipeline.store.DatabaseStore"))

    @property
    def FRONTEND_URL(self) -> str:
        """Where the callback sends a browser back, unless the flow has `return_to`."""
        return str(getattr(settings, "PIPELINE_FRONTEND_URL", "/"))

    @property
    def RETURN_TO_ORIGINS(self) -> list[str]:
        return list(getattr(settings, "PIPELINE_RETURN_TO_ORIGINS", []))

    @property
    def REDIS_URL(self) -> str:
        """The Redis store's server: `PIPELINE_REDIS_URL`, else the project's `REDIS_URL`."""
        url = getattr(settings, "PIPELINE_REDIS_URL", "") or getattr(settings, "REDIS_URL", "")
        return str(url or "redis://127.0.0.1:6379/0")

    @property
    def REDIS_PREFIX(self) -> str:
        """The start of the Redis store's keys: one per deployment sharing a Redis."""
        return str(getattr(settings, "PIPELINE_REDIS_PREFIX", "pipeline:"))

    @property
    def REDIS_GRACE(self) -> int:
        """Seconds an expired flow stays in Redis, answered 410, before it is gone."""
        return int(getattr(settings, "PIPELINE_REDIS_GRACE", 86400))


conf = PipelineSettings()
