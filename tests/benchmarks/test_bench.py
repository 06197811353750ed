"""The benchmark stays honest and cheap: every contender really does the flow.

Each driver completes a few flows in-process; the floor and the wizard
really validate (and refuse bad input, and a POST without its CSRF token);
ours reaches `complete`; the JSON document has the keys `report.py`
documents. Nothing here is about speed: `make bench` measures it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from backend.pipeline.models import Flow

from . import report, run
from .drivers import (
    FORM,
    JSON,
    WIZARD_PATH,
    BenchError,
    InProcessTransport,
    Recorder,
    _expect_wizard_step,
    bare_flow,
    floor_flow,
    ours_flow,
    wizard_flow,
    wizard_form,
)
from .floor import SESSION_PREFIX
from .measure import QueryCounter, measure_in_process, reset_data

TEMPLATES = Path(__file__).resolve().parent / "templates"


@pytest.fixture(autouse=True)
def _bench_urls(settings: Any, db: None) -> None:
    """The bench's URLs and templates, over the suite's own settings and database."""
    settings.ROOT_URLCONF = "tests.benchmarks.urls"
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [TEMPLATES]}]


@pytest.fixture
def browser() -> InProcessTransport:
    return InProcessTransport()


def post_json(client: InProcessTransport, path: str, data: Any, *, csrf: bool = True) -> Any:
    headers = {"X-CSRFToken": client.csrf_token} if csrf else {}
    return client.post(path, json.dumps(data).encode(), JSON, headers)


def post_form(
    client: InProcessTransport, step: str, data: dict[str, Any], *, csrf: bool = True
) -> Any:
    headers = {"X-CSRFToken": client.csrf_token} if csrf else {}
    return client.post(WIZARD_PATH, urlencode(wizard_form(step, data)).encode(), FORM, headers)


# -- the bare reference -----------------------------------------------------------------------


def test_the_bare_reference_makes_as_many_requests_as_ours_and_checks_csrf(
    browser: InProcessTransport,
) -> None:
    recorder = Recorder()
    bare_flow(browser, 0, recorder)
    assert sorted(recorder.samples) == ["company", "confirm", "profile", "start"]
    assert post_json(browser, "/bench/bare/start/", {}, csrf=False).status == 403


# -- (a) the floor --------------------------------------------------------------------------


def test_the_floor_completes_flows_and_keeps_each_step_in_the_session(
    browser: InProcessTransport,
) -> None:
    recorder = Recorder()
    for index in range(3):
        floor_flow(browser, index, recorder)
    assert {kind: len(samples) for kind, samples in recorder.samples.items()} == {
        "profile": 3,
        "company": 3,
        "confirm": 3,
    }
    session = browser.client.session
    assert session[SESSION_PREFIX + "profile"] == {
        "email": "client2@example.com",
        "name": "Client 2",
    }
    assert session[SESSION_PREFIX + "confirm"] == {"accept": True}


@pytest.mark.parametrize(
    ("step", "data", "field"),
    [
        ("profile", {"email": "nope", "name": "Ada"}, "email"),
        ("profile", {"email": "ada@example.com", "name": "A" * 101}, "name"),
        ("profile", {"email": "ada@example.com"}, "name"),
        ("company", {"company": "Engines", "size": "xl"}, "size"),
        ("confirm", {"accept": False}, "accept"),
    ],
)
def test_the_floor_refuses_invalid_input_and_keeps_nothing(
    browser: InProcessTransport, step: str, data: dict[str, Any], field: str
) -> None:
    reply = post_json(browser, f"/bench/floor/{step}/", data)
    assert reply.status == 400
    assert field in json.loads(reply.body)["errors"]
    assert SESSION_PREFIX + step not in browser.client.session


def test_the_floor_checks_csrf(browser: InProcessTransport) -> None:
    reply = post_json(browser, "/bench/floor/confirm/", {"accept": True}, csrf=False)
    assert reply.status == 403


# -- (b) the wizard -----------------------------------------------------------------------------


def test_the_wizard_completes_flows_and_renders_the_result(browser: InProcessTransport) -> None:
    recorder = Recorder()
    for index in range(3):
        wizard_flow(browser, index, recorder)
    assert sorted(recorder.samples) == ["company", "confirm", "profile", "show"]
    assert all(len(samples) == 3 for samples in recorder.samples.values())


def test_the_wizard_refuses_invalid_input_step_by_step(browser: InProcessTransport) -> None:
    _expect_wizard_step(browser.get(WIZARD_PATH), "profile")

    refused = post_form(browser, "profile", {"email": "nope", "name": "Ada"})
    _expect_wizard_step(refused, "profile")
    assert b"Enter a valid email address." in refused.body
    with pytest.raises(BenchError):  # the driver's check: a 200 that did not move
        _expect_wizard_step(refused, "company")

    moved = post_form(browser, "profile", {"email": "ada@example.com", "name": "Ada"})
    _expect_wizard_step(moved, "company")
    _expect_wizard_step(post_form(browser, "company", {"company": "E", "size": "xl"}), "company")
    _expect_wizard_step(post_form(browser, "company", {"company": "E", "size": "m"}), "confirm")

    unaccepted = post_form(browser, "confirm", {"accept": False})
    _expect_wizard_step(unaccepted, "confirm")
    assert b"You must accept the terms to go on." in unaccepted.body
    done = post_form(browser, "confirm", {"accept": True})
    _expect_wizard_step(done, "done")
    assert b"ada@example.com" in done.body


def test_the_wizard_checks_csrf(browser: InProcessTransport) -> None:
    browser.get(WIZARD_PATH)
    reply = post_form(browser, "profile", {"email": "ada@example.com", "name": "Ada"}, csrf=False)
    assert reply.status == 403


# -- (c) ours -------------------------------------------------------------------------------------


def test_ours_reaches_complete_with_the_session_cookie_and_with_the_flow_token(
    browser: InProcessTransport,
) -> None:
    recorder = Recorder()
    for index in range(2):
        ours_flow(browser, index, recorder)
    ours_flow(browser, 2, recorder, token_transport=InProcessTransport(cookies=False))
    assert {kind: len(samples) for kind, samples in recorder.samples.items()} == {
        "start": 3,
        "profile": 3,
        "company": 3,
        "confirm": 3,
    }
    flows = Flow.objects.filter(pipeline="onboarding")
    assert sorted(flows.values_list("status", flat=True)) == ["complete"] * 3
    results = [flow.result for flow in flows]
    assert {result["email"] for result in results if result} == {
        f"client{i}@example.com" for i in range(3)
    }


def test_the_query_counter_tells_the_session_and_transactions_apart(
    browser: InProcessTransport,
) -> None:
    ours_flow(browser, 0, Recorder())
    counter = QueryCounter()
    ours_flow(browser, 1, Recorder(), counter)
    counts = counter.summary()["by_request"]
    assert set(counts) == {"start", "profile", "company", "confirm"}
    assert counts["start"]["session"] == 1  # who starts: a user, or which session
    assert counts["company"]["session"] == 0  # the session cookie opens the flow unread
    assert counts["company"]["max_besides_session"] >= 2  # the flow read, its update


# -- the document ------------------------------------------------------------------------------


def test_the_json_output_has_the_documented_keys(tmp_path: Path) -> None:
    drivers = measure_in_process(flows=2, rounds=2, flows_per_client=1, warmup=1)
    runs = [
        {
            "database": "sqlite",
            "store": "database",
            "session": "db",
            "mode": "in-process",
            "drivers": drivers,
            "ratios": report.ratios(drivers),
        }
    ]
    results = run.assemble(
        parameters=vars(run.parser().parse_args([])),
        runs=runs,
        scale=None,
        profiles=[],
        machine=run.machine(),
    )
    written = tmp_path / "results.json"
    written.write_text(json.dumps(results))
    loaded = json.loads(written.read_text())

    assert tuple(loaded) == report.TOP_KEYS
    (only,) = loaded["runs"]
    assert tuple(only) == report.RUN_KEYS
    assert set(only["drivers"]) == {"floor", "wizard", "ours", "ours_token", "bare"}
    for driver in only["drivers"].values():
        assert tuple(driver) == report.DRIVER_KEYS
        assert tuple(driver["flows_per_second"]) == report.RATE_KEYS
        assert len(driver["flows_per_second"]["rounds"]) == 2
        assert tuple(driver["latency_ms"]) == report.LATENCY_KEYS
        assert tuple(driver["queries"]) == report.QUERY_KEYS
    assert tuple(only["ratios"]) == report.RATIO_KEYS
    assert {target["name"] for target in loaded["targets"]} == {
        "c/a",
        "c/b",
        "submit queries besides the session's",
    }
    assert "ours_token" in report.table(loaded)


def test_the_driver_never_empties_a_database_that_is_not_a_bench_one() -> None:
    with pytest.raises(RuntimeError, match="not a bench database"):
        reset_data()


def test_the_defaults_and_lists_of_the_driver() -> None:
    args = run.parser().parse_args(["--databases", "postgres", "--no-http"])
    assert args.databases == ["postgres"]
    assert args.stores == ["database", "redis"]
    assert args.http is False
    assert args.flows > 0
    assert args.rounds > 0
    with pytest.raises(SystemExit):
        run.parser().parse_args(["--databases", "mysql"])
