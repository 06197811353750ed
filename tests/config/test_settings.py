import os
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.checks.security.base import check_secret_key


# The settings are read anew, beside the module Django already loaded.
@pytest.mark.filterwarnings("ignore:'backend.config.settings' found in sys.modules")
@pytest.mark.parametrize("debug", ["0", "1"])
def test_without_a_secret_key_the_deployment_check_warns_of_the_stand_in(
    monkeypatch: pytest.MonkeyPatch, settings: Any, debug: str
) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("DEBUG", debug)
    settings.SECRET_KEY = runpy.run_module("backend.config.settings")["SECRET_KEY"]
    assert [warning.id for warning in check_secret_key(None)] == ["security.W009"]


@pytest.mark.filterwarnings("ignore:'backend.config.settings' found in sys.modules")
def test_a_secret_key_from_the_environment_is_used(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    key = "a-real-key-" + "x7Q#p2!vL9@kR4$wM8^nB3&" * 2
    monkeypatch.setenv("SECRET_KEY", key)
    read = runpy.run_module("backend.config.settings")["SECRET_KEY"]
    assert read == key
    settings.SECRET_KEY = read
    assert check_secret_key(None) == []


@pytest.mark.filterwarnings("ignore:'backend.config.settings' found in sys.modules")
def test_deployments_sharing_a_redis_set_the_redis_store_prefix_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert runpy.run_module("backend.config.settings")["PIPELINE_REDIS_PREFIX"] == "pipeline:"
    monkeypatch.setenv("PIPELINE_REDIS_PREFIX", "staging:pipeline:")
    read = runpy.run_module("backend.config.settings")["PIPELINE_REDIS_PREFIX"]
    assert read == "staging:pipeline:"


def test_a_deployment_over_https_passes_the_deployment_checks() -> None:
    production = {
        "DEBUG": "0",
        "SECRET_KEY": "a-real-key-" + "x7Q#p2!vL9@kR4$wM8^nB3&" * 2,
        "ALLOWED_HOSTS": "app.example.com",
        "SECURE_COOKIES": "1",
        "SECURE_SSL_REDIRECT": "1",
        "SECURE_HSTS_SECONDS": "31536000",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
        "SECURE_HSTS_PRELOAD": "1",
    }
    checked = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "backend.config.settings", **production},
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr


@pytest.mark.filterwarnings("ignore:'backend.config.settings' found in sys.modules")
@pytest.mark.parametrize(
    "name", ["SQLITE_BUSY_TIMEOUT", "SECURE_HSTS_SECONDS", "DATABASE_CONN_MAX_AGE"]
)
def test_a_negative_duration_is_refused_when_the_settings_are_read(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    # Else SQLite gives up on a busy database at once, browsers get a
    # `max-age=-1` they ignore, and a connection meant to persist never does.
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv(name, "-1")
    with pytest.raises(ValueError, match=f"{name} must be 0 or more, not -1"):
        runpy.run_module("backend.config.settings")
    monkeypatch.setenv(name, "0")
    runpy.run_module("backend.config.settings")
