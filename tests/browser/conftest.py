"""A real Chromium driving the SPA of frontend_stub/ against a live API on another origin.

The API runs on pytest-django's `live_server` (http://localhost:<port>), the
app on a small static file server of its own (http://localhost:<other port>),
so every request of the app is cross-origin: CORS with credentials, and the
CSRF token from `GET /api/auth/csrf/`, are exercised for real. Both are on
`localhost`, so the session cookie (SameSite=Lax) is same-site and is sent.

Chromium is Debian's (`chromium` on PATH, or `$CHROMIUM`); no browser is
ever downloaded. Without one the tests skip, or fail when `$CI` is set.

Playwright's sync API keeps an asyncio loop running in this thread while a
browser is open, and Django refuses ORM calls from a thread with a running
loop (it would be unsafe in real async code). Here the loop only waits on the
browser, so `DJANGO_ALLOW_ASYNC_UNSAFE` is set while a browser module runs,
and the browser is started and stopped per module, so that no other test
runs beside a running loop.
"""

from __future__ import annotations

import functools
import os
import shutil
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from django.test import override_settings
from playwright.sync_api import Browser, Locator, Page, Playwright, expect, sync_playwright
from pytest_django.live_server_helper import LiveServer

from backend.accounts.management.commands.demo_setup import (
    DEMO_PASSWORD,
    DEMO_USERNAME,
    register_demo_client,
)
from tests.conftest import LOCAL_ONLY_PROVIDERS

ROOT = Path(__file__).resolve().parents[2]
FRONTEND_DIR = ROOT / "frontend_stub"
SCREENSHOTS = ROOT / "test-output" / "screenshots"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

IDENTITY_PROVIDERS = LOCAL_ONLY_PROVIDERS

#: How long `expect()` waits by default: every step answers in well under that.
EXPECT_TIMEOUT_MS = 5_000


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """Debian's Chromium; skip without it, or fail when running in CI."""
    path = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if path and Path(path).is_file():
        return path
    reason = "Chromium not found (install Debian's `chromium`, or set $CHROMIUM to its path)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: browser tests must run in CI")
    pytest.skip(reason)


# -- the app's own origin -----------------------------------------------------------------------


class _StubHandler(SimpleHTTPRequestHandler):
    """Serves frontend_stub/ as any static file server would, quietly and never cached."""

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _StubServer(ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which may wait on DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name = "localhost"
        self.server_port = int(self.server_address[1])


@pytest.fixture(scope="session")
def stub_origin() -> Iterator[str]:
    """The app's origin: frontend_stub/ served on another port of localhost."""
    handler = functools.partial(_StubHandler, directory=str(FRONTEND_DIR))
    server = _StubServer(("localhost", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="frontend-stub", daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# -- the browser --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium(
    chromium_executable: str, django_db_setup: None, live_server: LiveServer
) -> Iterator[Browser]:
    """One headless Chromium for the tests of a module (each gets its own context)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        playwright: Playwright = sync_playwright().start()
        try:
            browser = playwright.chromium.launch(
                executable_path=chromium_executable, args=CHROMIUM_ARGS
            )
            try:
                expect.set_options(timeout=EXPECT_TIMEOUT_MS)
                yield browser
            finally:
                browser.close()
        finally:
            playwright.stop()


@pytest.fixture
def api_origin(live_server: LiveServer, stub_origin: str, demo_user: Any) -> Iterator[str]:
    """The live server's origin, configured for the app on `stub_origin`.

    django-cors-headers and the CSRF check read their settings on every
    request, so overriding them here reaches the live server's thread.
    """
    with override_settings(
        ALLOWED_HOSTS=["localhost", "127.0.0.1"],
        CORS_ALLOWED_ORIGINS=[stub_origin],
        CSRF_TRUSTED_ORIGINS=[stub_origin],
        PIPELINE_RETURN_TO_ORIGINS=[stub_origin],
        IDENTITY_PROVIDERS=IDENTITY_PROVIDERS,
    ):
        register_demo_client(demo_user, [live_server.url])
        yield live_server.url


@dataclass
class Spa:
    """The app in one browser context (one cookie jar): pages, and what a user does."""

    browser: Browser
    stub: str
    api: str

    def __post_init__(self) -> None:
        self.context = self.browser.new_context(viewport={"width": 1000, "height": 800})
        self.context.set_default_timeout(EXPECT_TIMEOUT_MS)
        self.context.set_default_navigation_timeout(10_000)
        #: Uncaught exceptions of the app's scripts, in any of its pages.
        self.page_errors: list[str] = []
        self.page = self.new_page()

    def new_page(self) -> Page:
        page = self.context.new_page()
        page.on("pageerror", lambda error: self.page_errors.append(f"{page.url}: {error}"))
        return page

    def url(self, query: str = "") -> str:
        """The app's URL, told where the API is; `query` adds parameters."""
        return f"{self.stub}/?api={quote(self.api, safe='')}" + (f"&{query}" if query else "")

    def open(self, query: str = "", page: Page | None = None) -> Page:
        page = page or self.page
        page.goto(self.url(query))
        expect(page.locator("#auth")).not_to_be_empty()  # the app has started
        return page

    # -- what a user does -------------------------------------------------------------

    def login(self) -> None:
        page = self.open("page=login")
        page.get_by_label("Username").fill(DEMO_USERNAME)
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#auth")).to_contain_text(f"Signed in as {DEMO_USERNAME}")
        expect(page.get_by_role("heading", name="Start a flow")).to_be_visible()

    def start(self, pipeline_title: str, provider_name: str, page: Page | None = None) -> None:
        """From the catalog: the provider's start button."""
        page = page or self.page
        name = f"Start {pipeline_title} with {provider_name}"
        page.get_by_role("button", name=name, exact=True).click()

    def heading(self, page: Page | None = None) -> Locator:
        """The heading of the step shown."""
        return (page or self.page).locator("main h2").first

    def flow_id(self, page: Page | None = None) -> str:
        """The `pipeline` parameter of the page's URL."""
        values = parse_qs(urlsplit((page or self.page).url).query).get("pipeline", [""])
        return values[0]

    def screenshot(self, name: str, page: Page | None = None) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        (page or self.page).screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()


def running(app: Spa) -> Iterator[Spa]:
    """`app` for one test, closed after it, which fails if its scripts raised."""
    try:
        yield app
    finally:
        app.close()
    assert not app.page_errors, app.page_errors


@pytest.fixture
def spa(chromium: Browser, stub_origin: str, api_origin: str) -> Iterator[Spa]:
    yield from running(Spa(chromium, stub_origin, api_origin))


def about_you_filled(spa: Spa, name: str = "Ada") -> Page:
    """An onboarding flow started, its first step filled in and not yet sent."""
    page = spa.open()
    spa.start("Onboarding", "Default")
    expect(spa.heading()).to_have_text("About you")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Name").fill(name)
    return page
