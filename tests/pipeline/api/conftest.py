"""Fixtures and helpers of the REST API tests.

Flows are driven through the shared `FlowClient` (a browser: session cookie
and CSRF token); `script_client()` is a client with no cookies at all, which
authenticates by a header (`X-Pipeline-Token` or `Authorization: Token`).
"""

import sqlite3
from typing import TYPE_CHECKING, Any, TypeAlias

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.conftest import COMPANY, PROFILE, FlowClient

if TYPE_CHECKING:
    # What the test client really returns: a Response with `json()` and friends.
    from rest_framework.response import _MonkeyPatchedResponse

    Response: TypeAlias = _MonkeyPatchedResponse
else:
    from rest_framework.response import Response

API = "/api/pipelines/"


def flow_url(flow_id: str) -> str:
    return f"{API}{flow_id}/"


def back_url(flow_id: str) -> str:
    return f"{API}{flow_id}/back/"


def script_client() -> APIClient:
    """A client with no cookies that still has CSRF checked, as a browser would."""
    return APIClient(enforce_csrf_checks=True)


def cycle_session_key(client: FlowClient) -> str:
    """Give the client's session a new key, its data kept, as an application may; the old key."""
    session = client.raw.session
    old = session.session_key
    session.cycle_key()
    session.save()
    client.raw.cookies[settings.SESSION_COOKIE_NAME] = str(session.session_key)
    return str(old)


def post_raw(
    client: FlowClient, path: str, body: str | bytes, content_type: str = "application/json"
) -> Response:
    """POST `body` as it is (not encoded by the test client), with the CSRF token."""
    return client.raw.post(
        path, body, content_type=content_type, HTTP_X_CSRFTOKEN=client.csrf_token
    )


def error_of(response: Response) -> dict[str, Any]:
    """The `error` of an error envelope, checking the envelope's shape on the way."""
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert isinstance(error["code"], str)
    assert isinstance(error["message"], str)
    assert error["message"]
    return error


def codes(descriptor: dict[str, Any]) -> list[str]:
    return [error["code"] for error in descriptor["errors"]]


def act(client: FlowClient, descriptor: dict[str, Any], action: str) -> Response:
    """Show, submit (company data), go back in or cancel the flow of `descriptor`."""
    if action == "show":
        return client.show(descriptor["id"])
    if action == "submit":
        return client.submit(descriptor, COMPANY)
    if action == "back":
        return client.back(descriptor)
    assert action == "cancel", action
    return client.cancel(descriptor["id"])


def position(client: FlowClient, flow_id: str) -> tuple[str, int]:
    """Where the flow is, as a fresh GET shows it: (step name, version)."""
    shown = client.show(flow_id)
    assert shown.status_code == 200, shown.content
    step = shown.json()["step"]
    return step["name"], step["version"]


@pytest.fixture
def started(client: FlowClient) -> dict[str, Any]:
    """An anonymous onboarding flow at its first step (profile)."""
    response = client.start()
    assert response.status_code == 201, response.content
    descriptor: dict[str, Any] = response.json()
    return descriptor


@pytest.fixture
def at_company(client: FlowClient, started: dict[str, Any]) -> dict[str, Any]:
    """The same flow at its second step (company)."""
    response = client.submit(started, PROFILE)
    assert response.status_code == 200, response.content
    descriptor: dict[str, Any] = response.json()
    return descriptor


@pytest.fixture
def at_confirm(client: FlowClient, at_company: dict[str, Any]) -> dict[str, Any]:
    """The same flow at its last step (confirm)."""
    response = client.submit(at_company, COMPANY)
    assert response.status_code == 200, response.content
    descriptor: dict[str, Any] = response.json()
    return descriptor


@pytest.fixture
def api_token(user: Any) -> str:
    """A DRF auth token of `user`."""
    return str(Token.objects.create(user=user).key)


def hold_the_flows_lock() -> tuple[Any, dict[str, Any]]:
    """Another connection holding the flows' lock, and connection options that wait 50 ms for it.

    Roll the connection back to let go.
    """
    options = connection.settings_dict["OPTIONS"]
    if connection.vendor == "sqlite":
        locker = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")  # another process holding the write lock
        return locker, {**options, "timeout": 0.05}
    locker = connection.get_new_connection(connection.get_connection_params())
    locker.execute("LOCK TABLE pipeline_flow IN ACCESS EXCLUSIVE MODE")  # until rolled back
    return locker, {**options, "options": "-c lock_timeout=50ms"}
