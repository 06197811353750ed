"""The fields of the onboarding steps."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class ProfileSerializer(serializers.Serializer[Any]):
    email = serializers.EmailField(label=_("Email"))
    name = serializers.CharField(label=_("Name"), max_length=100)


class CompanySerializer(serializers.Serializer[Any]):
    company = serializers.CharField(label=_("Company"), max_length=100)
    size = serializers.ChoiceField(
        label=_("Company size"),
        choices=[("s", _("Small")), ("m", _("Medium")), ("l", _("Large"))],
        style={"ui:widget": "radio"},
    )


class ConfirmSerializer(serializers.Serializer[Any]):
    accept = serializers.BooleanField(label=_("I accept the terms"))

    def validate_accept(self, value: bool) -> bool:
        if not value:
            raise serializers.ValidationError(
                _("You must accept the terms to go on."), code="must_accept"
            )
        return value


class InitialDataSerializer(serializers.Serializer[Any]):
    """What a client may prefill when it starts the flow."""

    email = serializers.EmailField(required=False)
    name = serializers.CharField(max_length=100, required=False)
