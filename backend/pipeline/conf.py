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
