"""Moving about the app while it works: the skip link, answers that come late, focus, the login."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, Request, Route, expect

from backend.accounts.management.commands.demo_setup import DEMO_PASSWORD, DEMO_USERNAME

from .conftest import Spa, about_you_filled

pytestmark = pytest.mark.browser


def _held(routes: list[Route], method: str) -> Callable[[Route], None]:
    """A route handler that keeps the requests of `method` unanswered, in `routes`."""

    def hold(route: Route) -> None:
        if route.request.method == method:
            routes.append(route)
        else:
            route.continue_()

    return hold


def _logged_out_elsewhere(spa: Spa) -> Page:
    """Another tab of the same browser logs the user out; that tab."""
    other = spa.open(page=spa.new_page())
    other.get_by_role("button", name="Log out").click()
    expect(other.locator("#auth")).to_contain_text("Log in")
    return other


def _log_in(page: Page, username: str = DEMO_USERNAME, password: str = DEMO_PASSWORD) -> None:
    """Fills in and sends the login form on screen."""
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_the_skip_link_keeps_the_step_and_what_was_typed(spa: Spa) -> None:
    page = about_you_filled(spa)
    shown: list[Request] = []
    page.on("request", lambda request: shown.append(request) if request.method == "GET" else None)

    skip = page.get_by_role("link", name="Skip to content")
    skip.focus()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    expect(page.get_by_label("Email")).to_have_value("ada@example.com")
    expect(page.get_by_label("Name")).to_have_value("Ada")

    # Back to the address without its #main: the same page still, as typed.
    page.go_back()
    expect(page).not_to_have_url(re.compile("#main$"))
    expect(page.get_by_label("Email")).to_have_value("ada@example.com")
    assert not [request.url for request in shown if "/api/pipelines/" in request.url]


def test_a_submit_that_fails_after_the_user_left_says_nothing_on_the_page_now_shown(
    spa: Spa,
) -> None:
    page = about_you_filled(spa)
    held: list[Route] = []
    page.route(f"{spa.api}/api/pipelines/{spa.flow_id()}/", _held(held, "POST"))
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("main [aria-busy]")).to_have_count(1)  # sent, and unanswered

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Catalog").click()
    expect(page.get_by_role("heading", name="Start a flow")).to_be_visible()
    with page.expect_event("requestfailed"):
        held.pop().abort("timedout")

    # The catalog stays as it is; `running` fails the test on any script error.
    page.wait_for_timeout(300)
    expect(page.get_by_role("heading", name="Start a flow")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)


def test_a_start_answered_after_the_user_left_does_not_pull_them_back(spa: Spa) -> None:
    page = spa.open()
    held: list[Route] = []
    page.route(f"{spa.api}/api/pipelines/", _held(held, "POST"))
    spa.start("Onboarding", "Default")
    expect(page.locator(".card button[disabled]")).to_have_count(1)  # sent, and unanswered

    page.get_by_role("link", name="Log in").click()
    page.get_by_label("Username").fill(DEMO_USERNAME)
    with page.expect_response(f"{spa.api}/api/pipelines/") as started:
        held.pop().continue_()
    assert started.value.status == 201

    page.wait_for_timeout(300)
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_label("Username")).to_have_value(DEMO_USERNAME)


def test_start_again_clicked_twice_starts_one_flow(spa: Spa) -> None:
    page = spa.open()
    spa.start("Onboarding", "Default")
    expect(spa.heading()).to_have_text("About you")
    page.get_by_role("button", name="Cancel").click()
    expect(spa.heading()).to_have_text("Flow cancelled")

    starts: list[Request] = []
    page.on("request", lambda r: starts.append(r) if r.method == "POST" else None)
    page.get_by_role("button", name="Start again").dblclick()
    expect(spa.heading()).to_have_text("About you")
    page.wait_for_timeout(300)
    assert [request.url for request in starts] == [f"{spa.api}/api/pipelines/"]


def test_the_catalog_navigated_to_takes_the_focus(spa: Spa) -> None:
    page = spa.open()
    spa.start("Onboarding", "Default")
    expect(spa.heading()).to_be_focused()

    page.get_by_role("button", name="Cancel").click()
    page.get_by_role("link", name="Back to the catalog").click()
    expect(page.get_by_role("heading", name="Start a flow")).to_be_focused()

    page.go_back()
    expect(spa.heading()).to_have_text("Flow cancelled")
    page.go_back()
    expect(page.get_by_role("heading", name="Start a flow")).to_be_focused()


def test_a_user_logged_out_by_another_tab_is_told_and_logs_in_back_to_the_flow(
    spa: Spa,
) -> None:
    spa.login()
    page = about_you_filled(spa)
    flow_id = spa.flow_id()

    _logged_out_elsewhere(spa)

    page.get_by_role("button", name="Continue").click()
    expect(spa.heading()).to_have_text("You were logged out")
    expect(page.get_by_role("alert")).to_have_text(
        "This flow waits for demo: log in again to go on with it."
    )
    expect(page.locator("#auth")).to_contain_text("Log in")  # the header follows

    page.get_by_role("main").get_by_role("link", name="Log in").click()
    _log_in(page)
    expect(spa.heading()).to_have_text("About you")
    assert spa.flow_id() == flow_id


def test_a_flow_opened_logged_out_offers_the_login_it_waits_for(spa: Spa) -> None:
    spa.login()
    about_you_filled(spa)
    flow_id = spa.flow_id()
    _logged_out_elsewhere(spa)

    page = spa.open(f"pipeline={flow_id}")  # as a bookmark would, nobody logged in
    expect(spa.heading()).to_have_text("No such flow")
    page.get_by_role("main").get_by_role("link", name="Log in").click()
    _log_in(page)
    expect(spa.heading()).to_have_text("About you")


def test_a_flow_of_a_user_another_tab_logged_in_over_is_said_to_be_theirs(
    spa: Spa, django_user_model: Any
) -> None:
    django_user_model.objects.create_user(username="eve", password="eve-password-1")
    spa.login()
    page = about_you_filled(spa)
    other = _logged_out_elsewhere(spa)
    other.get_by_role("link", name="Log in").click()
    _log_in(other, "eve", "eve-password-1")
    expect(other.locator("#auth")).to_contain_text("Signed in as eve")

    page.get_by_role("button", name="Continue").click()
    expect(spa.heading()).to_have_text("You are logged in as someone else")
    expect(page.get_by_role("alert")).to_have_text(
        "You are logged in as eve now; this flow is demo's."
    )
    expect(page.locator("#auth")).to_contain_text("Signed in as eve")


def test_an_api_that_cannot_say_who_is_logged_in_logs_no_one_out(spa: Spa) -> None:
    spa.login()
    page = about_you_filled(spa)
    page.route(f"{spa.api}/api/auth/me/", lambda route: route.fulfill(status=503, body="{}"))
    flow_url = f"{spa.api}/api/pipelines/{spa.flow_id()}/"
    page.route(flow_url, lambda route: route.fulfill(status=404, json={"error": {}}))

    page.get_by_role("button", name="Continue").click()
    expect(spa.heading()).to_have_text("No such flow")
    expect(page.locator("#auth")).to_contain_text(f"Signed in as {DEMO_USERNAME}")


def test_start_again_refused_for_a_logout_elsewhere_offers_the_login(spa: Spa) -> None:
    spa.login()
    page = spa.open()
    spa.start("Add an integration", "Example")  # for a logged-in user only
    expect(spa.heading()).to_have_text("Set up the example")
    page.get_by_role("button", name="Cancel").click()
    expect(spa.heading()).to_have_text("Flow cancelled")
    _logged_out_elsewhere(spa)

    page.get_by_role("button", name="Start again").click()
    expect(spa.heading()).to_have_text("The flow could not start again")
    expect(page.locator("#auth")).to_contain_text("Log in")  # the header follows
    page.get_by_role("main").get_by_role("link", name="Log in").click()
    expect(page.get_by_label("Username")).to_be_visible()  # not "You are logged in"
