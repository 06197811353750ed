"""Ratios, targets, the printed table and the JSON document of a benchmark run.

Django-free: the driver builds the report from what the measuring
processes hand back.

results.json (test-output/bench/results.json):

    schema       1
    date         ISO 8601, UTC
    machine      cpus, memory_gb, platform, python, versions of the stack
    parameters   what `run.py` was given (flows, rounds, flows_per_client, http, ...)
    runs         one per database x store x mode ("in-process" | "http"):
        database, store, session ("db" | "redis"), mode,
        drivers  {floor, wizard, ours, ours_token, bare}:
            requests_per_flow,
            flows_per_second  {median, min, max, rounds: [...]},
            latency_ms        {p50, p99, mean, count}  (every timed request),
            requests          {kind: {p50, p99, count}} (kind: profile, start, show, ...),
            queries           in-process: {per_request, session_per_request,
                              transaction_per_request, by_request: {kind: {mean, max,
                              session, transaction, max_besides_session}}}; over HTTP: null.
                              Statements as CaptureQueriesContext sees them: Django logs
                              BEGIN and COMMIT too; `max_besides_session` leaves out the
                              session's statements and transaction control.
        ratios   {"c/a", "c/b", "c_token/a", "c_token/b", "bare/a"} (of median flows
                 per second; "bare/a", four bare requests against the floor's flow,
                 is c/a if ours' steps cost nothing and read the session as often)
    targets      [{name, database, store, mode, value, limit, met}]
    scale        1k vs 1M stored flows (PostgreSQL, in-process), or null
    profiles     cProfile of ours, in-process, where a target was missed (or asked for)

Targets (the project's, reported, never asserted by tests): c/a >= 0.8
in-process; c/b >= 2.0; a submit makes at most 3 SQL queries besides the
session's own.
"""

from __future__ import annotations

from typing import Any

SCHEMA = 1
TOP_KEYS = ("schema", "date", "machine", "parameters", "runs", "targets", "scale", "profiles")
RUN_KEYS = ("database", "store", "session", "mode", "drivers", "ratios")
DRIVER_KEYS = ("requests_per_flow", "flows_per_second", "latency_ms", "requests", "queries")
RATE_KEYS = ("median", "min", "max", "rounds")
LATENCY_KEYS = ("p50", "p99", "mean", "count")
QUERY_KEYS = ("per_request", "session_per_request", "transaction_per_request", "by_request")
RATIO_KEYS = ("c/a", "c/b", "c_token/a", "c_token/b", "bare/a")

CA_MIN = 0.8
CB_MIN = 2.0
SUBMIT_QUERIES_MAX = 3
SUBMITS = ("profile", "company", "confirm")


def ratios(drivers: dict[str, Any]) -> dict[str, float | None]:
    def rate(name: str) -> float | None:
        driver = drivers.get(name)
        return float(driver["flows_per_second"]["median"]) if driver else None

    def ratio(top: str, bottom: str) -> float | None:
        over, under = rate(top), rate(bottom)
        return round(over / under, 3) if over is not None and under else None

    return {
        "c/a": ratio("ours", "floor"),
        "c/b": ratio("ours", "wizard"),
        "c_token/a": ratio("ours_token", "floor"),
        "c_token/b": ratio("ours_token", "wizard"),
        "bare/a": ratio("bare", "floor"),
    }


def submit_queries_besides_session(driver: dict[str, Any]) -> int | None:
    """The most queries any submit of ours made, the session's own left out."""
    queries = driver.get("queries")
    if not queries:
        return None
    counts = [
        queries["by_request"][kind]["max_besides_session"]
        for kind in SUBMITS
        if kind in queries["by_request"]
    ]
    return max(counts) if counts else None


def targets_of(run: dict[str, Any]) -> list[dict[str, Any]]:
    where = {key: run[key] for key in ("database", "store", "mode")}
    found: list[dict[str, Any]] = []
    run_ratios = run["ratios"]
    if run["mode"] == "in-process" and run_ratios.get("c/a") is not None:
        value = run_ratios["c/a"]
        found.append(
            {
                "name": "c/a",
                **where,
                "value": value,
                "limit": f">= {CA_MIN}",
                "met": value >= CA_MIN,
            }
        )
    if run_ratios.get("c/b") is not None:
        value = run_ratios["c/b"]
        found.append(
            {
                "name": "c/b",
                **where,
                "value": value,
                "limit": f">= {CB_MIN}",
                "met": value >= CB_MIN,
            }
        )
    ours = run["drivers"].get("ours")
    queries = submit_queries_besides_session(ours) if ours else None
    if queries is not None:
        found.append(
            {
                "name": "submit queries besides the session's",
                **where,
                "value": queries,
                "limit": f"<= {SUBMIT_QUERIES_MAX}",
                "met": queries <= SUBMIT_QUERIES_MAX,
            }
        )
    return found


def missed(run: dict[str, Any]) -> bool:
    return any(not target["met"] for target in targets_of(run))


# -- the printed table --------------------------------------------------------------


def _number(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(results: dict[str, Any]) -> str:
    lines: list[str] = []
    header = (
        f"{'database':<9}{'store':<9}{'mode':<11}{'driver':<11}"
        f"{'flows/s median':>15}{'[min - max]':>19}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'q/req':>7}{'q/submit*':>10}"
    )
    lines += [header, "-" * len(header)]
    for run in results["runs"]:
        for name, driver in run["drivers"].items():
            rate = driver["flows_per_second"]
            latency = driver["latency_ms"]
            queries = driver["queries"]
            per_request = _number(queries["per_request"], 2) if queries else "-"
            submit = "-"
            if queries and name.startswith("ours"):
                most = submit_queries_besides_session(driver)
                submit = "-" if most is None else str(most)
            spread = f"[{_number(rate['min'])} - {_number(rate['max'])}]"
            lines.append(
                f"{run['database']:<9}{run['store']:<9}{run['mode']:<11}{name:<11}"
                f"{_number(rate['median']):>15}{spread:>19}"
                f"{_number(latency['p50'], 2):>9}{_number(latency['p99'], 2):>9}"
                f"{per_request:>7}{submit:>10}"
            )
        shown = "  ".join(f"{key} {_number(value, 2)}" for key, value in run["ratios"].items())
        lines.append(f"{'':<29}ratios: {shown}")
        lines.append("")
    lines.append("q/req: SQL statements per request, in-process (BEGIN and COMMIT included)")
    lines.append(
        "* q/submit: most SQL queries of one submit of ours, besides the session's own "
        "and transaction control"
    )
    scale = results.get("scale")
    if scale:
        lines += ["", scale_table(scale)]
    if results.get("targets"):
        lines += ["", "targets:"]
        for target in results["targets"]:
            verdict = "met" if target["met"] else "MISSED"
            lines.append(
                f"  {target['name']:<38} {target['database']:<9}{target['store']:<9}"
                f"{target['mode']:<11} {target['value']!s:>7} {target['limit']:<7} {verdict}"
            )
    return "\n".join(lines)


def scale_table(scale: dict[str, Any]) -> str:
    small, large = scale["small"], scale["large"]
    lines = [
        f"step latency of ours with {small:,} vs {large:,} stored flows "
        f"({scale['database']}, in-process, ms; {scale['rounds']} alternating rounds):",
        f"  ({'; '.join(_table_facts(label, facts) for label, facts in scale['tables'].items())})",
        f"  {'request':<11}{'p50 small':>9}{'p50 large':>11}{'ratio':>8}"
        f"{'p99 small':>11}{'p99 large':>11}   ratio by round",
    ]
    for kind in ("show", "submit", "start", "sql_select", "sql_update"):
        entry = scale[kind]
        lines.append(
            f"  {kind:<11}{_number(entry['small']['p50'], 3):>9}"
            f"{_number(entry['large']['p50'], 3):>11}{_number(entry['ratio'], 3):>8}"
            f"{_number(entry['small']['p99'], 3):>11}{_number(entry['large']['p99'], 3):>11}"
            f"   {' '.join(f'{ratio:.2f}' for ratio in entry['ratio_by_round'])}"
        )
    lines.append(f"  within 10% (show and submit): {scale['within_10_percent']}")
    return "\n".join(lines)


def _table_facts(label: str, facts: dict[str, Any]) -> str:
    return (
        f"{label}: table {facts['table_mb']} MB, {facts['indexes']} indexes "
        f"{facts['indexes_mb']} MB, {facts['hot_updates']} of {facts['updates']} updates HOT"
    )
