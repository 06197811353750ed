"""Request bodies of the API, and the documented shape of its answers.

The answer serializers are never used to build answers (the engine builds
descriptors as plain dicts, which is faster); they exist so that the
OpenAPI document describes the descriptor, its `kind` union and the error
envelope exactly, and tests check real answers against that document.
"""

from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import serializers

from ..state import STATUSES

MAX_VERSION = 2**31 - 1


class JSONIntegerField(serializers.IntegerField):
    """An integer as JSON writes one: `"1"` or `true` is not one, as the schema says.

    (JSON Schema counts `1.0` an integer, and so does this field.)
    """

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, str | bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class JSONStringField(serializers.CharField):
    """A string as JSON writes one: a number is not one, as the schema says."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StartSerializer(serializers.Serializer[Any]):
    # No length limits: a name no pipeline has is `unknown_pipeline` (404)
    # and a return address too long to keep is `invalid_return_to`, as the
    # protocol says, however long (the body's own limit bounds them). Nor
    # trimmed: " onboarding" is a name no pipeline has, where a blank one
    # would be a malformed request the schema does not allow.
    pipeline = JSONStringField(trim_whitespace=False)
    provider = JSONStringField(trim_whitespace=False)
    initial_data = serializers.DictField(required=False, default=dict)
    return_to = JSONStringField(required=False, allow_blank=True, default="")


class VersionSerializer(serializers.Serializer[Any]):
    version = JSONIntegerField(min_value=1, max_value=MAX_VERSION)


class SubmitSerializer(VersionSerializer):
    # The protocol names the field `data`; DRF keeps the property of that
    # name working, only the type checker sees a clash.
    data = serializers.DictField(required=False, default=dict)  # type: ignore[assignment]


# -- answers (documentation only) -------------------------------------------------


class ErrorItemSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    message = serializers.CharField()
    field = serializers.CharField(allow_null=True)


class ActionSerializer(serializers.Serializer[Any]):
    name = serializers.ChoiceField(choices=["submit", "back", "cancel"])
    method = serializers.ChoiceField(choices=["POST", "DELETE"])
    href = serializers.CharField()


class PathEntrySerializer(serializers.Serializer[Any]):
    pipeline = serializers.CharField()
    provider = serializers.CharField()
    name = serializers.CharField(allow_null=True)
    index = serializers.IntegerField(min_value=0)
    total = serializers.IntegerField(min_value=0)


class StepSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(allow_null=True)
    index = serializers.IntegerField(min_value=0)
    total = serializers.IntegerField(min_value=0)
    version = serializers.IntegerField(min_value=1)
    path = PathEntrySerializer(many=True)


class _DescriptorBase(serializers.Serializer[Any]):
    id = serializers.CharField()
    pipeline = serializers.CharField()
    provider = serializers.CharField()
    status = serializers.ChoiceField(choices=list(STATUSES))
    expires_at = serializers.DateTimeField()
    step = StepSerializer()
    title = serializers.CharField(allow_blank=True)
    description = serializers.CharField(allow_blank=True)
    errors = ErrorItemSerializer(many=True)  # type: ignore[assignment]
    actions = ActionSerializer(many=True)


class FormSerializer(serializers.Serializer[Any]):
    schema = serializers.JSONField(help_text="JSON Schema (2020-12) of the data to submit.")
    ui_schema = serializers.JSONField(help_text="react-jsonschema-form `ui:` hints.")
    data = serializers.JSONField(help_text="Values to prefill.")  # type: ignore[assignment]


class RedirectSerializer(serializers.Serializer[Any]):
    url = serializers.CharField()


class FormDescriptorSerializer(_DescriptorBase):
    kind = serializers.ChoiceField(choices=["form"])
    form = FormSerializer()


class RedirectDescriptorSerializer(_DescriptorBase):
    kind = serializers.ChoiceField(choices=["redirect"])
    redirect = RedirectSerializer()


class CompleteDescriptorSerializer(_DescriptorBase):
    kind = serializers.ChoiceField(choices=["complete"])
    result = serializers.JSONField(help_text="What finish_pipeline produced.")


class ErrorDescriptorSerializer(_DescriptorBase):
    kind = serializers.ChoiceField(choices=["error"])


DESCRIPTOR = PolymorphicProxySerializer(
    component_name="Descriptor",
    serializers={
        "form": FormDescriptorSerializer,
        "redirect": RedirectDescriptorSerializer,
        "complete": CompleteDescriptorSerializer,
        "error": ErrorDescriptorSerializer,
    },
    resource_type_field_name="kind",
)


class StartedFormDescriptorSerializer(FormDescriptorSerializer):
    token = serializers.CharField(help_text="The flow token, given only here.")


class StartedRedirectDescriptorSerializer(RedirectDescriptorSerializer):
    token = serializers.CharField(help_text="The flow token, given only here.")


class StartedCompleteDescriptorSerializer(CompleteDescriptorSerializer):
    token = serializers.CharField(help_text="The flow token, given only here.")


class StartedErrorDescriptorSerializer(ErrorDescriptorSerializer):
    token = serializers.CharField(help_text="The flow token, given only here.")


STARTED_DESCRIPTOR = PolymorphicProxySerializer(
    component_name="StartedDescriptor",
    serializers={
        "form": StartedFormDescriptorSerializer,
        "redirect": StartedRedirectDescriptorSerializer,
        "complete": StartedCompleteDescriptorSerializer,
        "error": StartedErrorDescriptorSerializer,
    },
    resource_type_field_name="kind",
)


class RestartSerializer(serializers.Serializer[Any]):
    pipeline = serializers.CharField()
    provider = serializers.CharField()


class ErrorBodySerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    message = serializers.CharField()
    errors = ErrorItemSerializer(many=True, required=False)  # type: ignore[assignment]
    restart = RestartSerializer(required=False)


class ErrorEnvelopeSerializer(serializers.Serializer[Any]):
    error = ErrorBodySerializer()


class ProviderEntrySerializer(serializers.Serializer[Any]):
    key = serializers.CharField()
    name = serializers.CharField()


class PipelineEntrySerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    title = serializers.CharField()
    providers = ProviderEntrySerializer(many=True)


class CatalogSerializer(serializers.Serializer[Any]):
    pipelines = PipelineEntrySerializer(many=True)
