"""Pipelines used by the engine's tests, written as a user of the library would.

`SentryPipeline` is the example of Sentry's pipeline README adapted to JSON: the same view
logic, answering forms instead of rendering templates.
"""

from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import Group
from rest_framework import serializers
from rest_framework.request import Request

from backend.pipeline import (
    ConditionalStep,
    Form,
    FormView,
    LateBoundStep,
    NestedPipelineView,
    Pipeline,
    PipelineProvider,
    PipelineView,
    ProviderManager,
    Redirect,
    Step,
    StepResult,
)

# -- Sentry's pipeline README's example ----------------------------------------------


class UserInputSerializer(serializers.Serializer[Any]):
    my_data = serializers.CharField(max_length=50)


class GetUserInput(PipelineView):
    def dispatch(self, request: Request, pipeline: Pipeline) -> StepResult:
        if request.method != "POST":
            return Form(UserInputSerializer, title="Your input")
        # The pipeline supports a generic error method that ends the flow.
        if "my_data" not in request.data:
            return pipeline.error("Data was not sent")
        # Input submitted: bind it, then move to and show the next step.
        pipeline.bind_state("user_input", dict(request.data))
        return pipeline.next_step()


class ApiTokenSerializer(serializers.Serializer[Any]):
    api_token = serializers.CharField()


class RequestApiTokenStep(FormView):
    serializer_class = ApiTokenSerializer
    name = "api_token"


sentry_manager = ProviderManager()


@sentry_manager.register
class SentryProvider(PipelineProvider):
    key = "sentry"
    name = "Sentry"

    def get_pipeline_views(self) -> Sequence[Step]:
        return [GetUserInput(), RequestApiTokenStep()]


class SentryPipeline(Pipeline):
    pipeline_name = "sentry"
    title = "Sentry example"
    provider_manager = sentry_manager
    provider_model_cls = Group
    finished: list[dict[str, Any]] = []

    def finish_pipeline(self) -> Any:
        state = dict(self.fetch_state())
        type(self).finished.append(state)
        return {"user_input": state["user_input"], "token": state["api_token"]["api_token"]}


# -- nesting -------------------------------------------------------------------------------


class EmailSerializer(serializers.Serializer[Any]):
    email = serializers.EmailField()


class NameSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=20)


class ConfirmSerializer(serializers.Serializer[Any]):
    pass


child_manager = ProviderManager()


@child_manager.register
class AccountProvider(PipelineProvider):
    key = "account"
    name = "Account"

    def get_pipeline_views(self) -> Sequence[Step]:
        title = str(self.config.get("title", "Email"))
        return [FormView(EmailSerializer, name="email", title=title), FormView(NameSerializer)]


class AccountPipeline(Pipeline):
    pipeline_name = "account"
    provider_manager = child_manager

    def finish_pipeline(self) -> Any:
        raise AssertionError("a nested pipeline's finish_pipeline must not be called")


parent_manager = ProviderManager()


@parent_manager.register
class SetupProvider(PipelineProvider):
    key = "setup"
    name = "Setup"

    def get_pipeline_views(self) -> Sequence[Step]:
        return [
            NestedPipelineView(
                bind_key="account",
                provider_key="account",
                pipeline_cls=AccountPipeline,
                config={"title": "Work email"},
            ),
            FormView(ConfirmSerializer, name="confirm"),
        ]


@parent_manager.register
class IntroducedSetupProvider(PipelineProvider):
    """The nested pipeline as the second step, after a form of the parent's."""

    key = "introduced"
    name = "Introduced setup"

    def get_pipeline_views(self) -> Sequence[Step]:
        return [
            FormView(NameSerializer, name="intro"),
            NestedPipelineView(
                bind_key="account", provider_key="account", pipeline_cls=AccountPipeline
            ),
            FormView(ConfirmSerializer, name="confirm"),
        ]


@parent_manager.register
class OnlyNestedSetupProvider(PipelineProvider):
    """Sentry's README's nested example: the nested view is the only step (by position)."""

    key = "only_nested"
    name = "Only nested"

    def get_pipeline_views(self) -> Sequence[Step]:
        account_pipeline_config = {"title": "Email", "redirect_url": "/extensions/slack/setup/"}
        account_pipeline_view = NestedPipelineView(
            "account", "account", AccountPipeline, account_pipeline_config
        )
        return [account_pipeline_view]


class SetupPipeline(Pipeline):
    pipeline_name = "setup"
    provider_manager = parent_manager

    def finish_pipeline(self) -> Any:
        return {"account": self.fetch_state("account")}


# -- late-bound and conditional steps ---------------------------------------------------


class CountSerializer(serializers.Serializer[Any]):
    count = serializers.IntegerField(min_value=0, max_value=3)


class KindSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=["personal", "business"])


class CompanySerializer(serializers.Serializer[Any]):
    company = serializers.CharField()


class PickColour(FormView):
    """A form whose choices are built from what an earlier step bound."""

    name = "colour"

    def get_serializer(self, pipeline: Pipeline, data: Any = serializers.empty) -> Any:
        palette = pipeline.fetch_state("palette") or {"colours": ["grey"]}

        class ColourSerializer(serializers.Serializer[Any]):
            colour = serializers.ChoiceField(choices=palette["colours"])
            chosen_from = serializers.HiddenField(default="palette")  # the server's, not asked

        return ColourSerializer(data=data)


class PaletteSerializer(serializers.Serializer[Any]):
    colours = serializers.ListField(child=serializers.CharField(), min_length=1)


def _items(pipeline: Pipeline) -> list[PipelineView]:
    count = (pipeline.fetch_state("count") or {}).get("count", 0)
    return [FormView(NameSerializer, name=f"item_{i}") for i in range(count)]


def _is_business(pipeline: Pipeline) -> bool:
    return (pipeline.fetch_state("kind") or {}).get("kind") == "business"


dynamic_manager = ProviderManager()


@dynamic_manager.register
class LateProvider(PipelineProvider):
    key = "late"
    name = "Late-bound"

    def get_pipeline_views(self) -> Sequence[Step]:
        return [
            FormView(CountSerializer, name="count"),
            LateBoundStep(_items, name="items"),
            FormView(PaletteSerializer, name="palette"),
            LateBoundStep(lambda pipeline: PickColour(), name="colour"),
        ]


@dynamic_manager.register
class ConditionalProvider(PipelineProvider):
    key = "conditional"
    name = "Conditional"

    def get_pipeline_views(self) -> Sequence[Step]:
        return [
            FormView(KindSerializer, name="kind"),
            ConditionalStep(FormView(CompanySerializer, name="company"), _is_business),
            FormView(ConfirmSerializer, name="confirm", allow_back=False),
        ]


@dynamic_manager.register
class LateThenNestedProvider(PipelineProvider):
    """Nested pipelines after late-bound steps: where they stand depends on what was bound."""

    key = "late_then_nested"
    name = "Late-bound, then nested"

    def get_pipeline_views(self) -> Sequence[Step]:
        return [
            FormView(CountSerializer, name="count"),
            LateBoundStep(_items, name="items"),
            *(
                NestedPipelineView(
                    bind_key=bind_key, provider_key="account", pipeline_cls=AccountPipeline
                )
                for bind_key in ("first", "second")
            ),
        ]


@dynamic_manager.register
class UnlessPersonalProvider(PipelineProvider):
    """A condition that holds while nothing is bound (the company step counts at first)."""

    key = "unless_personal"
    name = "Unless personal"

    def get_pipeline_views(self) -> Sequence[Step]:
        return [
            FormView(KindSerializer, name="kind"),
            ConditionalStep(
                FormView(CompanySerializer, name="company"),
                lambda pipeline: not _is_personal(pipeline),
            ),
            FormView(ConfirmSerializer, name="confirm", allow_back=False),
        ]


def _is_personal(pipeline: Pipeline) -> bool:
    return (pipeline.fetch_state("kind") or {}).get("kind") == "personal"


class DynamicPipeline(Pipeline):
    pipeline_name = "dynamic"
    provider_manager = dynamic_manager

    def finish_pipeline(self) -> Any:
        return self.fetch_state()


# -- finishing that fails ------------------------------------------------------------------


class FailingFinishProvider(PipelineProvider):
    key = "failing"
    name = "Failing"

    def get_pipeline_views(self) -> Sequence[Step]:
        return [FormView(NameSerializer, name="name")]


failing_manager = ProviderManager()
failing_manager.register(FailingFinishProvider)


class FailingFinishPipeline(Pipeline):
    """Writes a row, then decides the flow failed: the row must not stay."""

    pipeline_name = "failing"
    provider_manager = failing_manager

    def finish_pipeline(self) -> Any:
        Group.objects.create(name=f"written-by-{self.fetch_state('name')['name']}")
        return self.error("The name is taken.", code="name_taken")


EXAMPLE_PIPELINES = [
    "backend.onboarding.pipeline.OnboardingPipeline",
    "backend.identity.pipeline.IdentityPipeline",
    "tests.pipeline.examples.SentryPipeline",
    "tests.pipeline.examples.SetupPipeline",
    "tests.pipeline.examples.DynamicPipeline",
    "tests.pipeline.examples.FailingFinishPipeline",
]


# -- steps that wait for a browser to come back ---------------------------------------------


class GoAway(PipelineView):
    """Sends the browser away; hands its return to the next step, like OAuth's login."""

    name = "go_away"

    def dispatch(self, request: Request, pipeline: Pipeline) -> StepResult:
        if "ticket" in request.query_params:
            return pipeline.next_step(request)
        key = pipeline.fetch_state("key")
        if not (isinstance(key, str) and pipeline.awaits_callback(key)):
            key = pipeline.expect_callback()
            pipeline.bind_state("key", key)
        return Redirect(f"https://elsewhere.example/?state={key}")


class ComeBack(PipelineView):
    """Takes the returning browser's query, or sends it back a step with an error."""

    name = "come_back"
    allow_back = False

    def dispatch(self, request: Request, pipeline: Pipeline) -> StepResult:
        ticket = request.query_params.get("ticket")
        if ticket != "good":
            return pipeline.previous_step(error="That ticket is no good.", code="bad_ticket")
        pipeline.bind_state("ticket", ticket)
        return pipeline.next_step()


roundtrip_manager = ProviderManager()


@roundtrip_manager.register
class RoundTripProvider(PipelineProvider):
    key = "roundtrip"
    name = "Round trip"

    def get_pipeline_views(self) -> Sequence[Step]:
        return [GoAway(), ComeBack(), FormView(NameSerializer, name="after")]


class RoundTripPipeline(Pipeline):
    pipeline_name = "roundtrip"
    provider_manager = roundtrip_manager

    def finish_pipeline(self) -> Any:
        return {"ticket": self.fetch_state("ticket")}


EXAMPLE_PIPELINES.append("tests.pipeline.examples.RoundTripPipeline")


# -- numbers JSON cannot carry ------------------------------------------------------------


class MeasureSerializer(serializers.Serializer[Any]):
    length = serializers.FloatField()
    readings = serializers.ListField(child=serializers.FloatField(), required=False)


measure_manager = ProviderManager()


@measure_manager.register
class MeasureProvider(PipelineProvider):
    key = "measure"
    name = "Measure"

    def get_pipeline_views(self) -> Sequence[Step]:
        return [FormView(MeasureSerializer, name="measure")]


class MeasurePipeline(Pipeline):
    pipeline_name = "measure"
    provider_manager = measure_manager

    def finish_pipeline(self) -> Any:
        return self.fetch_state("measure")


EXAMPLE_PIPELINES.append("tests.pipeline.examples.MeasurePipeline")


# -- what Sentry's pipeline README allows beyond the above -------------------------------


class GetOnlyManager:
    """A provider manager with nothing but `get`, all Sentry's pipeline README asks of one."""

    def get(self, provider_key: str) -> PipelineProvider:
        if provider_key != SentryProvider.key:
            raise KeyError(provider_key)
        return SentryProvider()


class GetOnlyManagerPipeline(Pipeline):
    pipeline_name = "get_only"
    title = "Get-only manager"
    provider_manager = GetOnlyManager()

    def finish_pipeline(self) -> Any:
        return self.fetch_state()


class ClearingPipeline(Pipeline):
    """Ends as Sentry's pipelines do: finish_pipeline clears the session."""

    pipeline_name = "clearing"
    provider_manager = sentry_manager

    def finish_pipeline(self) -> Any:
        result = {"token": self.fetch_state("api_token")}
        self.clear_session()
        return result


class ErrorThenClearPipeline(SentryPipeline):
    """Ends as Sentry's integration pipeline does when its build fails: the error
    response is kept, the session cleared, then the error answered."""

    pipeline_name = "error_then_clear"

    def finish_pipeline(self) -> Any:
        response = self.error("The account is linked to another user.", code="taken")
        self.clear_session()
        return response
