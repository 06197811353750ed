"""API tokens in the admin: added and revoked there, their keys shown once."""

from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from rest_framework.authtoken.models import Token

TOKENS = "/admin/accounts/apitoken/"


@pytest.fixture
def admin_browser(admin_user: Any) -> Client:
    browser = Client()
    browser.force_login(admin_user)
    return browser


def test_a_token_added_shows_its_key_once_to_whoever_added_it(
    admin_browser: Client, user: Any
) -> None:
    added = admin_browser.post(f"{TOKENS}add/", {"user": user.pk}, follow=True)

    key = Token.objects.get(user=user).key
    assert added.status_code == 200
    assert key.encode() in added.content
    assert key.encode() not in admin_browser.get(TOKENS).content
    assert key.encode() not in admin_browser.get(f"{TOKENS}{user.pk}/change/").content
    assert key.encode() not in admin_browser.get("/admin/").content  # recent actions
    assert all(key not in entry.object_repr for entry in LogEntry.objects.all())


def test_tokens_are_listed_by_their_user_and_first_characters(
    admin_browser: Client, user: Any
) -> None:
    key = Token.objects.create(user=user).key

    listed = admin_browser.get(TOKENS)

    assert listed.status_code == 200
    assert f"{key[:4]}…".encode() in listed.content
    assert key.encode() not in listed.content


def test_a_token_is_revoked_without_its_key_shown(admin_browser: Client, user: Any) -> None:
    key = Token.objects.create(user=user).key

    confirm = admin_browser.get(f"{TOKENS}{user.pk}/delete/")
    assert confirm.status_code == 200
    assert key.encode() not in confirm.content
    deleted = admin_browser.post(f"{TOKENS}{user.pk}/delete/", {"post": "yes"}, follow=True)

    assert deleted.status_code == 200
    assert key.encode() not in deleted.content
    assert not Token.objects.exists()


def test_drfs_own_token_admin_listing_the_keys_is_gone(admin_browser: Client) -> None:
    assert admin_browser.get("/admin/authtoken/tokenproxy/").status_code == 404
