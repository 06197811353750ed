"""What the project serves besides the API: the frontend, CORS, JSON 404s."""

import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db


def test_root_serves_the_frontend_index() -> None:
    response = Client().get("/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("path", ["/", "/flows/abc", "/app.js", "/styles.css"])
def test_the_app_is_served_with_a_policy_that_lets_it_talk_to_its_own_origin_only(
    path: str,
) -> None:
    policy = Client().get(path)["Content-Security-Policy"]
    assert "connect-src 'self'" in policy.split("; ")
    assert "frame-ancestors 'none'" in policy.split("; ")


def test_unknown_frontend_paths_fall_back_to_the_index_for_client_routing() -> None:
    response = Client().get("/flows/abc")
    assert response.status_code == 200
    assert b"<!doctype html>" in b"".join(response.streaming_content)  # type: ignore[attr-defined]


def test_a_static_file_not_served_is_a_404_not_the_app() -> None:
    # Once DEBUG is off, /static/ is the load balancer's to serve (collectstatic).
    response = Client().get("/static/admin/css/base.css")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("path", ["/../backend/config/settings.py", "/%2e%2e/manage.py"])
def test_paths_outside_the_frontend_folder_are_never_served(path: str) -> None:
    response = Client().get(path)
    body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert b"SECRET_KEY" not in body
    assert b"execute_from_command_line" not in body


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("path", ["/api/nowhere/", "/api/pipelines/x/y/", "/api/auth/nowhere/"])
def test_unknown_api_paths_answer_the_json_envelope(path: str, debug: bool) -> None:
    with override_settings(DEBUG=debug):
        response = Client().get(path)
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/pipelines"),
        ("post", f"/api/pipelines/{'0' * 32}"),
        ("post", f"/api/pipelines/{'0' * 32}/back"),
        ("delete", f"/api/pipelines/{'0' * 32}"),
        ("get", f"/api/pipelines/{'0' * 32}"),
        ("post", "/api/auth/login"),
    ],
)
def test_an_api_path_missing_its_slash_is_not_redirected(
    method: str, path: str, debug: bool
) -> None:
    # A redirect would be an error page for a POST with DEBUG on, and a
    # 301 that clients follow with a GET, answering 200, without it.
    with override_settings(DEBUG=debug):
        response = getattr(Client(), method)(path)
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "Not found: API paths end with a slash."}
    }


@override_settings(CORS_ALLOWED_ORIGINS=["http://localhost:5173"])
def test_an_allowed_origin_gets_cors_headers_with_credentials() -> None:
    response = Client().options(
        "/api/pipelines/",
        HTTP_ORIGIN="http://localhost:5173",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type,x-csrftoken,x-pipeline-token",
    )
    assert response["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert response["Access-Control-Allow-Credentials"] == "true"
    allowed = response["Access-Control-Allow-Headers"]
    assert "x-csrftoken" in allowed
    assert "x-pipeline-token" in allowed


@override_settings(CORS_ALLOWED_ORIGINS=["http://localhost:5173"])
def test_another_origin_gets_no_cors_headers() -> None:
    response = Client().get("/api/pipelines/", HTTP_ORIGIN="http://evil.test")
    assert "Access-Control-Allow-Origin" not in response


@pytest.mark.parametrize("path", ["/%00", "/a%00.js", "/flows/%00/x", "/" + "a" * 256])
def test_a_path_no_file_can_have_serves_the_index(path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 200
    assert b"<!doctype html>" in b"".join(response.streaming_content)  # type: ignore[attr-defined]
