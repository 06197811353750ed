"""The demo's OAuth server answers what it is sent with a client error, never a 500."""

import base64
from typing import Any

import pytest
from django.test import Client
from oauth2_provider.models import Application

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "form",
    [
        {"grant_type": "authorization_code", "code": "x", "client_id": "\x00"},
        {"grant_type": "password", "username": "\x00", "password": "x", "client_id": "\x00"},
    ],
    ids=["client-id", "username"],
)
def test_a_token_request_with_a_nul_character_is_a_client_error(form: dict[str, str]) -> None:
    # SQLite finds nothing; PostgreSQL refuses a NUL character in the lookup.
    response = Client().post("/o/token/", form)
    assert 400 <= response.status_code < 500


def test_a_consent_for_an_application_that_does_not_exist_is_a_400(user: Any) -> None:
    client = Client()
    client.force_login(user)
    response = client.post(
        "/o/authorize/",
        {
            "allow": "Allow",
            "client_id": "nope",
            "redirect_uri": "http://testserver/api/pipelines/callback/",
            "scope": "profile",
            "response_type": "code",
        },
    )
    assert response.status_code == 400


def test_a_device_authorization_request_is_answered(user: Any) -> None:
    Application.objects.create(
        client_id="device-client",
        client_secret="device-secret",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris="http://testserver/cb",
        user=user,
    )
    credentials = base64.b64encode(b"device-client:device-secret").decode()
    response = Client().post(
        "/o/device-authorization/",
        "client_id=device-client",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Basic {credentials}",
    )
    assert response.status_code == 200, response.content
    assert response.json()["device_code"]


@pytest.mark.parametrize(
    "path",
    [
        "/o/applications/",
        "/o/applications/register/",
        "/o/applications/1/update/",
        "/o/authorized_tokens/",
        "/o/register/",
        "/o/.well-known/openid-configuration",
        "/o/.well-known/oauth-authorization-server",
    ],
)
def test_only_the_servers_endpoints_are_routed_not_its_management_pages(
    user: Any, path: str
) -> None:
    # A logged-in user could otherwise register a client of any grant.
    browser = Client()
    browser.force_login(user)
    assert browser.get(path).status_code == 404


def test_an_applications_own_url_leads_to_its_admin_page(admin_user: Any) -> None:
    application = Application.objects.create(
        name="demo",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
    )
    browser = Client()
    browser.force_login(admin_user)
    response = browser.get(application.get_absolute_url())
    assert response.status_code == 302
    assert response["Location"] == f"/admin/oauth2_provider/application/{application.pk}/change/"
