"""Every kind of field, nested errors, server text as text, and a failed flow."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from django.test import override_settings
from playwright.sync_api import Page, expect

from .conftest import Spa
from .pipelines import (
    BIG_INTEGER,
    MARKUP_FAILURE,
    MARKUP_HELP,
    MARKUP_LABEL,
    PIPELINES,
    RELATIVE_REDIRECT,
    TRIP_GOES_NOWHERE,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def widgets(api_origin: str) -> Iterator[None]:
    """The test pipelines of `pipelines.py` served too."""
    with override_settings(PIPELINE_CLASSES=PIPELINES):
        yield


def no_markup_ran(page: Page) -> None:
    """Markup in server text stayed text: no element made of it, no handler run."""
    expect(page.locator("main img, main b")).to_have_count(0)
    assert page.evaluate("window.__xss") is None


def test_every_kind_of_field(widgets: None, spa: Spa) -> None:
    page = spa.open()
    spa.start("Widgets", "Every widget")
    expect(spa.heading()).to_have_text("Every widget")
    expect(page.get_by_text("One field of each kind.")).to_be_visible()

    # Labels and help are text, markup and all; required fields are marked.
    name = page.get_by_role("textbox", name=MARKUP_LABEL)
    expect(name).to_have_attribute("aria-describedby", "field-name-help")
    expect(page.locator("#field-name-help")).to_have_text(MARKUP_HELP)
    expect(page.locator("[data-field=name] label .required")).to_have_count(1)
    expect(page.locator("[data-field=website] label .required")).to_have_count(0)
    no_markup_ran(page)

    # One widget per kind of field.
    types = {
        "email": "email",
        "website": "url",
        "secret": "password",
        "age": "number",
        "height": "number",
        "newsletter": "checkbox",
        "birthday": "date",
    }
    for field, input_type in types.items():
        expect(page.locator(f"#field-{field}")).to_have_attribute("type", input_type)
    expect(page.locator("#field-age")).to_have_attribute("step", "1")
    expect(page.locator("#field-height")).to_have_attribute("step", "any")
    expect(page.get_by_label("Send me the newsletter")).to_be_checked()  # its default
    expect(page.get_by_role("textbox", name="Bio")).to_have_js_property("tagName", "TEXTAREA")
    plan = page.get_by_role("combobox", name="Plan")
    expect(plan.locator("option")).to_have_text(["Choose…", "Free", "Pro"])
    level = page.get_by_role("combobox", name="Level")
    expect(level.locator("option:checked")).to_have_text("Beginner")  # its default
    colour = page.get_by_role("group", name="Colour")
    expect(colour.get_by_role("radio")).to_have_count(3)
    topics = page.get_by_role("group", name="Topics")
    expect(topics.get_by_role("checkbox")).to_have_count(3)
    address = page.get_by_role("group", name="Address")
    tags = page.get_by_role("textbox", name="Tags")
    expect(page.locator("#field-tags-help")).to_have_text("One per line.")

    name.fill("Ada")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Website").fill("https://example.com/ada")
    page.get_by_label("Secret").fill("s3cret")
    page.get_by_role("textbox", name="Bio").fill("Line one\nLine two")
    page.get_by_label("Age").fill("42")
    page.get_by_label("Height in metres").fill("1.7")
    page.get_by_label("Send me the newsletter").uncheck()
    plan.select_option(label="Pro")
    colour.get_by_label("green").check()
    level.select_option(label="Expert")
    topics.get_by_label("News").check()
    topics.get_by_label("Tips").check()
    page.get_by_label("Birthday").fill("1990-05-17")
    address.get_by_label("Street").fill("12 Analytical Row")
    tags.fill("maths\n\npoetry")

    # A nested field's error goes next to it, by its dotted name.
    page.get_by_role("button", name="Continue").click()
    city = address.get_by_label("City")
    expect(page.locator("#field-address-city-error")).to_have_text(
        "Error: This field is required."
    )
    expect(city).to_have_attribute("aria-invalid", "true")
    expect(city).to_be_focused()
    expect(page.locator(".error-summary")).to_have_count(0)
    # What was sent is shown again.
    expect(name).to_have_value("Ada")
    expect(address.get_by_label("Street")).to_have_value("12 Analytical Row")
    expect(topics.get_by_label("Tips")).to_be_checked()
    expect(level.locator("option:checked")).to_have_text("Expert")
    spa.screenshot("form-every-widget-nested-error")

    city.fill("London")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("This flow is complete.")).to_be_visible()
    result = json.loads(page.locator("pre.code").text_content() or "")
    assert result == {
        "name": "Ada",
        "email": "ada@example.com",
        "website": "https://example.com/ada",
        "secret": "s3cret",
        "bio": "Line one\nLine two",
        "age": 42,
        "height": 1.7,
        "newsletter": False,
        "plan": "pro",
        "colour": "green",
        "level": 2,
        "topics": ["news", "tips"],
        "birthday": "1990-05-17",
        "address": {"street": "12 Analytical Row", "city": "London"},
        "tags": ["maths", "poetry"],
    }
    expect(page.locator(".result").get_by_text("12 Analytical Row")).to_be_visible()


def test_a_failed_flow_shows_why_and_can_start_again(widgets: None, spa: Spa) -> None:
    page = spa.open()
    spa.start("Widgets", "Failing")
    expect(spa.heading()).to_have_text("Go on and fail")
    first_id = spa.flow_id()
    page.get_by_role("button", name="Confirm").click()  # a form with no fields

    expect(spa.heading()).to_have_text("This flow failed")
    expect(page.get_by_role("alert")).to_contain_text(MARKUP_FAILURE)
    no_markup_ran(page)
    for offered_no_more in ("Back", "Cancel", "Confirm"):
        expect(page.get_by_role("button", name=offered_no_more)).to_have_count(0)
    spa.screenshot("error")

    page.get_by_role("button", name="Start again").click()
    expect(spa.heading()).to_have_text("Go on and fail")
    assert spa.flow_id() not in ("", first_id)


def test_a_required_field_that_may_be_blank_can_be_sent_empty(widgets: None, spa: Spa) -> None:
    """`note` is in `required` with no `minLength`: "" is valid, and must be sent, not left out."""
    page = spa.open()
    spa.start("Widgets", "Edge cases")
    expect(spa.heading()).to_have_text("Edge cases")
    page.get_by_label("Count").fill("3")
    with page.expect_request(lambda r: r.method == "POST" and "/api/pipelines/" in r.url) as sent:
        page.get_by_role("button", name="Continue").click()
    assert json.loads(sent.value.post_data or "{}")["data"].get("note") == ""
    expect(page.get_by_text("This flow is complete.")).to_be_visible()


def test_an_integer_is_sent_as_typed_however_large(widgets: None, spa: Spa) -> None:
    """An IntegerField takes any integer; the app must not round what the user typed."""
    page = spa.open()
    spa.start("Widgets", "Edge cases")
    expect(spa.heading()).to_have_text("Edge cases")
    page.get_by_label("Note").fill("big")
    page.get_by_label("Count").fill(str(BIG_INTEGER))
    with page.expect_request(lambda r: r.method == "POST" and "/api/pipelines/" in r.url) as sent:
        page.get_by_role("button", name="Continue").click()
    body = sent.value.post_data or ""
    # Parsed as Python parses it: an exact integer, or a string of its digits (DRF takes both).
    count = json.loads(body)["data"]["count"]
    assert int(count) == BIG_INTEGER, body


def test_a_relative_redirect_url_is_on_the_apis_origin(widgets: None, spa: Spa) -> None:
    """A path in `redirect.url` is the API's, as the paths in `actions` are."""
    page = spa.open()
    page.route("**/api/elsewhere/**", lambda route: route.abort("aborted"))
    with page.expect_request(lambda r: "/api/elsewhere/" in r.url) as went:
        spa.start("Widgets", "Relative redirect")
    assert went.value.url == f"{spa.api}{RELATIVE_REDIRECT}"


@contextlib.contextmanager
def edge_cases_in_paris(spa: Spa) -> Iterator[Page]:
    """The "Edge cases" step, in a browser whose clock is in Paris (UTC+1 in November)."""
    context = spa.browser.new_context(timezone_id="Europe/Paris")
    try:
        page = context.new_page()
        spa.open(page=page)
        spa.start("Widgets", "Edge cases", page=page)
        expect(spa.heading(page)).to_have_text("Edge cases")
        yield page
    finally:
        context.close()


def test_a_date_time_is_sent_as_the_instant_the_user_chose(widgets: None, spa: Spa) -> None:
    """A user in Paris picks 09:00 on their clock: the server must bind 08:00 UTC, not 09:00."""
    with edge_cases_in_paris(spa) as page:
        page.get_by_label("Note").fill("meeting")
        page.get_by_label("Count").fill("1")
        page.get_by_label("Meeting").fill("2026-11-22T09:00")
        with page.expect_request(
            lambda r: r.method == "POST" and "/api/pipelines/" in r.url
        ) as sent:
            page.get_by_role("button", name="Continue").click()
        expect(page.get_by_text("This flow is complete.")).to_be_visible()
        sent_value = json.loads(sent.value.post_data or "{}")["data"]["meeting"]
        chosen = datetime.fromisoformat(sent_value)
        # Naive, the server reads it in its own zone (UTC): an hour off for this user.
        assert chosen.tzinfo is not None, f"sent {sent_value!r}, with no offset"
        assert chosen == datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def test_a_date_time_shown_again_is_on_the_users_clock(widgets: None, spa: Spa) -> None:
    """After a 400 the form is prefilled with the instant sent (with its "Z"), shown as local."""
    with edge_cases_in_paris(spa) as page:
        page.get_by_label("Meeting").fill("2026-11-22T09:00")
        with page.expect_response(lambda r: r.request.method == "POST") as answered:
            page.get_by_role("button", name="Continue").click()  # no Count: refused
        assert answered.value.status == 400
        assert answered.value.json()["form"]["data"]["meeting"].endswith("Z")
        expect(page.locator("#field-count-error")).to_be_visible()
        expect(page.get_by_label("Meeting")).to_have_value("2026-11-22T09:00")


def test_a_yes_or_no_left_unanswered_is_sent_as_no_answer(widgets: None, spa: Spa) -> None:
    """A nullable boolean: yes, no, or null; an untouched control must not answer "no"."""
    page = spa.open()
    spa.start("Widgets", "Booking")
    expect(spa.heading()).to_have_text("Book a trip")
    window_seat = page.get_by_role("combobox", name="Window seat")
    expect(window_seat.locator("option")).to_have_text(["—", "Yes", "No"])
    expect(window_seat.locator("option:checked")).to_have_text("—")
    page.get_by_label("Departure").fill("Paris")
    page.get_by_label("Arrival").fill("Lyon")
    with page.expect_request(lambda r: r.method == "POST" and "/api/pipelines/" in r.url) as sent:
        page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("This flow is complete.")).to_be_visible()
    body = sent.value.post_data or ""
    data = json.loads(body)["data"]
    assert "window_seat" in data, body
    assert data["window_seat"] is None, body
    result = json.loads(page.locator("pre.code").text_content() or "")
    assert result.get("window_seat") is None, result


def test_an_error_on_a_whole_group_of_fields_focuses_its_first_field(
    widgets: None, spa: Spa
) -> None:
    """An error of a nested serializer's `validate()` names the object: shown there, focused."""
    page = spa.open()
    spa.start("Widgets", "Booking")
    expect(spa.heading()).to_have_text("Book a trip")
    trip = page.get_by_role("group", name="Trip")
    trip.get_by_label("Departure").fill("Paris")
    trip.get_by_label("Arrival").fill("Paris")
    page.get_by_role("button", name="Continue").click()

    expect(page.locator("#field-trip-error")).to_have_text(f"Error: {TRIP_GOES_NOWHERE}")
    expect(trip).to_have_attribute("aria-describedby", "field-trip-error")
    expect(page.locator(".error-summary")).to_have_count(0)
    expect(trip.get_by_label("Departure")).to_be_focused()
    expect(trip.get_by_label("Arrival")).to_have_value("Paris")
