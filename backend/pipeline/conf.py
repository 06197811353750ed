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


conf = PipelineSettings()
