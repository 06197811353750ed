"""A pipeline with every kind of field, and one that fails: what the demo's flows lack.

Labels, help texts and the failure message carry markup, which the app must
show as text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rest_framework import serializers

from backend.pipeline import FormView, Pipeline, PipelineProvider, ProviderManager, Step

MARKUP_LABEL = "Name <b>bold</b>"
MARKUP_HELP = "Shown as <img src=x onerror=window.__xss=1> text."
MARKUP_FAILURE = "<b>Refused</b> by the test pipeline."


class AddressSerializer(serializers.Serializer[Any]):
    street = serializers.CharField(label="Street")
    city = serializers.CharField(label="City")


class TopicsField(serializers.MultipleChoiceField):
    """A list, where `MultipleChoiceField` represents its value as a set.

    A set cannot be bound to a flow (its state is JSON): a form with a plain
    `MultipleChoiceField` answers 500 on a valid submit.
    """

    def to_representation(self, value: Any) -> Any:
        return sorted(super().to_representation(value))


class WidgetsSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(label=MARKUP_LABEL, help_text=MARKUP_HELP, max_length=50)
    email = serializers.EmailField(label="Email")
    website = serializers.URLField(label="Website", required=False)
    secret = serializers.CharField(label="Secret", style={"input_type": "password"})
    bio = serializers.CharField(
        label="Bio", style={"base_template": "textarea.html"}, required=False
    )
    age = serializers.IntegerField(label="Age", min_value=0, max_value=150)
    height = serializers.FloatField(label="Height in metres", required=False)
    newsletter = serializers.BooleanField(label="Send me the newsletter", default=True)
    plan = serializers.ChoiceField(label="Plan", choices=[("free", "Free"), ("pro", "Pro")])
    colour = serializers.ChoiceField(
        label="Colour", choices=["red", "green", "blue"], style={"ui:widget": "radio"}
    )
    level = serializers.ChoiceField(
        label="Level", choices=[(1, "Beginner"), (2, "Expert")], default=1
    )
    topics = TopicsField(
        label="Topics", choices=[("news", "News"), ("tips", "Tips"), ("offers", "Offers")]
    )
    birthday = serializers.DateField(label="Birthday")
    address = AddressSerializer(label="Address")
    tags = serializers.ListField(label="Tags", child=serializers.CharField(), required=False)


class ConfirmSerializer(serializers.Serializer[Any]):
    pass


manager = ProviderManager()


@manager.register
class EveryWidgetProvider(PipelineProvider):
    key = "all"
    name = "Every widget"

    def get_pipeline_views(self) -> Sequence[Step]:
        return [
            FormView(
                WidgetsSerializer,
                name="widgets",
                title="Every widget",
                description="One field of each kind.",
            )
        ]


@manager.register
class FailingProvider(PipelineProvider):
    key = "failing"
    name = "Failing"

    def get_pipeline_views(self) -> Sequence[Step]:
        return [FormView(ConfirmSerializer, name="confirm", title="Go on and fail")]


class WidgetsPipeline(Pipeline):
    pipeline_name = "widgets"
    title = "Widgets"
    provider_manager = manager

    def finish_pipeline(self) -> Any:
        if self.provider_key == FailingProvider.key:
            return self.error(MARKUP_FAILURE, code="refused")
        return self.fetch_state("widgets")


PIPELINES = [
    "backend.onboarding.pipeline.OnboardingPipeline",
    "tests.browser.pipelines.WidgetsPipeline",
]
