from collections.abc import Iterator

import pytest
from django.test import override_settings

from tests.pipeline.examples import EXAMPLE_PIPELINES, SentryPipeline


@pytest.fixture
def examples(db: None) -> Iterator[None]:
    """The example pipelines served by the API, and the README example's views routed."""
    with override_settings(PIPELINE_CLASSES=EXAMPLE_PIPELINES, ROOT_URLCONF="tests.pipeline.urls"):
        SentryPipeline.finished.clear()
        yield
