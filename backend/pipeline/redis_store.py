"""Flows in Redis, as Sentry keeps its pipeline state, with the same guarantees.

Select it with `PIPELINE_STORE = "backend.pipeline.redis_store.RedisStore"`
and `PIPELINE_REDIS_URL` (by default `REDIS_URL`). It needs Redis 7 or
newer (`PEXPIREAT` with `NX` and `GT`, `PEXPIRETIME`), one server (with
replicas or not), not a cluster: the scripts name the keys of a flow's
session themselves, from the session they read.

Each flow is a hash: its version (`v`), its state as JSON (`doc`) and the
hash of its session's owner key (`s`), apart from the state so that moving
a session's flows to a new owner key (at login) never races a step's write.
Compare-and-set is a Lua script, so it is atomic on the server: of several
writers holding one version exactly one wins. The scripts find a flow's
session indexes from `s` as stored, never from the caller's copy of the
flow, which a login may have moved since it was read. Redis expires a flow
itself, `PIPELINE_REDIS_GRACE` seconds after the flow's own expiry, so that
an expired flow is still answered 410 for a while before it is simply gone.

Indexes, each expiring with its latest flow (every write of a flow moves
its indexes' expiry with its own): the flow token's hash → id; per
session and pipeline type, a sorted set of flows by start (for
`get_for_request`); per session, the set of pipeline types it has flows
of, so that a login moves them all, of types no longer served too; per
owner, a sorted set of unfinished flows by expiry (for the active-flow
limit, which a start counts and joins in one script, so racing starts
cannot pass it); the callback states, and per flow the set of those it
issued, so that a state issued late lives as long as its flow. A login
merges the session's indexes into those of its new owner key, in one
script.

Flows stored before those last two sets were kept go on as before: a
login still finds those of the pipeline types served through their
indexes, as it always did, and the callback state such a flow waits for
moves with its every write. Only the other states it issued before may
still expire before it; a replay of one is then told `state_unknown`
rather than `state_reused` or `state_mismatch`.

Limits: Redis writes do not roll back with `atomic()`. When a finish fails
after the claim, the engine puts the flow back exactly as it was read
(`restore`), as a rollback would, so that the same request succeeds when
sent again. It cannot when the finish is cut short: a process killed while
finishing, or the flows' Redis gone (or not answering) from the claim until
the flow is to be put back, leaves the flow claimed, complete with no
result (the request, if it is answered, is a 503), while `finish_pipeline`'s
database writes are rolled back. And should the result reach Redis but the
transaction not commit (the result's answer lost, the process killed, the
commit failing), the flow is complete with a result those writes never
backed. The database store has no such gap. Closing it would take a claim
that expires, which another request could take over while its holder
still runs. Two lesser differences: what is put back is the flow as the
request read it, so a view of your own that writes its flow twice before
finishing is put back to before the first write; and a cancel that comes
while a finish holds its claim is refused (409 `pipeline_finished`) even
if the finish then fails and the flow goes on, where on a database the
cancel waits for the finish and wins.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from .conf import conf
from .state import ACTIVE, FlowState, Frame, is_flow_id
from .store import CallbackRecord, FlowStore

# The sets a flow shares with other flows only ever live longer: NX gives a new
# set its expiry, GT moves it on (Redis 7), so that a write that does not move
# its flow's expiry (a cancel) cannot cut another flow's short.
_LIVE_AS_LONG = """
local function live_as_long(key, at)
  redis.call('PEXPIREAT', key, at, 'NX')
  redis.call('PEXPIREAT', key, at, 'GT')
end
"""

# KEYS: flow, token index, session index (by start), active set, the session's
# pipeline types; ARGV: version, doc, owner hash, expire at (ms), flow id, start
# (ms), expiry (ms), limit ("" for none), then "1" or "0": has a token, has a
# session, counts as active; then its pipeline type. The limit counts the
# owner's flows unexpired at the start. Counting and creating in one script
# makes the limit exact, in one round trip.
_CREATE = (
    _LIVE_AS_LONG
    + """
local limit = tonumber(ARGV[8])
if limit and redis.call('ZCOUNT', KEYS[4], '(' .. ARGV[6], '+inf') >= limit then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'doc', ARGV[2], 's', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
if ARGV[9] == '1' then redis.call('SET', KEYS[2], ARGV[5], 'PXAT', ARGV[4]) end
if ARGV[10] == '1' then
  redis.call('ZADD', KEYS[3], ARGV[6], ARGV[5])
  live_as_long(KEYS[3], ARGV[4])
  redis.call('SADD', KEYS[5], ARGV[12])
  live_as_long(KEYS[5], ARGV[4])
end
if ARGV[11] == '1' then
  redis.call('ZADD', KEYS[4], ARGV[7], ARGV[5])
  live_as_long(KEYS[4], ARGV[4])
end
return 1
"""
)

# KEYS: flow, token index; ARGV: expected version, new version, doc, expire at
# (ms), flow id, "1" if still active, its expiry (ms) as the active set's score,
# key prefix, pipeline type, user id ("" for none), the callback state it waits
# for ("" for none). The session's indexes are those of the session stored with
# the flow. A flow's own keys (its token, its callback states) live exactly as
# long as it does; the sets it shares with others, or that a late write of a
# stale copy could shorten (its callback states' list), only ever longer.
_COMPARE_AND_SET = (
    _LIVE_AS_LONG
    + """
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'doc', ARGV[3])
local at, id, prefix = ARGV[4], ARGV[5], ARGV[8]
redis.call('PEXPIREAT', KEYS[1], at)
redis.call('PEXPIREAT', KEYS[2], at)
local session = redis.call('HGET', KEYS[1], 's') or ''
local owner = ''
if ARGV[10] ~= '' then owner = prefix .. 'active:user:' .. ARGV[10] end
if session ~= '' then
  live_as_long(prefix .. 'session:' .. session .. ':' .. ARGV[9], at)
  live_as_long(prefix .. 'pipelines:' .. session, at)
  if owner == '' then owner = prefix .. 'active:session:' .. session end
end
if owner ~= '' then
  if ARGV[6] == '1' then
    redis.call('ZADD', owner, ARGV[7], id)
    live_as_long(owner, at)
  else
    redis.call('ZREM', owner, id)
  end
end
local issued = prefix .. 'callbacks:' .. id
live_as_long(issued, at)
for _, key_hash in ipairs(redis.call('SMEMBERS', issued)) do
  redis.call('PEXPIREAT', prefix .. 'callback:' .. key_hash, at)
end
-- The one it waits for, which a flow stored before the list was kept did not list.
if ARGV[11] ~= '' then redis.call('PEXPIREAT', prefix .. 'callback:' .. ARGV[11], at) end
return 1
"""
)

# ARGV: key prefix, old owner hash, new one, then the pipeline types served now
# (a session whose flows were stored before its types were listed has them
# listed nowhere). Moves each flow that is still there and still the old
# owner's, and merges each of the old owner's indexes into the new one's,
# which may have flows of its own: a set keeps the later of the two expiries.
_REBIND = """
local prefix, old, new = ARGV[1], ARGV[2], ARGV[3]
local function merge(from, to, sorted)
  local expiry = redis.call('PEXPIRETIME', from)
  if expiry == -2 then return end -- no such key: nothing to move
  local kept = redis.call('PEXPIRETIME', to)
  if sorted then
    redis.call('ZUNIONSTORE', to, 2, to, from, 'AGGREGATE', 'MAX')
  else
    redis.call('SUNIONSTORE', to, to, from)
  end
  redis.call('DEL', from)
  if kept > expiry then expiry = kept end
  if expiry > 0 then redis.call('PEXPIREAT', to, expiry) end
end
local listed = prefix .. 'pipelines:' .. old
local types = redis.call('SMEMBERS', listed)
for i = 4, #ARGV do types[#types + 1] = ARGV[i] end
local seen = {}
for _, pipeline in ipairs(types) do
  if not seen[pipeline] then
    seen[pipeline] = true
    local started = prefix .. 'session:' .. old .. ':' .. pipeline
    for _, id in ipairs(redis.call('ZRANGE', started, 0, -1)) do
      local flow = prefix .. 'flow:' .. id
      if redis.call('HGET', flow, 's') == old then redis.call('HSET', flow, 's', new) end
    end
    merge(started, prefix .. 'session:' .. new .. ':' .. pipeline, true)
  end
end
merge(prefix .. 'active:session:' .. old, prefix .. 'active:session:' .. new, true)
merge(listed, prefix .. 'pipelines:' .. new, false)
return 1
"""

# KEYS: flow, token index; ARGV: key prefix, flow id, pipeline type, user id ("" for
# none). Forgets the flow, its place in the indexes of the session stored with
# it, and the callback states it issued.
_DELETE = """
local prefix, id = ARGV[1], ARGV[2]
local session = redis.call('HGET', KEYS[1], 's') or ''
redis.call('DEL', KEYS[1], KEYS[2])
if session ~= '' then
  redis.call('ZREM', prefix .. 'session:' .. session .. ':' .. ARGV[3], id)
  if ARGV[4] == '' then redis.call('ZREM', prefix .. 'active:session:' .. session, id) end
end
if ARGV[4] ~= '' then redis.call('ZREM', prefix .. 'active:user:' .. ARGV[4], id) end
local issued = prefix .. 'callbacks:' .. id
for _, key_hash in ipairs(redis.call('SMEMBERS', issued)) do
  redis.call('DEL', prefix .. 'callback:' .. key_hash)
end
redis.call('DEL', issued)
return 1
"""

# KEYS: callback; ARGV: when (ms since the epoch, never 0). Spends it once.
_USE_CALLBACK = """
if redis.call('HGET', KEYS[1], 'used') == '0' then
  redis.call('HSET', KEYS[1], 'used', ARGV[1])
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
    def _delete(self) -> Any:
        return self.client.register_script(_DELETE)

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
        doc = _dump(state)
        created = self._create(
            keys=[
                self._flow(state.id),
                self._key("token", state.token_hash) if state.token_hash else none,
                self._session(state) or none,
                owner or none,
                self._key("pipelines", session) if session else none,
            ],
            args=[
                state.version,
                doc,
                session,
                self._expire_at(state),
                state.id,
                _ms(state.created_at),
                _ms(state.expires_at),
                "" if limit is None or not owner else limit,
                *("1" if flag else "0" for flag in (state.token_hash, session, active)),
                state.pipeline,
            ],
        )
        if created:
            state.snapshot = (state.version, doc)
        return bool(created)

    def load(self, flow_id: str) -> FlowState | None:
        if not is_flow_id(flow_id):
            return None
        version, doc, session_hash = self.client.hmget(self._flow(flow_id), ["v", "doc", "s"])
        if version is None or doc is None:
            return None
        state = _load(_text(doc), int(version), session_hash)
        state.snapshot = (int(version), _text(doc))
        return state

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
        from .registry import all_pipelines

        if not old_hash or old_hash == new_hash:
            return
        served = [pipeline_cls.pipeline_name for pipeline_cls in all_pipelines()]
        self._rebind(args=[self.prefix, old_hash, new_hash, *served])

    def count_active(self, *, user_id: int | None, session_hash: str, now: datetime) -> int:
        owner = f"user:{user_id}" if user_id is not None else f"session:{session_hash}"
        return int(self.client.zcount(self._key("active", owner), f"({_ms(now)}", "+inf"))

    def compare_and_set(self, state: FlowState, expected_version: int) -> bool:
        new_version = expected_version + 1
        doc = _dump(state, version=new_version)
        written = self._write(state, doc, expected_version, new_version)
        if written:
            state.version = new_version
        return written

    def restore(self, state: FlowState, claimed: int) -> bool:
        # The document read, as it was read: its version, its step, its
        # expiry, its indexes with it; `state` itself is left as it is.
        if state.snapshot is None:  # not read from here: the engine's account of it
            return super().restore(state, claimed)
        version, doc = state.snapshot
        return self._write(_load(doc, version, None), doc, claimed, version)

    def _write(self, state: FlowState, doc: str, expected_version: int, new_version: int) -> bool:
        """Write `doc` as `state` at `new_version` if the flow is at `expected_version`."""
        written = self._cas(
            keys=[
                self._flow(state.id),
                self._key("token", state.token_hash) if state.token_hash else self._key("none"),
            ],
            args=[
                expected_version,
                new_version,
                doc,
                self._expire_at(state),
                state.id,
                "1" if state.status == ACTIVE else "0",
                _ms(state.expires_at),
                self.prefix,
                state.pipeline,
                "" if state.user_id is None else state.user_id,
                state.callback_hash,
            ],
        )
        return bool(written)

    def delete(self, flow_id: str) -> None:
        state = self.load(flow_id)
        if state is None:
            return
        self._delete(
            keys=[
                self._flow(flow_id),
                self._key("token", state.token_hash) if state.token_hash else self._key("none"),
            ],
            args=[
                self.prefix,
                flow_id,
                state.pipeline,
                "" if state.user_id is None else state.user_id,
            ],
        )

    def register_callback(self, state: FlowState, key_hash: str, now: datetime) -> None:
        # It lives as long as its flow: every write of the flow moves it on.
        callback = self._key("callback", key_hash)
        issued = self._key("callbacks", state.id)
        expire_at = self._expire_at(state)
        with self.client.pipeline(transaction=True) as batch:
            batch.hset(callback, mapping={"flow": state.id, "used": "0"})
            batch.pexpireat(callback, expire_at)
            batch.sadd(issued, key_hash)
            batch.pexpireat(issued, expire_at, nx=True)
            batch.pexpireat(issued, expire_at, gt=True)
            batch.execute()

    def find_callback(self, key_hash: str) -> CallbackRecord | None:
        flow_id, used = self.client.hmget(self._key("callback", key_hash), ["flow", "used"])
        if flow_id is None:
            return None
        # "0" while unused; then when, in ms ("1" where an older release spent it).
        used_ms = int(_text(used)) if used is not None else 0
        used_at = datetime.fromtimestamp(used_ms / 1000, UTC) if used_ms else None
        return CallbackRecord(flow_id=_text(flow_id), used_at=used_at)

    def use_callback(self, key_hash: str, now: datetime) -> bool:
        return bool(self._use(keys=[self._key("callback", key_hash)], args=[max(_ms(now), 1)]))

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
            "final_path": state.final_path,
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
        final_path=raw.get("final_path"),  # (absent from flows an older release wrote)
        user_id=raw["user_id"],
        token_hash=raw["token_hash"],
        session_hash=_text(session_hash) if session_hash is not None else "",
        return_to=raw["return_to"],
        callback_hash=raw["callback_hash"],
    )
