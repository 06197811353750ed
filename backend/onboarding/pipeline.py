"""The onboarding pipeline: three forms, anonymous, with a JSON result."""

from collections.abc import Sequence
from typing import Any

from django.utils.translation import gettext_lazy as _

from backend.pipeline import FormView, Pipeline, PipelineProvider, ProviderManager, Step

from .serializers import (
    CompanySerializer,
    ConfirmSerializer,
    InitialDataSerializer,
    ProfileSerializer,
)

manager = ProviderManager()

STEPS: tuple[Step, ...] = (
    FormView(ProfileSerializer, name="profile", title=_("About you")),
    FormView(CompanySerializer, name="company", title=_("Your company")),
    FormView(
        ConfirmSerializer,
        name="confirm",
        title=_("Confirm"),
        description=_("Check the terms and finish."),
    ),
)


@manager.register
class DefaultOnboardingProvider(PipelineProvider):
    key = "default"
    name = _("Default")
    initial_data_serializer = InitialDataSerializer

    def get_pipeline_views(self) -> Sequence[Step]:
        # The views hold no per-flow state, so one tuple serves every flow.
        return STEPS


class OnboardingPipeline(Pipeline):
    pipeline_name = "onboarding"
    title = _("Onboarding")
    provider_manager = manager

    def finish_pipeline(self) -> dict[str, Any]:
        profile = self.fetch_state("profile")
        company = self.fetch_state("company")
        return {
            "email": profile["email"],
            "name": profile["name"],
            "company": company["company"],
            "size": company["size"],
        }
