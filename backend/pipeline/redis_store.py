"""Flows in Redis, as Sentry keeps its pipeline state, with the same guarantees.

Select it with `PIPELINE_STORE = "backend.pipeline.redis_store.RedisStore"`
and `PIPELINE_REDIS_URL` (by default `REDIS_URL`). It needs Redis 7 or
newer (`PEXPIREAT` with `NX` and `GT`).

Each flow is a hash: its version (`v`), its state as JSON (`doc`) and the
hash of its session's owner key (`s`), apart from the state so that moving
a session's flows to a new owner key (at login) never races a step's write.
Compare-and-set is a Lua script, so it is atomic on the server: of several
writers holding one version exactly one wins. Redis expires a flow itself,
`PIPELINE_REDIS_GRACE` seconds after the flow's own expiry, so that an
expired flow is still answered 410 for a while before it is simply gone.

Indexes, each expiring with its latest flow (every write of a flow moves
its indexes' expiry with its own): the flow token's hash → id; per
session and pipeline type, a sorted set of flows by start (for
`get_for_request`); per owner, a sorted set of unfinished flows by expiry
(for the active-flow limit, which a start counts and joins in one script, so
racing starts cannot pass it); the callback states.

Limits: Redis writes do not roll back with `atomic()`. The engine makes up
for a `finish_pipeline` that fails (the flow goes back to its last step),
but a process killed while finishing leaves the flow claimed as complete
with no result; the database store has no such gap.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import redis
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from .conf import conf
from .state import ACTIVE, FlowState, Frame, is_flow_id
from .store import CallbackRecord, FlowStore

# KEYS: flow, token index, session index (by start), active set; ARGV: version,
# doc, owner hash, expire at (ms), flow id, start (ms), expiry (ms), limit ("" for
# none), then "1" or "0": has a token, has a session, counts as active. The limit
# counts the owner's flows unexpired at the start. Counting and creating in one
# script makes the limit exact, in one round trip. The sets a flow shares with
# others only ever live longer: NX gives a new set its expiry, GT moves it on.
_CREATE = """
local limit = tonumber(ARGV[8])
if limit and redis.call('ZCOUNT', KEYS[4], '(' .. ARGV[6], '+inf') >= limit then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'doc', ARGV[2], 's', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
if ARGV[9] == '1' then redis.call('SET', KEYS[2], ARGV[5], 'PXAT', ARGV[4]) end
if ARGV[10] == '1' then
  redis.call('ZADD', KEYS[3], ARGV[6], ARGV[5])
  redis.call('PEXPIREAT', KEYS[3], ARGV[4], 'NX')
  redis.call('PEXPIREAT', KEYS[3], ARGV[4], 'GT')
end
if ARGV[11] == '1' then
  redis.call('ZADD', KEYS[4], ARGV[7], ARGV[5])
  redis.call('PEXPIREAT', KEYS[4], ARGV[4], 'NX')
  redis.call('PEXPIREAT', KEYS[4], ARGV[4], 'GT')
end
return 1
"""

# KEYS: flow, active set, token index, session index; ARGV: expected version, new
# version, doc, expire at (ms), flow id, "1" if still active, its expiry (ms) as
# the active set's score. A flow's indexes live as long as it does; the sets it
# shares with other flows only ever live longer (NX, then GT: Redis 7), so that a
# write that does not move its expiry (a cancel) cannot cut another flow's short.
_COMPARE_AND_SET = """
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'doc', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
redis.call('PEXPIREAT', KEYS[3], ARGV[4])
redis.call('PEXPIREAT', KEYS[4], ARGV[4], 'NX')
redis.call('PEXPIREAT', KEYS[4], ARGV[4], 'GT')
if ARGV[6] == '1' then
  redis.call('ZADD', KEYS[2], ARGV[7], ARGV[5])
  redis.call('PEXPIREAT', KEYS[2], ARGV[4], 'NX')
  redis.call('PEXPIREAT', KEYS[2], ARGV[4], 'GT')
else
  redis.call('ZREM', KEYS[2], ARGV[5])
end
return 1
"""

# KEYS: flow; ARGV: old owner hash, new one. Moves the flow only if it is still
# there and still the old owner's.
_REBIND = """
if redis.call('HGET', KEYS[1], 's') == ARGV[1] then
  redis.call('HSET', KEYS[1], 's', ARGV[2])
  return 1
end
return 0
"""

# KEYS: callback; spends it once.
_USE_CALLBACK = """
if redis.call('HGET', KEYS[1], 'used') == '0' then
  redis.call('HSET', KEYS[1], 'used', '1')
  return 1
end
return 0
"""


class RedisStore(FlowStore):
    rolls_back = False

    def __init__(self, client: redis.Redis | None = None, prefix: str | None = None) -> None:
        self._client = client
        self.prefix = prefix or conf.REDIS_PREFIX

    @functools.cached_property
    def client(self) -> redis.Redis:
        if self._client is not None:
            return self._client
        return redis.Redis.from_url(conf.REDIS_URL)

    @functools.cached_property
    def _create(self) -> Any:
        return self.client.register_script(_CREATE)

    @functools.cached_property
    def _cas(self) -> Any:
        return self.client.register_script(_COMPARE_AND_SET)

    @functools.cached_property
    def _rebind(self) -> Any:
        return self.client.register_script(_REBIND)

    @functools.cached_property
    def _use(self) -> Any:
        return self.client.register_script(_USE_CALLBACK)

    # -- the interface --------------------------------------------------------

    def create(self, state: FlowState) -> None:
        self._insert(state, limit=None)

    def create_within(self, state: FlowState, limit: int) -> bool:
        return self._insert(state, limit=limit)

    def _insert(self, state: FlowState, *, limit: int | None) -> bool:
        none = self._key("none")  # in place of an index the flow is not in
        owner = self._owner(state)
        active = bool(owner) and state.status == ACTIVE
        session = state.session_hash
        created = self._create(
            keys=[
                self._flow(state.id),
                self._key("token", state.token_hash) if state.token_hash else none,
                self._session(state) or none,
                owner or none,
            ],
            args=[
                state.version,
                _dump(state),
                session,
                self._expire_at(state),
                state.id,
                _ms(state.created_at),
                _ms(state.expires_at),
                "" if limit is None or not owner else limit,
                *("1" if flag else "0" for flag in (state.token_hash, session, active)),
            ],
        )
        return bool(created)

    def load(self, flow_id: str) -> FlowState | None:
        if not is_flow_id(flow_id):
            return None
        version, doc, session_hash = self.client.hmget(self._flow(flow_id), ["v", "doc", "s"])
        if version is None or doc is None:
            return None
        return _load(_text(doc), int(version), session_hash)

    def load_by_token(self, token_hash: str) -> FlowState | None:
        if not token_hash:
            return None
        flow_id = self.client.get(self._key("token", token_hash))
        return self.load(_text(flow_id)) if flow_id else None

    def latest(self, pipeline: str, session_hash: str) -> FlowState | None:
        started = self._key("session", session_hash, pipeline)
        for flow_id in self.client.zrevrange(started, 0, 9):
            state = self.load(_text(flow_id))
            if state is not None:
                return state
        return None

    def rebind_session(self, old_hash: str, new_hash: str) -> None:
        # The session's flows are found through its index of each pipeline
        # type (`latest`); those of a type no longer registered, which
        # answer 410 whoever asks, are left where they are.
        from .registry import all_pipelines

        if not old_hash:
            return
        active = self._key("active", f"session:{old_hash}")
        moves = [(active, self._key("active", f"session:{new_hash}"))]
        for pipeline_cls in all_pipelines():
            name = pipeline_cls.pipeline_name
            started = self._key("session", old_hash, name)
            for flow_id in self.client.zrange(started, 0, -1):
                self._rebind(keys=[self._flow(_text(flow_id))], args=[old_hash, new_hash])
            moves.append((started, self._key("session", new_hash, name)))
        for old_key, new_key in moves:
            with contextlib.suppress(redis.ResponseError):  # no such key: nothing to move
                self.client.rename(old_key, new_key)

    def count_active(self, *, user_id: int | None, session_hash: str, now: datetime) -> int:
        owner = f"user:{user_id}" if user_id is not None else f"session:{session_hash}"
        return int(self.client.zcount(self._key("active", owner), f"({_ms(now)}", "+inf"))

    def compare_and_set(self, state: FlowState, expected_version: int) -> bool:
        new_version = expected_version + 1
        none = self._key("none")  # in place of an index the flow is not in
        owner = self._owner(state)
        written = self._cas(
            keys=[
                self._flow(state.id),
                owner or none,
                self._key("token", state.token_hash) if state.token_hash else none,
                self._session(state) or none,
            ],
            args=[
                expected_version,
                new_version,
                _dump(state, version=new_version),
                self._expire_at(state),
                state.id,
                "1" if owner and state.status == ACTIVE else "0",
                _ms(state.expires_at),
            ],
        )
        if written:
            state.version = new_version
        return bool(written)

    def delete(self, flow_id: str) -> None:
        state = self.load(flow_id)
        if state is None:
            return
        with self.client.pipeline(transaction=True) as batch:
            batch.delete(self._flow(flow_id))
            if state.token_hash:
                batch.delete(self._key("token", state.token_hash))
            if state.session_hash:
                batch.zrem(self._session(state), flow_id)
            owner = self._owner(state)
            if owner:
                batch.zrem(owner, flow_id)
            batch.execute()

    def register_callback(self, state: FlowState, key_hash: str, now: datetime) -> None:
        # It lives as long as its flow.
        callback = self._key("callback", key_hash)
        with self.client.pipeline(transaction=True) as batch:
            batch.hset(callback, mapping={"flow": state.id, "used": "0"})
            batch.pexpireat(callback, self._expire_at(state))
            batch.execute()

    def find_callback(self, key_hash: str) -> CallbackRecord | None:
        flow_id, used = self.client.hmget(self._key("callback", key_hash), ["flow", "used"])
        if flow_id is None:
            return None
        return CallbackRecord(flow_id=_text(flow_id), used=_text(used) == "1")

    def use_callback(self, key_hash: str, now: datetime) -> bool:
        return bool(self._use(keys=[self._key("callback", key_hash)]))

    def purge_expired(self, now: datetime) -> int:
        """Nothing to do: Redis deletes expired flows itself."""
        return 0

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        # finish_pipeline's database writes still commit together or not at all.
        with transaction.atomic():
            yield

    # -- keys -------------------------------------------------------------------

    def _key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def _flow(self, flow_id: str) -> str:
        return self._key("flow", flow_id)

    def _owner(self, state: FlowState) -> str:
        if state.user_id is not None:
            return self._key("active", f"user:{state.user_id}")
        if state.session_hash:
            return self._key("active", f"session:{state.session_hash}")
        return ""

    def _session(self, state: FlowState) -> str:
        """Its session's index of flows of its type, where `latest` looks."""
        return (
            self._key("session", state.session_hash, state.pipeline) if state.session_hash else ""
        )

    def _expire_at(self, state: FlowState) -> int:
        return _ms(state.expires_at + timedelta(seconds=conf.REDIS_GRACE))


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _dump(state: FlowState, *, version: int | None = None) -> str:
    return json.dumps(
        {
            "id": state.id,
            "frame": state.frame.to_json(),
            "created_at": state.created_at.isoformat(),
            "updated_at": state.updated_at.isoformat(),
            "expires_at": state.expires_at.isoformat(),
            "version": state.version if version is None else version,
            "status": state.status,
            "result": state.result,
            "errors": state.errors,
            "user_id": state.user_id,
            "token_hash": state.token_hash,
            "return_to": state.return_to,
            "callback_hash": state.callback_hash,
        },
        cls=DjangoJSONEncoder,
        separators=(",", ":"),
        allow_nan=False,  # a flow no JSON parser could read back is refused, not stored
    )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _load(doc: str, version: int, session_hash: Any) -> FlowState:
    raw = json.loads(doc)
    return FlowState(
        id=raw["id"],
        frame=Frame.from_json(raw["frame"]),
        created_at=datetime.fromisoformat(raw["created_at"]),
        updated_at=datetime.fromisoformat(raw["updated_at"]),
        expires_at=datetime.fromisoformat(raw["expires_at"]),
        version=version,
        status=raw["status"],
        result=raw["result"],
        errors=raw["errors"],
        user_id=raw["user_id"],
        token_hash=raw["token_hash"],
        session_hash=_text(session_hash) if session_hash is not None else "",
        return_to=raw["return_to"],
        callback_hash=raw["callback_hash"],
    )
