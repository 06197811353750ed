import pytest
from django.test import override_settings

from backend.accounts.checks import check_login_rate


@pytest.mark.parametrize("rate", ["lots", "10/fortnight", "10/", "-1/min"])
def test_the_login_rate_must_be_one_drf_reads(rate: str) -> None:
    with override_settings(AUTH_LOGIN_RATE=rate):
        assert [message.id for message in check_login_rate()] == ["accounts.E001"]


@pytest.mark.parametrize("rate", ["10/min", "3/s", "0/min", None, ""])
def test_a_login_rate_drf_reads_or_none_passes(rate: str | None) -> None:
    with override_settings(AUTH_LOGIN_RATE=rate):
        assert check_login_rate() == []
