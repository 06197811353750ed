"""The example integration of Sentry's: one setup form."""

from collections.abc import Sequence
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from backend.pipeline import FormView, Step

from .base import IntegrationProvider


class ExampleSetupSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(label=_("Name"), max_length=200)


class ExampleProvider(IntegrationProvider):
    key = "example"
    name = _("Example")

    def get_pipeline_views(self) -> Sequence[Step]:
        return [FormView(ExampleSetupSerializer, name="setup", title=_("Set up the example"))]

    def build_integration(self, state: dict[str, Any]) -> dict[str, Any]:
        name = state["setup"]["name"]
        return {"external_id": name, "name": name, "metadata": {}}
