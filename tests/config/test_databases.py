import runpy

import pytest
from django.conf import settings


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
