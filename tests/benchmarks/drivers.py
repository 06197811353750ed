"""The three contenders, each driving one complete onboarding flow through a client.

A *transport* is one client: a browser-like cookie jar and the CSRF token
it fetched once (`GET /api/auth/csrf/`, not timed), over Django's test
client in-process (`InProcessTransport`) or `requests` over HTTP
(`HttpTransport`). A *driver* runs one flow on a transport, timing each
request into a `Recorder`, and checks every answer: a benchmark that
silently measured 403s or re-rendered forms would measure nothing.

- `floor`: three POSTs of JSON to /bench/floor/<step>/ (`floor.py`);
- `bare`: four POSTs of the same JSON to /bench/bare/<step>/, which only
  authenticates, checks CSRF and answers (`floor.py`): a reference (what
  four requests cost before any step), not a contender;
- `wizard`: the wizard's GET, then three form POSTs to /bench/wizard/
  (`wizard.py`), each answered with HTML;
- `ours`: POST /api/pipelines/, then three submits, with the session cookie;
- `ours_token`: the same start, then the submits from a cookie-less client
  with `X-Pipeline-Token` (no session, no CSRF token).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, Protocol
from urllib.parse import urlencode

import requests

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
CSRF_PATH = "/api/auth/csrf/"
FLOOR_PATH = "/bench/floor/{}/"
BARE_PATH = "/bench/bare/{}/"
WIZARD_PATH = "/bench/wizard/"
WIZARD_PREFIX = "onboarding_wizard"
PIPELINES_PATH = "/api/pipelines/"
START_BODY = json.dumps({"pipeline": "onboarding", "provider": "default"}).encode()

STEP_NAMES = ("profile", "company", "confirm")

#: Requests per flow, by driver.
REQUESTS_PER_FLOW = {"floor": 3, "wizard": 4, "ours": 4, "ours_token": 4, "bare": 4}
DRIVERS = tuple(REQUESTS_PER_FLOW)


class BenchError(AssertionError):
    """A contender answered something other than what a correct flow gets."""


class Reply(NamedTuple):
    status: int
    body: bytes


class Transport(Protocol):
    """One client: its cookies, and the CSRF token it fetched once."""

    csrf_token: str

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply: ...

    def post(
        self, path: str, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> Reply: ...


class InProcessTransport:
    """Django's test client, CSRF checks enforced (as over HTTP)."""

    def __init__(self, *, cookies: bool = True) -> None:
        from django.test import Client

        self.client = Client(enforce_csrf_checks=True)
        self.csrf_token = ""
        if cookies:
            self.csrf_token = _csrf_of(self.get(CSRF_PATH))

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        response = self.client.get(path, headers=headers)
        return Reply(response.status_code, response.content)

    def post(
        self, path: str, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> Reply:
        response = self.client.post(path, body, content_type=content_type, headers=headers)
        return Reply(response.status_code, response.content)


class HttpTransport:
    """`requests` against a live server; one cookie jar, no proxies."""

    def __init__(self, base_url: str, *, cookies: bool = True, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.trust_env = False
        self.timeout = timeout
        self.csrf_token = ""
        if cookies:
            self.csrf_token = _csrf_of(self.get(CSRF_PATH))

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        response = self.session.get(self.base_url + path, headers=headers, timeout=self.timeout)
        return Reply(response.status_code, response.content)

    def post(
        self, path: str, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> Reply:
        sent = {"Content-Type": content_type, **(headers or {})}
        response = self.session.post(
            self.base_url + path, data=body, headers=sent, timeout=self.timeout
        )
        return Reply(response.status_code, response.content)

    def close(self) -> None:
        self.session.close()


def _csrf_of(reply: Reply) -> str:
    _expect(reply, 200, "csrf")
    token = json.loads(reply.body)["csrf_token"]
    assert isinstance(token, str)
    return token


class Recorder:
    """Latencies in nanoseconds, by request kind ("profile", "start", ...)."""

    def __init__(self) -> None:
        self.samples: dict[str, list[int]] = {}

    def add(self, kind: str, nanoseconds: int) -> None:
        self.samples.setdefault(kind, []).append(nanoseconds)

    def merge(self, other: Recorder) -> None:
        for kind, values in other.samples.items():
            self.samples.setdefault(kind, []).extend(values)

    def all(self) -> list[int]:
        return [value for values in self.samples.values() for value in values]


class NullRecorder(Recorder):
    def add(self, kind: str, nanoseconds: int) -> None:
        pass


#: A hook around each request (the query counter); the default does nothing.
Around = Callable[[str], Any]


class _Nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _nothing(kind: str) -> _Nothing:
    return _Nothing()


# -- the steps' data ------------------------------------------------------------


def step_data(index: int) -> list[tuple[str, dict[str, Any]]]:
    """Valid data of the three steps for flow number `index`."""
    return [
        ("profile", {"email": f"client{index}@example.com", "name": f"Client {index}"}),
        ("company", {"company": f"Company {index}", "size": "sml"[index % 3]}),
        ("confirm", {"accept": True}),
    ]


def wizard_form(step: str, data: dict[str, Any]) -> dict[str, str]:
    """The wizard's POST of one step: its management form and prefixed fields."""
    fields = {f"{WIZARD_PREFIX}-current_step": step}
    for name, value in data.items():
        if value is True:
            fields[f"{step}-{name}"] = "on"
        elif value is not False:
            fields[f"{step}-{name}"] = str(value)
    return fields


def _expect(reply: Reply, status: int, what: str) -> None:
    if reply.status != status:
        raise BenchError(f"{what}: expected {status}, got {reply.status}: {reply.body[:500]!r}")


def _timed_post(
    recorder: Recorder,
    around: Around,
    kind: str,
    transport: Transport,
    path: str,
    body: bytes,
    content_type: str,
    headers: dict[str, str],
) -> Reply:
    with around(kind):
        started = time.perf_counter_ns()
        reply = transport.post(path, body, content_type, headers)
        recorder.add(kind, time.perf_counter_ns() - started)
    return reply


# -- the drivers ------------------------------------------------------------------


def floor_flow(
    transport: Transport, index: int, recorder: Recorder, around: Around = _nothing
) -> None:
    headers = {"X-CSRFToken": transport.csrf_token}
    for step, data in step_data(index):
        body = json.dumps(data).encode()
        path = FLOOR_PATH.format(step)
        reply = _timed_post(recorder, around, step, transport, path, body, JSON, headers)
        _expect(reply, 200, f"floor {step}")


def bare_flow(
    transport: Transport, index: int, recorder: Recorder, around: Around = _nothing
) -> None:
    """As many requests as ours makes, with the floor's bodies, that do no step."""
    headers = {"X-CSRFToken": transport.csrf_token}
    steps = step_data(index)
    for step, data in [("start", {}), *steps]:
        body = json.dumps(data).encode()
        reply = _timed_post(
            recorder, around, step, transport, BARE_PATH.format(step), body, JSON, headers
        )
        _expect(reply, 200, f"bare {step}")


def wizard_flow(
    transport: Transport, index: int, recorder: Recorder, around: Around = _nothing
) -> None:
    headers = {"X-CSRFToken": transport.csrf_token}
    with around("show"):
        started = time.perf_counter_ns()
        reply = transport.get(WIZARD_PATH)
        recorder.add("show", time.perf_counter_ns() - started)
    _expect_wizard_step(reply, "profile")
    steps = step_data(index)
    for position, (step, data) in enumerate(steps):
        body = urlencode(wizard_form(step, data)).encode()
        reply = _timed_post(recorder, around, step, transport, WIZARD_PATH, body, FORM, headers)
        following = steps[position + 1][0] if position + 1 < len(steps) else "done"
        _expect_wizard_step(reply, following)


def _expect_wizard_step(reply: Reply, step: str) -> None:
    """The wizard answers 200 whether or not the form was valid: check the step shown."""
    _expect(reply, 200, f"wizard, expecting {step}")
    if f'data-step="{step}"'.encode() not in reply.body:
        raise BenchError(f"wizard did not show {step}: {reply.body[:800]!r}")


def ours_flow(
    transport: Transport,
    index: int,
    recorder: Recorder,
    around: Around = _nothing,
    *,
    token_transport: Transport | None = None,
) -> None:
    """Start, then submit the three steps; with `token_transport`, by flow token."""
    headers = {"X-CSRFToken": transport.csrf_token}
    reply = _timed_post(
        recorder, around, "start", transport, PIPELINES_PATH, START_BODY, JSON, headers
    )
    _expect(reply, 201, "start")
    descriptor = json.loads(reply.body)
    path = f"{PIPELINES_PATH}{descriptor['id']}/"
    submitter = transport
    if token_transport is not None:
        submitter = token_transport
        headers = {"X-Pipeline-Token": descriptor["token"]}
    for step, data in step_data(index):
        if descriptor["step"]["name"] != step:
            raise BenchError(f"ours: expected step {step}, got {descriptor['step']}")
        body = json.dumps({"version": descriptor["step"]["version"], "data": data}).encode()
        reply = _timed_post(recorder, around, step, submitter, path, body, JSON, headers)
        _expect(reply, 200, f"ours {step}")
        descriptor = json.loads(reply.body)
    if descriptor["status"] != "complete":
        raise BenchError(f"ours did not complete: {descriptor}")


def run_flow(
    driver: str,
    transport: Transport,
    index: int,
    recorder: Recorder,
    around: Around = _nothing,
    *,
    token_transport: Transport | None = None,
) -> None:
    """One complete flow of `driver` ("floor", "wizard", "ours", "ours_token", "bare")."""
    if driver == "floor":
        floor_flow(transport, index, recorder, around)
    elif driver == "wizard":
        wizard_flow(transport, index, recorder, around)
    elif driver == "bare":
        bare_flow(transport, index, recorder, around)
    elif driver == "ours":
        ours_flow(transport, index, recorder, around)
    elif driver == "ours_token":
        if token_transport is None:
            raise ValueError("ours_token needs a cookie-less transport for its submits")
        ours_flow(transport, index, recorder, around, token_transport=token_transport)
    else:
        raise ValueError(f"unknown driver {driver!r}")


def chunks(count: int, size: int) -> Iterator[range]:
    """range(count) in consecutive pieces of at most `size`."""
    for start in range(0, count, size):
        yield range(start, min(start + size, count))
