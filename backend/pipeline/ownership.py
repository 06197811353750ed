"""Who may continue a flow, and how a session finds its flows.

A flow started by a logged-in user belongs to that user alone. A flow
started anonymously belongs to the session that started it, and to
whoever holds its flow token.

A session holds one *owner key*, set with its first flow; each flow
stores the key's hash. Starting another flow therefore never writes the
session, so tabs starting flows at the same moment cannot overwrite each
other's record of them, and a session can own any number of flows. The
flows stay with the session when its user logs in (below), so flows
started anonymously are still reachable after it.

The owner key of an anonymous session is its own key at its first flow.
A request whose session cookie still carries that key is therefore
recognized without the session being read: an anonymous step costs no
session query. Once the session key changes, the key kept in the session
data is compared instead. Logging in gives the session a fresh owner key
(derived with the session's own seed and the project's secret) and moves
its flows to it (`rotate_owner_key`), so that the session key from before
the login, which Django has just retired, opens no flow; a logged-in
session's first flow gets one derived from its key. Logging out moves
them too, so that a copy of the ended session's cookie opens none; a
logged-in session, whose key no cookie carries, is logged out even if
they cannot be moved. An application that rotates session keys itself
(`cycle_key()` outside `login()`) calls `rotate_owner_key(request.session)`
likewise; until then the old key still opens the flows it started.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY
from django.contrib.auth import SESSION_KEY as USER_SESSION_KEY
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver
from django.utils.crypto import salted_hmac
from rest_framework.request import Request

from .state import FlowState
from .store import get_store

logger = logging.getLogger(__name__)

SESSION_KEY = "pipeline_owner"
#: A secret of the session's own, set with its owner key: what a login derives the next key with.
SEED_KEY = "pipeline_owner_seed"
TOKEN_HEADER = "HTTP_X_PIPELINE_TOKEN"


def new_token() -> tuple[str, str]:
    """A fresh secret and the hash that is stored in its place."""
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


def session_hash(request: Request, *, create: bool = False) -> str:
    """The hash of the session's owner key ("" when it has none)."""
    session = _session(request)
    if session is None:
        return ""
    key = session.get(SESSION_KEY)
    if not isinstance(key, str):
        if not create:
            return ""
        key = _own_key(session)
        session[SESSION_KEY] = key
        session[SEED_KEY] = new_token()[0]
    return hash_token(key)


def rotate_owner_key(session: Any, *, user: Any = None) -> None:
    """Give `session` a fresh owner key, and move its flows to it.

    Done at every login: the session key from before the login, which
    Django has just retired, then opens none of the flows, whoever kept a
    copy of the old cookie. Call it after rotating a session key yourself.

    At a login (`user` given) the fresh key is derived from the old one
    and the user, with the session's own seed (`SEED_KEY`) and the
    project's secret: two logins sent at once from one session (a double
    click) each give their copy of the session the same key, where random
    ones would leave the flows with whichever moved them first, and the
    browser with whichever answer came last. A holder of the old cookie
    lacks the seed, which stays on the server (and the secret, where a
    session is kept in its cookie), and another user's login derives
    another. A session without a seed (from an older release) gets a
    random key.
    """
    key = session.get(SESSION_KEY)
    if not isinstance(key, str):
        return
    seed = session.get(SEED_KEY)
    if user is None or not isinstance(seed, str):
        fresh = new_token()[0]
    else:
        fresh = _derived(f"login\n{seed}\n{key}\n{user.pk}")
    get_store().rebind_session(hash_token(key), hash_token(fresh))
    session[SESSION_KEY] = fresh


@receiver([user_logged_in, user_logged_out], dispatch_uid="pipeline_rotate_owner_key")
def _rotate_on_login_and_logout(
    sender: Any, request: Any = None, signal: Any = None, **kwargs: Any
) -> None:
    """At login, and at logout, before Django empties the session.

    Logging out leaves the fresh key in a session that is about to end, so
    the flows are then reachable by their token only, and a copy of the
    session cookie (the owner key of an anonymous session) opens none.
    A login whose flows cannot be moved (their store is down) fails, and
    puts the session back (`_reinstate_retired_session`). A logged-in
    session's logout does not wait for the store: its owner key is one no
    cookie carries (given at the login, or derived after it), so the
    session's end is enough.
    """
    session = getattr(request, "session", None)
    if session is None:
        return
    logging_in = signal is user_logged_in
    try:
        rotate_owner_key(session, user=kwargs.get("user") if logging_in else None)
    except Exception:
        if logging_in:
            _reinstate_retired_session(request, session)
        elif _no_cookie_carries_owner_key(request, session):
            logger.warning("A logout left its session's flows where they were", exc_info=True)
            return
        raise


def _no_cookie_carries_owner_key(request: Any, session: Any) -> bool:
    """Whether the session is logged in and its owner key is no session key a cookie holds."""
    cookie = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    owner = session.get(SESSION_KEY)
    return USER_SESSION_KEY in session and owner not in (session.session_key, cookie)


#: What `login()` adds to a session.
_LOGIN_KEYS = {USER_SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY}


def _reinstate_retired_session(request: Any, session: Any) -> None:
    """Save `session` again under the key `login()` has just retired, without the login.

    Django tells of a login once it has given the session a new key and
    deleted the old one. A login failed after that is answered with an
    error, which saves no session and sends no cookie: the browser's
    cookie would name no session any more, and the flows it started
    (still under the old owner key) would be lost to it. Put back, the
    session is anonymous again, under its old key and with its flows, and
    a login tried again moves them (the CSRF token `login()` rotated stays
    rotated: the error's answer carries the new one, as a login's does).

    Only a session whose owner key is the cookie's own key is put back: a
    cookie that named no session (made up, or planted) is not given one,
    and the holder of that cookie could open those flows already.
    """
    retired = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if not retired or retired == session.session_key or session.get(SESSION_KEY) != retired:
        return
    try:
        reinstated = type(session)(session_key=retired)
        if reinstated.session_key != retired:  # a key the engine refuses
            return
        # Given as loaded: loading a key no session has would drop it.
        reinstated._session_cache = {
            key: value for key, value in session.items() if key not in _LOGIN_KEYS
        }
        reinstated.save(must_create=True)
        session.delete()
    except Exception:  # the login's own error is the answer
        logger.warning("A failed login's session could not be put back", exc_info=True)


def owns(request: Request, state: FlowState) -> bool:
    """Whether the request may see and move the flow: its user's, or its session's or token's.

    A flow token is one more way in, never a way out: a session's own flow
    stays open to it beside a header naming another flow (a client's
    default header, left from its last flow), as the protocol binds an
    anonymous flow to its session or its token. Unsafe requests that the
    token does not open are CSRF-checked (`enforce_csrf_on_flow`).
    """
    if state.user_id is not None:
        return owner_user_id(request) == state.user_id
    if holds_token(request, state):
        return True
    if _same(_cookie_hash(request), state.session_hash):
        return True  # the session that started the flow, still under its first key
    return _same(session_hash(request), state.session_hash)


def holds_token(request: Request, state: FlowState) -> bool:
    """Whether the request's `X-Pipeline-Token` is the flow's own."""
    token = request_token(request)
    return token is not None and _same(hash_token(token), state.token_hash)


def latest_flow(request: Request, pipeline_name: str) -> FlowState | None:
    """The flow of this pipeline type the request's token names, or its session's latest."""
    store = get_store()
    token = request_token(request)
    if token is not None:
        state = store.load_by_token(hash_token(token))
        if state is not None and state.pipeline == pipeline_name and owns(request, state):
            return state
    owner = session_hash(request)
    state = store.latest(pipeline_name, owner) if owner else None
    return state if state is not None and owns(request, state) else None


def _same(given: str, stored: str) -> bool:
    return bool(stored) and hmac.compare_digest(given, stored)


def _session(request: Request) -> Any:
    return getattr(request._request, "session", None)


def _own_key(session: Any) -> str:
    """The session's key, given to it now if it is new; derived from it if it is logged in.

    An anonymous session's cookie then opens its flows unread. A logged-in
    one is read on every request anyway, and a key no cookie carries lets
    its logout end it without moving its flows (`_rotate_on_login_and_logout`);
    derived with the project's secret, it is the same for tabs starting
    their first flows at once.
    """
    if session.session_key is None:
        session.save()
    key = session.session_key
    if not (isinstance(key, str) and key):
        return new_token()[0]
    return _derived(f"logged-in\n{key}") if USER_SESSION_KEY in session else key


def _derived(message: str) -> str:
    """An owner key made from `message` with the project's secret."""
    return salted_hmac(_SALT, message, algorithm="sha256").hexdigest()


_SALT = "backend.pipeline.ownership"


def _cookie_hash(request: Request) -> str:
    """The hash of the session key the request's cookie carries ("" without one)."""
    key = request._request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    return hash_token(key) if key else ""
