"""The app as the API serves it (`make run`): it talks to its own origin alone.

Its page carries a Content-Security-Policy whose `connect-src` is the
page's origin, so an `?api=` naming another site (a link an attacker sends)
cannot make the genuine page send what the user types there.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, ConsoleMessage, expect

from .conftest import Spa, running

pytestmark = pytest.mark.browser


@pytest.fixture
def served(chromium: Browser, api_origin: str) -> Iterator[Spa]:
    yield from running(Spa(chromium, api_origin, api_origin))


def refusals_of(spa: Spa) -> list[str]:
    """What the browser refused under the page's policy, as it reports it."""
    refused: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            refused.append(message.text)

    spa.page.on("console", note)
    return refused


def test_the_app_the_api_serves_runs_a_flow_within_its_policy(served: Spa) -> None:
    refused = refusals_of(served)
    page = served.open()
    served.start("Onboarding", "Default")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Name").fill("Ada")
    page.get_by_role("button", name="Continue").click()
    expect(served.heading()).to_have_text("Your company")
    assert refused == []


def test_the_app_the_api_serves_reaches_no_other_api_an_address_names(
    served: Spa, stub_origin: str
) -> None:
    refused = refusals_of(served)
    page = served.page
    page.goto(f"{served.stub}/?page=login&api={stub_origin}")
    expect(page.locator("#auth")).to_have_text("API unreachable")
    assert refused, "the browser refused nothing"
    assert all(stub_origin in text for text in refused)
