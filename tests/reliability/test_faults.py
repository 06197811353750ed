"""Faults of a real deployment: the database going away, a worker killed inside a step.

The app runs under gunicorn (4 sync workers, `CONN_MAX_AGE=0`: a connection
per request) against the run's test database. The promise under test is
the protocol's (`backend/pipeline/README.md`): a step happens entirely or
not at all, and a client is told which (200, or 503 `database_unavailable`
with `Retry-After`, never a 500 or a hang), so that sending the same request again is always safe.

How the database is taken away differs by database:

* PostgreSQL: the server reaches it through a TCP proxy of the test's
  (`TcpProxy`), which the test cuts: the port closes and every connection
  through it drops (the server's transaction with it), or, "blackholed",
  accepts and never answers, so that only `connect_timeout` (2 s, in the
  server's `DATABASE_URL`) keeps a request from hanging.
* SQLite: there is no connection to cut; the outage SQLite has is its
  write lock held by another process. The test holds it (`BEGIN
  EXCLUSIVE`), and the server, its busy timeout lowered to 1 s with
  `SQLITE_BUSY_TIMEOUT=1`, gives up writing after that second. Reads go
  on meanwhile (WAL mode), so only writes answer 503.

Steps are held at a gate of the test-only `slow` pipeline
(tests/reliability/slow.py) so that the outage, or the SIGKILL of the worker
serving the request, lands inside a step: after the flow was read and
before it is written; inside the finishing transaction, after the flow was
claimed and `finish_pipeline` wrote its effect; or, starting a flow, after
the flow was stored and before the session is saved (by middleware, outside
the API view). One server serves the whole module, and each test leaves it
as it found it: database back, gates open, four workers running. The last
test has a server of its own, one worker keeping its connection
(`CONN_MAX_AGE`), whose statements run prepared when the database goes.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from django.db import connection

from backend.identity.models import IdentityProvider
from backend.pipeline.models import Flow

from .conftest import (
    CONFIRM,
    CONNECT_TIMEOUT,
    HTTP_TIMEOUT,
    Api,
    Data,
    Gates,
    Server,
    TcpProxy,
    body_of,
    company,
    database_url,
    error_codes,
    profile,
    started_flow,
)
from .slow import EFFECT_TYPE

pytestmark = pytest.mark.django_db(transaction=True)


# Deselected (not skipped) on other databases by tests/conftest.py: there is
# no connection to cut (SQLite's outage is its write lock, tested above).
needs_postgresql = pytest.mark.postgresql()


# -- the server and its outages -------------------------------------------------------------------


class SqliteLock:
    """Another process's write lock on the SQLite file, taken and given back."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.locker: sqlite3.Connection | None = None

    def take(self) -> None:
        assert self.locker is None
        self.locker = sqlite3.connect(self.path, isolation_level=None, timeout=HTTP_TIMEOUT)
        self.locker.execute("BEGIN EXCLUSIVE")

    def give_back(self) -> None:
        if self.locker is not None:
            self.locker.rollback()
            self.locker.close()
            self.locker = None


@dataclass
class Faulty:
    """The server of this module, its gates, and the means to take its database away."""

    server: Server
    gates: Gates
    proxy: TcpProxy | None  # PostgreSQL
    lock: SqliteLock | None  # SQLite

    def cut(self) -> None:
        """The database goes away: PostgreSQL's port closes, SQLite's write lock is taken."""
        if self.proxy is not None:
            self.proxy.cut("refuse")
        else:
            assert self.lock is not None
            self.lock.take()

    def restore(self) -> None:
        if self.proxy is not None:
            self.proxy.restore()
        if self.lock is not None:
            self.lock.give_back()

    def cut_at(self, gate: str, call: Callable[[], requests.Response]) -> requests.Response:
        """Make `call`, take the database away while it waits at `gate`; its answer."""
        self.gates.hold(gate)
        pending = Pending(call)
        self.gates.reached(gate)
        self.cut()
        try:
            self.gates.release(gate)
            return pending.response()
        finally:
            self.restore()


@pytest.fixture(scope="module")
def faulty_server(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Faulty]:
    """One server for the module: gated, behind a proxy (PostgreSQL) or a 1 s busy timeout."""
    directory = tmp_path_factory.mktemp("faults")
    gates = Gates(directory / "gates")
    proxy: TcpProxy | None = None
    lock: SqliteLock | None = None
    env = dict(gates.env)
    if connection.vendor == "postgresql":
        settings = connection.settings_dict
        proxy = TcpProxy((str(settings["HOST"] or "127.0.0.1"), int(settings["PORT"] or 5432)))
        proxy.start()
        env["DATABASE_URL"] = database_url(port=proxy.port)
    else:
        lock = SqliteLock(str(connection.settings_dict["NAME"]))
        env["DATABASE_URL"] = database_url()
        env["SQLITE_BUSY_TIMEOUT"] = "1"
    server = Server(directory, env)
    try:
        server.start()
        yield Faulty(server, gates, proxy, lock)
    finally:
        gates.release_all()
        server.stop()
        if proxy is not None:
            proxy.close()


@pytest.fixture
def faulty(faulty_server: Faulty) -> Iterator[Faulty]:
    """The module's server, back to normal after each test, whatever happened in it."""
    yield faulty_server
    faulty_server.restore()
    faulty_server.gates.release_all()
    faulty_server.server.wait_for_workers()  # a killed worker is replaced


# -- helpers ------------------------------------------------------------------------------------


class Pending:
    """A request sent from a thread of its own; its answer, or what it raised."""

    def __init__(self, call: Callable[[], requests.Response]) -> None:
        self._outcome: requests.Response | BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(call,))
        self._thread.start()

    def _run(self, call: Callable[[], requests.Response]) -> None:
        try:
            self._outcome = call()
        except BaseException as exc:  # handed to the test's thread by outcome()
            self._outcome = exc

    def outcome(self) -> requests.Response | BaseException:
        self._thread.join(timeout=2 * HTTP_TIMEOUT)
        assert not self._thread.is_alive(), "the request hung"
        assert self._outcome is not None
        return self._outcome

    def response(self) -> requests.Response:
        outcome = self.outcome()
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def snapshot(flow_id: str) -> dict[str, Any]:
    """The stored flow, every column a step may change."""
    row = (
        Flow.objects.filter(pk=uuid.UUID(flow_id))
        .values(
            "version",
            "step_index",
            "status",
            "data",
            "child",
            "result",
            "errors",
            "callback_hash",
            "updated_at",
            "expires_at",
        )
        .get()
    )
    return dict(row)


def effects(flow_id: str) -> int:
    """How many runs of the slow pipeline's finish_pipeline for this flow committed."""
    return IdentityProvider.objects.filter(type=EFFECT_TYPE, config__flow=flow_id).count()


def assert_unavailable(response: requests.Response) -> None:
    assert response.status_code == 503, (response.status_code, response.text[:2000])
    assert response.json()["error"]["code"] == "database_unavailable"
    assert response.headers["Retry-After"] == "1"


def finish_slow_flow(client: Api, flow_id: str, name: str) -> Data:
    """Take a slow flow from wherever it is to its end; the completed descriptor."""
    shown = body_of(client.show(flow_id), 200)
    if shown["step"]["name"] == "name":
        shown = body_of(client.submit(flow_id, shown["step"]["version"], {"name": name}), 200)
    assert shown["step"]["name"] == "confirm"
    done = body_of(client.submit(flow_id, shown["step"]["version"], CONFIRM), 200)
    assert done["status"] == "complete"
    assert done["result"]["name"] == name
    # Once finished, always finished: the last step again is refused, and changes nothing.
    again = body_of(client.submit(flow_id, shown["step"]["version"], CONFIRM), 409)
    assert error_codes(again) == ["pipeline_finished"]
    assert again["result"] == done["result"]
    return done


# -- the database going away ---------------------------------------------------------------


def test_a_submit_while_the_database_is_down_answers_503_and_goes_through_after(
    faulty: Faulty,
) -> None:
    started, client = started_flow(faulty.server.url)
    flow_id = started["id"]
    before = snapshot(flow_id)

    faulty.cut()
    try:
        begun = time.monotonic()
        refused = client.submit(flow_id, 1, profile(1))
        took = time.monotonic() - begun
    finally:
        faulty.restore()

    assert_unavailable(refused)
    assert took < CONNECT_TIMEOUT + 3
    assert snapshot(flow_id) == before
    # The very same request, sent again, is the one that moves the flow.
    moved = body_of(client.submit(flow_id, 1, profile(1)), 200)
    assert (moved["step"]["name"], moved["step"]["version"]) == ("company", 2)
    body_of(client.submit(flow_id, 2, company(1)), 200)
    done = body_of(client.submit(flow_id, 3, CONFIRM), 200)
    assert done["result"] == {**profile(1), **company(1)}


def test_starting_a_flow_while_the_database_is_down_answers_503_not_500(
    faulty: Faulty,
) -> None:
    browser = Api.browser(faulty.server.url)
    flows = Flow.objects.count()
    faulty.cut()
    try:
        refused = browser.start()
    finally:
        faulty.restore()

    assert_unavailable(refused)
    assert Flow.objects.count() == flows
    started = body_of(browser.start(), 201)
    assert started["step"]["name"] == "profile"


def test_a_session_that_cannot_be_saved_answers_503_not_500(faulty: Faulty) -> None:
    # The first start of an anonymous browser creates its session (its key is
    # the flow's owner key), which Django's middleware saves again after the
    # API view is done, outside DRF's exception handler: Django turns that
    # failure into a 400 (`SessionInterrupted`), answered by `bad_request`.
    browser = Api.browser(faulty.server.url)
    # At "show": the flow is stored; the session is not saved yet.
    refused = faulty.cut_at("show", lambda: browser.start("slow"))

    assert_unavailable(refused)
    assert "sessionid" not in browser.http.cookies
    # The browser starts again (the first flow, whose token it never got, expires unused).
    started = body_of(browser.start("slow"), 201)
    assert "sessionid" in browser.http.cookies
    moved = body_of(browser.submit(started["id"], 1, {"name": "Ada"}), 200)
    assert moved["step"]["name"] == "confirm"


@needs_postgresql
def test_an_unreachable_database_answers_503_within_the_connect_timeout(faulty: Faulty) -> None:
    started, client = started_flow(faulty.server.url)
    assert faulty.proxy is not None
    faulty.proxy.cut("blackhole")  # connections are accepted, and never answered
    try:
        begun = time.monotonic()
        refused = client.submit(started["id"], 1, profile(1))
        took = time.monotonic() - begun
    finally:
        faulty.restore()

    assert_unavailable(refused)
    assert CONNECT_TIMEOUT - 0.5 < took < CONNECT_TIMEOUT + 3
    assert snapshot(started["id"])["version"] == 1
    assert body_of(client.submit(started["id"], 1, profile(1)), 200)["step"]["version"] == 2


def test_the_database_lost_inside_a_step_answers_503_and_nothing_is_written(
    faulty: Faulty,
) -> None:
    started, client = started_flow(faulty.server.url, "slow")
    flow_id = started["id"]
    before = snapshot(flow_id)
    # At "step": the flow is read; nothing is written yet.
    refused = faulty.cut_at("step", lambda: client.submit(flow_id, 1, {"name": "Ada"}))

    assert_unavailable(refused)
    assert snapshot(flow_id) == before
    assert effects(flow_id) == 0
    finish_slow_flow(client, flow_id, "Ada")
    assert effects(flow_id) == 1


@needs_postgresql  # SQLite: the finishing transaction holds the write lock, no one can cut in
def test_the_database_lost_while_finishing_keeps_neither_the_claim_nor_the_effects(
    faulty: Faulty,
) -> None:
    started, client = started_flow(faulty.server.url, "slow")
    flow_id = started["id"]
    named = body_of(client.submit(flow_id, 1, {"name": "Ada"}), 200)
    before = snapshot(flow_id)
    # At "finish": claimed, and the effect written, in an open transaction.
    refused = faulty.cut_at(
        "finish", lambda: client.submit(flow_id, named["step"]["version"], CONFIRM)
    )

    assert_unavailable(refused)
    assert snapshot(flow_id) == before
    assert effects(flow_id) == 0
    finish_slow_flow(client, flow_id, "Ada")
    assert effects(flow_id) == 1


# -- a worker killed ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "point",
    [
        pytest.param("step", id="before-the-write"),
        pytest.param("finish", id="inside-the-finishing-transaction"),
    ],
)
def test_a_worker_killed_inside_a_step_leaves_the_flow_before_it(
    faulty: Faulty, point: str
) -> None:
    server, gates = faulty.server, faulty.gates
    started, client = started_flow(server.url, "slow")
    flow_id = started["id"]
    shown = started
    if point == "finish":
        shown = body_of(client.submit(flow_id, 1, {"name": "Ada"}), 200)
    data = {"name": "Ada"} if point == "step" else CONFIRM
    before = snapshot(flow_id)
    gates.hold(point)
    pending = Pending(lambda: client.submit(flow_id, shown["step"]["version"], data))
    worker = gates.reached(point)
    assert worker in server.worker_pids()

    os.kill(worker, signal.SIGKILL)

    outcome = pending.outcome()
    assert isinstance(outcome, requests.ConnectionError), outcome  # the answer died with it
    gates.release(point)
    assert worker not in server.wait_for_workers(without=worker)  # gunicorn replaced it
    # Before the step, entirely: the same version, step, data; no result, no effect.
    assert snapshot(flow_id) == before
    assert effects(flow_id) == 0
    now = body_of(client.show(flow_id), 200)
    assert (now["status"], now["step"]) == ("active", shown["step"])
    # And it goes on from there, to a finish that takes effect exactly once.
    done = finish_slow_flow(client, flow_id, "Ada")
    assert effects(flow_id) == 1
    effect = IdentityProvider.objects.get(type=EFFECT_TYPE, config__flow=flow_id)
    assert effect.config["flow"] == flow_id
    assert effect.config["pid"] != worker
    assert done["result"]["effect"] == effect.pk


# -- persistent connections ---------------------------------------------------------------------


def onboard(client: Api, flow_id: str, index: int) -> Data:
    """The three onboarding steps of a started flow; the completed descriptor."""
    body_of(client.submit(flow_id, 1, profile(index)), 200)
    body_of(client.submit(flow_id, 2, company(index)), 200)
    return body_of(client.submit(flow_id, 3, CONFIRM), 200)


def served_prepared(client: Api, flow_id: str) -> bool:
    """Whether the server read the flow for a GET by a prepared statement.

    The server's connection is the one other to the test database; its
    last statement, the read of the GET, shows `$1` where it was bound on
    the server, as prepared statements are, and values otherwise.
    """
    body_of(client.show(flow_id), 200)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT query FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND query LIKE %s",
            ["SELECT %pipeline_flow%"],
        )
        (query,) = [row[0] for row in cursor.fetchall()]
    return "$1" in query


@needs_postgresql
def test_a_persistent_connection_lost_with_its_prepared_statements_is_replaced(
    tmp_path: Any,
) -> None:
    # One worker keeping its connection (CONN_MAX_AGE): after a few flows the
    # flow table's statements run prepared on it (backend.pipeline.prepared).
    # The database going away takes the connection and what it prepared
    # along; the next connection serves, and prepares, as the first did.
    settings = connection.settings_dict
    proxy = TcpProxy((str(settings["HOST"] or "127.0.0.1"), int(settings["PORT"] or 5432)))
    proxy.start()
    env = {"DATABASE_URL": database_url(port=proxy.port), "DATABASE_CONN_MAX_AGE": "60"}
    server = Server(tmp_path, env, workers=1)
    try:
        server.start()
        for index in range(3):
            started, client = started_flow(server.url)
            assert onboard(client, started["id"], index)["status"] == "complete"
        started, client = started_flow(server.url)
        flow_id = started["id"]
        assert served_prepared(client, flow_id)

        proxy.cut("refuse")
        try:
            refused = client.submit(flow_id, 1, profile(9))
        finally:
            proxy.restore()

        assert_unavailable(refused)
        # A new connection: its first read is not prepared, its third on are.
        assert not served_prepared(client, flow_id)
        done = onboard(client, flow_id, 9)
        assert done["result"] == {**profile(9), **company(9)}
        assert served_prepared(client, flow_id)
    finally:
        server.stop()
        proxy.close()
