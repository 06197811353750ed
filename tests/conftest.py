"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

if TYPE_CHECKING:
    # What DRF's test client answers: a response with `.json()`.
    from rest_framework.response import _MonkeyPatchedResponse as Response


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests about one database (marked `postgresql` or `sqlite`) leave runs on the other.

    They are deselected, not skipped: CI runs the suite on both databases,
    so each such test runs once, and a skip would hide a missing database.
    """
    engine = settings.DATABASES["default"]["ENGINE"]
    other = "sqlite" if engine.endswith("postgresql") else "postgresql"
    kept = [item for item in items if item.get_closest_marker(other) is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


class FlowClient:
    """A browser-like API client: session cookie, CSRF token on every unsafe call.

    Wraps DRF's `APIClient(enforce_csrf_checks=True)`, so CSRF is really
    checked; `raw` is there for tests that want to leave the token out.
    """

    def __init__(self) -> None:
        self.raw = APIClient(enforce_csrf_checks=True)
        self.csrf_token = self.raw.get("/api/auth/csrf/").json()["csrf_token"]

    def _headers(self, extra: dict[str, Any]) -> dict[str, Any]:
        return {"HTTP_X_CSRFTOKEN": self.csrf_token, **extra}

    def post(self, path: str, body: Any = None, **headers: Any) -> Response:
        return self.raw.post(path, body, format="json", **self._headers(headers))

    def get(self, path: str, **headers: Any) -> Response:
        return self.raw.get(path, **headers)

    def delete(self, path: str, **headers: Any) -> Response:
        return self.raw.delete(path, **self._headers(headers))

    def start(
        self, pipeline: str = "onboarding", provider: str = "default", **body: Any
    ) -> Response:
        return self.post("/api/pipelines/", {"pipeline": pipeline, "provider": provider, **body})

    def show(self, flow_id: str) -> Response:
        return self.get(f"/api/pipelines/{flow_id}/")

    def submit(self, descriptor: dict[str, Any], data: dict[str, Any]) -> Response:
        return self.post(
            f"/api/pipelines/{descriptor['id']}/",
            {"version": descriptor["step"]["version"], "data": data},
        )

    def back(self, descriptor: dict[str, Any]) -> Response:
        return self.post(
            f"/api/pipelines/{descriptor['id']}/back/",
            {"version": descriptor["step"]["version"]},
        )

    def cancel(self, flow_id: str) -> Response:
        return self.delete(f"/api/pipelines/{flow_id}/")

    def login(self, username: str, password: str) -> Response:
        response = self.post("/api/auth/login/", {"username": username, "password": password})
        # Logging in rotates the CSRF token.
        self.csrf_token = self.raw.get("/api/auth/csrf/").json()["csrf_token"]
        return response


#: Identity providers as OAuth tests want them: only the demo's own OAuth2
#: server (with the client `demo_setup` registers), the presets unconfigured.
LOCAL_ONLY_PROVIDERS: dict[str, dict[str, Any]] = {
    "github": {},
    "slack": {},
    "google": {},
    "local": {
        "enabled": True,
        "client_id": "pipelines-demo",
        "client_secret": "pipelines-demo-secret",
        "base_url": "",
    },
}


def query_of(url: str) -> dict[str, str]:
    """The query parameters of `url`, each given once."""
    params = parse_qs(urlsplit(url).query, keep_blank_values=True)
    assert all(len(values) == 1 for values in params.values()), url
    return {name: values[0] for name, values in params.items()}


def state_of(descriptor: dict[str, Any]) -> str:
    """The callback `state` a redirect step sent the browser away with."""
    assert descriptor["kind"] == "redirect", descriptor
    return query_of(descriptor["redirect"]["url"])["state"]


PROFILE = {"email": "ada@example.com", "name": "Ada"}
COMPANY = {"company": "Analytical Engines", "size": "m"}
CONFIRM = {"accept": True}


@pytest.fixture
def client(db: None) -> FlowClient:
    return FlowClient()


@pytest.fixture
def other_client(db: None) -> FlowClient:
    return FlowClient()


@pytest.fixture
def user(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user(username="ada", password="lovelace-1815")


@pytest.fixture
def other_user(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user(username="grace", password="hopper-1906")


@pytest.fixture
def demo_user(transactional_db: None, django_user_model: Any) -> Any:
    """demo/demo, as `make run` has it, for tests against a live server."""
    from backend.accounts.management.commands.demo_setup import DEMO_PASSWORD, DEMO_USERNAME

    return django_user_model.objects.create_user(
        username=DEMO_USERNAME, password=DEMO_PASSWORD, email="demo@example.com"
    )


@pytest.fixture
def user_client(client: FlowClient, user: Any) -> FlowClient:
    client.login("ada", "lovelace-1815")
    return client


@pytest.fixture
def admin_browser(admin_user: Any) -> Client:
    """A browser signed in to the admin as a superuser."""
    browser = Client()
    browser.force_login(admin_user)
    return browser


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    """Time that tests move by hand (`clock.shift(seconds)`), never by sleeping."""
    with time_machine.travel("2026-11-22T09:00:00Z", tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Real hashing costs a second per login; the tests are not about it."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_start_throttling(settings: Any) -> Iterator[None]:
    """Tests start many flows from one address; the throttle has tests of its own."""
    settings.PIPELINE_START_RATE = None
    yield
    cache.clear()
