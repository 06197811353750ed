"""Where the time of ours goes: cProfile over in-process flows of the pipeline API.

The driver runs this where ours misses a target (or with `--profile
always`): `flows` complete flows (start and three submits, session cookie,
Django's test client) under cProfile, and the floor's likewise, to compare
with. It writes each whole profile, sorted both ways, to
test-output/bench/profile-<driver>-<database>-<store>.txt, and hands back
the top functions by own time and by cumulative time, in microseconds per
request, with file:line (the project's own functions apart, by
cumulative time: what each part of the engine costs), and the own time
summed by package (where a
request's time goes: the database driver, the ORM, DRF, the engine, the
test client ...).
"""

from __future__ import annotations

import cProfile
import io
import pstats
import sys
import sysconfig
from pathlib import Path
from typing import Any

from .databases import ROOT
from .drivers import REQUESTS_PER_FLOW, InProcessTransport, NullRecorder, chunks, run_flow

TOP = 25
_STDLIB = sysconfig.get_paths()["stdlib"] + "/"
_PREFIXES = sorted(
    {str(ROOT) + "/", sysconfig.get_paths()["purelib"] + "/", sys.prefix + "/", _STDLIB},
    key=len,
    reverse=True,
)


def where(filename: str, line: int, function: str) -> str:
    for prefix in _PREFIXES:
        if filename.startswith(prefix):
            filename = filename[len(prefix) :]
            break
    return f"{filename}:{line}({function})" if line else f"{filename}({function})"


def package(filename: str) -> str:
    """The package a profiled function belongs to: `django/db`, `backend/pipeline`, ..."""
    if filename == "~":
        return "builtins (C)"
    if filename.startswith(_STDLIB):
        return "stdlib"
    parts = Path(where(filename, 0, "")).parts
    if parts and parts[0] in {"django", "backend", "tests"} and len(parts) > 2:
        return "/".join(parts[:2])
    return parts[0] if parts else filename


def profile_driver(driver: str, *, flows: int, flows_per_client: int, out: Path) -> dict[str, Any]:
    clients = [InProcessTransport() for _ in chunks(flows, flows_per_client)]
    for client in clients[:1]:
        run_flow(driver, client, 0, NullRecorder())  # warm: imports, caches
    profiler = cProfile.Profile()
    profiler.enable()
    for client, numbers in zip(clients, chunks(flows, flows_per_client), strict=True):
        for number in numbers:
            run_flow(driver, client, number, NullRecorder())
    profiler.disable()
    requests = flows * REQUESTS_PER_FLOW[driver]

    stats = pstats.Stats(profiler)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values())

    def top(column: int, only: str = "") -> list[dict[str, Any]]:
        chosen = [item for item in raw.items() if only in where(*item[0])]
        ranked = sorted(chosen, key=lambda item: item[1][column], reverse=True)[:TOP]
        return [
            {
                "function": where(*key),
                "calls_per_request": round(entry[1] / requests, 2),
                "own_us_per_request": round(entry[2] / requests * 1e6, 1),
                "cumulative_us_per_request": round(entry[3] / requests * 1e6, 1),
            }
            for key, entry in ranked
        ]

    text = io.StringIO()
    for order in ("tottime", "cumulative"):
        pstats.Stats(profiler, stream=text).sort_stats(order).print_stats(80)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text.getvalue())
    packages: dict[str, float] = {}
    for (filename, _line, _function), entry in raw.items():
        name = package(filename)
        packages[name] = packages.get(name, 0.0) + entry[2]
    by_package = {
        name: round(seconds / requests * 1e6, 1)
        for name, seconds in sorted(packages.items(), key=lambda item: item[1], reverse=True)
    }
    return {
        "driver": driver,
        "flows": flows,
        "requests": requests,
        "profiled_us_per_request": round(total / requests * 1e6, 1),
        "by_own_time": top(2),
        "by_cumulative_time": top(3),
        "engine_by_cumulative_time": top(3, only="backend/"),
        "own_us_per_request_by_package": by_package,
        "file": str(out.relative_to(ROOT) if out.is_relative_to(ROOT) else out),
    }
