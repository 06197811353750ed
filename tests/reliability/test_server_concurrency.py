"""Concurrent clients against the real app: gunicorn, 4 worker processes, one database.

tests/pipeline/api/test_concurrency.py races threads inside the test
process; here the racers are HTTP clients of a real server whose workers are
separate processes with connections of their own, as in production, so the
compare-and-set on `pipeline_flow.version` is what keeps them apart.

Every test runs on the database of the run (SQLite, then PostgreSQL in CI):

* PostgreSQL: the workers really write at the same time; a compare-and-set
  that loses waits for the winner's row lock, then finds the version
  changed and updates nothing.
* SQLite (WAL mode, `IMMEDIATE` transactions, busy timeout
  `SQLITE_BUSY_TIMEOUT`, 20 s by default): readers run beside the one
  writer, but there is one writer at a time for the whole file; the
  others wait for its lock for up to the busy timeout, and past it the
  request answers 503 `database_unavailable`. Its limits are those of one
  machine and of the number of writes per second one file takes: the
  figures here (4 workers, about 250 requests on 40 flows) stay far below
  them, so no request may wait that long, and none may answer 503.

The server's sync workers take one request each, so of 16 racers 4 are
served at once and the rest queue: the 409s are partly compare-and-sets lost
in the race ("Someone else moved this flow first.") and partly the version
check of requests served after it ("This flow has moved on."). Both are
`stale_version`; the counts of each are printed on failure.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.contrib.auth.models import User

from backend.identity.models import Identity, IdentityProvider
from backend.pipeline.models import Flow

from .conftest import (
    CONFIRM,
    HTTP_TIMEOUT,
    Api,
    Data,
    Server,
    body_of,
    company,
    error_codes,
    profile,
    started_flow,
)
from .slow import EFFECT_TYPE

pytestmark = pytest.mark.django_db(transaction=True)

#: Clients racing for one step.
RACERS = 16
#: Flows run side by side, and the client threads running them.
FLOWS = 40
FLOW_THREADS = 8
#: Interleaved moves: threads, and rounds of (show, act) per thread.
PLAYERS = 8
ROUNDS = 10

LOST_RACE = "Someone else moved this flow first."


def race(call: Callable[[int], requests.Response], count: int = RACERS) -> list[requests.Response]:
    """Run `call(i)` for i in range(count) in threads released together by a barrier."""
    barrier = threading.Barrier(count, timeout=HTTP_TIMEOUT)
    answers: list[requests.Response | BaseException | None] = [None] * count

    def racer(index: int) -> None:
        try:
            barrier.wait()
            answers[index] = call(index)
        except BaseException as exc:  # handed to the test's thread below
            answers[index] = exc

    threads = [threading.Thread(target=racer, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=2 * HTTP_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads)
    responses: list[requests.Response] = []
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
        assert answer is not None
        responses.append(answer)
    return responses


def statuses(responses: list[requests.Response]) -> Counter[int]:
    return Counter(response.status_code for response in responses)


def the_winner(responses: list[requests.Response]) -> tuple[int, Data]:
    """The index and descriptor of the one 200 of a race; every other answer is a 409."""
    assert statuses(responses) == {200: 1, 409: len(responses) - 1}, [
        (response.status_code, response.text[:300]) for response in responses
    ]
    index = next(i for i, response in enumerate(responses) if response.status_code == 200)
    return index, body_of(responses[index], 200)


def losers(responses: list[requests.Response]) -> list[Data]:
    return [body_of(response, 409) for response in responses if response.status_code == 409]


def how_they_lost(responses: list[requests.Response]) -> Counter[str]:
    """How the 409s lost: a compare-and-set lost in the race, or refused by the version check."""
    return Counter(
        "lost_compare_and_set" if error["message"] == LOST_RACE else "version_check"
        for loser in losers(responses)
        for error in loser["errors"]
    )


def flow_row(flow_id: str) -> Flow:
    return Flow.objects.get(pk=uuid.UUID(flow_id))


def clients_of(server: Server, token: str, count: int = RACERS) -> list[Api]:
    return [Api.with_flow_token(server.url, token) for _ in range(count)]


def test_racing_submits_of_each_step_move_the_flow_once_with_the_winners_data(
    shared_server: Server,
) -> None:
    started, owner = started_flow(shared_server.url)
    flow_id = started["id"]
    racers = clients_of(shared_server, started["token"])
    steps: list[tuple[str, Callable[[int], Data]]] = [
        ("profile", profile),
        ("company", company),
        ("confirm", lambda index: CONFIRM),
    ]
    winners: dict[str, int] = {}
    for name, data_of in steps:
        shown = body_of(owner.show(flow_id), 200)
        assert shown["step"]["name"] == name
        version = shown["step"]["version"]

        responses = race(lambda i: racers[i].submit(flow_id, version, data_of(i)))  # noqa: B023

        winners[name], moved = the_winner(responses)
        print(name, statuses(responses), how_they_lost(responses))
        finishing = name == "confirm"
        # Finishing writes twice: the claim of the flow, then its result.
        expected_version = version + (2 if finishing else 1)
        assert moved["step"]["version"] == expected_version
        allowed = {"stale_version", "pipeline_finished"} if finishing else {"stale_version"}
        for loser in losers(responses):
            assert set(error_codes(loser)) <= allowed, loser["errors"]
            # Every loser is shown the flow where the winner left it.
            assert loser["step"]["version"] == expected_version
            assert loser["step"]["name"] == moved["step"]["name"]
        now = body_of(owner.show(flow_id), 200)
        assert now["step"] == moved["step"]
        assert now["kind"] == moved["kind"]
        row = flow_row(flow_id)
        assert row.version == expected_version
        if not finishing:
            assert row.data[name] == data_of(winners[name])

    final = body_of(owner.show(flow_id), 200)
    assert final["status"] == "complete"
    expected = {**profile(winners["profile"]), **company(winners["company"])}
    assert final["result"] == expected
    assert flow_row(flow_id).result == expected


def test_racing_the_last_step_links_exactly_one_identity(
    shared_server: Server, api_user: tuple[User, str]
) -> None:
    user, key = api_user
    racers = [Api.with_user_token(shared_server.url, key) for _ in range(RACERS)]
    started = body_of(racers[0].start("identity", "dummy"), 201)
    flow_id, version = started["id"], started["step"]["version"]

    def email(index: int) -> str:
        return f"racer{index}@example.com"

    responses = race(lambda i: racers[i].submit(flow_id, version, {"email": email(i)}))

    index, winner = the_winner(responses)
    print(statuses(responses), how_they_lost(responses))
    assert winner["kind"] == "complete"
    for loser in losers(responses):
        assert set(error_codes(loser)) <= {"stale_version", "pipeline_finished"}
        assert loser["status"] == "complete"
    # Each racer sent another email: a second finish would have linked a second identity.
    identity = Identity.objects.get(user=user)
    assert (identity.user_id, identity.external_id) == (user.pk, email(index))
    assert winner["result"]["identity"]["external_id"] == email(index)
    assert body_of(racers[1].show(flow_id), 200)["result"] == winner["result"]


def test_racing_the_last_step_runs_finish_pipeline_once(shared_server: Server) -> None:
    started, owner = started_flow(shared_server.url, "slow")
    flow_id = started["id"]
    named = body_of(owner.submit(flow_id, 1, {"name": "Ada"}), 200)
    racers = clients_of(shared_server, started["token"])

    responses = race(lambda i: racers[i].submit(flow_id, named["step"]["version"], CONFIRM))

    _, winner = the_winner(responses)
    # finish_pipeline adds a row each time it runs and commits: one, and the winner's.
    effect = IdentityProvider.objects.get(type=EFFECT_TYPE, config__flow=flow_id)
    assert effect.config["flow"] == flow_id
    assert winner["result"] == {"name": "Ada", "effect": effect.pk}
    assert flow_row(flow_id).result == winner["result"]


def test_many_flows_at_once_each_complete_with_their_own_data(shared_server: Server) -> None:
    url = shared_server.url
    seen: Counter[tuple[str, int]] = Counter()
    lock = threading.Lock()

    def answered(what: str, response: requests.Response, expected: int) -> Data:
        with lock:
            seen[what, response.status_code] += 1
        return body_of(response, expected)

    def run(index: int) -> tuple[str, Data]:
        # Started by a browser of its own (a session, its CSRF token), then
        # continued by a script holding only the flow token: no cookies.
        browser = Api.browser(url)
        started = answered("start", browser.start(), 201)
        browser.close()
        client = Api.with_flow_token(url, started["token"])
        flow_id = started["id"]
        shown = started
        for step, data in (("profile", profile(index)), ("company", company(index))):
            assert shown["step"]["name"] == step
            shown = answered("submit", client.submit(flow_id, shown["step"]["version"], data), 200)
        done = answered("submit", client.submit(flow_id, shown["step"]["version"], CONFIRM), 200)
        assert done["status"] == "complete"
        assert answered("show", client.show(flow_id), 200) == done
        client.close()
        return flow_id, done["result"]

    begun = time.monotonic()
    with ThreadPoolExecutor(FLOW_THREADS) as pool:
        finished = list(pool.map(run, range(FLOWS)))
    elapsed = time.monotonic() - begun

    requests_made = sum(seen.values()) + FLOWS  # and one CSRF token fetch per flow
    print(f"{FLOWS} flows, {requests_made} requests in {elapsed:.2f}s", dict(seen))
    assert {status for _, status in seen} <= {200, 201}
    assert len({flow_id for flow_id, _ in finished}) == FLOWS
    for index, (flow_id, result) in enumerate(finished):
        expected = {**profile(index), **company(index)}
        assert result == expected
        row = flow_row(flow_id)
        assert (row.status, row.result, row.data) == ("complete", expected, {})


def test_interleaved_submits_backs_and_cancels_keep_the_flow_consistent(
    shared_server: Server,
) -> None:
    started, owner = started_flow(shared_server.url)
    flow_id = started["id"]
    players = clients_of(shared_server, started["token"], PLAYERS)
    data_for: dict[str, Callable[[int], Data]] = {"profile": profile, "company": company}
    #: Every successful move: (version it made, what it did, step it left, data it bound).
    moves: list[tuple[int, str, str, Data | None]] = []
    cancels: list[int] = []
    seen: Counter[tuple[str, int]] = Counter()
    conflicts: Counter[str] = Counter()
    lock = threading.Lock()
    final_round = threading.Barrier(PLAYERS, timeout=HTTP_TIMEOUT)

    def act(index: int, action: str, shown: Data, tag: int) -> None:
        client = players[index]
        step, version = shown["step"]["name"], shown["step"]["version"]
        data: Data | None = None
        if action == "cancel":
            response = client.cancel(flow_id)
        elif action == "submit":
            data = data_for[step](tag)
            response = client.submit(flow_id, version, data)
        else:
            response = client.back(flow_id, version)
        allowed = {"cancel": {204, 409, 410}}.get(action, {200, 409, 410})
        assert response.status_code in allowed, (action, response.status_code, response.text)
        with lock:
            seen[action, response.status_code] += 1
            if response.status_code == 200:
                moves.append((body_of(response, 200)["step"]["version"], action, step, data))
            elif response.status_code == 204:
                cancels.append(index)
            elif response.status_code == 409:
                conflicts.update(error_codes(response.json()))

    def choose(rng: random.Random, shown: Data) -> str:
        step = shown["step"]["name"]
        if step == "profile":
            return "submit"
        if step == "confirm":  # never finished here: the flow stays open to the end
            return "back"
        return "submit" if rng.random() < 0.6 else "back"

    def show(index: int) -> Data | None:
        response = players[index].show(flow_id)
        with lock:
            seen["show", response.status_code] += 1
        if response.status_code == 410:
            return None
        return body_of(response, 200)

    def play(index: int) -> tuple[random.Random, Data]:
        """The rounds of one player; then the step it saw last, to act on in the final round."""
        rng = random.Random(index)
        for round_ in range(ROUNDS):
            shown = show(index)
            assert shown is not None, "nobody cancels before the last round"
            act(index, choose(rng, shown), shown, 100 * index + round_)
        shown = show(index)
        assert shown is not None
        return rng, shown

    def play_last(index: int, rng: random.Random, shown: Data) -> None:
        """The last round, all at once: half the players cancel, the others move the flow."""
        try:
            final_round.wait()
        except BaseException:
            final_round.abort()  # the others stop waiting for this player
            raise
        act(index, "cancel" if index % 2 else choose(rng, shown), shown, 100 * index + ROUNDS)

    def bound_by(made: list[tuple[int, str, str, Data | None]]) -> Data:
        """The data of the last successful submit of each step."""
        expected: Data = {}
        for _, action, step, data in sorted(made, key=lambda move: move[0]):
            if action == "submit":
                expected[step] = data
        return expected

    with ThreadPoolExecutor(PLAYERS) as pool:
        futures = [pool.submit(play, index) for index in range(PLAYERS)]
        last_seen = [future.result(timeout=4 * HTTP_TIMEOUT) for future in futures]
        # Before the last round: what the flow bound is that of its moves, none lost, none stale.
        assert flow_row(flow_id).data == bound_by(moves)
        finals = [pool.submit(play_last, index, *last_seen[index]) for index in range(PLAYERS)]
        for final in finals:
            final.result(timeout=4 * HTTP_TIMEOUT)

    print(dict(seen), dict(conflicts))
    assert set(conflicts) <= {"stale_version", "pipeline_finished"}
    if not cancels:  # (each canceller lost its compare-and-sets to three moves: unlikely)
        assert owner.cancel(flow_id).status_code == 204
        cancels.append(-1)
    assert len(cancels) == 1
    row = flow_row(flow_id)
    assert row.status == "cancelled"
    # Every write bumped the version by one: each successful move made exactly one version.
    assert row.version == 1 + len(moves) + len(cancels)
    assert sorted(version for version, *_ in moves) == list(range(2, 2 + len(moves)))
    # Cancelled, the flow keeps nothing its steps bound.
    assert row.data == {}
    # The flow stands where the last move left it.
    last = max(moves, key=lambda move: move[0])
    steps = ["profile", "company", "confirm"]
    assert row.step_index == steps.index(last[2]) + (1 if last[1] == "submit" else -1)
    gone = owner.show(flow_id)
    assert gone.status_code == 410
    assert body_of(gone, 410)["error"]["code"] == "pipeline_cancelled"
