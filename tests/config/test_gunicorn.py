import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "backend" / "config" / "gunicorn.py"
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def read_config(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, object]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONFIG))


def test_the_server_is_sized_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    config = read_config(
        monkeypatch,
        GUNICORN_WORKERS="3",
        GUNICORN_THREADS="2",
        GUNICORN_TIMEOUT="0",
        GUNICORN_MAX_REQUESTS="500",
    )
    assert (config["workers"], config["threads"], config["timeout"]) == (3, 2, 0)
    assert (config["max_requests"], config["max_requests_jitter"]) == (500, 50)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("GUNICORN_WORKERS", "four", "GUNICORN_WORKERS must be an integer, not 'four'"),
        ("GUNICORN_WORKERS", "0", "GUNICORN_WORKERS must be 1 or more, not 0"),
        ("GUNICORN_THREADS", "0", "GUNICORN_THREADS must be 1 or more, not 0"),
        ("GUNICORN_TIMEOUT", "-5", "GUNICORN_TIMEOUT must be 0 or more, not -5"),
        ("GUNICORN_MAX_REQUESTS", "1e4", "GUNICORN_MAX_REQUESTS must be an integer"),
        ("PORT", "http", "PORT must be an integer, not 'http'"),
        ("PORT", "0", "PORT must be 1 or more, not 0"),
        ("PORT", "80000", "PORT must be 65535 or less, not 80000"),
    ],
)
def test_a_value_the_server_cannot_use_is_refused_by_its_name(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        read_config(monkeypatch, **{name: value})


def test_the_server_listens_on_port_unless_told_where_to_bind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert read_config(monkeypatch, PORT="8123")["bind"] == "0.0.0.0:8123"
    # A port named elsewhere is not read: a platform's PORT does not get in the way.
    assert read_config(monkeypatch, GUNICORN_BIND="unix:/tmp/app.sock", PORT="x")["bind"] == (
        "unix:/tmp/app.sock"
    )


def check_with_gunicorn(workers: str) -> subprocess.CompletedProcess[str]:
    """gunicorn's own reading of the file (`--check-config`), as a server starts."""
    return subprocess.run(
        [GUNICORN, "--check-config", "-c", str(CONFIG), "backend.config.wsgi"],
        cwd=ROOT,
        env={**os.environ, "GUNICORN_WORKERS": workers},
        capture_output=True,
        text=True,
        check=False,
    )


def test_gunicorn_loads_the_file_and_stops_on_a_value_it_refuses() -> None:
    assert check_with_gunicorn("2").returncode == 0
    refused = check_with_gunicorn("0")
    assert refused.returncode != 0
    assert "GUNICORN_WORKERS must be 1 or more, not 0" in refused.stderr + refused.stdout


def test_the_file_finds_the_project_without_it_installed(tmp_path: Path) -> None:
    # `-S`: no site-packages, where the editable install puts the project;
    # run from elsewhere, as gunicorn reads the file before any `--chdir`.
    read = subprocess.run(
        [sys.executable, "-S", "-c", f"import runpy; runpy.run_path({str(CONFIG)!r})"],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert read.returncode == 0, read.stderr
