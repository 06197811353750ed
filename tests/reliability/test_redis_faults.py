"""Faults of the Redis that app servers share: down, or never answering.

The server keeps its sessions and the throttles' counts in Redis
(`REDIS_URL`, Django's cache) and its flows in the Redis store
(`PIPELINE_REDIS_URL`), each through a `TcpProxy` of its own in front of
the test Redis, so that a test can take either away. Both URLs carry
`socket_connect_timeout` and `socket_timeout`, which redis-py reads from
the URL. The promise is the database's (`test_faults.py`): 503
`database_unavailable` with `Retry-After`, never a 500 or a hang, nor a
flow answered as missing, and the same request goes through once Redis is
back.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import User

from tests.pipeline.test_store import REDIS_URL, redis_client

from .conftest import (
    CONFIRM,
    Api,
    Server,
    TcpProxy,
    body_of,
    company,
    database_url,
    profile,
    started_flow,
)
from .test_faults import assert_unavailable

pytestmark = pytest.mark.django_db(transaction=True)

#: Seconds the server's Redis clients wait to connect, and for an answer.
REDIS_TIMEOUT = 1


def redis_url(port: int) -> str:
    """The test Redis's URL, through the proxy on `port`, with the timeouts."""
    database = urlsplit(REDIS_URL).path or "/0"
    timeouts = urlencode(
        dict.fromkeys(["socket_connect_timeout", "socket_timeout"], REDIS_TIMEOUT)
    )
    return f"redis://127.0.0.1:{port}{database}?{timeouts}"


@dataclass
class Shared:
    """The module's server and the two ways to its Redis: its cache's, its flows'."""

    server: Server
    cache: TcpProxy
    store: TcpProxy

    def restore(self) -> None:
        self.cache.restore()
        self.store.restore()


@pytest.fixture(scope="module")
def shared_redis(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Shared]:
    client = redis_client()  # skips outside CI when there is no Redis
    target = urlsplit(REDIS_URL)
    cache = TcpProxy((target.hostname or "127.0.0.1", target.port or 6379))
    store = TcpProxy(cache.target)
    cache.start()
    store.start()
    prefix = f"test-{uuid.uuid4().hex}:"
    env = {
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url(cache.port),
        "PIPELINE_STORE": "backend.pipeline.redis_store.RedisStore",
        "PIPELINE_REDIS_URL": redis_url(store.port),
        "PIPELINE_REDIS_PREFIX": prefix,
        "PIPELINE_START_RATE": "1000/min",
        "AUTH_LOGIN_RATE": "1000/min",
    }
    server = Server(tmp_path_factory.mktemp("redis-faults"), env, workers=2)
    try:
        server.start()
        yield Shared(server, cache, store)
    finally:
        server.stop()
        cache.close()
        store.close()
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)


@pytest.fixture
def shared(shared_redis: Shared) -> Iterator[Shared]:
    """The module's server, its Redis given back after each test."""
    yield shared_redis
    shared_redis.restore()


def test_a_submit_while_the_flows_redis_is_down_answers_503_and_goes_through_after(
    shared: Shared,
) -> None:
    started, client = started_flow(shared.server.url)
    flow_id = started["id"]

    shared.store.cut("refuse")
    try:
        refused = client.submit(flow_id, 1, profile(1))
    finally:
        shared.store.restore()

    assert_unavailable(refused)
    moved = body_of(client.submit(flow_id, 1, profile(1)), 200)
    assert (moved["step"]["name"], moved["step"]["version"]) == ("company", 2)
    body_of(client.submit(flow_id, 2, company(1)), 200)
    done = body_of(client.submit(flow_id, 3, CONFIRM), 200)
    assert done["result"] == {**profile(1), **company(1)}


def test_a_flows_redis_that_never_answers_answers_503_within_its_timeouts(
    shared: Shared,
) -> None:
    started, client = started_flow(shared.server.url)

    shared.store.cut("blackhole")
    try:
        begun = time.monotonic()
        refused = client.show(started["id"])
        took = time.monotonic() - begun
    finally:
        shared.store.restore()

    assert_unavailable(refused)
    assert took < REDIS_TIMEOUT + 3
    assert body_of(client.show(started["id"]), 200)["step"]["version"] == 1


@pytest.mark.parametrize("outage", ["refuse", "blackhole"])
def test_a_user_whose_sessions_redis_is_down_is_answered_503_not_that_their_flow_is_missing(
    shared: Shared, api_user: tuple[User, str], outage: str
) -> None:
    browser = logged_in(shared, api_user[0])
    started = body_of(browser.start(), 201)

    shared.cache.cut(outage)
    try:
        shown = browser.show(started["id"])
        submitted = browser.submit(started["id"], 1, profile(2))
    finally:
        shared.cache.restore()

    assert_unavailable(shown)
    assert_unavailable(submitted)
    assert body_of(browser.show(started["id"]), 200)["step"]["version"] == 1
    moved = body_of(browser.submit(started["id"], 1, profile(2)), 200)
    assert moved["step"]["name"] == "company"


def test_starting_a_flow_while_the_sessions_redis_is_down_answers_503_not_500(
    shared: Shared,
) -> None:
    browser = Api.browser(shared.server.url)

    shared.cache.cut("refuse")
    try:
        refused = browser.start()
    finally:
        shared.cache.restore()

    assert_unavailable(refused)
    assert body_of(browser.start(), 201)["step"]["name"] == "profile"


def test_logging_in_while_the_sessions_redis_is_down_answers_503_not_500(
    shared: Shared, api_user: tuple[User, str]
) -> None:
    browser = Api.browser(shared.server.url)

    refused = log_in_without(shared.cache, browser, api_user[0])

    assert_unavailable(refused)
    body_of(browser.request("POST", "/api/auth/login/", credentials(api_user[0])), 200)


def test_a_login_that_cannot_move_the_flows_leaves_the_session_with_them(
    shared: Shared, api_user: tuple[User, str]
) -> None:
    """Django has retired the session's key when the flows' Redis refuses to move them."""
    browser = Api.browser(shared.server.url)
    started = body_of(browser.start(), 201)
    retired = browser.http.cookies["sessionid"]

    refused = log_in_without(shared.store, browser, api_user[0])

    assert_unavailable(refused)
    assert body_of(browser.get("/api/auth/me/"), 200)["authenticated"] is False
    assert browser.http.cookies["sessionid"] == retired
    assert body_of(browser.show(started["id"]), 200)["step"]["name"] == "profile"
    # The login got as far as rotating the CSRF token, as the answer's cookie says.
    browser.http.headers["X-CSRFToken"] = browser.get("/api/auth/csrf/").json()["csrf_token"]
    body_of(browser.request("POST", "/api/auth/login/", credentials(api_user[0])), 200)
    assert body_of(browser.show(started["id"]), 200)["step"]["name"] == "profile"
    copy = Api.browser(shared.server.url)
    copy.http.cookies.set("sessionid", retired)
    assert copy.show(started["id"]).status_code == 404


def test_anonymous_clients_go_on_while_the_sessions_redis_is_down(shared: Shared) -> None:
    """Neither a flow token nor the session cookie a flow began under needs the session read."""
    by_token, client = started_flow(shared.server.url)
    browser = Api.browser(shared.server.url)
    by_cookie = body_of(browser.start(), 201)

    shared.cache.cut("refuse")
    try:
        moved = [
            body_of(client.submit(by_token["id"], 1, profile(3)), 200),
            body_of(browser.submit(by_cookie["id"], 1, profile(4)), 200),
        ]
    finally:
        shared.cache.restore()

    assert [descriptor["step"]["name"] for descriptor in moved] == ["company", "company"]


PASSWORD = "correct horse battery staple"


def credentials(user: User) -> dict[str, str]:
    """The user's login, their password hashed as the server checks it (not as tests hash)."""
    if not user.password.startswith(f"{PBKDF2PasswordHasher.algorithm}$"):
        user.password = PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt())
        user.save(update_fields=["password"])
    return {"username": user.username, "password": PASSWORD}


def log_in_without(redis: TcpProxy, browser: Api, user: User) -> requests.Response:
    """`browser`'s login, sent while the Redis behind `redis` refuses connections."""
    redis.cut("refuse")
    try:
        return browser.request("POST", "/api/auth/login/", credentials(user))
    finally:
        redis.restore()


def logged_in(shared: Shared, user: User) -> Api:
    """A browser logged in as `user`, its CSRF token the one login gave it."""
    browser = Api.browser(shared.server.url)
    body_of(browser.request("POST", "/api/auth/login/", credentials(user)), 200)
    browser.http.headers["X-CSRFToken"] = browser.get("/api/auth/csrf/").json()["csrf_token"]
    return browser
