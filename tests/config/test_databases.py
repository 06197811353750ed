from django.conf import settings


def test_a_persistent_connection_is_checked_before_a_request_reuses_it() -> None:
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True
