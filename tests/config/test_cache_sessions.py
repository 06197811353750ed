"""Sessions in Redis: a Redis that is down is an outage, a value it cannot decode no session."""

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from asgiref.sync import async_to_sync

from backend.config.cache_sessions import SessionStore
from tests.pipeline.test_store import REDIS_URL, redis_client
from tests.reliability.conftest import free_port


def _sessions_in(settings: Any, url: str) -> str:
    """Sessions in the Redis at `url`, under a key prefix of their own.

    A cache of their own, too: tests clear the default cache, and clearing
    a Redis cache empties its whole database.
    """
    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {
        **settings.CACHES,
        "sessions": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": prefix,
        },
    }
    settings.SESSION_CACHE_ALIAS = "sessions"
    return prefix


@pytest.fixture
def redis_sessions(settings: Any) -> Iterator[redis.Redis]:
    client = redis_client()
    prefix = _sessions_in(settings, REDIS_URL)
    yield client
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def test_a_session_is_kept_and_read_back(redis_sessions: redis.Redis) -> None:
    session = SessionStore()
    session["seen"] = 1
    session.save()
    assert SessionStore(session.session_key).load() == {"seen": 1}


def test_a_session_redis_cannot_decode_is_no_session(redis_sessions: redis.Redis) -> None:
    session = SessionStore()
    session["seen"] = 1
    session.save()
    (key,) = redis_sessions.keys(f"*{session.session_key}")
    redis_sessions.set(key, b"not a pickle")

    again = SessionStore(session.session_key)
    assert again.load() == {}
    assert again.session_key is None


def test_a_redis_that_is_down_is_an_error_not_an_empty_session(settings: Any) -> None:
    _sessions_in(settings, f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(redis.ConnectionError):
        SessionStore("abcdefgh12345678").load()


def test_a_redis_that_is_down_is_an_error_read_asynchronously_too(settings: Any) -> None:
    _sessions_in(settings, f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(redis.ConnectionError):
        async_to_sync(SessionStore("abcdefgh12345678").aload)()
