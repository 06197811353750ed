"""A pipeline with every kind of field, and one that fails: what the demo's flows lack.

Labels, help texts and the failure message carry markup, which the app must
show as text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rest_framework import serializers
from rest_framework.request import Request

from backend.pipeline import (
    FormView,
    Pipeline,
    PipelineProvider,
    PipelineView,
    ProviderManager,
    Redirect,
    Step,
    StepResult,
)

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


#: An integer that a JavaScript number cannot hold exactly (above 2**53).
BIG_INTEGER = 12345678901234567891


class EdgeSerializer(serializers.Serializer[Any]):
    """Fields whose JSON Schema a client must follow to the letter."""

    # Required, but "" is a valid value: the schema has it in `required`, with no minLength.
    note = serializers.CharField(label="Note", allow_blank=True)
    # No bounds: any integer, exactly as typed.
    count = serializers.IntegerField(label="Count")
    # An instant: `format: date-time` is RFC 3339, with its offset (the server's zone is UTC).
    meeting = serializers.DateTimeField(label="Meeting", required=False)


#: The error of `TripSerializer.validate()`: on the trip as a whole, no one field of it.
TRIP_GOES_NOWHERE = "A trip ends somewhere else than it starts."


class TripSerializer(serializers.Serializer[Any]):
    departure = serializers.CharField(label="Departure")
    arrival = serializers.CharField(label="Arrival")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["departure"] == attrs["arrival"]:
            raise serializers.ValidationError(TRIP_GOES_NOWHERE, code="nowhere")
        return attrs


class BookingSerializer(serializers.Serializer[Any]):
    trip = TripSerializer(label="Trip")
    # Yes, no, or no preference (null), which a checkbox cannot say.
    window_seat = serializers.BooleanField(label="Window seat", allow_null=True, required=False)


#: Where the relative redirect goes: a path of the API, as `actions` hrefs are.
RELATIVE_REDIRECT = "/api/elsewhere/?from=relative-redirect"


class RelativeRedirectView(PipelineView):
    """A redirect to a path of the API's own origin (as `reverse()` gives it)."""

    name = "away"
    title = "Continue on the API's site"

    def dispatch(self, request: Request, pipeline: Pipeline) -> StepResult:
        return Redirect(RELATIVE_REDIRECT)


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


@manager.register
class EdgeProvider(PipelineProvider):
    key = "edge"
    name = "Edge cases"

    def get_pipeline_views(self) -> Sequence[Step]:
        return [FormView(EdgeSerializer, name="edge", title="Edge cases")]


@manager.register
class BookingProvider(PipelineProvider):
    key = "booking"
    name = "Booking"

    def get_pipeline_views(self) -> Sequence[Step]:
        return [FormView(BookingSerializer, name="booking", title="Book a trip")]


@manager.register
class RelativeRedirectProvider(PipelineProvider):
    key = "relative"
    name = "Relative redirect"

    def get_pipeline_views(self) -> Sequence[Step]:
        return [RelativeRedirectView()]


class WidgetsPipeline(Pipeline):
    pipeline_name = "widgets"
    title = "Widgets"
    provider_manager = manager

    def finish_pipeline(self) -> Any:
        if self.provider_key == FailingProvider.key:
            return self.error(MARKUP_FAILURE, code="refused")
        if self.provider_key == EdgeProvider.key:
            return self.fetch_state("edge")
        if self.provider_key == BookingProvider.key:
            return self.fetch_state("booking")
        return self.fetch_state("widgets")


PIPELINES = [
    "backend.onboarding.pipeline.OnboardingPipeline",
    "tests.browser.pipelines.WidgetsPipeline",
]
