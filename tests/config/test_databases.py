import runpy
from typing import Any

import pytest
from django.conf import settings
from django.db import connection


def test_a_persistent_connection_is_checked_before_a_request_reuses_it() -> None:
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True


# The settings are read anew, beside the module Django already loaded.
@pytest.mark.filterwarnings("ignore:'backend.config.settings' found in sys.modules")
def test_a_transaction_pooler_is_declared_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert settings.DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] is False
    monkeypatch.setenv("DATABASE_DISABLE_SERVER_SIDE_CURSORS", "1")
    declared = runpy.run_module("backend.config.settings")["DATABASES"]
    assert declared["default"]["DISABLE_SERVER_SIDE_CURSORS"] is True


def read_databases(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    """The default database as the settings declare it, given `env` (and no PGOPTIONS but its)."""
    monkeypatch.delenv("PGOPTIONS", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    declared: dict[str, Any] = runpy.run_module("backend.config.settings")["DATABASES"]["default"]
    return declared


POSTGRES = "postgres://app@db.example:5432/app"


@pytest.mark.filterwarnings("ignore:'backend.config.settings' found in sys.modules")
@pytest.mark.parametrize(
    ("env", "options"),
    [
        ({}, "-c lock_timeout=20s"),
        ({"DATABASE_LOCK_TIMEOUT": "3"}, "-c lock_timeout=3s"),
        ({"DATABASE_LOCK_TIMEOUT": "0"}, None),  # the role's or the database's own, if any
        (
            {"DATABASE_URL": f"{POSTGRES}?options=-c%20search_path%3Dapp"},
            "-c search_path=app -c lock_timeout=20s",
        ),
        ({"DATABASE_URL": f"{POSTGRES}?options=-c%20lock_timeout%3D5000"}, "-c lock_timeout=5000"),
        # libpq reads PGOPTIONS only when no options are given: they are carried over.
        ({"PGOPTIONS": "-c search_path=app"}, "-c search_path=app -c lock_timeout=20s"),
        ({"PGOPTIONS": "-c lock_timeout=5000"}, None),
        ({"PGOPTIONS": "--lock-timeout=5000"}, None),
        (  # PGOPTIONS would be ignored beside the URL's: both are sent
            {
                "PGOPTIONS": "-c lock_timeout=5000",
                "DATABASE_URL": f"{POSTGRES}?options=-c%20search_path%3Dapp",
            },
            "-c lock_timeout=5000 -c search_path=app",
        ),
        ({"PGOPTIONS": "-c deadlock_timeout=2s"}, "-c deadlock_timeout=2s -c lock_timeout=20s"),
        ({"DATABASE_DISABLE_SERVER_SIDE_CURSORS": "1"}, None),  # a pooler may refuse options
        ({"DATABASE_URL": "postgis://app@db.example:5432/app"}, "-c lock_timeout=20s"),
    ],
)
def test_postgresql_waits_for_a_lock_as_long_as_the_environment_says(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], options: str | None
) -> None:
    declared = read_databases(monkeypatch, **{"DATABASE_URL": POSTGRES, **env})
    assert declared.get("OPTIONS", {}).get("options") == options


@pytest.mark.filterwarnings("ignore:'backend.config.settings' found in sys.modules")
@pytest.mark.parametrize("url", [POSTGRES, "sqlite:///db.sqlite3"])
def test_a_negative_lock_timeout_is_refused_by_its_name(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    with pytest.raises(ValueError, match="DATABASE_LOCK_TIMEOUT must be 0 or more, not -1"):
        read_databases(monkeypatch, DATABASE_URL=url, DATABASE_LOCK_TIMEOUT="-1")


@pytest.mark.postgresql
@pytest.mark.django_db
def test_the_database_connection_waits_for_a_lock_20_seconds_at_most() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone() == ("20s",)
