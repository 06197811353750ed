"""Who may continue a flow, and how a session remembers its flows.

A flow started by a logged-in user belongs to that user alone. A flow
started anonymously belongs to the session that started it, and to
whoever holds its flow token. The session keeps only the ids (and
pipeline names) of its flows, newest last, so that it stays small and a
flow's state never travels in the cookie or the session row.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from rest_framework.request import Request

from .conf import conf
from .state import FlowState
from .store import get_store

SESSION_KEY = "pipeline_flows"
TOKEN_HEADER = "HTTP_X_PIPELINE_TOKEN"


def new_token() -> tuple[str, str]:
    """A fresh flow token and the hash that is stored in its place."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def request_token(request: Request) -> str | None:
    token = request.META.get(TOKEN_HEADER)
    return token if isinstance(token, str) else None


def owner_user_id(request: Request) -> int | None:
    user = request.user
    return int(user.pk) if user.is_authenticated else None


def owns(request: Request, state: FlowState) -> bool:
    if state.user_id is not None:
        return owner_user_id(request) == state.user_id
    token = request_token(request)
    if token is not None:
        return bool(state.token_hash) and hmac.compare_digest(hash_token(token), state.token_hash)
    return any(flow_id == state.id for flow_id, _ in session_flows(request))


def session_flows(request: Request) -> list[tuple[str, str]]:
    session = _session(request)
    if session is None:
        return []
    entries = session.get(SESSION_KEY, [])
    return [(str(entry[0]), str(entry[1])) for entry in entries if len(entry) == 2]


def remember(request: Request, state: FlowState) -> None:
    session = _session(request)
    if session is None:
        return
    entries = [entry for entry in session_flows(request) if entry[0] != state.id]
    entries.append((state.id, state.pipeline))
    session[SESSION_KEY] = [list(entry) for entry in entries[-conf.MAX_FLOWS_PER_SESSION :]]


def forget(request: Request, flow_id: str) -> None:
    session = _session(request)
    if session is None:
        return
    entries = session_flows(request)
    kept = [entry for entry in entries if entry[0] != flow_id]
    if len(kept) != len(entries):
        session[SESSION_KEY] = [list(entry) for entry in kept]


def latest_flow(request: Request, pipeline_name: str) -> FlowState | None:
    """The flow of this pipeline type that the request most recently started."""
    store = get_store()
    token = request_token(request)
    if token is not None:
        state = store.load_by_token(hash_token(token))
        if state is not None and state.pipeline == pipeline_name and owns(request, state):
            return state
        return None
    for flow_id, name in reversed(session_flows(request)):
        if name == pipeline_name:
            state = store.load(flow_id)
            if state is not None and owns(request, state):
                return state
    return None


def _session(request: Request) -> Any:
    return getattr(request._request, "session", None)
