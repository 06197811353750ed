"""The accounts in the admin: API tokens, their keys shown once; users, who can go."""

from datetime import timedelta
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, RefreshToken
from rest_framework.authtoken.models import Token

from backend.accounts.models import ApiToken

TOKENS = "/admin/accounts/apitoken/"


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


def signed_in_through_the_local_server(user: Any) -> AccessToken:
    """An access token and its refresh token, as the demo's OAuth server issues them."""
    app = Application.objects.create(
        name="demo",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris="https://app.example/callback/",
    )
    expires = timezone.now() + timedelta(hours=1)
    access = AccessToken.objects.create(
        user=user, application=app, token=f"a-{user.pk}", expires=expires
    )
    RefreshToken.objects.create(
        user=user, application=app, token=f"r-{user.pk}", access_token=access
    )
    return access


def test_a_user_who_signed_in_through_the_local_server_can_be_deleted(
    admin_browser: Client, user: Any
) -> None:
    signed_in_through_the_local_server(user)
    key = Token.objects.create(user=user).key

    confirm = admin_browser.get(f"/admin/auth/user/{user.pk}/delete/")
    deleted = admin_browser.post(f"/admin/auth/user/{user.pk}/delete/", {"post": "yes"})

    assert (confirm.status_code, deleted.status_code) == (200, 302), deleted.content
    assert f"{key[:4]}…".encode() in confirm.content  # what goes, the key cut to its start
    assert key.encode() not in confirm.content
    assert not type(user).objects.filter(pk=user.pk).exists()
    assert not AccessToken.objects.exists()
    assert not RefreshToken.objects.exists()
    assert not Token.objects.exists()


def test_users_who_signed_in_so_can_be_deleted_together(
    admin_browser: Client, user: Any, other_user: Any
) -> None:
    for someone in (user, other_user):
        signed_in_through_the_local_server(someone)
    keys = [Token.objects.create(user=someone).key for someone in (user, other_user)]
    selected = {"action": "delete_selected", "_selected_action": [user.pk, other_user.pk]}

    confirm = admin_browser.post("/admin/auth/user/", selected)
    assert confirm.status_code == 200
    assert not any(key.encode() in confirm.content for key in keys)
    deleted = admin_browser.post(
        "/admin/auth/user/",
        {"action": "delete_selected", "_selected_action": [user.pk, other_user.pk], "post": "yes"},
    )

    assert deleted.status_code == 302, deleted.content
    assert not type(user).objects.filter(pk__in=[user.pk, other_user.pk]).exists()


def test_an_access_token_alone_is_still_revoked_rather_than_deleted(
    admin_browser: Client, user: Any
) -> None:
    access = signed_in_through_the_local_server(user)
    refused = admin_browser.post(f"/admin/oauth2_provider/accesstoken/{access.pk}/delete/")
    assert refused.status_code == 403
    assert AccessToken.objects.filter(pk=access.pk).exists()


def test_staff_who_may_not_delete_oauth_tokens_may_not_delete_their_owner(
    user: Any, other_user: Any
) -> None:
    other_user.is_staff = True
    other_user.save()
    other_user.user_permissions.add(Permission.objects.get(codename="delete_user"))
    staff = Client()
    staff.force_login(other_user)
    signed_in_through_the_local_server(user)

    refused = staff.post(f"/admin/auth/user/{user.pk}/delete/", {"post": "yes"})

    assert refused.status_code == 403
    assert type(user).objects.filter(pk=user.pk).exists()


def test_a_token_not_yet_given_to_anyone_is_told_without_a_user() -> None:
    assert str(ApiToken()) == "API token"
