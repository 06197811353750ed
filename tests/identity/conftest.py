"""Fixtures and helpers of the OAuth2 identity tests.

The provider's HTTP (token and user endpoints) is mocked with `responses`,
which also refuses any URL not registered (no network). The browser's
return is driven as a browser would: the `state` is read from the
authorize URL and sent back to `/api/pipelines/callback/`.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import parse_qs

import pytest
import responses
from django.test import override_settings
from django.utils.translation import gettext_lazy as _
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from backend.identity.pipeline import IdentityPipeline
from backend.identity.presets import GitHubProvider
from backend.pipeline import NestedPipelineView, Pipeline, ProviderManager, Step
from backend.pipeline.provider import PipelineProvider
from tests.conftest import FlowClient, state_of

if TYPE_CHECKING:
    from rest_framework.response import _MonkeyPatchedResponse

    Response: TypeAlias = _MonkeyPatchedResponse

CALLBACK_URL = "http://testserver/api/pipelines/callback/"

LOCAL = {
    "enabled": True,
    "client_id": "cid",
    "client_secret": "sec",
    "base_url": "https://chat.example",
}
#: The local server names itself by its origin in `iss` (RFC 9207).
ISSUER = "https://chat.example"
AUTHORIZE_URL = "https://chat.example/o/authorize/"
TOKEN_URL = "https://chat.example/o/token/"
USER_URL = "https://chat.example/o/userinfo/"

TOKEN = {
    "access_token": "at-123",
    "token_type": "Bearer",
    "refresh_token": "rt-456",
    "expires_in": 3600,
    "scope": "profile channels",
}
USER = {"id": 42, "email": "ada@chat.example", "name": "Ada", "channels": ["alerts", "ops"]}

#: Our messages for each failure code (the provider's words are never shown).
MESSAGES = {
    "state_mismatch": "The sign-in could not be matched.",
    "oauth_missing_code": "The provider sent no code.",
    "oauth_tls_error": "The provider's certificate was refused.",
    "oauth_timeout": "The provider took too long to answer.",
    "oauth_connection_error": "The provider could not be reached.",
    "oauth_http_error": "The provider answered with an error.",
    "oauth_invalid_response": "The provider's answer made no sense.",
}


@pytest.fixture
def local_provider() -> Iterator[None]:
    """Only the local provider enabled, its server at https://chat.example."""
    with override_settings(IDENTITY_PROVIDERS={"local": LOCAL}):
        yield


@pytest.fixture
def provider_http() -> Iterator[responses.RequestsMock]:
    """The provider's endpoints, mocked; any other URL is refused."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


# -- the browser's side ------------------------------------------------------------


def redirect_url(descriptor: dict[str, Any]) -> str:
    assert descriptor["kind"] == "redirect", descriptor
    url: str = descriptor["redirect"]["url"]
    return url


def start(client: FlowClient, provider: str = "local") -> dict[str, Any]:
    """Start an identity flow: its descriptor, at the login step."""
    response = client.start("identity", provider)
    assert response.status_code == 201, response.content
    descriptor: dict[str, Any] = response.json()
    assert descriptor["step"]["name"] == "login"
    return descriptor


def come_back(client: FlowClient, **params: str) -> Response:
    """The browser coming back from the provider, asking for JSON.

    The provider names itself in `iss`, as the local server does, unless
    the test says otherwise (`iss=""` for none).
    """
    params.setdefault("iss", ISSUER)
    query = {name: value for name, value in params.items() if value or name != "iss"}
    return client.raw.get("/api/pipelines/callback/", query, HTTP_ACCEPT="application/json")


# -- the provider's side -----------------------------------------------------------


def answer_token(
    mock: responses.RequestsMock, url: str = TOKEN_URL, body: dict[str, Any] | None = None
) -> None:
    mock.post(url, json=TOKEN if body is None else body)


def answer_user(
    mock: responses.RequestsMock, url: str = USER_URL, body: dict[str, Any] | None = None
) -> None:
    mock.get(url, json=USER if body is None else body)


def calls_to(mock: responses.RequestsMock, url: str) -> list[Any]:
    """The requests made to `url` (the `PreparedRequest`s)."""
    return [call.request for call in mock.calls if call.request.url == url]


def form_of(request: Any) -> dict[str, str]:
    """The form-encoded body of a request, each field given once."""
    body = request.body
    text = body.decode() if isinstance(body, bytes) else str(body or "")
    fields = parse_qs(text, keep_blank_values=True)
    assert all(len(values) == 1 for values in fields.values()), fields
    return {key: values[0] for key, values in fields.items()}


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of `verifier`."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def basic(client_id: str, client_secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()


# -- assertions --------------------------------------------------------------------


def assert_back_at_login(
    descriptor: dict[str, Any], code: str, message: str, *, spent_state: str
) -> None:
    """The flow is at the login step again, active, with a fresh state and one error."""
    assert descriptor["status"] == "active", descriptor
    assert descriptor["step"]["name"] == "login", descriptor
    assert descriptor["kind"] == "redirect", descriptor
    fresh = state_of(descriptor)
    assert fresh != spent_state
    assert descriptor["errors"] == [{"code": code, "message": message, "field": None}]


# -- the Python API ----------------------------------------------------------------


def api_request(user: Any = None, **query: str) -> Request:
    """A GET of no session, for building pipelines by hand."""
    request = Request(APIRequestFactory().get("/", query))
    if user is not None:
        request.user = user
    return request


class PinnedClientProvider(GitHubProvider):
    """GitHub, with a client id fixed by the class."""

    key = "pinned"
    name = _("Pinned")
    oauth_client_id = "class-id"


class NoAuthorizeUrlProvider(GitHubProvider):
    """A provider whose authorize URL comes from nowhere at all."""

    key = "nowhere"
    name = _("Nowhere")
    oauth_authorize_url = ""


class NoTokenUrlProvider(GitHubProvider):
    """A provider that sends the browser away but has nowhere to exchange the code."""

    key = "tokenless"
    name = _("Tokenless")
    oauth_access_token_url = ""


test_identity_manager = ProviderManager()
test_identity_manager.register(PinnedClientProvider)
test_identity_manager.register(NoAuthorizeUrlProvider)
test_identity_manager.register(NoTokenUrlProvider)


class CustomIdentityPipeline(IdentityPipeline):
    """The identity pipeline over the providers above."""

    pipeline_name = "custom_identity"
    provider_manager = test_identity_manager


SCOPED = ["profile", "channels", "extra"]


class ScopedIdentityProvider(PipelineProvider):
    """Runs the local identity provider nested, asking for other scopes."""

    key = "scoped"
    name = _("Scoped")

    def get_pipeline_views(self) -> Sequence[Step]:
        return [
            NestedPipelineView(
                bind_key="identity",
                provider_key="local",
                pipeline_cls=IdentityPipeline,
                config={"oauth_scopes": SCOPED},
            )
        ]


scoped_manager = ProviderManager()
scoped_manager.register(ScopedIdentityProvider)


class ScopedPipeline(Pipeline):
    pipeline_name = "scoped"
    title = "Scoped identity"
    provider_manager = scoped_manager
    login_required = True

    def finish_pipeline(self) -> Any:
        return {"identity": self.fetch_state("identity")}


TEST_PIPELINES = [
    "backend.identity.pipeline.IdentityPipeline",
    "tests.identity.conftest.CustomIdentityPipeline",
    "tests.identity.conftest.ScopedPipeline",
]
