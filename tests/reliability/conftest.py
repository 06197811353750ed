"""The real app under gunicorn, against the test database of the run, and HTTP clients for it.

`Server` runs `gunicorn backend.config.wsgi:application` (4 sync worker
processes by default) on a free port of 127.0.0.1, with `DATABASE_URL`
pointing at the database pytest-django created for this run: the SQLite
file `test-db-<pid>.sqlite3`, or PostgreSQL's `test_<name>`. Tests using it
are `django_db(transaction=True)`, so what they create is committed and the
server sees it; the server is stopped (and its workers with it) before the
database is flushed or dropped.

`Api` is a `requests` client that keeps no cookies unless it is a browser
(`Api.browser`), never goes through a proxy, and has a timeout on every
call. `Gates` holds requests of the test-only `slow` pipeline inside a step
(see `tests/reliability/slow.py`). `TcpProxy` stands between the server
and PostgreSQL or Redis so that a test can cut it off.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import requests
from django.contrib.auth.models import User
from django.db import connection
from rest_framework.authtoken.models import Token

from .slow import GATES_ENV

ROOT = Path(__file__).resolve().parents[2]

#: Seconds any one HTTP call may take; a hang fails the test instead of stalling the suite.
HTTP_TIMEOUT = 30.0
#: Seconds the server has to start answering.
START_DEADLINE = 30.0
#: Seconds a PostgreSQL connection attempt of the server may take (its `connect_timeout`).
CONNECT_TIMEOUT = 2

PIPELINE_CLASSES = ",".join(
    [
        "backend.onboarding.pipeline.OnboardingPipeline",
        "backend.identity.pipeline.IdentityPipeline",
        "tests.reliability.slow.SlowPipeline",
    ]
)

#: A JSON object: a descriptor, a step's data.
Data = dict[str, Any]


# The onboarding steps' data, a valid set of its own for each client (`index`).


def profile(index: int) -> Data:
    return {"email": f"client{index}@example.com", "name": f"Client {index}"}


def company(index: int) -> Data:
    return {"company": f"Company {index}", "size": "sml"[index % 3]}


CONFIRM: Data = {"accept": True}


def wait_until(
    condition: Callable[[], bool], *, deadline: float, what: str, interval: float = 0.02
) -> None:
    """Poll `condition` until it holds; fail after `deadline` seconds."""
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"timed out after {deadline}s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def database_url(*, port: int | None = None) -> str:
    """`DATABASE_URL` of the test database of this run (PostgreSQL: optionally via `port`)."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        name = str(settings["NAME"])
        assert Path(name).is_absolute(), name
        assert Path(name).exists(), name
        return f"sqlite:///{name}"
    assert connection.vendor == "postgresql", connection.vendor
    user = quote(str(settings.get("USER") or ""), safe="")
    password = quote(str(settings.get("PASSWORD") or ""), safe="")
    credentials = f"{user}:{password}@" if password else f"{user}@" if user else ""
    host = str(settings.get("HOST") or "127.0.0.1")
    port = port or int(settings.get("PORT") or 5432)
    query = urlencode({"connect_timeout": CONNECT_TIMEOUT})
    return f"postgres://{credentials}{host}:{port}/{quote(str(settings['NAME']))}?{query}"


#: gunicorn's configuration beside its command line. With `--preload` the
#: master sets Django up before it forks the workers; this hook has it import
#: the URLconf as well (else each worker does on its first request, half a
#: second of CPU), so that every worker, a respawned one too, is forked ready
#: to serve and the first race of a test does not pit cold workers against
#: warm ones. No database connection may be open in the master by then: the
#: workers would share it.
GUNICORN_CONFIG = """
def when_ready(server):
    from django.db import connections
    from django.urls import get_resolver

    get_resolver().url_patterns
    assert not any(c.connection for c in connections.all(initialized_only=True))
"""


# -- the server ------------------------------------------------------------------------------


def _children(parent: int) -> set[int]:
    """Pids of the live processes whose parent is `parent` (from /proc)."""
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == parent and fields[0] != "Z":
            found.add(int(entry.name))
    return found


class Server:
    """gunicorn serving the app to 127.0.0.1 on a port of its own."""

    def __init__(self, directory: Path, env: dict[str, str], *, workers: int = 4) -> None:
        self.directory = directory
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = directory / "gunicorn.log"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "backend.config.settings",
            "SECRET_KEY": "reliability-tests-secret-key-not-for-production",
            "ALLOWED_HOSTS": "127.0.0.1",
            "DEBUG": "0",
            "PIPELINE_START_RATE": "",
            "PIPELINE_CLASSES": PIPELINE_CLASSES,
            "DATABASE_CONN_MAX_AGE": "0",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self._known_workers: set[int] = set()

    def start(self) -> None:
        gunicorn = Path(sys.executable).with_name("gunicorn")
        config = self.directory / "gunicorn.conf.py"
        config.write_text(GUNICORN_CONFIG)
        command = [
            str(gunicorn if gunicorn.exists() else shutil.which("gunicorn") or "gunicorn"),
            "backend.config.wsgi:application",
            "-w",
            str(self.workers),
            "-b",
            f"127.0.0.1:{self.port}",
            "--timeout",
            "30",
            "--graceful-timeout",
            "5",
            "--preload",
            "--config",
            str(config),
        ]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        end = time.monotonic() + START_DEADLINE
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited with {self.process.returncode}:\n{self.log()}")
            with contextlib.suppress(requests.RequestException):
                if Api(self.url).get("/api/pipelines/", timeout=2).status_code == 200:
                    break
            if time.monotonic() > end:
                pytest.fail(f"gunicorn did not answer in {START_DEADLINE}s:\n{self.log()}")
            time.sleep(0.05)
        self.wait_for_workers()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def worker_pids(self) -> set[int]:
        pids = _children(self.pid)
        self._known_workers |= pids
        return pids

    def wait_for_workers(self, *, without: int | None = None) -> set[int]:
        """Wait until all workers run (and `without`, a killed one, is not among them)."""
        pids: set[int] = set()

        def ready() -> bool:
            nonlocal pids
            pids = self.worker_pids()
            return len(pids) == self.workers and without not in pids

        wait_until(ready, deadline=START_DEADLINE, what=f"{self.workers} gunicorn workers")
        return pids

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-8000:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Quick shutdown of master and workers; SIGKILL whatever is left of them."""
        process = self.process
        if process is None:
            return
        self.process = None
        if process.poll() is None:
            self._known_workers |= _children(process.pid)
            process.send_signal(signal.SIGQUIT)  # quick shutdown: no worker is respawned
        # The workers' requests need not finish: nothing of a test's is left to serve.
        for worker in self._known_workers:
            if _is_gunicorn(worker):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker, signal.SIGKILL)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _is_gunicorn(pid: int) -> bool:
    try:
        return b"gunicorn" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


@pytest.fixture(scope="module")
def shared_server(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One server for a whole module of tests that do not change its settings."""
    server = Server(tmp_path_factory.mktemp("server"), {"DATABASE_URL": database_url()})
    try:
        server.start()
        yield server
    finally:
        server.stop()


# -- gates of the slow pipeline -----------------------------------------------------------------


class Gates:
    """Holds requests of the `slow` pipeline at a point (`show`, `step`, `finish`)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(exist_ok=True)

    @property
    def env(self) -> dict[str, str]:
        return {GATES_ENV: str(self.directory)}

    def hold(self, point: str) -> None:
        (self.directory / f"{point}.pid").unlink(missing_ok=True)
        (self.directory / f"{point}.hold").touch()

    def release(self, point: str) -> None:
        (self.directory / f"{point}.hold").unlink(missing_ok=True)

    def release_all(self) -> None:
        for hold in self.directory.glob("*.hold"):
            hold.unlink(missing_ok=True)

    def reached(self, point: str) -> int:
        """Wait for a request to reach the held `point`; the pid of the worker serving it."""
        pid_file = self.directory / f"{point}.pid"
        wait_until(pid_file.exists, deadline=HTTP_TIMEOUT, what=f"a request at {point!r}")
        return int(pid_file.read_text())


# -- HTTP clients -------------------------------------------------------------------------------


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False


class Api:
    """A scripted client of the API: header authentication, no cookies, no proxies."""

    def __init__(self, base_url: str, **headers: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.cookies.set_policy(_NoCookies())
        self.http.headers.update(headers)

    @classmethod
    def with_flow_token(cls, base_url: str, token: str) -> Api:
        return cls(base_url, **{"X-Pipeline-Token": token})

    @classmethod
    def with_user_token(cls, base_url: str, key: str) -> Api:
        return cls(base_url, Authorization=f"Token {key}")

    @classmethod
    def browser(cls, base_url: str) -> Api:
        """A browser: keeps its cookies, sends its CSRF token on every call."""
        api = cls(base_url)
        api.http.cookies.set_policy(http.cookiejar.DefaultCookiePolicy())
        token = api.get("/api/auth/csrf/").json()["csrf_token"]
        api.http.headers["X-CSRFToken"] = token
        return api

    def request(
        self, method: str, path: str, body: Any = None, *, timeout: float = HTTP_TIMEOUT
    ) -> requests.Response:
        return self.http.request(method, self.base_url + path, json=body, timeout=timeout)

    def get(self, path: str, *, timeout: float = HTTP_TIMEOUT) -> requests.Response:
        return self.request("GET", path, timeout=timeout)

    def start(self, pipeline: str = "onboarding", provider: str = "default") -> requests.Response:
        return self.request(
            "POST", "/api/pipelines/", {"pipeline": pipeline, "provider": provider}
        )

    def show(self, flow_id: str) -> requests.Response:
        return self.get(f"/api/pipelines/{flow_id}/")

    def submit(self, flow_id: str, version: int, data: Data) -> requests.Response:
        body = {"version": version, "data": data}
        return self.request("POST", f"/api/pipelines/{flow_id}/", body)

    def back(self, flow_id: str, version: int) -> requests.Response:
        return self.request("POST", f"/api/pipelines/{flow_id}/back/", {"version": version})

    def cancel(self, flow_id: str) -> requests.Response:
        return self.request("DELETE", f"/api/pipelines/{flow_id}/")

    def close(self) -> None:
        self.http.close()


def body_of(response: requests.Response, *statuses: int) -> Data:
    """The JSON body of `response`, after checking that its status is one of `statuses`."""
    assert response.status_code in statuses, (response.status_code, response.text[:2000])
    body: Data = response.json()
    return body


def error_codes(descriptor: Data) -> list[str]:
    return [error["code"] for error in descriptor["errors"]]


def started_flow(base_url: str, pipeline: str = "onboarding") -> tuple[Data, Api]:
    """A flow started by an anonymous browser; its descriptor, and a flow-token client."""
    browser = Api.browser(base_url)
    try:
        started = body_of(browser.start(pipeline), 201)
    finally:
        browser.close()
    return started, Api.with_flow_token(base_url, started["token"])


@pytest.fixture
def api_user() -> tuple[User, str]:
    """A user and a DRF token key of theirs (committed: the test is transactional)."""
    user = User.objects.create_user(username="reliable", password="not-used-here")
    return user, str(Token.objects.create(user=user).key)


# -- a TCP proxy in front of PostgreSQL or Redis ---------------------------------------------


class TcpProxy:
    """Forwards 127.0.0.1:<port> to `target`, until cut.

    `cut("refuse")` closes the port and every connection through it: the
    database is down. `cut("blackhole")` keeps the port open but never
    answers, and drops what went through: the database is unreachable, and a
    client waits for its timeout. `restore()` forwards again.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.mode = "up"
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self._stop_listening = threading.Event()

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        self._stop_listening = threading.Event()
        self._spawn(self._accept, listener, self._stop_listening)

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads = [known for known in self._threads if known.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _accept(self, listener: socket.socket, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                readable, _, _ = select.select([listener], [], [], 0.05)
            except (OSError, ValueError):  # closed by cut()
                return
            if not readable or stop.is_set():
                continue
            try:
                client, _ = listener.accept()
            except OSError:
                return
            self._track(client)
            if self.mode == "blackhole":
                continue  # held open, never answered
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            self._track(upstream)
            self._spawn(self._pump, client, upstream)
            self._spawn(self._pump, upstream, client)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _close(source)
            _close(sink)

    def _drop_connections(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            _close(sock)

    def cut(self, mode: str = "refuse") -> None:
        assert mode in ("refuse", "blackhole"), mode
        self.mode = mode
        if mode == "refuse":
            self._stop_listening.set()
            if self._listener is not None:
                _close(self._listener)
                self._listener = None
        self._drop_connections()

    def restore(self) -> None:
        self._drop_connections()  # the blackholed ones
        self.mode = "up"
        if self._listener is None:
            self.start()

    def close(self) -> None:
        self.cut("refuse")
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=5)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
