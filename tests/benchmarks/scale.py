"""Step latency of ours with 1,000 vs 1,000,000 stored flows (PostgreSQL, in-process).

`python -m tests.benchmarks.scale [--small 1000] [--large 1000000]`, or as
part of `make bench`. Two databases of their own, created anew and
migrated at each run, and dropped after it unless `--keep`:
`pipelines_bench_scale_small` and `pipelines_bench_scale_large`. Each
flow table is filled by COPY with filler flows (every status, some
expired) to `size - flows` rows, as a bulk load is done: secondary
indexes dropped and built again after, then VACUUM ANALYZE, then
CHECKPOINT. COPY fills each page only to the table's fillfactor, as the
flows a running app starts would.

Then rounds alternate between the two databases (same process, the
connection switched), so that whatever the machine does meanwhile falls on
both alike: each round starts `flows` flows through the API (the table then
holds exactly `size` rows), GETs each `passes` times and submits its first
two steps, all timed with Django's test client (session cookie, CSRF
enforced), then deletes them again.

Each round also times the database's own share with psycopg directly,
on random stored flows: a read by primary key (`sql_select`) and an
update of the shape of the engine's compare-and-set (`sql_update`, which
moves the version and the expiry; neither is indexed, so PostgreSQL may
update the row in place, a HOT update, where its page has room).

Reported: p50 and p99 of each request kind at both sizes, the ratio of the
p50s (large / small; the project's target is within 10%, for `show` and
`submit`: a ratio of at most 1.10, as a large table that answers faster
is no loss), and the ratio round by round (its spread is the noise); the
tables' sizes and how many updates were HOT. A write waits for
PostgreSQL's commit, so submits are noisier than GETs.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import databases
from .drivers import (
    JSON,
    PIPELINES_PATH,
    START_BODY,
    InProcessTransport,
    Recorder,
    step_data,
)

COLUMNS = (
    "id",
    "pipeline",
    "provider",
    "user_id",
    "token_hash",
    "session_hash",
    "step_index",
    "version",
    "signature",
    "config",
    "data",
    "child",
    "provider_model_id",
    "status",
    "result",
    "errors",
    "return_to",
    "callback_hash",
    "created_at",
    "updated_at",
    "expires_at",
)
CHUNK_ROWS = 20_000
NULL = "\\N"


def filler_rows(count: int, seed: int, now: datetime) -> io.StringIO:
    """`count` lines of COPY text: onboarding flows in every state, some expired."""
    chance = random.Random(seed)
    buffer = io.StringIO()
    signature = "0" * 64
    for _ in range(count):
        number = chance.randrange(10**9)
        roll = chance.random()
        status = (
            "complete"
            if roll < 0.7
            else "active"
            if roll < 0.9
            else "cancelled"
            if roll < 0.95
            else "failed"
        )
        profile = f'{{"email": "filler{number}@example.com", "name": "Filler {number}"}}'
        company = f'{{"company": "Company {number}", "size": "m"}}'
        if status == "complete":
            step, version = 3, 8
            data = f'{{"profile": {profile}, "company": {company}, "confirm": {{"accept": true}}}}'
            result = (
                f'{{"email": "filler{number}@example.com", "name": "Filler {number}", '
                f'"company": "Company {number}", "size": "m"}}'
            )
        else:
            step = chance.randrange(3)
            version = 1 + step
            data = [
                "{}",
                f'{{"profile": {profile}}}',
                f'{{"profile": {profile}, "company": {company}}}',
            ][step]
            result = NULL
        created = now - timedelta(seconds=chance.randrange(30 * 86400))
        updated = created + timedelta(seconds=chance.randrange(600))
        expires = updated + timedelta(hours=1)
        buffer.write(
            "\t".join(
                (
                    uuid.UUID(int=chance.getrandbits(128), version=4).hex,
                    "onboarding",
                    "default",
                    NULL,
                    chance.randbytes(32).hex(),
                    chance.randbytes(32).hex(),
                    str(step),
                    str(version),
                    signature,
                    "{}",
                    data,
                    NULL,
                    "",
                    status,
                    result,
                    "[]",
                    "",
                    "",
                    created.isoformat(),
                    updated.isoformat(),
                    expires.isoformat(),
                )
            )
        )
        buffer.write("\n")
    buffer.seek(0)
    return buffer


def fill(url: str, rows: int, seed: int) -> dict[str, float]:
    """COPY `rows` filler flows into pipeline_flow, as a bulk load is done.

    The secondary indexes are dropped for the load and built again from
    their own definitions after it (a sorted build, far faster than a
    million random inserts into each); then VACUUM ANALYZE and CHECKPOINT.
    Returns the seconds each part took.
    """
    import psycopg
    from psycopg import sql

    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(part: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[part] = round(now - clock, 2)
        clock = now

    when = datetime.now(UTC)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SET maintenance_work_mem = '256MB'")
        indexes = connection.execute(
            """
            SELECT indexname, indexdef FROM pg_indexes
            WHERE schemaname = current_schema() AND tablename = 'pipeline_flow'
              AND indexname NOT IN (
                SELECT conname FROM pg_constraint WHERE conrelid = 'pipeline_flow'::regclass
              )
            """
        ).fetchall()
        for name, _definition in indexes:
            connection.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        statement = f"COPY pipeline_flow ({', '.join(COLUMNS)}) FROM STDIN"
        with connection.cursor() as cursor, cursor.copy(statement) as copy:
            done = 0
            while done < rows:
                size = min(CHUNK_ROWS, rows - done)
                copy.write(filler_rows(size, seed + done, when).getvalue())
                done += size
        lap("copy")
        for _name, definition in indexes:
            connection.execute(definition)
        lap("indexes")
        connection.execute("VACUUM ANALYZE pipeline_flow")
        lap("vacuum_analyze")
        connection.execute("CHECKPOINT")
        lap("checkpoint")
    return seconds


def count_rows() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pipeline_flow")
        row = cursor.fetchone()
    assert row is not None
    return int(row[0])


def _started_flows(count: int, flows_per_client: int, recorder: Recorder) -> list[tuple[Any, ...]]:
    """`count` flows at their first step: (client, path, descriptor)."""
    started: list[tuple[Any, ...]] = []
    client = InProcessTransport()
    for number in range(count):
        if number and number % flows_per_client == 0:
            client = InProcessTransport()
        headers = {"X-CSRFToken": client.csrf_token}
        begun = time.perf_counter_ns()
        reply = client.post(PIPELINES_PATH, START_BODY, JSON, headers)
        recorder.add("start", time.perf_counter_ns() - begun)
        if reply.status != 201:
            raise AssertionError(f"start: {reply.status} {reply.body[:300]!r}")
        descriptor = json.loads(reply.body)
        started.append((client, f"{PIPELINES_PATH}{descriptor['id']}/", descriptor))
    return started


def measure_steps(flows: int, passes: int, flows_per_client: int) -> Recorder:
    """Time `flows` starts, `passes` GETs of each, and two submits of each."""
    recorder = Recorder()
    started = _started_flows(flows, flows_per_client, recorder)
    for _ in range(passes):
        for client, path, _descriptor in started:
            begun = time.perf_counter_ns()
            reply = client.get(path)
            recorder.add("show", time.perf_counter_ns() - begun)
            if reply.status != 200:
                raise AssertionError(f"show: {reply.status} {reply.body[:300]!r}")
    for position in range(2):  # profile, then company
        moved = []
        for number, (client, path, descriptor) in enumerate(started):
            step, data = step_data(number)[position]
            body = json.dumps({"version": descriptor["step"]["version"], "data": data}).encode()
            headers = {"X-CSRFToken": client.csrf_token}
            begun = time.perf_counter_ns()
            reply = client.post(path, body, JSON, headers)
            recorder.add("submit", time.perf_counter_ns() - begun)
            if reply.status != 200:
                raise AssertionError(f"submit {step}: {reply.status} {reply.body[:300]!r}")
            moved.append((client, path, json.loads(reply.body)))
        started = moved
    return recorder


def _use_database(url: str) -> None:
    """Point Django's default connection at another bench database."""
    from django.db import connections

    name = urlsplit(url).path.lstrip("/")
    if name not in databases.bench_database_names():
        raise ValueError(f"{name} is not a bench database")
    connection = connections["default"]
    connection.close()
    connection.settings_dict["NAME"] = name


def _forget_measured(filled_at: datetime) -> None:
    """Delete the flows (and sessions) a round made: back to the filled size.

    Fillers were all created before `filled_at`, measured flows after it.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM pipeline_flow WHERE created_at >= %s", [filled_at])
        cursor.execute("DELETE FROM django_session")


#: The shape of the engine's compare-and-set on a flow: it moves the version and
#: the expiry (neither indexed: an update may be a HOT one).
SQL_UPDATE = (
    "UPDATE pipeline_flow SET data = data, updated_at = %s, expires_at = %s,"
    " version = version + 1 WHERE id = %s AND version = version"
)
SQL_SELECT = "SELECT * FROM pipeline_flow WHERE id = %s"


def measure_sql(
    url: str, ids: list[str], recorder: Recorder, *, selects: int, updates: int
) -> None:
    """The database's own share: a flow read by pk, and its conditional update (autocommit)."""
    import psycopg

    chance = random.Random(len(ids))
    with psycopg.connect(url, autocommit=True) as connection:
        for _ in range(selects):
            key = chance.choice(ids)
            begun = time.perf_counter_ns()
            connection.execute(SQL_SELECT, [key]).fetchone()
            recorder.add("sql_select", time.perf_counter_ns() - begun)
        for _ in range(updates):
            key = chance.choice(ids)
            when = datetime.now(UTC)
            begun = time.perf_counter_ns()
            connection.execute(SQL_UPDATE, [when, when + timedelta(hours=1), key])
            recorder.add("sql_update", time.perf_counter_ns() - begun)


def table_facts(url: str) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        row = connection.execute(
            """
            SELECT pg_table_size('pipeline_flow'), pg_indexes_size('pipeline_flow'),
                   (SELECT count(*) FROM pg_indexes WHERE tablename = 'pipeline_flow'),
                   n_tup_upd, n_tup_hot_upd
            FROM pg_stat_user_tables WHERE relname = 'pipeline_flow'
            """
        ).fetchone()
    assert row is not None
    table, indexes, count, updated, hot = row
    return {
        "table_mb": round(table / 2**20, 1),
        "indexes_mb": round(indexes / 2**20, 1),
        "indexes": count,
        "updates": updated,
        "hot_updates": hot,
    }


def _sample_ids(url: str, count: int) -> list[str]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT id::text FROM pipeline_flow ORDER BY random() LIMIT %s", [count]
        ).fetchall()
    return [str(row[0]) for row in rows]


def measure_scale(
    urls: dict[str, str],
    sizes: dict[str, int],
    *,
    flows: int,
    passes: int,
    rounds: int,
    flows_per_client: int,
) -> dict[str, Any]:
    from .measure import latency

    fill_seconds = {
        label: fill(urls[label], sizes[label] - flows, seed=sizes[label]) for label in urls
    }
    filled_at = datetime.now(UTC)
    ids = {label: _sample_ids(urls[label], 500) for label in urls}
    for label in urls:  # warm: imports, caches, connections
        _use_database(urls[label])
        _started_flows(10, flows_per_client, Recorder())
        _forget_measured(filled_at)
    kinds = ("show", "submit", "start", "sql_select", "sql_update")
    recorders = {label: Recorder() for label in urls}
    per_round: dict[str, list[float]] = {kind: [] for kind in kinds}
    rows: dict[str, int] = {}
    for number in range(rounds):
        order = list(urls) if number % 2 == 0 else list(reversed(urls))
        this_round: dict[str, Recorder] = {}
        for label in order:
            _use_database(urls[label])
            this_round[label] = measure_steps(flows, passes, flows_per_client)
            rows[label] = count_rows()
            _forget_measured(filled_at)
            measure_sql(urls[label], ids[label], this_round[label], selects=100, updates=flows)
            recorders[label].merge(this_round[label])
        for kind in per_round:
            small_p50 = latency(this_round["small"].samples[kind])["p50"]
            large_p50 = latency(this_round["large"].samples[kind])["p50"]
            per_round[kind].append(round(large_p50 / small_p50, 3))
    from django.db import connections

    connections.close_all()
    result: dict[str, Any] = {
        "database": "postgres",
        "small": sizes["small"],
        "large": sizes["large"],
        "measured_flows": flows,
        "rounds": rounds,
        "rows_while_measured": rows,
        "fill_seconds": fill_seconds,
        "tables": {label: table_facts(urls[label]) for label in urls},
    }
    for kind, ratios in per_round.items():
        small_ms = latency(recorders["small"].samples[kind])
        large_ms = latency(recorders["large"].samples[kind])
        result[kind] = {
            "small": small_ms,
            "large": large_ms,
            "ratio": round(large_ms["p50"] / small_ms["p50"], 3),
            "ratio_by_round": ratios,
        }
    result["within_10_percent"] = all(result[kind]["ratio"] <= 1.10 for kind in ("show", "submit"))
    return result


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--flows", type=int, default=50, help="flows measured per round and size")
    parser.add_argument("--passes", type=int, default=3, help="GETs of each measured flow")
    parser.add_argument(
        "--rounds",
        type=int,
        default=12,
        help="rounds, alternating the sizes (one round's ratio may be half or 1.4 times "
        "another's here: a median needs many)",
    )
    parser.add_argument("--flows-per-client", type=int, default=10)
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the two databases afterwards (by default dropped: the large one is ~1 GB)",
    )
    parser.add_argument("--out", type=Path, default=databases.OUTPUT / "scale.json")
    return parser


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parser().parse_args(argv)
    urls = {"small": databases.SCALE_SMALL_URL, "large": databases.SCALE_LARGE_URL}
    for url in urls.values():
        databases.prepare(url, fresh=True)
    os.environ.update(databases.environment(urls["small"], "database"))
    import django

    django.setup()
    result = measure_scale(
        urls,
        {"small": args.small, "large": args.large},
        flows=args.flows,
        passes=args.passes,
        rounds=args.rounds,
        flows_per_client=args.flows_per_client,
    )
    from django.db import connections

    connections.close_all()
    if not args.keep:
        for url in urls.values():
            databases.drop_postgres_database(url)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    from .report import scale_table

    print(scale_table(result))
    return result


if __name__ == "__main__":
    main()
