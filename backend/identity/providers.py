"""Identity providers: each a way to find out who the user is elsewhere."""

from collections.abc import Sequence
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.request import Request

from backend.pipeline import (
    Form,
    Pipeline,
    PipelineProvider,
    PipelineView,
    ProviderManager,
    Step,
)
from backend.pipeline.errors import flatten_errors
from backend.pipeline.outcomes import StepResult

default_manager = ProviderManager()


class Provider(PipelineProvider):
    """An identity provider: its steps end in what `build_identity` reads."""

    def build_identity(self, state: dict[str, Any]) -> dict[str, Any]:
        """`{"id", "email", "name", "scopes"?, "data"?}` from the flow's state."""
        raise NotImplementedError


class EmailSerializer(serializers.Serializer[Any]):
    email = serializers.EmailField(label=_("Email"))


class AskEmail(PipelineView):
    """The seed's example view: take an email, or show the form asking for it."""

    title = _("Your email")

    def dispatch(self, request: Request, pipeline: Pipeline) -> StepResult:
        if request.method == "POST":
            serializer = EmailSerializer(data=request.data)
            if not serializer.is_valid():
                errors = flatten_errors(serializer.errors)
                return Form(EmailSerializer, title=self.title, errors=errors)
            pipeline.bind_state("email", serializer.validated_data["email"])
            return pipeline.next_step()
        return Form(EmailSerializer, title=self.title)


@default_manager.register
class DummyProvider(Provider):
    key = "dummy"
    name = _("Dummy")

    def get_pipeline_views(self) -> Sequence[Step]:
        return [AskEmail()]

    def build_identity(self, state: dict[str, Any]) -> dict[str, Any]:
        return {"id": state["email"], "email": state["email"], "name": "Dummy"}
