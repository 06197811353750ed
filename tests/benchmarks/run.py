"""`make bench`: the floor, the peer and ours, on every database and store, in one run.

    python -m tests.benchmarks.run [--flows N] [--rounds R]
        [--databases sqlite,postgres] [--stores database,redis] [--http | --no-http]
        [--scale | --no-scale] [--profile auto|always|never] ...

    make bench BENCH_ARGS="--flows 100 --rounds 3 --no-http"

Contenders (`drivers.py`), each driving complete three-step onboarding flows:

  a. floor       a bare DRF view per step: validate the onboarding serializer,
                 write the session (3 requests per flow);
  b. wizard      django-formtools' SessionWizardView, same fields and
                 validation as Django forms, HTML rendered (GET + 3 POSTs);
  c. ours        the `onboarding` pipeline through the JSON API, session cookie
                 (start + 3 submits);
     ours_token  the same, its submits by flow token (no cookie, no CSRF).

and a reference, `bare`: four requests per flow (as many as ours makes)
to a DRF view that authenticates, checks CSRF, parses the body and
answers, doing no step. Its ratio to the floor, `bare/a`, is what c/a
would be if ours' steps cost nothing and read the session as often.

For each database (SQLite, PostgreSQL) and flow store (the database, Redis;
with Redis the sessions are in Redis too, for all three), one process
(`measure.py`) measures in-process with Django's test client, then over
HTTP against gunicorn on loopback. CSRF is enforced everywhere; each client
fetches its CSRF token once, before the clock starts. Reported: flows per
second (median of the rounds, min, max), p50 and p99 per request, SQL
queries per request (in-process), the ratios c/a and c/b, and, with
`--scale`, the step latency of ours with 1,000 vs 1,000,000 stored flows
(`scale.py`). Where ours misses a target, it is profiled, and the floor with it
(`profiling.py`).

The table is printed; the whole is written to test-output/bench/results.json
(keys documented in `report.py`). Nothing is asserted about speed: this
measures: the project README states the targets, and README.md beside this
file records every run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from . import databases, report

RESULTS = databases.OUTPUT / "results.json"
PACKAGES = ("Django", "djangorestframework", "django-formtools", "gunicorn", "psycopg", "redis")


def _list(choices: Sequence[str]) -> Any:
    def parse(raw: str) -> list[str]:
        items = [item.strip() for item in raw.split(",") if item.strip()]
        unknown = [item for item in items if item not in choices]
        if unknown or not items:
            raise argparse.ArgumentTypeError(f"choose among {', '.join(choices)}")
        return items

    return parse


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.run",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--flows", type=int, default=40, help="complete flows per round")
    parser.add_argument(
        "--rounds",
        type=int,
        default=15,
        help="timed rounds of each contender (many: on a shared machine one round's speed "
        "may be twice another's, and a median of few moves with it)",
    )
    parser.add_argument(
        "--databases", type=_list(databases.DATABASES), default=list(databases.DATABASES)
    )
    parser.add_argument("--stores", type=_list(databases.STORES), default=list(databases.STORES))
    parser.add_argument(
        "--http", action=argparse.BooleanOptionalAction, default=True, help="measure over HTTP"
    )
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=8, help="concurrent HTTP clients")
    parser.add_argument(
        "--flows-per-client",
        type=int,
        default=10,
        help="flows one client (cookie jar, CSRF token) runs before a fresh one takes over",
    )
    parser.add_argument(
        "--conn-max-age",
        type=int,
        default=60,
        help="DATABASE_CONN_MAX_AGE of the server (persistent connections, as in production)",
    )
    parser.add_argument(
        "--scale",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="measure ours with 1k vs 1M stored flows (PostgreSQL)",
    )
    parser.add_argument("--scale-small", type=int, default=1_000)
    parser.add_argument("--scale-large", type=int, default=1_000_000)
    parser.add_argument(
        "--profile",
        choices=("auto", "always", "never"),
        default="auto",
        help="cProfile ours in-process: where it misses a target (auto), always, never",
    )
    parser.add_argument("--profile-flows", type=int, default=60)
    return parser


def machine() -> dict[str, Any]:
    memory_gb = None
    try:
        with open("/proc/meminfo") as meminfo:
            kilobytes = int(meminfo.readline().split()[1])
        memory_gb = round(kilobytes / 1024**2, 1)
    except (OSError, ValueError, IndexError):
        pass
    versions: dict[str, str | None] = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpus": os.cpu_count(),
        "load_average_after": [round(load, 2) for load in os.getloadavg()],
        "memory_gb": memory_gb,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
        "postgresql": _postgres(),
        "redis": _redis_version(),
    }


def _postgres() -> dict[str, str] | None:
    """The server's version, and the settings that decide what a commit costs."""
    names = ["server_version", "synchronous_commit", "fsync", "wal_sync_method", "shared_buffers"]
    try:
        import psycopg

        maintenance = databases.POSTGRES_URL.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(maintenance, connect_timeout=3) as connection:
            rows = connection.execute(
                "SELECT name, current_setting(name) FROM unnest(%s::text[]) AS name", [names]
            ).fetchall()
        return {str(name): str(value) for name, value in rows}
    except Exception:
        return None


def _redis_version() -> str | None:
    try:
        import redis

        info = redis.Redis.from_url(databases.REDIS_URL, socket_timeout=3).info("server")
        return str(info.get("redis_version"))
    except Exception:
        return None


def measure(args: argparse.Namespace, database: str, store: str) -> dict[str, Any]:
    """One configuration, in a process of its own (`measure.py`)."""
    out = databases.OUTPUT / f"part-{database}-{store}.json"
    command = [
        sys.executable,
        "-m",
        "tests.benchmarks.measure",
        f"--database={database}",
        f"--store={store}",
        f"--flows={args.flows}",
        f"--rounds={args.rounds}",
        f"--flows-per-client={args.flows_per_client}",
        "--http" if args.http else "--no-http",
        f"--workers={args.workers}",
        f"--threads={args.threads}",
        f"--conn-max-age={args.conn_max_age}",
        f"--profile={args.profile}",
        f"--profile-flows={args.profile_flows}",
        f"--out={out}",
    ]
    env = {**os.environ, **databases.environment(databases.database_url(database), store)}
    subprocess.run(command, cwd=databases.ROOT, env=env, check=True)
    part: dict[str, Any] = json.loads(out.read_text())
    out.unlink()
    return part


def scale(args: argparse.Namespace) -> dict[str, Any]:
    out = databases.OUTPUT / "scale.json"
    command = [
        sys.executable,
        "-m",
        "tests.benchmarks.scale",
        f"--small={args.scale_small}",
        f"--large={args.scale_large}",
        f"--flows-per-client={args.flows_per_client}",
        f"--out={out}",
    ]
    subprocess.run(command, cwd=databases.ROOT, check=True, stdout=subprocess.DEVNULL)
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def assemble(
    *,
    parameters: dict[str, Any],
    runs: list[dict[str, Any]],
    scale: dict[str, Any] | None,
    profiles: list[dict[str, Any]],
    machine: dict[str, Any],
) -> dict[str, Any]:
    return {
        "schema": report.SCHEMA,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "parameters": parameters,
        "runs": runs,
        "targets": [target for run in runs for target in report.targets_of(run)],
        "scale": scale,
        "profiles": profiles,
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parser().parse_args(argv)
    databases.OUTPUT.mkdir(parents=True, exist_ok=True)
    load_before = [round(load, 2) for load in os.getloadavg()]
    if load_before[0] > (os.cpu_count() or 1):
        print(f"note: the machine is busy (load average {load_before[0]}): expect noise")
    runs: list[dict[str, Any]] = []
    profiles: list[dict[str, Any]] = []
    for database in args.databases:
        print(f"preparing {database} ...", flush=True)
        databases.prepare(databases.database_url(database))
        for store in args.stores:
            print(f"measuring {database} / {store} store ...", end=" ", flush=True)
            began = time.monotonic()
            part = measure(args, database, store)
            print(f"{time.monotonic() - began:.0f} s", flush=True)
            runs += part["runs"]
            profiles += part["profiles"]
    scale_result = None
    if args.scale and "postgres" in args.databases:
        what = f"{args.scale_small:,} vs {args.scale_large:,} stored flows"
        print(f"measuring {what} ...", end=" ", flush=True)
        began = time.monotonic()
        scale_result = scale(args)
        print(f"{time.monotonic() - began:.0f} s", flush=True)
    parameters = {
        key: value
        for key, value in vars(args).items()
        if key not in {"profile_flows"} or args.profile != "never"
    }
    results = assemble(
        parameters=parameters,
        runs=runs,
        scale=scale_result,
        profiles=profiles,
        machine={**machine(), "load_average_before": load_before},
    )
    RESULTS.write_text(json.dumps(results, indent=2))
    print()
    print(report.table(results))
    if profiles:
        print()
        print(profile_summary(profiles))
    print(f"\nwritten to {RESULTS.relative_to(databases.ROOT)}")
    return results


def profile_summary(profiles: list[dict[str, Any]], top: int = 15) -> str:
    """Ours' top functions, and its own time by package beside the floor's."""
    lines: list[str] = []
    for ours in (profile for profile in profiles if profile["driver"] == "ours"):
        floor = next(
            (
                profile
                for profile in profiles
                if profile["driver"] == "floor"
                and (profile["database"], profile["store"]) == (ours["database"], ours["store"])
            ),
            None,
        )
        lines += [
            f"profile of ours, in-process, {ours['database']} / {ours['store']} store: "
            f"{ours['profiled_us_per_request']} us per request under cProfile "
            f"({ours['requests']} requests; whole profile in {ours['file']})",
            f"  {'own us/req':>10} {'cum us/req':>10} {'calls/req':>9}  function",
        ]
        for entry in ours["by_own_time"][:top]:
            lines.append(
                f"  {entry['own_us_per_request']:>10} {entry['cumulative_us_per_request']:>10} "
                f"{entry['calls_per_request']:>9}  {entry['function']}"
            )
        lines.append(f"  {'cum us/req':>10} {'calls/req':>9}  the project's own functions")
        for entry in ours["engine_by_cumulative_time"][:top]:
            lines.append(
                f"  {entry['cumulative_us_per_request']:>10} {entry['calls_per_request']:>9}  "
                f"{entry['function']}"
            )
        floor_packages = floor["own_us_per_request_by_package"] if floor else {}
        total = f"{floor['profiled_us_per_request']}" if floor else "-"
        lines.append(f"  own us per request by package:   ours   floor ({total} us/req)")
        for name, micros in list(ours["own_us_per_request_by_package"].items())[:12]:
            lines.append(f"    {name:<28}{micros:>8}{floor_packages.get(name, 0.0):>8}")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
