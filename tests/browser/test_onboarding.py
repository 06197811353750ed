"""The onboarding flow through the app: errors, back, completion, cancel, expiry, a stale tab."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.db import OperationalError
from django.test import override_settings
from playwright.sync_api import Route, expect

from .conftest import Spa, about_you_filled

pytestmark = pytest.mark.browser


def test_onboarding_with_an_error_fixed_a_step_back_and_the_result(spa: Spa) -> None:
    page = spa.open()
    spa.start("Onboarding", "Default")

    expect(spa.heading()).to_have_text("About you")
    expect(spa.heading()).to_be_focused()
    expect(page.get_by_text("Step 1 of 3")).to_be_visible()
    expect(page.get_by_role("button", name="Back")).to_have_count(0)  # not offered on step 1
    email = page.get_by_label("Email")
    expect(email).to_have_attribute("type", "email")
    expect(email).to_have_attribute("required", "")

    # The server refuses the email: its message is shown next to the field.
    email.fill("nope")
    page.get_by_label("Name").fill("Ada")
    page.get_by_role("button", name="Continue").click()
    error = page.locator("#field-email-error")
    expect(error).to_have_text(re.compile("Enter a valid email address."))
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_attribute("aria-describedby", "field-email-error")
    expect(email).to_be_focused()
    expect(email).to_have_value("nope")  # what was sent is shown again
    expect(page.get_by_label("Name")).not_to_have_attribute("aria-invalid", "true")
    spa.screenshot("form-400-field-error")

    email.fill("ada@example.com")
    page.get_by_role("button", name="Continue").click()
    expect(spa.heading()).to_have_text("Your company")
    expect(spa.heading()).to_be_focused()
    expect(page.get_by_text("Step 2 of 3")).to_be_visible()
    page.get_by_role("textbox", name="Company", exact=True).fill("Analytical Engines")
    size = page.get_by_role("group", name="Company size")
    size.get_by_label("Medium").check()
    spa.screenshot("form")
    page.get_by_role("button", name="Continue").click()

    # Back twice: each step shows what it bound.
    expect(spa.heading()).to_have_text("Confirm")
    page.get_by_role("button", name="Back").click()
    expect(spa.heading()).to_have_text("Your company")
    expect(page.get_by_role("textbox", name="Company", exact=True)).to_have_value(
        "Analytical Engines"
    )
    expect(size.get_by_label("Medium")).to_be_checked()
    page.get_by_role("button", name="Back").click()
    expect(spa.heading()).to_have_text("About you")
    expect(page.get_by_label("Email")).to_have_value("ada@example.com")
    expect(page.get_by_label("Name")).to_have_value("Ada")

    page.get_by_role("button", name="Continue").click()
    expect(spa.heading()).to_have_text("Your company")
    page.get_by_role("button", name="Continue").click()
    expect(spa.heading()).to_have_text("Confirm")
    expect(page.get_by_text("Check the terms and finish.")).to_be_visible()

    # Not accepting is refused by the serializer's validator, shown by the checkbox.
    accept = page.get_by_label("I accept the terms")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#field-accept-error")).to_contain_text("You must accept the terms")
    expect(accept).to_be_focused()
    accept.check()
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_text("This flow is complete.")).to_be_visible()
    expect(page.get_by_text("All 3 steps done")).to_be_visible()
    result = page.locator(".result")
    for value in ("ada@example.com", "Ada", "Analytical Engines", "m"):
        expect(result.get_by_text(value, exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    spa.screenshot("complete")


def test_cancel_shows_the_flow_cancelled_and_leads_back_to_the_catalog(spa: Spa) -> None:
    page = spa.open()
    spa.start("Onboarding", "Default")
    expect(spa.heading()).to_have_text("About you")

    with page.expect_request(lambda request: request.method == "DELETE") as cancelled:
        page.get_by_role("button", name="Cancel").click()
    assert cancelled.value.url == f"{spa.api}/api/pipelines/{spa.flow_id()}/"
    expect(spa.heading()).to_have_text("Flow cancelled")
    expect(page.get_by_role("status")).to_have_text("The flow was cancelled.")

    # Shown again later, the flow is gone (410) and can be started again.
    page.reload()
    expect(spa.heading()).to_have_text("Flow cancelled")
    expect(page.get_by_role("alert")).to_have_text("This flow was cancelled.")
    expect(page.get_by_role("button", name="Start again")).to_be_visible()

    page.get_by_role("link", name="Back to the catalog").click()
    expect(page.get_by_role("heading", name="Start a flow")).to_be_visible()


def test_an_expired_flow_offers_to_start_again(spa: Spa) -> None:
    page = about_you_filled(spa)
    expired_id = spa.flow_id()

    # The live server runs in a thread of this process: moving the clock moves its clock.
    later = datetime.now(UTC) + timedelta(hours=2)
    with time_machine.travel(later, tick=True):
        page.get_by_role("button", name="Continue").click()
        expect(spa.heading()).to_have_text("Flow expired")
        expect(page.get_by_role("alert")).to_have_text("This flow has expired.")
        expect(spa.heading()).to_be_focused()
        spa.screenshot("gone-410-restart")

        page.get_by_role("button", name="Start again").click()
        expect(spa.heading()).to_have_text("About you")
        assert spa.flow_id() not in ("", expired_id)
        expect(page.get_by_label("Email")).to_have_value("")


def test_a_stale_tab_gets_the_current_step_with_a_notice(spa: Spa) -> None:
    first = spa.open()
    spa.start("Onboarding", "Default")
    expect(spa.heading()).to_have_text("About you")
    flow_id = spa.flow_id()

    second = spa.open(f"pipeline={flow_id}", page=spa.new_page())
    expect(spa.heading(second)).to_have_text("About you")

    for page in (first, second):
        page.get_by_label("Email").fill("ada@example.com")
        page.get_by_label("Name").fill("Ada")
    first.get_by_role("button", name="Continue").click()
    expect(spa.heading(first)).to_have_text("Your company")

    # The other tab submits the step the flow has left: 409, the current step, a notice.
    second.get_by_role("button", name="Continue").click()
    expect(spa.heading(second)).to_have_text("Your company")
    notice = second.locator(".notice")
    expect(notice).to_have_text("This flow has moved on. This is where it stands now.")
    expect(notice).to_have_attribute("role", "alert")
    expect(second.get_by_text("Step 2 of 3")).to_be_visible()
    spa.screenshot("conflict-409-notice", page=second)

    # And it goes on from there.
    second.get_by_role("textbox", name="Company", exact=True).fill("Analytical Engines")
    second.get_by_role("group", name="Company size").get_by_label("Small").check()
    second.get_by_role("button", name="Continue").click()
    expect(spa.heading(second)).to_have_text("Confirm")
    expect(second.locator(".notice")).to_have_count(0)


def test_a_lost_connection_keeps_the_step_and_what_was_typed(spa: Spa) -> None:
    page = about_you_filled(spa)

    flow_url = f"{spa.api}/api/pipelines/{spa.flow_id()}/"
    page.route(flow_url, lambda route: route.abort("internetdisconnected"))
    page.get_by_role("button", name="Continue").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("could not be reached")
    expect(alert).to_be_focused()
    expect(page.get_by_label("Email")).to_have_value("ada@example.com")

    page.unroute(flow_url)
    page.get_by_role("button", name="Continue").click()
    expect(spa.heading()).to_have_text("Your company")


def test_a_malformed_submit_keeps_the_step_and_what_was_typed(spa: Spa) -> None:
    """400 with an envelope (the request itself refused): its errors above the step as typed."""
    page = about_you_filled(spa)

    def malformed(route: Route) -> None:
        """The submit as sent, with its `data` (which must be an object) in a list."""
        if route.request.method != "POST":
            route.continue_()
            return
        body = json.loads(route.request.post_data or "{}")
        route.continue_(post_data=json.dumps({**body, "data": [body["data"]]}))

    flow_url = f"{spa.api}/api/pipelines/{spa.flow_id()}/"
    page.route(flow_url, malformed)
    with page.expect_response(lambda r: r.request.method == "POST") as answered:
        page.get_by_role("button", name="Continue").click()
    assert answered.value.status == 400
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("Data: Expected a dictionary of items")
    expect(summary).to_be_focused()
    expect(spa.heading()).to_have_text("About you")
    expect(page.get_by_label("Email")).to_have_value("ada@example.com")
    expect(page.get_by_label("Name")).to_have_value("Ada")

    page.unroute(flow_url)
    page.get_by_role("button", name="Continue").click()
    expect(spa.heading()).to_have_text("Your company")


def test_a_submit_refused_as_too_large_keeps_the_step_and_what_was_typed(spa: Spa) -> None:
    """413 `payload_too_large`: nothing moved; the user can shorten what they typed and resend."""
    page = about_you_filled(spa, name="Augusta Ada King, Countess of Lovelace")

    with override_settings(PIPELINE_MAX_BODY_SIZE=64):
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("alert")).to_contain_text("The request body is too large.")
    expect(spa.heading()).to_have_text("About you")
    expect(page.get_by_label("Name")).to_have_value("Augusta Ada King, Countess of Lovelace")
    expect(page.get_by_role("button", name="Continue")).to_be_enabled()


def test_a_submit_while_the_database_is_down_keeps_the_step_and_can_be_sent_again(
    spa: Spa,
) -> None:
    """503 `database_unavailable`, `Retry-After`: nothing was written, the same submit will do."""
    page = about_you_filled(spa)

    # The live server runs in a thread of this process: the patch reaches it.
    down = OperationalError("database is locked")
    with mock.patch("backend.pipeline.api.views._load", side_effect=down):
        with page.expect_response(lambda r: r.request.method == "POST") as answered:
            page.get_by_role("button", name="Continue").click()
        assert answered.value.status == 503
        assert answered.value.headers.get("retry-after") == "1"
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("Try again shortly.")
        expect(alert).to_contain_text("You can try again in 1 second.")  # its Retry-After
    expect(spa.heading()).to_have_text("About you")
    expect(page.get_by_label("Email")).to_have_value("ada@example.com")

    page.get_by_role("button", name="Continue").click()
    expect(spa.heading()).to_have_text("Your company")


def test_the_flows_address_resumes_it_in_another_tab(spa: Spa) -> None:
    """The URL the app puts in the address bar is the flow's: pasted into a new tab, it resumes.

    Here the app and the API are on two origins, so the app's URLs must keep `?api=`
    (sessionStorage, where the app remembers it, is per tab).
    """
    first = spa.open()
    spa.start("Onboarding", "Default")
    expect(spa.heading()).to_have_text("About you")

    second = spa.new_page()
    second.goto(first.url)  # what a user copies from the address bar
    expect(spa.heading(second)).to_have_text("About you")


def test_a_link_of_the_app_opened_in_another_tab_keeps_the_api(spa: Spa) -> None:
    """A middle-click opens the link's own address, which the app does not handle."""
    page = spa.open()
    with spa.context.expect_page() as opened:
        page.get_by_role("link", name="Log in").click(button="middle")
    other = opened.value
    other.wait_for_load_state()
    assert parse_qs(urlsplit(other.url).query).get("api") == [spa.api], other.url
    expect(other.get_by_role("heading", name="Log in")).to_be_visible()
