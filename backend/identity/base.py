"""What every identity provider is: a pipeline provider that describes a user."""

from typing import Any

from backend.pipeline import PipelineProvider


class Provider(PipelineProvider):
    """An identity provider: its steps end in what `build_identity` reads."""

    def build_identity(self, state: dict[str, Any]) -> dict[str, Any]:
        """`{"id", "email", "name", "scopes"?, "data"?}` from the flow's state."""
        raise NotImplementedError
