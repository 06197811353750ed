"""A chat integration, modelled on Sentry's Slack one.

The user signs in to the chat service through the identity pipeline (run
nested, on the demo's local OAuth2 server), picks a channel among those the
sign-in returned, and confirms.
"""

from collections.abc import Sequence
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.request import Request

from backend.identity.local import LocalProvider
from backend.identity.pipeline import IdentityPipeline
from backend.pipeline import (
    FormView,
    LateBoundStep,
    NestedPipelineView,
    Pipeline,
    Step,
    StepResult,
)

from .base import IntegrationProvider

IDENTITY_SCOPES = ["profile", "channels"]


class ChooseChannel(FormView):
    """A form whose choices are the channels the signed-in user is in."""

    name = "channel"
    title = _("Choose a channel")
    description = _("Where should alerts be posted?")
    ui_schema = {"channel": {"ui:widget": "radio"}}
    # Back from here would mean signing in to the chat service again.
    allow_back = False

    def __init__(self, channels: Sequence[str]) -> None:
        super().__init__()
        self.channels = list(channels)

    def dispatch(self, request: Request, pipeline: Pipeline) -> StepResult:
        # With no choice the form could never be passed, and back is closed.
        if not self.channels:
            return pipeline.error(
                _("Your chat account is in no channel to post alerts to."), code="no_channels"
            )
        return super().dispatch(request, pipeline)

    def get_serializer(self, pipeline: Pipeline, data: Any = empty) -> serializers.Serializer[Any]:
        channels = self.channels

        class ChannelSerializer(serializers.Serializer[Any]):
            channel = serializers.ChoiceField(label=_("Channel"), choices=channels)

        return ChannelSerializer(data=data)


class ConfirmSerializer(serializers.Serializer[Any]):
    pass


def choose_channel(pipeline: Pipeline) -> ChooseChannel:
    """Built from what the identity step returned."""
    identity = pipeline.fetch_state("identity") or {}
    return ChooseChannel((identity.get("user") or {}).get("channels", []))


class ChatProvider(IntegrationProvider):
    key = "chat"
    name = _("Chat")

    @classmethod
    def is_available(cls) -> bool:
        return LocalProvider.is_available()

    def get_pipeline_views(self) -> Sequence[Step]:
        identity = NestedPipelineView(
            bind_key="identity",
            provider_key="local",
            pipeline_cls=IdentityPipeline,
            config={"oauth_scopes": IDENTITY_SCOPES},
        )
        return [
            identity,
            LateBoundStep(choose_channel, name="channel"),
            FormView(ConfirmSerializer, name="confirm", title=_("Install the integration")),
        ]

    def build_integration(self, state: dict[str, Any]) -> dict[str, Any]:
        user = state["identity"]["user"]
        return {
            "external_id": user["id"],
            "name": f"{user.get('name') or user['id']} (chat)",
            "metadata": {"channel": state["channel"]["channel"], "scopes": IDENTITY_SCOPES},
        }
