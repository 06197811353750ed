"""Session auth for the SPA: CSRF token, login, who am I, logout."""

from typing import Any

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.conftest import FlowClient


def error_code(response: Any) -> str:
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["message"]
    code: str = body["error"]["code"]
    return code


def test_csrf_endpoint_sets_the_cookie_and_returns_the_token(db: None) -> None:
    client = APIClient(enforce_csrf_checks=True)
    response = client.get("/api/auth/csrf/")
    assert response.status_code == 200
    token = response.json()["csrf_token"]
    assert isinstance(token, str)
    assert token
    assert client.cookies["csrftoken"].value


def test_the_returned_csrf_token_passes_the_csrf_check(db: None) -> None:
    client = APIClient(enforce_csrf_checks=True)
    token = client.get("/api/auth/csrf/").json()["csrf_token"]
    response = client.post(
        "/api/auth/login/",
        {"username": "nobody", "password": "x"},
        format="json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 400  # past CSRF, refused for the credentials


def test_csrf_endpoint_keeps_the_cookie_it_set(client: FlowClient) -> None:
    cookie = client.raw.cookies["csrftoken"].value
    client.get("/api/auth/csrf/")
    assert client.raw.cookies["csrftoken"].value == cookie


def test_login_with_good_credentials_returns_200_with_the_user(
    client: FlowClient, user: Any
) -> None:
    response = client.login("ada", "lovelace-1815")
    assert response.status_code == 200
    assert response.json() == {
        "authenticated": True,
        "user": {"id": user.pk, "username": "ada"},
    }


def test_login_starts_a_session(client: FlowClient, user: Any) -> None:
    client.login("ada", "lovelace-1815")
    assert client.get("/api/auth/me/").json()["user"]["username"] == "ada"


def test_login_rotates_the_csrf_token(client: FlowClient, user: Any) -> None:
    before = client.csrf_token
    client.login("ada", "lovelace-1815")
    assert client.csrf_token != before


@pytest.mark.parametrize(
    ("username", "password"),
    [("ada", "wrong"), ("nobody", "lovelace-1815"), ("ADA", "lovelace-1815"), ("ada", "")],
)
def test_login_with_bad_credentials_returns_400_invalid_credentials(
    client: FlowClient, user: Any, username: str, password: str
) -> None:
    response = client.post("/api/auth/login/", {"username": username, "password": password})
    assert response.status_code == 400
    if password:
        assert error_code(response) == "invalid_credentials"
    else:
        assert error_code(response) == "invalid_request"
    assert client.get("/api/auth/me/").json()["authenticated"] is False


def test_logins_beyond_the_rate_are_refused_with_retry_after(
    client: FlowClient, user: Any, settings: Any
) -> None:
    settings.AUTH_LOGIN_RATE = "3/min"
    wrong = {"username": "ada", "password": "guess"}
    assert [client.post("/api/auth/login/", wrong).status_code for _ in range(3)] == [400] * 3

    refused = client.login("ada", "lovelace-1815")  # the right one, too late
    assert refused.status_code == 429
    assert error_code(refused) == "throttled"
    assert int(refused["Retry-After"]) > 0
    assert client.get("/api/auth/me/").json()["authenticated"] is False


@pytest.mark.parametrize("page", ["/accounts/login/", "/admin/login/"])
def test_a_login_page_of_djangos_counts_its_attempts_with_the_apis(
    client: FlowClient, user: Any, settings: Any, page: str
) -> None:
    # Else the local server's sign-in page or the admin's would be a way
    # around the API's limit on guesses.
    settings.AUTH_LOGIN_RATE = "3/min"
    user.is_staff = True
    user.save()
    wrong = {"username": "ada", "password": "guess"}
    browser = Client()
    assert client.post("/api/auth/login/", wrong).status_code == 400
    assert [browser.post(page, wrong).status_code for _ in range(2)] == [200, 200]

    refused = browser.post(page, {"username": "ada", "password": "lovelace-1815"})
    assert refused.status_code == 429
    assert refused.content == b"Too many sign-in attempts from your address. Try again later."
    assert int(refused["Retry-After"]) > 0
    assert "_auth_user_id" not in browser.session
    assert browser.get(page).status_code == 200  # the page itself is still shown
    assert client.login("ada", "lovelace-1815").status_code == 429


def test_a_login_page_of_djangos_lets_a_user_in_within_the_rate(user: Any, settings: Any) -> None:
    settings.AUTH_LOGIN_RATE = "3/min"
    browser = Client()
    signed_in = browser.post(
        "/accounts/login/", {"username": "ada", "password": "lovelace-1815", "next": "/o/"}
    )
    assert signed_in.status_code == 302
    assert browser.session["_auth_user_id"] == str(user.pk)


def test_login_of_an_inactive_user_returns_400_invalid_credentials(
    client: FlowClient, user: Any
) -> None:
    user.is_active = False
    user.save()
    response = client.post("/api/auth/login/", {"username": "ada", "password": "lovelace-1815"})
    assert response.status_code == 400
    assert error_code(response) == "invalid_credentials"


@pytest.mark.parametrize("body", [{}, {"username": "ada"}, {"password": "x"}, []])
def test_login_with_a_malformed_body_returns_400_invalid_request(
    client: FlowClient, body: Any
) -> None:
    response = client.post("/api/auth/login/", body)
    assert response.status_code == 400
    assert error_code(response) == "invalid_request"


def test_login_with_bad_json_returns_400_parse_error(client: FlowClient) -> None:
    response = client.raw.post(
        "/api/auth/login/",
        "{",
        content_type="application/json",
        HTTP_X_CSRFTOKEN=client.csrf_token,
    )
    assert response.status_code == 400
    assert error_code(response) == "parse_error"


@pytest.mark.parametrize(
    ("content_type", "body", "status", "code"),
    [
        ("application/json; charset=rot13", '{"username": "ada"}', 415, "unsupported_media_type"),
        (
            "multipart/form-data; boundary=XyZ; charset=rot13",
            '--XyZ\r\nContent-Disposition: form-data; name="username"\r\n\r\nada\r\n--XyZ--\r\n',
            400,
            "parse_error",
        ),
    ],
)
def test_login_with_a_body_in_a_charset_that_is_not_text_is_refused(
    client: FlowClient, user: Any, content_type: str, body: str, status: int, code: str
) -> None:
    response = client.raw.post(
        "/api/auth/login/", body, content_type=content_type, HTTP_X_CSRFTOKEN=client.csrf_token
    )
    assert response.status_code == status
    assert error_code(response) == code
    assert client.get("/api/auth/me/").json()["authenticated"] is False


def test_login_without_csrf_token_returns_403_csrf_failed(client: FlowClient, user: Any) -> None:
    response = client.raw.post(
        "/api/auth/login/", {"username": "ada", "password": "lovelace-1815"}, format="json"
    )
    assert response.status_code == 403
    assert error_code(response) == "csrf_failed"
    assert client.get("/api/auth/me/").json()["authenticated"] is False


def test_me_when_anonymous(client: FlowClient) -> None:
    response = client.get("/api/auth/me/")
    assert response.status_code == 200
    assert response.json() == {"authenticated": False, "user": None}


def test_me_when_logged_in(user_client: FlowClient, user: Any) -> None:
    response = user_client.get("/api/auth/me/")
    assert response.status_code == 200
    assert response.json() == {"authenticated": True, "user": {"id": user.pk, "username": "ada"}}


def test_me_with_token_auth(user: Any) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    assert client.get("/api/auth/me/").json()["user"]["username"] == "ada"


@pytest.mark.parametrize("key", ["abc\x00", "\x00", "a" * 39 + "\x00", "abc-def", "ü" * 40])
def test_a_token_no_key_could_be_is_refused_as_a_bad_token(user: Any, key: str) -> None:
    Token.objects.create(user=user)
    response = APIClient().get("/api/auth/me/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401
    assert error_code(response) == "authentication_failed"


def test_logout_returns_204(user_client: FlowClient) -> None:
    response = user_client.post("/api/auth/logout/")
    assert response.status_code == 204
    assert response.content == b""


def test_me_is_anonymous_after_logout(user_client: FlowClient) -> None:
    user_client.post("/api/auth/logout/")
    assert user_client.get("/api/auth/me/").json() == {"authenticated": False, "user": None}


def test_logout_when_anonymous_returns_204(client: FlowClient) -> None:
    assert client.post("/api/auth/logout/").status_code == 204


def test_logout_without_csrf_token_returns_403_and_keeps_the_session(
    user_client: FlowClient,
) -> None:
    response = user_client.raw.post("/api/auth/logout/")
    assert response.status_code == 403
    assert error_code(response) == "csrf_failed"
    assert user_client.get("/api/auth/me/").json()["authenticated"] is True


@pytest.mark.parametrize("path", ["/api/auth/login/", "/api/auth/logout/"])
def test_auth_endpoints_refuse_get_with_405(client: FlowClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 405
    assert error_code(response) == "method_not_allowed"
