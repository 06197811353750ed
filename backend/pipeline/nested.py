"""Nested pipelines: a whole other pipeline run as one step of this one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework.request import Request

from .outcomes import StepResult
from .steps import PipelineView, signature_of

if TYPE_CHECKING:
    from .base import Pipeline


class NestedPipelineView(PipelineView):
    """Runs `pipeline_cls` with `provider_key` inside the current pipeline.

    When the nested pipeline reaches its end, its `finish_pipeline` is
    *not* called: its state is bound into the parent under `bind_key`, and
    the parent moves on. The nested flow's state lives inside the parent's,
    so the parent's `initialize()` resets it and one write covers both.
    """

    def __init__(
        self,
        bind_key: str,
        provider_key: str,
        pipeline_cls: type[Pipeline],
        config: dict[str, Any] | None = None,
        *,
        name: str = "",
    ) -> None:
        self.bind_key = bind_key
        self.provider_key = provider_key
        self.pipeline_cls = pipeline_cls
        self.config = dict(config or {})
        self.name = name or bind_key

    def nested_pipeline(self, request: Request, pipeline: Pipeline) -> Pipeline:
        nested = self.pipeline_cls(request, self.provider_key, config=self.config)
        nested.set_parent_pipeline(pipeline, self.bind_key)
        return nested

    def dispatch(self, request: Request, pipeline: Pipeline) -> StepResult:
        nested = self.nested_pipeline(request, pipeline)
        if not nested.is_valid():
            nested.initialize()
        return nested.current_step()

    def signature_part(self) -> str:
        """Covers the nested provider's own steps: a change there outdates us too."""
        provider = self.pipeline_cls.provider_manager.get(self.provider_key)
        provider.set_config(dict(self.config))
        nested = signature_of(provider.get_pipeline_views())
        target = f"{self.pipeline_cls.pipeline_name}/{self.provider_key}"
        return f"{super().signature_part()}[{target}:{nested}]"
