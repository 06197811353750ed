"""The dummy provider of Sentry's identity module: it simply asks for an email."""

from collections.abc import Sequence
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.request import Request

from backend.pipeline import (
    Form,
    Pipeline,
    PipelineView,
    Step,
    StepResult,
    flatten_errors,
    submitted_data,
)

from .base import Provider


class EmailSerializer(serializers.Serializer[Any]):
    # 254, as RFC 5321 allows and Django's own EmailField keeps: the
    # identity's external id, at most 255 characters, is this email.
    email = serializers.EmailField(label=_("Email"), max_length=254)


class AskEmail(PipelineView):
    """The example view of Sentry's pipeline README: take an email, or ask for it."""

    title = _("Your email")

    def dispatch(self, request: Request, pipeline: Pipeline) -> StepResult:
        if request.method == "POST":
            serializer = EmailSerializer(data=request.data)
            if not serializer.is_valid():
                errors = flatten_errors(serializer.errors)
                # What was typed comes back with its error, to be corrected, not retyped.
                data = submitted_data(request, ["email"])
                return Form(EmailSerializer, title=self.title, data=data, errors=errors)
            pipeline.bind_state("email", serializer.validated_data["email"])
            return pipeline.next_step()
        return Form(EmailSerializer, title=self.title)


class DummyProvider(Provider):
    key = "dummy"
    name = _("Dummy")

    def get_pipeline_views(self) -> Sequence[Step]:
        return [AskEmail()]

    def build_identity(self, state: dict[str, Any]) -> dict[str, Any]:
        return {"id": state["email"], "email": state["email"], "name": "Dummy"}
