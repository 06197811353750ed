"""The benchmark's own databases, and the environment of each configuration.

Never the development database: SQLite in test-output/bench/bench.sqlite3,
PostgreSQL in `pipelines_bench` (and `pipelines_bench_scale_small` and
`_large` for the 1k vs 1M measurement), Redis in database 13 of the local
server. Each is created
if missing and migrated with `manage.py migrate` under
`DJANGO_SETTINGS_MODULE=tests.benchmarks.settings`.

Overrides: `BENCH_POSTGRES_URL`, `BENCH_REDIS_URL`.

This module does not import Django: the driver uses it before any
configuration is chosen.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output" / "bench"
SETTINGS = "tests.benchmarks.settings"

SQLITE_PATH = OUTPUT / "bench.sqlite3"
POSTGRES_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/pipelines_bench"
)
#: The 1k vs 1M measurement's two databases (`scale.py`).
SCALE_SMALL_URL = f"{POSTGRES_URL.rstrip('/')}_scale_small"
SCALE_LARGE_URL = f"{POSTGRES_URL.rstrip('/')}_scale_large"
#: A Redis database of its own: the driver empties it before each configuration.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")

DATABASES = ("sqlite", "postgres")
STORES = ("database", "redis")
STORE_CLASSES = {
    "database": "backend.pipeline.store.DatabaseStore",
    "redis": "backend.pipeline.redis_store.RedisStore",
}


def database_url(database: str) -> str:
    if database == "sqlite":
        return f"sqlite:///{SQLITE_PATH}"
    if database == "postgres":
        return POSTGRES_URL
    raise ValueError(f"unknown database {database!r} (expected one of {DATABASES})")


def environment(database_url: str, store: str) -> dict[str, str]:
    """The variables of one configuration, for the measuring process and its server.

    With the Redis store, Redis is also the cache and the session backend
    (the project's `REDIS_URL`), for all three contenders alike.
    """
    if store not in STORES:
        raise ValueError(f"unknown store {store!r} (expected one of {STORES})")
    redis_url = REDIS_URL if store == "redis" else ""
    return {
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "DEBUG": "0",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PIPELINE_REDIS_URL": redis_url,
        "PIPELINE_STORE": STORE_CLASSES[store],
        "PIPELINE_START_RATE": "",
        "LOG_LEVEL": "WARNING",
    }


def bench_database_names() -> set[str]:
    """The NAMEs Django gives the bench databases: the only ones the driver empties."""
    names = {str(SQLITE_PATH)}
    for url in (POSTGRES_URL, SCALE_SMALL_URL, SCALE_LARGE_URL):
        names.add(urlsplit(url).path.lstrip("/"))
    return names


def ensure_postgres_database(url: str, *, fresh: bool = False) -> None:
    """CREATE DATABASE for `url`'s database if the server has none of that name.

    `fresh`: drop it first (only ever a bench database), for a clean schema.
    """
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name:
        raise ValueError(f"{url} names no database")
    if fresh and name not in bench_database_names():
        raise ValueError(f"refusing to drop {name}: not a bench database")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        if fresh:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        found = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if found is None:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_postgres_database(url: str) -> None:
    """DROP a bench database (never another)."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if name not in bench_database_names():
        raise ValueError(f"refusing to drop {name}: not a bench database")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def prepare(database_url: str, *, fresh: bool = False) -> None:
    """Create the database if needed (anew if `fresh`), then migrate it."""
    if database_url.startswith("sqlite:"):
        OUTPUT.mkdir(parents=True, exist_ok=True)
    else:
        ensure_postgres_database(database_url, fresh=fresh)
    env = {**os.environ, **environment(database_url, "database")}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
