"""Measuring one configuration (a database and a flow store): in-process, then over HTTP.

`run.py` starts one process per configuration (`python -m
tests.benchmarks.measure ...`), since Django's settings are per process;
the environment (`databases.environment`) chooses the database, the
session backend and the store. The process empties the bench tables,
measures in-process with Django's test client, counts SQL queries, and,
with `--http`, starts gunicorn on loopback and measures again with a
threaded `requests` client. It writes its part of results.json to `--out`.

Rounds interleave the contenders (floor, wizard, ours, ours_token, and
the bare reference, in an order rotated each round), so that whatever drifts during a run (table
growth, the machine's load) falls on all of them alike. Each round runs
`flows` complete flows; a client (one cookie jar and one CSRF token,
fetched before the clock starts) runs `flows_per_client` of them.

A contender's flows in a round run back to back, each contender warm in
its own code. Taking turns flow by flow steadies the figures but skews
them: the floor, the wizard and bare share the ORM's session code, which
then stays warm for each of them, while ours runs alone in its own.
Timed in alternating phases on PostgreSQL, the floor's mean flow took
9% less (11.3 to 10.3 ms) with the wizard and bare taking turns beside
it and ours, and ours' 4% less (13.8 to 13.3 ms).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from . import databases, report
from .drivers import (
    CSRF_PATH,
    DRIVERS,
    REQUESTS_PER_FLOW,
    HttpTransport,
    InProcessTransport,
    NullRecorder,
    Recorder,
    Transport,
    chunks,
    run_flow,
)

#: Flows of each contender run untimed before the first round.
WARMUP_FLOWS = 20
#: Flows whose queries are counted, after one uncounted flow of the same client.
COUNTED_FLOWS = 3
SERVER_START_DEADLINE = 60.0


# -- statistics -----------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of `values` (q in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latency(samples_ns: Sequence[int]) -> dict[str, Any]:
    millis = [value / 1e6 for value in samples_ns]
    return {
        "p50": round(percentile(millis, 50), 3),
        "p99": round(percentile(millis, 99), 3),
        "mean": round(statistics.fmean(millis), 3) if millis else None,
        "count": len(millis),
    }


def rates(per_round: Sequence[float]) -> dict[str, Any]:
    return {
        "median": round(statistics.median(per_round), 2),
        "min": round(min(per_round), 2),
        "max": round(max(per_round), 2),
        "rounds": [round(value, 2) for value in per_round],
    }


def driver_result(recorder: Recorder, per_round: Sequence[float], driver: str) -> dict[str, Any]:
    return {
        "requests_per_flow": REQUESTS_PER_FLOW[driver],
        "flows_per_second": rates(per_round),
        "latency_ms": latency(recorder.all()),
        "requests": {
            kind: {key: value for key, value in latency(samples).items() if key != "mean"}
            for kind, samples in recorder.samples.items()
        },
        "queries": None,
    }


# -- in-process -----------------------------------------------------------------------

RoundRunner = Callable[[str, int, int, Recorder], float]


def _rounds(
    run_round: RoundRunner, *, flows: int, rounds: int, drivers: Sequence[str], warmup: int
) -> dict[str, dict[str, Any]]:
    """Interleaved rounds of every driver; flows per second of each round."""
    recorders = {driver: Recorder() for driver in drivers}
    per_round: dict[str, list[float]] = {driver: [] for driver in drivers}
    index = 0
    for driver in drivers:
        run_round(driver, warmup, index, NullRecorder())
        index += warmup
    for number in range(rounds):
        shift = number % len(drivers)
        for driver in [*drivers[shift:], *drivers[:shift]]:
            per_round[driver].append(run_round(driver, flows, index, recorders[driver]))
            index += flows
    return {
        driver: driver_result(recorders[driver], per_round[driver], driver) for driver in drivers
    }


def _in_process_round(
    driver: str, flows: int, first: int, recorder: Recorder, flows_per_client: int
) -> float:
    clients = [InProcessTransport() for _ in chunks(flows, flows_per_client)]
    token_transport = InProcessTransport(cookies=False) if driver == "ours_token" else None
    gc.collect()
    started = time.perf_counter()
    for client, numbers in zip(clients, chunks(flows, flows_per_client), strict=True):
        for number in numbers:
            run_flow(driver, client, first + number, recorder, token_transport=token_transport)
    return flows / (time.perf_counter() - started)


def measure_in_process(
    *,
    flows: int,
    rounds: int,
    flows_per_client: int,
    drivers: Sequence[str] = DRIVERS,
    warmup: int = WARMUP_FLOWS,
) -> dict[str, dict[str, Any]]:
    """Every driver in this process, through Django's test client (CSRF enforced)."""

    def run_round(driver: str, count: int, first: int, recorder: Recorder) -> float:
        return _in_process_round(driver, count, first, recorder, flows_per_client)

    results = _rounds(run_round, flows=flows, rounds=rounds, drivers=drivers, warmup=warmup)
    counted = count_queries(drivers)
    for driver, result in results.items():
        result["queries"] = counted[driver]
    return results


#: Transaction control, which Django logs among the queries since 4.2.
TRANSACTION_CONTROL = re.compile(r"\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE SAVEPOINT)\b", re.I)


class QueryCounter:
    """SQL statements of each request, by kind, in three shares.

    `session`: statements on django_session; `transaction`: BEGIN, COMMIT,
    SAVEPOINT and the like; `besides`: every other statement, the ones the
    query budget is about.
    """

    def __init__(self) -> None:
        self.counts: dict[str, list[tuple[int, int, int]]] = {}

    @contextlib.contextmanager
    def __call__(self, kind: str) -> Iterator[None]:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            yield
        statements = [query["sql"] for query in captured.captured_queries]
        session = sum("django_session" in sql for sql in statements)
        transaction = sum(bool(TRANSACTION_CONTROL.match(sql)) for sql in statements)
        self.counts.setdefault(kind, []).append((len(statements), session, transaction))

    def summary(self) -> dict[str, Any]:
        every = [count for counts in self.counts.values() for count in counts]
        return {
            "per_request": round(statistics.fmean(count[0] for count in every), 3),
            "session_per_request": round(statistics.fmean(count[1] for count in every), 3),
            "transaction_per_request": round(statistics.fmean(count[2] for count in every), 3),
            "by_request": {
                kind: {
                    "mean": round(statistics.fmean(count[0] for count in counts), 3),
                    "max": max(count[0] for count in counts),
                    "session": max(count[1] for count in counts),
                    "transaction": max(count[2] for count in counts),
                    "max_besides_session": max(
                        total - session - transaction for total, session, transaction in counts
                    ),
                }
                for kind, counts in self.counts.items()
            },
        }


def count_queries(
    drivers: Sequence[str] = DRIVERS, flows: int = COUNTED_FLOWS
) -> dict[str, dict[str, Any]]:
    """Queries per request of each driver, for a client past its first flow (its session made)."""
    counted: dict[str, dict[str, Any]] = {}
    for driver in drivers:
        client = InProcessTransport()
        token_transport = InProcessTransport(cookies=False) if driver == "ours_token" else None
        run_flow(driver, client, 0, NullRecorder(), token_transport=token_transport)
        counter = QueryCounter()
        for number in range(1, flows + 1):
            run_flow(
                driver, client, number, NullRecorder(), counter, token_transport=token_transport
            )
        counted[driver] = counter.summary()
    return counted


# -- over HTTP ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Server:
    """gunicorn (the project's config, `backend/config/gunicorn.py`) on a loopback port."""

    def __init__(self, env: dict[str, str], *, workers: int, conn_max_age: int, log: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            **env,
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_WORKERS": str(workers),
            "GUNICORN_THREADS": "1",
            "GUNICORN_ACCESSLOG": "/dev/null",
            "GUNICORN_MAX_REQUESTS": "0",  # no worker restarts in the middle of a round
            "DATABASE_CONN_MAX_AGE": str(conn_max_age),
        }
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "backend/config/gunicorn.py",
            "backend.config.wsgi:application",
        ]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=databases.ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wait_until_ready(self) -> None:
        import requests

        deadline = time.monotonic() + SERVER_START_DEADLINE
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.log}")
            with contextlib.suppress(requests.RequestException):
                answer = requests.get(self.url + CSRF_PATH, timeout=2)
                if answer.status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer in {SERVER_START_DEADLINE} s; see {self.log}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)  # quick shutdown: the master stops its workers
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _http_round(
    pool: ThreadPoolExecutor,
    base_url: str,
    driver: str,
    flows: int,
    first: int,
    recorder: Recorder,
    *,
    threads: int,
    flows_per_client: int,
) -> float:
    shares = [range(thread, flows, threads) for thread in range(threads)]

    def prepare(share: range) -> tuple[list[HttpTransport], HttpTransport | None]:
        clients = [HttpTransport(base_url) for _ in chunks(len(share), flows_per_client)]
        token = HttpTransport(base_url, cookies=False) if driver == "ours_token" else None
        return clients, token

    prepared = list(pool.map(prepare, shares))
    recorders = [Recorder() for _ in shares]

    def work(thread: int) -> None:
        clients, token = prepared[thread]
        for position, number in enumerate(shares[thread]):
            client: Transport = clients[position // flows_per_client]
            run_flow(driver, client, first + number, recorders[thread], token_transport=token)

    gc.collect()
    started = time.perf_counter()
    futures = [pool.submit(work, thread) for thread in range(threads)]
    for future in futures:
        future.result()
    elapsed = time.perf_counter() - started
    for thread_recorder in recorders:
        recorder.merge(thread_recorder)
    for clients, token in prepared:
        for client in [*clients, *([token] if token else [])]:
            client.close()
    return flows / elapsed


def measure_http(
    base_url: str,
    *,
    flows: int,
    rounds: int,
    threads: int,
    flows_per_client: int,
    drivers: Sequence[str] = DRIVERS,
) -> dict[str, dict[str, Any]]:
    """Every driver against a live server, from `threads` concurrent clients."""
    with ThreadPoolExecutor(max_workers=threads) as pool:

        def run_round(driver: str, count: int, first: int, recorder: Recorder) -> float:
            return _http_round(
                pool,
                base_url,
                driver,
                count,
                first,
                recorder,
                threads=threads,
                flows_per_client=flows_per_client,
            )

        return _rounds(
            run_round,
            flows=flows,
            rounds=rounds,
            drivers=drivers,
            warmup=max(WARMUP_FLOWS, 2 * threads),
        )


# -- one configuration ---------------------------------------------------------------------


def reset_data() -> None:
    """Empty the bench database's flows and sessions, and the bench Redis database."""
    from django.db import connection

    name = str(connection.settings_dict["NAME"])
    if name not in databases.bench_database_names():
        raise RuntimeError(f"refusing to empty {name}: not a bench database")
    tables = ["pipeline_callback", "pipeline_flow", "django_session"]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(tables)}")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")
    _flush_bench_redis()


def _flush_bench_redis() -> None:
    from django.conf import settings

    redis_url = str(getattr(settings, "REDIS_URL", "") or "")
    if redis_url:
        if redis_url != databases.REDIS_URL:
            raise RuntimeError(f"refusing to flush {redis_url}: not the bench Redis database")
        import redis

        redis.Redis.from_url(redis_url).flushdb()


def measure_configuration(args: argparse.Namespace) -> dict[str, Any]:
    import django

    django.setup()
    from django.db import connections

    drivers = tuple(args.drivers.split(","))
    reset_data()
    session = "redis" if args.store == "redis" else "db"
    where = {"database": args.database, "store": args.store, "session": session}
    runs: list[dict[str, Any]] = []
    profiles: list[dict[str, Any]] = []

    in_process = measure_in_process(
        flows=args.flows,
        rounds=args.rounds,
        flows_per_client=args.flows_per_client,
        drivers=drivers,
    )
    run = {**where, "mode": "in-process", "drivers": in_process}
    run["ratios"] = report.ratios(in_process)
    runs.append(run)
    if args.profile == "always" or (args.profile == "auto" and report.missed(run)):
        from .profiling import profile_driver

        for driver in ("ours", "floor"):
            name = f"profile-{driver}-{args.database}-{args.store}.txt"
            profile = profile_driver(
                driver,
                flows=args.profile_flows,
                flows_per_client=args.flows_per_client,
                out=databases.OUTPUT / name,
            )
            profiles.append({**where, **profile})

    if args.http:
        connections.close_all()
        env = databases.environment(os.environ["DATABASE_URL"], args.store)
        log = databases.OUTPUT / f"gunicorn-{args.database}-{args.store}.log"
        with Server(env, workers=args.workers, conn_max_age=args.conn_max_age, log=log) as server:
            over_http = measure_http(
                server.url,
                flows=args.flows,
                rounds=args.rounds,
                threads=args.threads,
                flows_per_client=args.flows_per_client,
                drivers=drivers,
            )
        run = {**where, "mode": "http", "drivers": over_http}
        run["ratios"] = report.ratios(over_http)
        runs.append(run)
    _flush_bench_redis()  # what the run left in Redis (sessions live for weeks)
    return {"runs": runs, "profiles": profiles}


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=databases.DATABASES, required=True)
    parser.add_argument("--store", choices=databases.STORES, required=True)
    parser.add_argument("--flows", type=int, required=True)
    parser.add_argument("--rounds", type=int, required=True)
    parser.add_argument("--flows-per-client", type=int, required=True)
    parser.add_argument("--http", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--conn-max-age", type=int, required=True)
    parser.add_argument("--drivers", default=",".join(DRIVERS))
    parser.add_argument("--profile", choices=("auto", "always", "never"), default="auto")
    parser.add_argument("--profile-flows", type=int, default=100)
    parser.add_argument("--out", type=Path, required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if os.environ.get("DJANGO_SETTINGS_MODULE") != databases.SETTINGS:
        raise SystemExit(
            f"run through tests.benchmarks.run (DJANGO_SETTINGS_MODULE={databases.SETTINGS})"
        )
    result = measure_configuration(args)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
