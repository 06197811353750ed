import pytest
from django.test import override_settings

from backend.onboarding.pipeline import OnboardingPipeline
from backend.pipeline.errors import UnknownPipeline
from backend.pipeline.registry import all_pipelines, get_pipeline_class


def test_pipelines_come_from_the_pipeline_classes_setting() -> None:
    with override_settings(PIPELINE_CLASSES=["backend.onboarding.pipeline.OnboardingPipeline"]):
        assert all_pipelines() == [OnboardingPipeline]
        assert get_pipeline_class("onboarding") is OnboardingPipeline


@pytest.mark.parametrize("name", ["identity", "nope", "", None, 1, ["onboarding"]])
def test_a_pipeline_not_listed_is_unknown(name: object) -> None:
    with (
        override_settings(PIPELINE_CLASSES=["backend.onboarding.pipeline.OnboardingPipeline"]),
        pytest.raises(UnknownPipeline),
    ):
        get_pipeline_class(name)
