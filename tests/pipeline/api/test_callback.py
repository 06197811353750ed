"""The callback endpoint's contract: `GET /api/pipelines/callback/`.

The flows here are the `local` identity provider's (its token and user
endpoints answered by `responses`, so every token exchange is counted) and
a tiny `bounce` pipeline whose one step asks for a fresh state each time it
is shown. Whatever the callback refuses, it refuses before anything is
exchanged and before the flow is touched: the stored flow stays equal to
what it was, to the last field.
"""

from __future__ import annotations

import copy
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import responses
import time_machine
from django.test import override_settings
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.test import APIClient

from backend.identity.models import Identity
from backend.pipeline import (
    FormView,
    Pipeline,
    PipelineProvider,
    PipelineView,
    ProviderManager,
    Redirect,
)
from backend.pipeline.base import MAX_CONFLICTS
from backend.pipeline.conf import conf
from backend.pipeline.outcomes import StepResult
from backend.pipeline.state import FlowState
from backend.pipeline.store import get_store
from tests.conftest import LOCAL_ONLY_PROVIDERS, FlowClient, state_of

from .conftest import API, Response, error_of
from .test_schema import assert_documented

CALLBACK = f"{API}callback/"
TOKEN_URL = "http://testserver/o/token/"
USERINFO_URL = "http://testserver/o/userinfo/"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,*/*;q=0.8"

MARKUP = "<script>alert(1)</script>"
ODD_DESCRIPTION = (
    "\"'><img src=x onerror=alert(2)>\r\nSet-Cookie: pwned=1\r\n"
    + "\u202e\u0000\U0001f4a5 "
    + "déjà vu " * 500
)

IDENTITY_PROVIDERS = LOCAL_ONLY_PROVIDERS


# -- a pipeline that waits for the browser ------------------------------------------------------

#: The query of every callback the bounce step took in (its stand-in for a token exchange).
BOUNCED: list[dict[str, str]] = []

bounce_manager = ProviderManager()


class BounceStep(PipelineView):
    """Sends the browser away with a fresh state each time it is shown; takes it back."""

    name = "bounce"

    def dispatch(self, request: Request, pipeline: Pipeline) -> StepResult:
        if "state" in request.query_params:
            BOUNCED.append(request.query_params.dict())
            pipeline.bind_state("echo", request.query_params.get("echo", ""))
            return pipeline.next_step()
        query = urlencode({"state": pipeline.expect_callback()})
        return Redirect(f"https://provider.example/authorize?{query}")


@bounce_manager.register
class BounceProvider(PipelineProvider):
    key = "bounce"
    name = "Bounce"

    def get_pipeline_views(self) -> Sequence[PipelineView]:
        return [BounceStep()]


class BouncePipeline(Pipeline):
    pipeline_name = "bounce"
    provider_manager = bounce_manager

    def finish_pipeline(self) -> Any:
        return {"bounced": True}


# -- fixtures and helpers -----------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _served() -> Iterator[None]:
    """The local identity provider on, and the bounce pipeline served beside identity."""
    pipelines = ["backend.identity.pipeline.IdentityPipeline", f"{__name__}.BouncePipeline"]
    with override_settings(IDENTITY_PROVIDERS=IDENTITY_PROVIDERS, PIPELINE_CLASSES=pipelines):
        BOUNCED.clear()
        yield


@pytest.fixture
def provider() -> Iterator[responses.RequestsMock]:
    """The local provider's token and user endpoints; any other request fails loudly."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(
            responses.POST,
            TOKEN_URL,
            json={"access_token": "access-1", "token_type": "Bearer", "scope": "profile"},
        )
        mock.add(
            responses.GET,
            USERINFO_URL,
            json={"id": "ext-ada", "email": "ada@example.com", "name": "Ada", "channels": []},
        )
        yield mock


@pytest.fixture
def waiting(user_client: FlowClient, provider: responses.RequestsMock) -> dict[str, Any]:
    """An identity flow of the local provider, its browser sent to authorize."""
    response = user_client.start("identity", "local")
    assert response.status_code == 201, response.content
    descriptor: dict[str, Any] = response.json()
    assert descriptor["kind"] == "redirect"
    return descriptor


@pytest.fixture
def bouncing(client: FlowClient) -> dict[str, Any]:
    """An anonymous bounce flow, its browser sent away."""
    response = client.start("bounce", "bounce")
    assert response.status_code == 201, response.content
    descriptor: dict[str, Any] = response.json()
    assert descriptor["kind"] == "redirect"
    return descriptor


def exchanges(mock: responses.RequestsMock) -> int:
    """How many times the token endpoint was called."""
    return sum(1 for call in mock.calls if call.request.url == TOKEN_URL)


def approval(descriptor: dict[str, Any], **extra: str) -> dict[str, str]:
    """The query the provider sends back when the user approves (it names itself in `iss`)."""
    return {"code": "code-1", "state": state_of(descriptor), "iss": "http://testserver", **extra}


def come_back(client: FlowClient, query: dict[str, str] | None, *, as_json: bool) -> Response:
    path = f"{CALLBACK}?{urlencode(query)}" if query else CALLBACK
    return client.get(path, HTTP_ACCEPT="application/json" if as_json else BROWSER_ACCEPT)


def stored(flow_id: str) -> FlowState:
    state = get_store().load(flow_id)
    assert state is not None
    return state


def location(response: Response) -> str:
    assert response.status_code == 302, response.content
    return str(response["Location"])


# -- state missing, unknown, reused, superseded -------------------------------------------------


@pytest.mark.parametrize("accept", ["Application/JSON", "APPLICATION/JSON; charset=utf-8"])
def test_a_client_asking_for_json_in_any_case_gets_the_descriptor(
    client: FlowClient, bouncing: dict[str, Any], accept: str
) -> None:
    # Media types are case-insensitive (RFC 9110): this is `Accept: application/json`.
    response = client.get(f"{CALLBACK}?{urlencode(approval(bouncing))}", HTTP_ACCEPT=accept)
    assert response.status_code == 200, (response.status_code, response.get("Location"))
    assert response.json()["status"] == "complete"


@pytest.mark.parametrize("accept", ["*/*", "application/*", "text/html, application/json;q=0"])
def test_a_client_not_naming_json_is_sent_back_to_the_frontend(
    client: FlowClient, bouncing: dict[str, Any], accept: str
) -> None:
    response = client.get(f"{CALLBACK}?{urlencode(approval(bouncing))}", HTTP_ACCEPT=accept)
    assert location(response).startswith("/?pipeline=")


@pytest.mark.parametrize("query", [None, {"code": "code-1"}, {"state": "", "code": "code-1"}])
def test_a_callback_without_state_is_refused_as_json(
    user_client: FlowClient,
    waiting: dict[str, Any],
    provider: responses.RequestsMock,
    query: dict[str, str] | None,
) -> None:
    before = stored(waiting["id"])

    response = come_back(user_client, query, as_json=True)

    assert response.status_code == 400
    assert error_of(response)["code"] == "state_missing"
    assert exchanges(provider) == 0
    assert stored(waiting["id"]) == before


def test_a_callback_without_state_sends_the_browser_back_with_the_error(
    user_client: FlowClient, waiting: dict[str, Any], provider: responses.RequestsMock
) -> None:
    response = come_back(user_client, {"code": "code-1"}, as_json=False)

    assert location(response) == "/?error=state_missing"
    assert exchanges(provider) == 0


def test_a_state_no_flow_issued_is_refused_as_unknown(
    user_client: FlowClient, waiting: dict[str, Any], provider: responses.RequestsMock
) -> None:
    before = stored(waiting["id"])

    response = come_back(user_client, approval(waiting, state="not-a-state"), as_json=True)

    assert response.status_code == 400
    assert error_of(response)["code"] == "state_unknown"
    assert exchanges(provider) == 0
    assert stored(waiting["id"]) == before


def test_a_replayed_state_is_refused_as_reused(
    user_client: FlowClient, waiting: dict[str, Any], provider: responses.RequestsMock
) -> None:
    first = come_back(user_client, approval(waiting), as_json=True)
    assert first.json()["status"] == "complete"
    after_first = stored(waiting["id"])

    replayed = come_back(user_client, approval(waiting), as_json=True)

    assert replayed.status_code == 400
    assert error_of(replayed) == {
        "code": "state_reused",
        "message": "This state was already used.",
    }
    assert exchanges(provider) == 1
    assert stored(waiting["id"]) == after_first


def test_a_head_request_is_refused_and_leaves_the_state_for_the_browser(
    user_client: FlowClient, waiting: dict[str, Any], provider: responses.RequestsMock
) -> None:
    before = stored(waiting["id"])

    response = user_client.raw.head(f"{CALLBACK}?{urlencode(approval(waiting))}")

    assert response.status_code == 405
    assert response["Allow"] == "GET"
    assert exchanges(provider) == 0
    assert stored(waiting["id"]) == before
    assert come_back(user_client, approval(waiting), as_json=True).json()["status"] == "complete"


def test_a_replayed_state_sends_the_browser_back_to_its_flow_with_the_error(
    user_client: FlowClient, waiting: dict[str, Any], provider: responses.RequestsMock
) -> None:
    come_back(user_client, approval(waiting), as_json=False)

    replayed = come_back(user_client, approval(waiting), as_json=False)

    assert location(replayed) == f"/?pipeline={waiting['id']}&error=state_reused"
    assert exchanges(provider) == 1


def test_a_state_superseded_by_a_newer_one_is_refused_as_mismatch(
    client: FlowClient, bouncing: dict[str, Any]
) -> None:
    newer = client.show(bouncing["id"]).json()
    assert state_of(newer) != state_of(bouncing)
    before = stored(bouncing["id"])

    response = come_back(client, {"state": state_of(bouncing)}, as_json=True)

    assert response.status_code == 400
    assert error_of(response)["code"] == "state_mismatch"
    assert BOUNCED == []
    assert stored(bouncing["id"]) == before


def test_the_newer_state_still_completes_after_a_superseded_one_was_refused(
    client: FlowClient, bouncing: dict[str, Any]
) -> None:
    newer = client.show(bouncing["id"]).json()
    come_back(client, {"state": state_of(bouncing)}, as_json=True)

    response = come_back(client, {"state": state_of(newer)}, as_json=True)

    assert response.status_code == 200
    assert response.json()["status"] == "complete"
    assert [query["state"] for query in BOUNCED] == [state_of(newer)]


# -- another session ----------------------------------------------------------------------------


@pytest.fixture(params=["anonymous", "another_user"])
def intruder(request: pytest.FixtureRequest, other_client: FlowClient) -> FlowClient:
    """Another browser: nobody signed in, or another user."""
    if request.param == "another_user":
        request.getfixturevalue("other_user")
        other_client.login("grace", "hopper-1906")
    return other_client


def test_a_callback_from_another_session_is_forbidden(
    intruder: FlowClient, waiting: dict[str, Any], provider: responses.RequestsMock
) -> None:
    before = stored(waiting["id"])

    response = come_back(intruder, approval(waiting), as_json=True)

    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "state_wrong_session"
    assert "pipeline" not in error  # the flow is not named to a stranger
    assert exchanges(provider) == 0
    assert stored(waiting["id"]) == before


def test_a_callback_from_another_session_does_not_send_the_browser_to_the_flow(
    intruder: FlowClient, waiting: dict[str, Any], provider: responses.RequestsMock
) -> None:
    response = come_back(intruder, approval(waiting), as_json=False)

    assert location(response) == "/?error=state_wrong_session"
    assert exchanges(provider) == 0


def test_an_anonymous_flow_refuses_the_callback_of_another_session(
    bouncing: dict[str, Any], other_client: FlowClient
) -> None:
    before = stored(bouncing["id"])

    response = come_back(other_client, {"state": state_of(bouncing)}, as_json=True)

    assert response.status_code == 403
    assert error_of(response)["code"] == "state_wrong_session"
    assert BOUNCED == []
    assert stored(bouncing["id"]) == before


def test_a_flow_of_a_user_takes_the_callback_in_another_session_of_that_user(
    other_client: FlowClient, waiting: dict[str, Any], provider: responses.RequestsMock
) -> None:
    """A flow started by a logged-in user is bound to the user (the protocol), not the session."""
    other_client.login("ada", "lovelace-1815")

    response = come_back(other_client, approval(waiting), as_json=True)

    assert response.status_code == 200
    assert response.json()["status"] == "complete"
    assert exchanges(provider) == 1


def test_the_flow_completes_from_its_own_session_after_another_was_refused(
    user_client: FlowClient,
    intruder: FlowClient,
    waiting: dict[str, Any],
    provider: responses.RequestsMock,
) -> None:
    come_back(intruder, approval(waiting), as_json=True)

    response = come_back(user_client, approval(waiting), as_json=True)

    assert response.status_code == 200
    assert response.json()["status"] == "complete"
    assert exchanges(provider) == 1
    assert Identity.objects.count() == 1


# -- expired, cancelled -------------------------------------------------------------------------


def test_a_callback_after_the_flow_expired_is_gone(
    clock: time_machine.Traveller,
    user_client: FlowClient,
    waiting: dict[str, Any],
    provider: responses.RequestsMock,
) -> None:
    before = stored(waiting["id"])
    clock.shift(conf.TTL + 1)

    response = come_back(user_client, approval(waiting), as_json=True)

    assert response.status_code == 410
    error = error_of(response)
    assert set(error) == {"code", "message", "restart"}
    assert error["code"] == "pipeline_expired"
    assert error["restart"] == {"pipeline": "identity", "provider": "local"}
    assert exchanges(provider) == 0
    assert stored(waiting["id"]) == before


def test_a_callback_just_before_expiry_is_taken(
    clock: time_machine.Traveller,
    user_client: FlowClient,
    waiting: dict[str, Any],
    provider: responses.RequestsMock,
) -> None:
    clock.shift(conf.TTL - 1)

    response = come_back(user_client, approval(waiting), as_json=True)

    assert response.status_code == 200
    assert response.json()["status"] == "complete"


def test_a_callback_after_expiry_sends_the_browser_back_with_the_error(
    clock: time_machine.Traveller,
    user_client: FlowClient,
    waiting: dict[str, Any],
    provider: responses.RequestsMock,
) -> None:
    clock.shift(conf.TTL + 1)

    response = come_back(user_client, approval(waiting), as_json=False)

    assert parse_qs(urlsplit(location(response)).query)["error"] == ["pipeline_expired"]
    assert exchanges(provider) == 0


def test_a_callback_on_a_cancelled_flow_is_gone(
    user_client: FlowClient, waiting: dict[str, Any], provider: responses.RequestsMock
) -> None:
    assert user_client.cancel(waiting["id"]).status_code == 204
    before = stored(waiting["id"])

    response = come_back(user_client, approval(waiting), as_json=True)

    assert response.status_code == 410
    error = error_of(response)
    assert error["code"] == "pipeline_cancelled"
    assert error["restart"] == {"pipeline": "identity", "provider": "local"}
    assert exchanges(provider) == 0
    assert stored(waiting["id"]) == before


# -- a step that fails once the state is taken --------------------------------------------------


def test_a_step_refused_after_the_state_was_taken_sends_the_browser_back_to_its_flow(
    client: FlowClient, bouncing: dict[str, Any], settings: Any
) -> None:
    settings.PIPELINE_MAX_STATE_SIZE = 2048
    before = stored(bouncing["id"])

    response = come_back(client, {"state": state_of(bouncing), "echo": "x" * 4096}, as_json=False)

    assert location(response) == f"/?pipeline={bouncing['id']}&error=state_too_large"
    assert stored(bouncing["id"]).frame == before.frame


def test_a_step_refused_after_the_state_was_taken_is_answered_as_json(
    client: FlowClient, bouncing: dict[str, Any], settings: Any
) -> None:
    settings.PIPELINE_MAX_STATE_SIZE = 2048

    response = come_back(client, {"state": state_of(bouncing), "echo": "x" * 4096}, as_json=True)

    assert response.status_code == 413
    assert set(error_of(response)) == {"code", "message"}


# -- what the provider says is never reflected --------------------------------------------------


def test_a_provider_error_is_answered_in_our_words_only(
    user_client: FlowClient, waiting: dict[str, Any], provider: responses.RequestsMock
) -> None:
    query = {"state": state_of(waiting), "error": MARKUP, "error_description": ODD_DESCRIPTION}

    response = come_back(user_client, query, as_json=True)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    descriptor = response.json()
    assert (descriptor["kind"], descriptor["step"]["name"]) == ("redirect", "login")
    assert descriptor["errors"] == [
        {
            "code": "oauth_provider_error",
            "message": "The provider did not let you sign in.",
            "field": None,
        }
    ]
    body = response.content.decode()
    for fragment in ("<", ">", "%3C", "\\u003c", "alert(", "onerror", "pwned", "déjà"):
        assert fragment not in body
    assert exchanges(provider) == 0


@pytest.mark.parametrize("state", ["issued", "unknown", "none"])
def test_a_provider_error_never_reaches_the_redirect_location(
    user_client: FlowClient,
    waiting: dict[str, Any],
    provider: responses.RequestsMock,
    state: str,
) -> None:
    query = {"error": MARKUP, "error_description": ODD_DESCRIPTION}
    expected = {
        "issued": f"/?pipeline={waiting['id']}",
        "unknown": "/?error=state_unknown",
        "none": "/?error=state_missing",
    }[state]
    if state != "none":
        query["state"] = state_of(waiting) if state == "issued" else "not-a-state"

    response = come_back(user_client, query, as_json=False)

    assert location(response) == expected
    assert response.content == b""
    assert exchanges(provider) == 0


# -- where the browser goes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "return_to", ["/app/flows", "/app/flows?tab=linked", "http://testserver/app/flows?tab=linked"]
)
def test_the_browser_goes_back_to_return_to_with_the_flow_appended(
    user_client: FlowClient, provider: responses.RequestsMock, return_to: str
) -> None:
    started = user_client.start("identity", "local", return_to=return_to).json()

    response = come_back(user_client, approval(started), as_json=False)

    separator = "&" if "?" in return_to else "?"
    assert location(response) == f"{return_to}{separator}pipeline={started['id']}"


def test_without_return_to_the_browser_goes_to_the_frontend_url(
    user_client: FlowClient, waiting: dict[str, Any], provider: responses.RequestsMock
) -> None:
    with override_settings(PIPELINE_FRONTEND_URL="https://app.example.com/done?from=oauth"):
        response = come_back(user_client, approval(waiting), as_json=False)

    expected = f"https://app.example.com/done?from=oauth&pipeline={waiting['id']}"
    assert location(response) == expected


def test_a_refused_callback_goes_back_to_return_to_with_the_error(
    user_client: FlowClient, provider: responses.RequestsMock
) -> None:
    started = user_client.start("identity", "local", return_to="/app/flows?tab=linked").json()
    come_back(user_client, approval(started), as_json=False)

    replayed = come_back(user_client, approval(started), as_json=False)

    expected = f"/app/flows?tab=linked&pipeline={started['id']}&error=state_reused"
    assert location(replayed) == expected


# -- two callbacks at once ----------------------------------------------------------------------


def _race(calls: int, call: Any) -> list[Response]:
    """`call()` from `calls` threads at once, each with its own connection."""
    from django.db import connection

    barrier = threading.Barrier(calls, timeout=30)
    answers: list[Response | BaseException | None] = [None] * calls

    def worker(index: int) -> None:
        try:
            barrier.wait()
            answers[index] = call()
        except BaseException as exc:  # handed to the main thread below
            answers[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    results: list[Response] = []
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
        assert answer is not None
        results.append(answer)
    return results


@pytest.mark.django_db(transaction=True)
def test_two_callbacks_with_one_state_at_once_proceed_exactly_once(
    user_client: FlowClient, waiting: dict[str, Any], provider: responses.RequestsMock
) -> None:
    path = f"{CALLBACK}?{urlencode(approval(waiting))}"
    tabs = []
    for _ in range(2):
        tab = APIClient()
        tab.cookies = copy.deepcopy(user_client.raw.cookies)
        tabs.append(tab)
    turn = iter(tabs)
    lock = threading.Lock()

    def call() -> Response:
        with lock:
            tab = next(turn)
        response: Response = tab.get(path, HTTP_ACCEPT="application/json")
        return response

    answers = _race(2, call)

    assert Counter(answer.status_code for answer in answers) == {200: 1, 400: 1}
    (refused,) = [answer for answer in answers if answer.status_code == 400]
    assert error_of(refused)["code"] == "state_reused"
    assert exchanges(provider) == 1
    assert Identity.objects.count() == 1
    assert stored(waiting["id"]).status == "complete"


def test_a_callback_on_a_cancelled_flow_sends_the_browser_back_to_that_flow(
    user_client: FlowClient, provider: responses.RequestsMock
) -> None:
    started = user_client.start("identity", "local", return_to="/app/flows").json()
    user_client.cancel(started["id"])

    response = come_back(user_client, approval(started), as_json=False)

    assert location(response) == (f"/app/flows?pipeline={started['id']}&error=pipeline_cancelled")


def test_return_to_keeps_its_own_query_but_not_an_old_flow_id_or_error(
    user_client: FlowClient, provider: responses.RequestsMock
) -> None:
    return_to = "/app/flows?pipeline=old&draft=&err%6fr=old&tab=a%20b&flag&raw=%ff&x=1;y=2#top"
    started = user_client.start("identity", "local", return_to=return_to).json()

    response = come_back(user_client, approval(started), as_json=False)

    # As written: decoded and encoded again, `flag`, `%ff` or `;` would change.
    assert location(response) == (
        f"/app/flows?draft=&tab=a%20b&flag&raw=%ff&x=1;y=2&pipeline={started['id']}#top"
    )


# -- a state the flow went back from; the longest return_to ---------------------------------------

#: A form, then a step that sends the browser away (as an integration asking
#: for its options before the OAuth sign-in would).
form_then_bounce_manager = ProviderManager()


class NoteSerializer(serializers.Serializer[Any]):
    note = serializers.CharField()


@form_then_bounce_manager.register
class FormThenBounceProvider(PipelineProvider):
    key = "form_then_bounce"
    name = "Form, then bounce"

    def get_pipeline_views(self) -> Sequence[PipelineView]:
        return [FormView(NoteSerializer, name="note"), BounceStep()]


class FormThenBouncePipeline(Pipeline):
    pipeline_name = "form_then_bounce"
    provider_manager = form_then_bounce_manager

    def finish_pipeline(self) -> Any:
        return {"bounced": True}


def test_a_state_of_a_step_the_flow_went_back_from_is_refused_as_mismatch(
    client: FlowClient,
) -> None:
    # The protocol: a state "the flow no longer waits for (a newer one was
    # issued, or the flow moved on)" is 400 state_mismatch, and the flow is
    # left as it was.
    with override_settings(PIPELINE_CLASSES=[f"{__name__}.FormThenBouncePipeline"]):
        started = client.start("form_then_bounce", "form_then_bounce").json()
        sent_away = client.submit(started, {"note": "hi"}).json()
        assert sent_away["kind"] == "redirect"
        went_back = client.back(sent_away).json()
        assert went_back["step"]["name"] == "note"
        before = stored(started["id"])

        response = come_back(client, {"state": state_of(sent_away)}, as_json=True)

        assert response.status_code == 400, response.json()
        assert error_of(response)["code"] == "state_mismatch"
        assert BOUNCED == []
        assert stored(started["id"]) == before


@pytest.mark.parametrize(
    "query",
    [
        "e=" + "\U0001f600" * 170,  # twelve characters each, once percent-encoded
        "e=" + "/" * 2040,  # one character each in the start's count, three in a query
    ],
)
def test_the_longest_return_to_the_start_accepts_is_where_the_callback_sends_the_browser(
    client: FlowClient, query: str
) -> None:
    started = client.start("bounce", "bounce", return_to=f"/done?{query}")
    assert started.status_code == 201, started.content

    response = come_back(client, {"state": state_of(started.json())}, as_json=False)

    sent_to = urlsplit(location(response))
    assert sent_to.path == "/done"
    assert parse_qs(sent_to.query) == {
        "e": [query.removeprefix("e=")],
        "pipeline": [started.json()["id"]],
    }


# -- a callback, a GET and another request's write at once --------------------------------------


def overtake(monkeypatch: pytest.MonkeyPatch, *, always: bool = False) -> list[int]:
    """Another request moves the flow just before its next write (or every one).

    Answers the versions the lost writes expected.
    """
    store_cls = type(get_store())
    write = store_cls.compare_and_set
    lost: list[int] = []

    def overtaken(self: Any, state: FlowState, expected: int) -> bool:
        if always or not lost:
            lost.append(expected)
            fresh = self.load(state.id)
            assert fresh is not None
            assert write(self, fresh, fresh.version)
            return False
        return bool(write(self, state, expected))

    monkeypatch.setattr(store_cls, "compare_and_set", overtaken)
    return lost


@pytest.fixture
def overtaken_once(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    return overtake(monkeypatch)


def test_a_get_whose_own_write_loses_shows_the_flow_as_it_now_stands(
    client: FlowClient, bouncing: dict[str, Any], overtaken_once: list[int]
) -> None:
    # The bounce step issues a fresh state each time it is shown: a write the
    # client never asked for, which must not make a GET answer 409.
    response = client.show(bouncing["id"])

    assert overtaken_once == [bouncing["step"]["version"]]
    assert response.status_code == 200, response.json()
    assert response.json()["kind"] == "redirect"
    assert response.json()["step"]["version"] == bouncing["step"]["version"] + 2


def test_a_get_of_a_flow_that_keeps_moving_is_answered_as_a_conflict_after_a_few_tries(
    client: FlowClient, bouncing: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    lost = overtake(monkeypatch, always=True)
    response = client.show(bouncing["id"])

    assert response.status_code == 409, response.json()
    assert response.json()["errors"][-1]["code"] == "stale_version"
    assert len(lost) == MAX_CONFLICTS  # each a fresh read of the flow, then no more writes
    # A client reading the document learns that a GET may answer so.
    document = client.get("/api/schema/").json()
    assert_documented(document, "GET", "/api/pipelines/{id}/", response)


def test_a_callback_whose_write_loses_sends_the_browser_back_saying_so(
    user_client: FlowClient, waiting: dict[str, Any], overtaken_once: list[int]
) -> None:
    response = come_back(user_client, approval(waiting), as_json=False)

    assert overtaken_once == [waiting["step"]["version"]]
    assert location(response) == f"/?pipeline={waiting['id']}&error=stale_version"
    assert stored(waiting["id"]).status == "active"
