"""OAuth flows through the app and the demo's own OAuth2 server: away to authorize, and back."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from backend.accounts.management.commands.demo_setup import DEMO_PASSWORD, DEMO_USERNAME
from backend.identity.models import Identity
from backend.integrations.models import Integration

from .conftest import Spa

pytestmark = pytest.mark.browser

AUTHORIZE = re.compile(r"/o/authorize/\?")


def stop_redirects(page: Page) -> None:
    """Stops the app's own way to the authorize page, to look at the redirect step first.

    The navigation is aborted as a user's "stop" would (net::ERR_ABORTED), so
    the app stays on screen; `page.unroute(AUTHORIZE)` lets the user go on.
    """
    page.route(AUTHORIZE, _abort)


def _abort(route: Route) -> None:
    route.abort("aborted")


def authorize(page: Page, *, allow: bool = True) -> None:
    """On the OAuth server's pages: sign in if asked, then allow (or deny)."""
    expect(page).to_have_url(re.compile(r"/(o/authorize|accounts/login)/\?"))
    if "/accounts/login/" in page.url:
        page.get_by_label("Username").fill(DEMO_USERNAME)
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Authorize" if allow else "Cancel").click()


def back_in_the_app(spa: Spa) -> None:
    """The callback sends the browser to the flow's `return_to`: the app, on its own origin."""
    expect(spa.page).to_have_url(re.compile(rf"^{re.escape(spa.stub)}/\?(.+&)?pipeline=\w+"))


def test_identity_through_the_local_oauth_server(spa: Spa, demo_user: Any) -> None:
    spa.login()
    page = spa.page
    stop_redirects(page)
    with page.expect_request(AUTHORIZE) as setting_off:
        spa.start("Link an identity", "Local demo server")

    # The redirect descriptor, shown as the browser sets off (and stopped here).
    target = setting_off.value.url
    assert target.startswith(f"{spa.api}/o/authorize/?")
    expect(spa.heading()).to_have_text("Continue to Local demo server")
    expect(page.get_by_text("Taking you there…")).to_be_visible()
    continue_link = page.get_by_role("link", name="Continue")
    expect(continue_link).to_have_attribute("href", target)
    spa.screenshot("redirect")
    flow_id = spa.flow_id()
    page.unroute(AUTHORIZE)
    continue_link.click()

    with page.expect_request(re.compile(r"/api/pipelines/callback/\?")) as callback:
        authorize(page)
    back_in_the_app(spa)
    assert spa.flow_id() == flow_id
    expect(page.get_by_text("This flow is complete.")).to_be_visible()
    result = page.locator(".result")
    expect(result.get_by_text("demo@example.com", exact=True)).to_be_visible()
    expect(result.get_by_text("local", exact=True)).to_be_visible()
    assert Identity.objects.filter(user=demo_user, idp__type="local").count() == 1

    # The same callback again: refused, and the app says so (once) beside the flow.
    page.goto(callback.value.url)
    back_in_the_app(spa)
    expect(page.get_by_role("alert")).to_have_text(
        "This sign-in was already used, so it was ignored."
    )
    expect(page.get_by_text("This flow is complete.")).to_be_visible()
    expect(page).not_to_have_url(re.compile("error="))
    assert Identity.objects.filter(user=demo_user).count() == 1


def test_chat_integration_with_its_nested_sign_in_and_a_channel(spa: Spa, demo_user: Any) -> None:
    spa.login()
    page = spa.page
    stop_redirects(page)
    with page.expect_request(AUTHORIZE):
        spa.start("Add an integration", "Chat")

    # Inside the nested identity pipeline: both levels in the breadcrumbs.
    crumbs = page.get_by_role("navigation", name="Flow").get_by_role("listitem")
    expect(crumbs).to_have_text(
        [
            "Add an integration (Chat) · step 1 of 3",
            "Link an identity (Local demo server) · step 1 of 2",
        ]
    )
    expect(crumbs.nth(1)).to_have_attribute("aria-current", "step")
    page.unroute(AUTHORIZE)
    page.get_by_role("link", name="Continue").click()

    # Denied: back in the app, the error is shown beside a fresh way to try again.
    authorize(page, allow=False)
    back_in_the_app(spa)
    expect(page.get_by_role("alert")).to_contain_text("You did not allow access.")
    expect(crumbs).to_have_count(2)
    try_again = page.get_by_role("link", name="Try again")
    expect(try_again).to_have_attribute("href", AUTHORIZE)
    expect(page.get_by_text("Taking you there…")).to_have_count(0)  # it waits for the user
    spa.screenshot("redirect-after-refused-sign-in")
    try_again.click()

    authorize(page)
    back_in_the_app(spa)
    expect(spa.heading()).to_have_text("Choose a channel")
    expect(page.get_by_text("Where should alerts be posted?")).to_be_visible()
    expect(crumbs).to_have_text(["Add an integration (Chat)"])
    expect(page.get_by_text("Step 2 of 3")).to_be_visible()

    # The channels are those the sign-in returned, as radios.
    channels = page.get_by_role("group", name="Channel")
    expect(channels.get_by_role("radio")).to_have_count(3)
    page.get_by_role("button", name="Continue").click()
    expect(channels).to_contain_text("This field is required.")
    expect(channels.get_by_role("radio").first).to_be_focused()
    channels.get_by_label("demo-alerts").check()
    page.get_by_role("button", name="Continue").click()

    expect(spa.heading()).to_have_text("Install the integration")
    expect(page.get_by_text("Step 3 of 3")).to_be_visible()
    page.get_by_role("button", name="Confirm").click()

    expect(page.get_by_text("This flow is complete.")).to_be_visible()
    expect(page.locator(".result").get_by_text("demo-alerts", exact=True)).to_be_visible()
    integration = Integration.objects.get(user=demo_user, provider="chat")
    assert integration.metadata["channel"] == "demo-alerts"


def test_a_refused_callback_that_names_no_flow_says_why(spa: Spa) -> None:
    """`state_unknown` goes to `PIPELINE_FRONTEND_URL` with `?error=` alone: the app says why."""
    page = spa.page
    landed = page.goto(f"{spa.api}/api/pipelines/callback/?state=forged&code=x")
    assert landed is not None
    assert landed.url == f"{spa.api}/?error=state_unknown"
    expect(page.locator("main h1")).to_have_text("Start a flow")  # the app, on its catalog
    expect(page.get_by_role("alert")).to_have_text(
        "The sign-in could not be matched to any flow, so it was ignored."
    )
    expect(page).not_to_have_url(re.compile("error="))  # said once


def test_the_catalog_says_nothing_of_an_error_code_it_does_not_know(spa: Spa) -> None:
    """Its own words only: `?error=` is in the address, which anyone can write."""
    page = spa.open("error=Your+account+is+locked.+Call+0800+123+456.")
    expect(page.locator("main h1")).to_have_text("Start a flow")
    expect(page.get_by_text("Your account is locked")).to_have_count(0)
    expect(page.get_by_role("alert")).to_have_count(0)


@pytest.mark.parametrize(
    ("code", "said"),
    [
        # The callback's step lost its write to another tab's request: nothing was kept.
        (
            "stale_version",
            "The flow moved on elsewhere while you signed in, so this sign-in was not kept.",
        ),
        (
            "database_unavailable",
            "The server could not reach its database while you signed in. Try again shortly.",
        ),
        # Looked up in the app's own messages, not its prototype.
        ("constructor", "The sign-in could not be used."),
        # Never said as written: the address is anyone's to write.
        ("Your+account+is+locked.+Call+0800+123+456.", "The sign-in could not be used."),
    ],
)
def test_a_callback_error_code_is_said_on_the_flow_in_the_apps_own_words(
    spa: Spa, code: str, said: str
) -> None:
    page = spa.open()
    spa.start("Onboarding", "Default")
    expect(spa.heading()).to_have_text("About you")
    spa.open(f"pipeline={spa.flow_id()}&error={code}")
    expect(spa.heading()).to_have_text("About you")
    expect(page.get_by_role("alert")).to_have_text(said)
