"""What every integration provider is: steps that end in an integration."""

from typing import Any

from backend.pipeline import PipelineProvider


class IntegrationProvider(PipelineProvider):
    def build_integration(self, state: dict[str, Any]) -> dict[str, Any]:
        """`{"external_id", "name", "metadata"}` from the flow's state."""
        raise NotImplementedError
