import pytest
from django.conf import settings
from django.test import override_settings

from backend.pipeline.checks import check_settings
from backend.pipeline.store import DatabaseStore, FlowStore


def _ids() -> list[str]:
    return [message.id or "" for message in check_settings()]


def test_default_settings_pass() -> None:
    assert _ids() == []


def test_ttl_must_be_positive() -> None:
    with override_settings(PIPELINE_TTL=0):
        assert _ids() == ["pipeline.E001"]


def test_body_size_must_be_positive() -> None:
    with override_settings(PIPELINE_MAX_BODY_SIZE=-1):
        assert _ids() == ["pipeline.E002"]


@pytest.mark.parametrize("limit", [0, -1])
def test_the_active_flow_limit_must_be_positive(limit: int) -> None:
    with override_settings(PIPELINE_MAX_ACTIVE_FLOWS=limit):
        assert _ids() == ["pipeline.E009"]


def test_the_state_size_limit_must_be_positive() -> None:
    with override_settings(PIPELINE_MAX_STATE_SIZE=0):
        assert _ids() == ["pipeline.E010"]


def test_the_redis_grace_must_not_be_negative() -> None:
    with override_settings(PIPELINE_REDIS_GRACE=-5):
        assert _ids() == ["pipeline.E012"]


def test_the_callback_timeout_must_not_be_negative() -> None:
    with override_settings(PIPELINE_CALLBACK_TIMEOUT=-1):
        assert _ids() == ["pipeline.E015"]


def test_no_redis_grace_passes() -> None:
    with override_settings(PIPELINE_REDIS_GRACE=0):
        assert _ids() == []


def test_a_negative_proxy_count_fails_the_checks() -> None:
    # DRF would take the client's address from the end of what the client wrote.
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "NUM_PROXIES": -1}):
        assert _ids() == ["pipeline.E013"]


@pytest.mark.parametrize("name", ["REDIS_URL", "PIPELINE_REDIS_URL"])
def test_a_redis_url_redis_cannot_read_fails_the_checks(name: str) -> None:
    with override_settings(**{name: "garbage"}):
        assert _ids() == ["pipeline.E014"]


def test_no_pipeline_classes_is_warned_of() -> None:
    with override_settings(PIPELINE_CLASSES=[]):
        assert _ids() == ["pipeline.W001"]


def test_sessions_kept_in_signed_cookies_are_warned_of() -> None:
    with override_settings(SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies"):
        assert _ids() == ["pipeline.W002"]


def test_pipeline_classes_must_import() -> None:
    with override_settings(PIPELINE_CLASSES=["backend.nowhere.Pipeline"]):
        assert _ids() == ["pipeline.E003"]


def test_pipeline_classes_need_a_name() -> None:
    with override_settings(PIPELINE_CLASSES=["backend.pipeline.Pipeline"]):
        assert _ids() == ["pipeline.E004"]


def test_pipeline_names_must_be_unique() -> None:
    path = "backend.onboarding.pipeline.OnboardingPipeline"
    with override_settings(PIPELINE_CLASSES=[path, path]):
        assert _ids() == ["pipeline.E005"]


@pytest.mark.parametrize("url", ["//evil.test/", "https://evil.test/", "javascript:alert(1)"])
def test_frontend_url_must_not_leave_the_allowed_origins(url: str) -> None:
    with override_settings(PIPELINE_FRONTEND_URL=url):
        assert _ids() == ["pipeline.E007"]


@pytest.mark.parametrize("url", ["/", "/app/flows", "http://localhost:5173/"])
def test_frontend_url_may_be_a_path_or_on_an_allowed_origin(url: str) -> None:
    with override_settings(
        PIPELINE_FRONTEND_URL=url, PIPELINE_RETURN_TO_ORIGINS=["http://localhost:5173"]
    ):
        assert _ids() == []


def test_store_must_import() -> None:
    with override_settings(PIPELINE_STORE="backend.pipeline.store.Nowhere"):
        assert _ids() == ["pipeline.E006"]


@pytest.mark.parametrize("path", ["backend.pipeline.Pipeline", "backend.pipeline.conf.conf"])
def test_the_store_must_be_a_flow_store(path: str) -> None:
    with override_settings(PIPELINE_STORE=path):
        assert _ids() == ["pipeline.E011"]


@pytest.mark.parametrize(
    "path", ["backend.pipeline.redis_store.RedisStore", f"{__name__}.make_store"]
)
def test_a_flow_store_or_a_factory_of_one_passes(path: str) -> None:
    with override_settings(PIPELINE_STORE=path):
        assert _ids() == []


def make_store() -> FlowStore:
    """A factory, as a project might name in PIPELINE_STORE to build its store its own way."""
    return DatabaseStore()


@pytest.mark.parametrize("rate", ["lots", "5/fortnight", "5/", "-1/min", "/min"])
def test_the_start_rate_must_be_one_drf_reads(rate: str) -> None:
    with override_settings(PIPELINE_START_RATE=rate):
        assert _ids() == ["pipeline.E008"]


@pytest.mark.parametrize("rate", ["60/min", "5/s", "100/hour", "1000/day", "0/min", None, ""])
def test_a_start_rate_drf_reads_or_none_passes(rate: str | None) -> None:
    with override_settings(PIPELINE_START_RATE=rate):
        assert _ids() == []
