"""The app on another origin is let in by the API's CORS and CSRF settings, and only by them.

The other browser tests show the way in; these show that it is those
settings (overridden per test, read per request) that open it.
"""

from __future__ import annotations

import re

import pytest
from django.test import override_settings
from playwright.sync_api import Response, expect

from .conftest import Spa

pytestmark = pytest.mark.browser


def test_an_origin_cors_does_not_allow_cannot_read_the_api(spa: Spa) -> None:
    with override_settings(CORS_ALLOWED_ORIGINS=[]):
        page = spa.open()
        expect(page.locator("#auth")).to_have_text("API unreachable")
        expect(page.get_by_role("alert")).to_have_text("The API's catalog could not be loaded.")


def test_an_origin_csrf_does_not_trust_cannot_start_a_flow(spa: Spa) -> None:
    with override_settings(CSRF_TRUSTED_ORIGINS=[]):
        page = spa.open()
        refused: list[str] = []

        def note_refusal(response: Response) -> None:
            if response.status == 403:
                refused.append(response.url)

        page.on("response", note_refusal)
        spa.start("Onboarding", "Default")
        summary = page.locator(".error-summary")
        expect(summary).to_contain_text("“Onboarding” did not start")
        expect(summary).to_contain_text(
            re.compile("CSRF verification failed. Origin checking failed")
        )
        expect(summary).to_be_focused()
        # Refused, the app fetched a fresh token and tried once more.
        assert refused == [f"{spa.api}/api/pipelines/"] * 2
