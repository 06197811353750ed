from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import override_settings
from oauth2_provider.models import get_application_model

pytestmark = pytest.mark.django_db


def _run(**options: Any) -> str:
    out = StringIO()
    call_command("demo_setup", stdout=out, **options)
    return out.getvalue()


@override_settings(DEBUG=True)
def test_demo_setup_creates_the_demo_user_and_the_local_oauth_client() -> None:
    assert "demo / demo" in _run(port="8123")

    user = get_user_model()._default_manager.get(username="demo")
    assert user.check_password("demo")
    application = get_application_model().objects.get(client_id="pipelines-demo")
    assert application.redirect_uris.split() == [
        "http://127.0.0.1:8123/api/pipelines/callback/",
        "http://localhost:8123/api/pipelines/callback/",
    ]
    assert application.authorization_grant_type == "authorization-code"
    assert application.client_type == "confidential"


def _callbacks_registered_with_the_local_server_at(base_url: str) -> list[str]:
    local = {"enabled": True, "client_id": "pipelines-demo", "client_secret": "x"}
    with override_settings(
        DEBUG=True, IDENTITY_PROVIDERS={"local": {**local, "base_url": base_url}}
    ):
        _run(port="8123")
    application = get_application_model().objects.get(client_id="pipelines-demo")
    return list(application.redirect_uris.split())


def test_demo_setup_lets_the_browser_back_where_the_local_server_is_served() -> None:
    # Behind a load balancer the callback is on its origin, not on the app server's port.
    assert _callbacks_registered_with_the_local_server_at("https://demo.example/") == [
        "http://127.0.0.1:8123/api/pipelines/callback/",
        "http://localhost:8123/api/pipelines/callback/",
        "https://demo.example/api/pipelines/callback/",
    ]


@override_settings(OAUTH2_PROVIDER={"ALLOWED_REDIRECT_URI_SCHEMES": ["https"]})
def test_demo_setup_registers_no_callback_the_local_server_would_refuse() -> None:
    # Under SECURE_SSL_REDIRECT the local server accepts https redirect URIs only.
    assert _callbacks_registered_with_the_local_server_at("https://demo.example:8443") == [
        "https://demo.example:8443/api/pipelines/callback/",
    ]
    get_application_model().objects.get(client_id="pipelines-demo").full_clean(
        exclude=["client_secret"]
    )


@override_settings(
    DEBUG=True, OAUTH2_PROVIDER={"ALLOWED_REDIRECT_URI_SCHEMES": ["https"]}, IDENTITY_PROVIDERS={}
)
def test_demo_setup_registers_no_client_without_a_callback_the_local_server_allows() -> None:
    err = StringIO()
    call_command("demo_setup", port="8123", stdout=StringIO(), stderr=err)
    assert not get_application_model().objects.exists()
    assert "Set LOCAL_OAUTH_BASE_URL" in err.getvalue()
    assert get_user_model()._default_manager.filter(username="demo").exists()


def test_demo_setup_registers_each_callback_once() -> None:
    assert _callbacks_registered_with_the_local_server_at("http://localhost:8123") == [
        "http://127.0.0.1:8123/api/pipelines/callback/",
        "http://localhost:8123/api/pipelines/callback/",
    ]


@override_settings(DEBUG=True)
def test_demo_setup_can_run_again() -> None:
    _run()
    _run()
    assert get_user_model()._default_manager.filter(username="demo").count() == 1
    assert get_application_model().objects.count() == 1


def test_demo_setup_does_nothing_without_debug() -> None:
    assert "DEBUG is off" in _run()
    assert not get_user_model()._default_manager.filter(username="demo").exists()
