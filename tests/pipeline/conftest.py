from collections.abc import Iterator

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.test import override_settings
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from tests.pipeline.examples import EXAMPLE_PIPELINES, SentryPipeline


@pytest.fixture
def examples(db: None) -> Iterator[None]:
    """The example pipelines served by the API, and the README example's views routed."""
    with override_settings(PIPELINE_CLASSES=EXAMPLE_PIPELINES, ROOT_URLCONF="tests.pipeline.urls"):
        SentryPipeline.finished.clear()
        yield


def session_request(client: APIClient) -> Request:
    """A GET carrying `client`'s session, for calling a pipeline directly.

    Changes made to `request.session` are the test's to save.
    """
    if settings.SESSION_COOKIE_NAME not in client.cookies:
        session = SessionStore()
        session.create()
        client.cookies[settings.SESSION_COOKIE_NAME] = str(session.session_key)
    raw = APIRequestFactory().get("/")
    raw.session = SessionStore(client.cookies[settings.SESSION_COOKIE_NAME].value)
    raw.user = AnonymousUser()
    return Request(raw)
