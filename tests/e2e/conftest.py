"""A real server and a scripted browser for end-to-end OAuth flows.

The live server (pytest-django's `live_server`) serves the whole demo: the
pipeline API and the local OAuth2 server of django-oauth-toolkit at /o/,
which the `local` identity provider talks to over HTTP on the same origin.
`Browser` is a `requests` session that does what a person would: signs in
on the HTML login page, drives flows through the JSON API, and approves
or denies on the provider's authorize page.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from django.test import override_settings
from pytest_django.live_server_helper import LiveServer

from backend.accounts.management.commands.demo_setup import (
    DEMO_PASSWORD,
    DEMO_USERNAME,
    register_demo_client,
)
from tests.conftest import LOCAL_ONLY_PROVIDERS

IDENTITY_PROVIDERS = LOCAL_ONLY_PROVIDERS
CLIENT_ID = str(IDENTITY_PROVIDERS["local"]["client_id"])
CLIENT_SECRET = str(IDENTITY_PROVIDERS["local"]["client_secret"])
CALLBACK_PATH = "/api/pipelines/callback/"


# -- HTML forms ---------------------------------------------------------------------------------


@dataclass
class HtmlForm:
    """A form of a page: its fields to send, and its named submit buttons apart."""

    id: str
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    submits: dict[str, str] = field(default_factory=dict)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[HtmlForm] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(
                HtmlForm(
                    id=attributes.get("id", ""),
                    action=attributes.get("action", ""),
                    method=attributes.get("method", "get").lower(),
                )
            )
            return
        name = attributes.get("name")
        if tag not in ("input", "button") or not name or not self.forms:
            return
        default_type = "submit" if tag == "button" else "text"
        kind = attributes.get("type", default_type).lower()
        form = self.forms[-1]
        if kind == "submit":
            form.submits[name] = attributes.get("value", "")
        elif kind not in ("checkbox", "radio") or "checked" in attributes:
            form.fields[name] = attributes.get("value", "")


def forms_of(html: str) -> list[HtmlForm]:
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return parser.forms


# -- the browser --------------------------------------------------------------------------------


class Browser:
    """A person at a browser, scripted: one cookie jar, the CSRF token on unsafe calls."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        self.http.trust_env = False  # no proxy between us and the live server
        self.csrf_token = ""

    def url(self, path: str) -> str:
        return urljoin(self.base_url, path)

    # -- session ----------------------------------------------------------------------

    def login(self, username: str = DEMO_USERNAME, password: str = DEMO_PASSWORD) -> None:
        """Sign in on the HTML login page, as the OAuth server's users do."""
        page = self.http.get(self.url("/accounts/login/"), timeout=10)
        assert page.status_code == 200, page.text
        (form,) = forms_of(page.text)
        data = {**form.fields, "username": username, "password": password, "next": "/"}
        signed_in = self.http.post(
            urljoin(page.url, form.action),
            data=data,
            headers={"Referer": page.url},
            allow_redirects=False,
            timeout=10,
        )
        assert signed_in.status_code == 302, signed_in.text
        self.refresh_csrf()

    def refresh_csrf(self) -> None:
        """Logging in rotates the CSRF token: fetch the current one."""
        answer = self.http.get(self.url("/api/auth/csrf/"), timeout=10)
        assert answer.status_code == 200, answer.text
        self.csrf_token = answer.json()["csrf_token"]

    # -- the JSON API -----------------------------------------------------------------

    def api_post(self, path: str, body: dict[str, Any]) -> requests.Response:
        return self.http.post(
            self.url(path), json=body, headers={"X-CSRFToken": self.csrf_token}, timeout=10
        )

    def start(self, pipeline: str, provider: str, **body: Any) -> dict[str, Any]:
        response = self.api_post(
            "/api/pipelines/", {"pipeline": pipeline, "provider": provider, **body}
        )
        assert response.status_code == 201, response.text
        descriptor: dict[str, Any] = response.json()
        return descriptor

    def show(self, flow_id: str) -> dict[str, Any]:
        response = self.http.get(self.url(f"/api/pipelines/{flow_id}/"), timeout=10)
        assert response.status_code == 200, response.text
        descriptor: dict[str, Any] = response.json()
        return descriptor

    def submit(self, descriptor: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        response = self.api_post(
            f"/api/pipelines/{descriptor['id']}/",
            {"version": descriptor["step"]["version"], "data": data},
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    # -- the provider's authorize page ------------------------------------------------

    def authorize(self, descriptor: dict[str, Any], *, allow: bool = True) -> str:
        """Approve (or deny) on the authorize page; the URL the provider sends us back to."""
        assert descriptor["kind"] == "redirect", descriptor
        page = self.http.get(descriptor["redirect"]["url"], timeout=10)
        assert page.status_code == 200, page.text
        (form,) = [form for form in forms_of(page.text) if form.id == "authorizationForm"]
        assert form.method == "post"
        assert "allow" in form.submits
        data = dict(form.fields)
        if allow:
            data["allow"] = form.submits["allow"]
        decided = self.http.post(
            urljoin(page.url, form.action),
            data=data,
            headers={"Referer": page.url},
            allow_redirects=False,
            timeout=10,
        )
        assert decided.status_code == 302, decided.text
        location = decided.headers["Location"]
        assert location.startswith(self.url(CALLBACK_PATH)), location
        return location

    def come_back(self, callback_url: str, *, accept_json: bool = False) -> requests.Response:
        """Follow the provider's redirect to our callback (not further)."""
        headers = {"Accept": "application/json" if accept_json else "text/html,*/*;q=0.8"}
        return self.http.get(callback_url, headers=headers, allow_redirects=False, timeout=30)

    def approve(self, descriptor: dict[str, Any]) -> dict[str, Any]:
        """The whole round trip: approve, come back, and show the flow where it is now."""
        landed = self.come_back(self.authorize(descriptor))
        assert landed.status_code == 302, landed.text
        return self.show(descriptor["id"])


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def server(live_server: LiveServer, demo_user: Any) -> Iterator[str]:
    """The live server's URL, with the local provider on and the demo client registered."""
    host = urlsplit(live_server.url).hostname
    assert host is not None
    with override_settings(IDENTITY_PROVIDERS=IDENTITY_PROVIDERS, ALLOWED_HOSTS=[host]):
        register_demo_client(demo_user, [live_server.url])
        yield live_server.url


@pytest.fixture
def browser(server: str) -> Iterator[Browser]:
    """A browser signed in as demo/demo."""
    browser = Browser(server)
    browser.login()
    yield browser
    browser.http.close()
