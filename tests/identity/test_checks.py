from typing import Any

import pytest
from django.core.checks import run_checks
from django.test import override_settings

ENABLED = {"enabled": True, "client_id": "cid", "client_secret": "sec"}


def deploy_warnings() -> list[str]:
    return [message.id or "" for message in run_checks(include_deployment_checks=True)]


@override_settings(IDENTITY_PROVIDERS={"local": {**ENABLED, "base_url": ""}})
def test_a_deployment_whose_local_provider_follows_the_request_is_warned() -> None:
    assert "identity.W001" in deploy_warnings()


@pytest.mark.parametrize(
    "local",
    [{**ENABLED, "base_url": "https://app.example"}, {**ENABLED, "enabled": False}],
)
def test_a_local_provider_at_a_fixed_origin_or_off_is_not_warned(local: dict[str, Any]) -> None:
    with override_settings(IDENTITY_PROVIDERS={"local": local}):
        assert "identity.W001" not in deploy_warnings()


def errors() -> list[str]:
    return [message.id or "" for message in run_checks()]


@pytest.mark.parametrize("timeout", [0, -1])
def test_a_timeout_no_request_could_keep_fails_the_checks(timeout: int) -> None:
    with override_settings(IDENTITY_HTTP_TIMEOUT=timeout):
        assert "identity.E001" in errors()


@pytest.mark.parametrize("base_url", ["notaurl", "ftp://sso.example", "https://"])
def test_a_local_server_url_that_is_no_web_address_fails_the_checks(base_url: str) -> None:
    with override_settings(IDENTITY_PROVIDERS={"local": {**ENABLED, "base_url": base_url}}):
        assert "identity.E002" in errors()


def test_the_default_identity_settings_pass_the_checks() -> None:
    assert not {"identity.E001", "identity.E002"} & set(errors())
