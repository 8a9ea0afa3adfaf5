"""Room presence shared by every signaling process: roster, heartbeats, per-room event sequence, chat history.

Two stores with one interface:

- ``MemoryPresence``: a process-local dict, for the embedded default (one process, in-memory channel layer).
- ``RedisPresence``: Redis hashes/sorted sets, for many daphne processes on many machines. Every entry has a
  heartbeat score in ONE sorted set for all rooms, so finding the silent ones is a single range query however many
  rooms there are, and a process that died leaves entries that the janitor (any process's) removes.

The store is picked from ``LEVELCHAT["REDIS_URL"]``, or from the Redis channel layer's first host when unset.
Operations whose winner must be unique across processes (removing an entry) return whether this caller won,
so exactly one ``participant-left`` is sent per session.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string
from redis.exceptions import WatchError

from django_levelchat.conf import levelchat_settings
from django_levelchat.deploy import POOL_TIMEOUT, redis_connection_options
from django_levelchat.signaling import clock

Entry = dict[str, Any]

#: Seconds a removed session's tombstone lasts (``Presence.removal``). Only the session's own consumer needs it:
#: it looks at its next heartbeat flush after the removal (within ``PING_TIMEOUT / 3`` plus a sweep of its socket's
#: next frame; a silent socket is closed anyway) and closes itself with the reason the tombstone holds, so a close
#: message lost on the way cannot leave it restoring itself later; a resume needs the Participant row, which the
#: removal closes. Ten minutes also covers a process minutes behind, and bounds the tombstones at departures per
#: second × 600 (the presence TTL, 24 h, kept 86,400 of them at one departure a second: G16).
REMOVED_TTL = 600


@dataclass(frozen=True)
class AdmissionRequest:
    """What a fresh join asks of presence: checked and claimed in one atomic step."""

    identity: str
    pid: str
    issued_at: float  # the token's ``iat``: a removal at or after it refuses the token
    joinable: bool  # the room's status, from the database
    hidden: bool  # a hidden participant (recorder) counts toward no limit
    max_participants: int
    replace: bool  # REPLACE_DUPLICATE_IDENTITY: take the identity over from a live session


@dataclass(frozen=True)
class Admission:
    """``outcome``: ``ok`` (the identity is claimed for ``pid``), ``removed``, ``ended``, ``full`` or ``taken``
    (a live session holds the identity and replacing is off). ``previous`` held the claim before; ``stale`` are
    other sessions of the identity still listed (from before the claim existed); ``others`` counts the visible
    members of other identities."""

    outcome: str
    others: int = 0
    previous: str | None = None
    stale: tuple[str, ...] = ()


class Presence(Protocol):
    async def add(self, room: str, entry: Entry) -> None: ...
    async def get(self, room: str, pid: str) -> Entry | None: ...
    async def put(self, room: str, entry: Entry) -> bool: ...
    async def update_if(self, room: str, pid: str, expect: dict[str, Any], changes: dict[str, Any]) -> Entry | None: ...
    async def remove(
        self, room: str, pid: str, *, silent_before: float | None = None, close: str = "left"
    ) -> Entry | None:
        """Remove a session (once: the caller that gets the entry announces it). With ``silent_before``, only
        while it is still silent since before that time: a session heard after an expiry sweep listed it
        (resumed a moment ago) stays. Leaves a tombstone holding ``close`` (the close reason its socket gets) for
        ``REMOVED_TTL`` seconds."""
        ...

    async def removal(self, room: str, pid: str) -> str | None:
        """The close reason of a session removed in the last ``REMOVED_TTL`` seconds, else None."""
        ...

    async def roster(self, room: str) -> list[Entry]: ...
    async def touch(self, room: str, pid: str, now: float | None = None) -> bool: ...
    async def touch_many(
        self, beats: dict[tuple[str, str], float], mark: tuple[str, float] | None = None
    ) -> list[tuple[str, str]]: ...
    async def expired(self, now: float, timeout: float) -> list[tuple[str, str]]: ...
    async def present(self, sessions: list[tuple[str, str]]) -> list[bool]: ...
    async def occupied(self, room: str) -> bool: ...
    async def anyone(self) -> bool: ...
    async def next_seq(self, room: str) -> int: ...
    async def current_seq(self, room: str) -> int: ...
    async def push_chat(self, room: str, message: dict[str, Any], keep: int) -> None: ...
    async def chat(self, room: str) -> list[dict[str, Any]]: ...
    async def admit(self, room: str, request: AdmissionRequest) -> Admission: ...
    async def snapshot(
        self, room: str, *, reserve_seq: bool = False
    ) -> tuple[int, list[Entry], list[dict[str, Any]]]: ...
    async def snapshot_and_member(
        self, room: str, *, reserve_seq: bool = False, set_key: str | None = None
    ) -> tuple[tuple[int, list[Entry], list[dict[str, Any]]], bool | None]:
        """``snapshot``, and in the same step whether ``room`` is a member of the Redis set ``set_key``; None when
        it was not read (no key, or a store without Redis)."""
        ...

    async def revoke(self, room: str, identity: str, at: float) -> None: ...
    async def revoked_at(self, room: str, identity: str) -> float | None: ...
    async def set_speaker_state(self, room: str, pid: str, level: float, at: float) -> None: ...
    async def speaker_states(self, room: str) -> dict[str, tuple[float, float]]: ...
    async def report_level(
        self, room: str, pid: str, level: float, at: float
    ) -> tuple[dict[str, tuple[float, float]], str | None]: ...
    async def speaker_view(self, room: str) -> tuple[dict[str, tuple[float, float]], str | None]: ...
    async def speaking_rooms(self, since: float) -> list[str]: ...
    async def dominant(self, room: str) -> str | None: ...
    async def swap_dominant(self, room: str, pid: str | None) -> bool: ...
    async def forget_room(self, room: str) -> None: ...
    async def hold_lease(self, name: str, holder: str, now: float, ttl: float) -> bool: ...
    async def release_lease(self, name: str, holder: str) -> None: ...
    async def lease_held(self, name: str, now: float) -> bool: ...
    async def claim_identity(self, room: str, identity: str, pid: str, *, replace: bool) -> tuple[bool, str | None]: ...
    async def add_if_claimed(self, room: str, entry: Entry) -> bool: ...
    async def push_signal(self, room: str, pid: str, frame: dict[str, Any], keep: int, ttl: float) -> None: ...
    async def pop_signals(self, room: str, pid: str) -> list[dict[str, Any]]: ...


class _MemoryRoom:
    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        self.seq = 0
        self.chat: deque[dict[str, Any]] = deque()
        self.revoked: dict[str, float] = {}
        self.levels: dict[str, tuple[float, float]] = {}
        self.dominant: str | None = None
        self.removed: dict[str, tuple[float, str]] = {}  # pid -> (tombstone expires, close reason), oldest first
        self.identities: dict[str, str] = {}
        self.signals: dict[str, tuple[float, list[dict[str, Any]]]] = {}


class MemoryPresence:
    """Presence for one process. Coroutines never await inside an operation, so each one is atomic.

    Liveness is a dict of last-heard times plus a heap of them (stale heap items are skipped when popped), so a
    sweep costs O(expired + superseded heartbeats), not O(rooms).
    """

    def __init__(self) -> None:
        self._rooms: dict[str, _MemoryRoom] = {}
        self._seen: dict[tuple[str, str], float] = {}
        self._deadlines: list[tuple[float, str, str]] = []
        self._speaking: dict[str, float] = {}
        self._marks: dict[str, float] = {}

    def _room(self, room: str) -> _MemoryRoom:
        return self._rooms.setdefault(room, _MemoryRoom())

    def _beat(self, room: str, pid: str, at: float) -> None:
        self._seen[(room, pid)] = at
        heapq.heappush(self._deadlines, (at, room, pid))

    async def add(self, room: str, entry: Entry) -> None:
        self._room(room).entries[entry["id"]] = dict(entry)
        self._beat(room, entry["id"], clock.now())

    async def get(self, room: str, pid: str) -> Entry | None:
        entry = self._room(room).entries.get(pid)
        return dict(entry) if entry else None

    async def put(self, room: str, entry: Entry) -> bool:
        state = self._room(room)
        if entry["id"] not in state.entries:
            return False
        state.entries[entry["id"]] = dict(entry)
        return True

    async def update_if(self, room: str, pid: str, expect: dict[str, Any], changes: dict[str, Any]) -> Entry | None:
        entry = self._room(room).entries.get(pid)
        if entry is None or any(entry.get(k) != v for k, v in expect.items()):
            return None
        entry.update(changes)
        return dict(entry)

    async def remove(
        self, room: str, pid: str, *, silent_before: float | None = None, close: str = "left"
    ) -> Entry | None:
        if silent_before is not None and self._seen.get((room, pid), float("-inf")) >= silent_before:
            return None
        state = self._room(room)
        self._seen.pop((room, pid), None)
        state.levels.pop(pid, None)
        state.signals.pop(pid, None)
        entry = state.entries.pop(pid, None)
        if entry is not None:
            now = clock.now()
            while state.removed:  # every tombstone lasts as long: the oldest expire first
                oldest, (expires, _) = next(iter(state.removed.items()))
                if expires > now:
                    break
                del state.removed[oldest]
            state.removed.pop(pid, None)
            state.removed[pid] = (now + REMOVED_TTL, close)
            if state.identities.get(entry["identity"]) == pid:
                del state.identities[entry["identity"]]
        return entry

    async def removal(self, room: str, pid: str) -> str | None:
        state = self._rooms.get(room)
        expires, close = state.removed.get(pid, (0.0, "")) if state else (0.0, "")
        return close if expires > clock.now() else None

    async def roster(self, room: str) -> list[Entry]:
        return [dict(e) for e in self._room(room).entries.values()]

    async def touch(self, room: str, pid: str, now: float | None = None) -> bool:
        if pid not in self._room(room).entries:
            return False
        self._beat(room, pid, clock.now() if now is None else now)
        return True

    async def touch_many(
        self, beats: dict[tuple[str, str], float], mark: tuple[str, float] | None = None
    ) -> list[tuple[str, str]]:
        if mark is not None:
            self._marks[mark[0]] = mark[1]
        return [key for key, at in beats.items() if not await self.touch(key[0], key[1], at)]

    async def expired(self, now: float, timeout: float) -> list[tuple[str, str]]:
        found, behind = [], []
        heap = self._deadlines
        while heap and heap[0][0] < now - timeout:
            at, room, pid = heapq.heappop(heap)
            if self._seen.get((room, pid)) != at:
                continue  # superseded by a later heartbeat, or removed
            owner = self._room(room).entries.get(pid, {}).get("owner")
            if overdue(at, self._marks.get(owner) if owner else None, now, timeout):
                found.append((room, pid))
            else:
                behind.append((at, room, pid))
        for item in behind:  # looked at again by the next sweep
            heapq.heappush(heap, item)
        return found

    async def present(self, sessions: list[tuple[str, str]]) -> list[bool]:
        return [key in self._seen for key in sessions]

    async def occupied(self, room: str) -> bool:
        return bool(room in self._rooms and self._rooms[room].entries)

    async def anyone(self) -> bool:
        return bool(self._seen)

    async def next_seq(self, room: str) -> int:
        state = self._room(room)
        state.seq += 1
        return state.seq

    async def current_seq(self, room: str) -> int:
        return self._room(room).seq

    async def push_chat(self, room: str, message: dict[str, Any], keep: int) -> None:
        history = self._room(room).chat
        history.append(message)
        while len(history) > keep:
            history.popleft()

    async def chat(self, room: str) -> list[dict[str, Any]]:
        return list(self._room(room).chat)

    async def admit(self, room: str, request: AdmissionRequest) -> Admission:
        state = self._room(room)
        revoked = state.revoked.get(request.identity)
        if revoked is not None and request.issued_at <= revoked:
            return Admission("removed")
        if not request.joinable:
            return Admission("ended")
        mine = [e for e in state.entries.values() if e["identity"] == request.identity]
        others = sum(1 for e in state.entries.values() if e["identity"] != request.identity and not e.get("hidden"))
        if not request.hidden and others >= request.max_participants:
            return Admission("full", others)
        claimed, previous = await self.claim_identity(room, request.identity, request.pid, replace=request.replace)
        if not claimed:
            return Admission("taken", others, previous)
        return Admission("ok", others, previous, tuple(e["id"] for e in mine))

    async def snapshot(self, room: str, *, reserve_seq: bool = False) -> tuple[int, list[Entry], list[dict[str, Any]]]:
        seq = await self.next_seq(room) if reserve_seq else await self.current_seq(room)
        return seq, await self.roster(room), await self.chat(room)

    async def snapshot_and_member(
        self, room: str, *, reserve_seq: bool = False, set_key: str | None = None
    ) -> tuple[tuple[int, list[Entry], list[dict[str, Any]]], bool | None]:
        return await self.snapshot(room, reserve_seq=reserve_seq), None

    async def revoke(self, room: str, identity: str, at: float) -> None:
        self._room(room).revoked[identity] = at

    async def revoked_at(self, room: str, identity: str) -> float | None:
        return self._room(room).revoked.get(identity)

    async def set_speaker_state(self, room: str, pid: str, level: float, at: float) -> None:
        self._room(room).levels[pid] = (level, at)
        self._speaking[room] = max(at, self._speaking.get(room, at))

    async def speaker_states(self, room: str) -> dict[str, tuple[float, float]]:
        return dict(self._room(room).levels)

    async def report_level(
        self, room: str, pid: str, level: float, at: float
    ) -> tuple[dict[str, tuple[float, float]], str | None]:
        await self.set_speaker_state(room, pid, level, at)
        return await self.speaker_view(room)

    async def speaker_view(self, room: str) -> tuple[dict[str, tuple[float, float]], str | None]:
        return dict(self._room(room).levels), self._room(room).dominant

    async def speaking_rooms(self, since: float) -> list[str]:
        for room in [r for r, at in self._speaking.items() if at < since]:
            del self._speaking[room]
        return list(self._speaking)

    async def dominant(self, room: str) -> str | None:
        return self._room(room).dominant

    async def swap_dominant(self, room: str, pid: str | None) -> bool:
        state = self._room(room)
        previous, state.dominant = state.dominant, pid
        return previous != pid

    async def forget_room(self, room: str) -> None:
        state = self._rooms.pop(room, None)
        if state is not None:
            for pid in state.entries:
                self._seen.pop((room, pid), None)
        self._speaking.pop(room, None)

    async def claim_identity(self, room: str, identity: str, pid: str, *, replace: bool) -> tuple[bool, str | None]:
        """Make ``pid`` the one session of ``identity``; returns (claimed, previous holder)."""
        state = self._room(room)
        previous = state.identities.get(identity)
        if previous is not None and not replace and previous in state.entries:
            return False, previous
        state.identities[identity] = pid
        return True, previous

    async def add_if_claimed(self, room: str, entry: Entry) -> bool:
        """Add the entry only while its session still holds the identity claim (else a newer join won)."""
        if self._room(room).identities.get(entry["identity"]) != entry["id"]:
            return False
        await self.add(room, entry)
        return True

    async def push_signal(self, room: str, pid: str, frame: dict[str, Any], keep: int, ttl: float) -> None:
        state = self._room(room)
        now = clock.now()
        expires, queue = state.signals.get(pid, (0.0, []))
        if expires < now:
            queue = []
        state.signals[pid] = (now + ttl, [*queue, frame][-keep:])

    async def pop_signals(self, room: str, pid: str) -> list[dict[str, Any]]:
        expires, queue = self._room(room).signals.pop(pid, (0.0, []))
        return queue if expires >= clock.now() else []

    async def hold_lease(self, name: str, holder: str, now: float, ttl: float) -> bool:
        return True  # one process: its janitor is the only one

    async def release_lease(self, name: str, holder: str) -> None:
        return None

    async def lease_held(self, name: str, now: float) -> bool:
        return False


# The identity claim: HSET identity -> pid unless (no replace) a live session holds it. Returns {claimed, previous}.
_CLAIM = """
local previous = redis.call('HGET', KEYS[1], ARGV[1])
if previous and ARGV[3] == '0' and redis.call('HEXISTS', KEYS[2], previous) == 1 then return {0, previous} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {1, previous or ''}
"""
# A fresh join's admission (issue 16: one round trip where there were three). KEYS = revoked, roster, identities;
# ARGV = identity, pid, issued_at, joinable, hidden, max_participants, replace, ttl. Checks in the order the
# consumer reports them (removed, ended, full), then the identity claim as _CLAIM makes it.
_ADMIT = """
local revoked = redis.call('HGET', KEYS[1], ARGV[1])
if revoked and tonumber(ARGV[3]) <= tonumber(revoked) then return {'removed', 0} end
if ARGV[4] ~= '1' then return {'ended', 0} end
local others, mine = 0, {}
for _, raw in ipairs(redis.call('HVALS', KEYS[2])) do
  local ok, entry = pcall(cjson.decode, raw)
  if ok and type(entry) == 'table' then
    if entry['identity'] == ARGV[1] then mine[#mine + 1] = entry['id']
    elseif entry['hidden'] ~= true then others = others + 1 end
  end
end
if ARGV[5] ~= '1' and others >= tonumber(ARGV[6]) then return {'full', others} end
local previous = redis.call('HGET', KEYS[3], ARGV[1])
if previous and ARGV[7] == '0' and redis.call('HEXISTS', KEYS[2], previous) == 1 then
  return {'taken', others, previous}
end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[3], ARGV[8])
return {'ok', others, previous or '', unpack(mine)}
"""
# Add a roster entry only while its session holds the identity claim (one atomic step: never two entries).
_ADD_IF_CLAIMED = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[6])
return 1
"""
# Remove an entry, leave a tombstone (ARGV[5], the close reason, for ARGV[2] seconds), drop held signals, and
# release the identity claim if this session held it.
_REMOVE = """
if ARGV[4] ~= '' then
  local seen = redis.call('ZSCORE', KEYS[2], ARGV[3])
  if seen and tonumber(seen) >= tonumber(ARGV[4]) then return false end
end
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local deleted = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[3])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('SET', KEYS[4], ARGV[5], 'EX', ARGV[2])
redis.call('DEL', KEYS[6])
if raw then
  local ok, entry = pcall(cjson.decode, raw)
  if ok and type(entry) == 'table' and entry['identity'] and redis.call('HGET', KEYS[5], entry['identity']) == ARGV[1] then
    redis.call('HDEL', KEYS[5], entry['identity'])
  end
end
if deleted == 1 then return raw end
return false
"""
# HSET/ZADD only for an entry that still exists: a removal by another process must win over a late update.
_PUT_IF_PRESENT = "if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1 end return 0"
_TOUCH_IF_PRESENT = "if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3]) return 1 end return 0"
# A batch of heartbeats and the process's progress mark: KEYS = [seen, marks, roster...]; ARGV = process, its
# progress ('' for none), marks older than this are dropped, then (roster key index, pid, time, seen member) per beat.
# Returns the 1-based numbers of the beats whose entry is gone (never re-created here: the owner decides).
_TOUCH_MANY = """
if ARGV[2] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[3])
end
local missing = {}
local n = 0
for i = 4, #ARGV, 4 do
  n = n + 1
  if redis.call('HEXISTS', KEYS[tonumber(ARGV[i])], ARGV[i + 1]) == 1 then
    redis.call('ZADD', KEYS[1], ARGV[i + 2], ARGV[i + 3])
  else
    missing[#missing + 1] = n
  end
end
return missing
"""
# The janitor lease, valued "holder expires" in the shared clock's seconds: taken when free, expired or ours.
_HOLD_LEASE = """
local v = redis.call('GET', KEYS[1])
if v then
  local sep = string.find(v, ' ', 1, true)
  if string.sub(v, 1, sep - 1) ~= ARGV[1] and tonumber(string.sub(v, sep + 1)) > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[3], 'PX', ARGV[4])
return 1
"""
_RELEASE_LEASE = """
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. ' ' then redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisPresence:
    """Presence in Redis. Keys: ``{prefix}:{room}:roster`` (hash pid→JSON), ``:seq``, ``:chat`` (list),
    ``:revoked`` (hash), ``:levels`` (hash), ``:dominant``, ``:removed:{pid}`` (tombstone holding the close
    reason, for ``REMOVED_TTL``: a session removed by one process is closed, not restored, by its own),
    ``:identities`` (hash identity→pid: the claim that makes one session per identity atomic), ``:signals:{pid}``
    (signals held for a reconnecting participant); across rooms ``{prefix}:seen`` (zset "room pid"→last heard, the
    liveness index), ``{prefix}:speaking`` (zset room→last audio level) and ``{prefix}:lease:{name}``.

    A client is made per event loop (redis-py connections belong to the loop that opened them).
    """

    def __init__(self, url: str, *, prefix: str = "levelchat", max_connections: int = 200) -> None:
        self.url = url
        self.prefix = prefix
        self.max_connections = max_connections
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
        self.ttl = 24 * 3600

    @property
    def redis(self) -> Any:
        import redis.asyncio as aioredis

        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            options = redis_connection_options(max_connections=self.max_connections)
            pool = aioredis.BlockingConnectionPool.from_url(
                self.url, timeout=POOL_TIMEOUT, decode_responses=True, **options
            )
            client = aioredis.Redis(connection_pool=pool)
            self._clients[loop] = client
        return client

    def _k(self, room: str, part: str) -> str:
        return f"{self.prefix}:{room}:{part}"

    @property
    def _seen(self) -> str:
        return f"{self.prefix}:seen"

    @property
    def _marks(self) -> str:
        return f"{self.prefix}:marks"

    @property
    def _speaking(self) -> str:
        return f"{self.prefix}:speaking"

    async def add(self, room: str, entry: Entry) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._k(room, "roster"), entry["id"], json.dumps(entry))
            pipe.expire(self._k(room, "roster"), self.ttl)
            pipe.zadd(self._seen, {_member(room, entry["id"]): clock.now()})
            await pipe.execute()

    async def get(self, room: str, pid: str) -> Entry | None:
        raw = await self.redis.hget(self._k(room, "roster"), pid)
        return json.loads(raw) if raw else None

    async def put(self, room: str, entry: Entry) -> bool:
        return bool(await self.redis.eval(_PUT_IF_PRESENT, 1, self._k(room, "roster"), entry["id"], json.dumps(entry)))

    async def update_if(self, room: str, pid: str, expect: dict[str, Any], changes: dict[str, Any]) -> Entry | None:
        """Change an entry only while it still matches ``expect`` (optimistic WATCH/MULTI, retried on conflict):
        a consumer whose socket dropped must not overwrite the entry its own resumed session already took over."""
        key = self._k(room, "roster")
        async with self.redis.pipeline(transaction=True) as pipe:
            for _ in range(20):
                try:
                    await pipe.watch(key)
                    raw = await pipe.hget(key, pid)
                    entry = json.loads(raw) if raw else None
                    if entry is None or any(entry.get(k) != v for k, v in expect.items()):
                        await pipe.reset()
                        return None
                    entry.update(changes)
                    pipe.multi()
                    pipe.hset(key, pid, json.dumps(entry))
                    await pipe.execute()
                    return entry
                except WatchError:
                    continue
        return None

    async def remove(
        self, room: str, pid: str, *, silent_before: float | None = None, close: str = "left"
    ) -> Entry | None:
        keys = [
            self._k(room, "roster"),
            self._seen,
            self._k(room, "levels"),
            self._k(room, f"removed:{pid}"),
            self._k(room, "identities"),
            self._k(room, f"signals:{pid}"),
        ]
        cutoff = "" if silent_before is None else repr(silent_before)
        args = [pid, REMOVED_TTL, _member(room, pid), cutoff, close]
        raw = await self.redis.eval(_REMOVE, len(keys), *keys, *args)
        return json.loads(raw) if raw else None

    async def removal(self, room: str, pid: str) -> str | None:
        return await self.redis.get(self._k(room, f"removed:{pid}")) or None

    async def roster(self, room: str) -> list[Entry]:
        raw = await self.redis.hgetall(self._k(room, "roster"))
        return [json.loads(v) for v in raw.values()]

    async def touch(self, room: str, pid: str, now: float | None = None) -> bool:
        ts = clock.now() if now is None else now
        script, keys = _TOUCH_IF_PRESENT, (self._k(room, "roster"), self._seen)
        return bool(await self.redis.eval(script, 2, *keys, pid, ts, _member(room, pid)))

    async def touch_many(
        self, beats: dict[tuple[str, str], float], mark: tuple[str, float] | None = None
    ) -> list[tuple[str, str]]:
        """Heartbeats of many sessions, and the progress ``mark`` (process, time) of theirs, in one round trip;
        returns the sessions whose entry is gone."""
        if not beats and mark is None:
            return []
        keys: dict[str, int] = {}
        args: list[Any] = [mark[0], mark[1], mark[1] - MARK_KEEP] if mark else ["", "", ""]
        for (room, pid), at in beats.items():
            index = keys.setdefault(self._k(room, "roster"), len(keys) + 3)
            args += [index, pid, at, _member(room, pid)]
        missing = await self.redis.eval(_TOUCH_MANY, len(keys) + 2, self._seen, self._marks, *keys, *args)
        order = list(beats)
        return [order[int(n) - 1] for n in missing]

    async def expired(self, now: float, timeout: float) -> list[tuple[str, str]]:
        """See ``overdue``: one range query when no session is silent, one pipeline more (their entries, then the
        progress marks of their owners) when some are."""
        found = await self.redis.zrangebyscore(
            self._seen, "-inf", f"({now - timeout}", start=0, num=EXPIRED_BATCH, withscores=True
        )
        if not found:
            return []
        sessions = [(*_split_member(member), float(beat)) for member, beat in found]
        async with self.redis.pipeline(transaction=False) as pipe:
            for room, pid, _ in sessions:
                pipe.hget(self._k(room, "roster"), pid)
            entries = await pipe.execute()
        owners = [_owner(raw) for raw in entries]
        known = sorted({o for o in owners if o})
        marks = dict(zip(known, await self.redis.zmscore(self._marks, known), strict=True)) if known else {}
        return [
            (room, pid)
            for (room, pid, beat), owner in zip(sessions, owners, strict=True)
            if overdue(beat, marks.get(owner) if owner else None, now, timeout)
        ]

    async def present(self, sessions: list[tuple[str, str]]) -> list[bool]:
        if not sessions:
            return []
        scores = await self.redis.zmscore(self._seen, [_member(room, pid) for room, pid in sessions])
        return [score is not None for score in scores]

    async def occupied(self, room: str) -> bool:
        return bool(await self.redis.hlen(self._k(room, "roster")))

    async def anyone(self) -> bool:
        return bool(await self.redis.zcard(self._seen))

    async def next_seq(self, room: str) -> int:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(self._k(room, "seq"))
            pipe.expire(self._k(room, "seq"), self.ttl)
            seq, _ = await pipe.execute()
        return int(seq)

    async def current_seq(self, room: str) -> int:
        return int(await self.redis.get(self._k(room, "seq")) or 0)

    async def push_chat(self, room: str, message: dict[str, Any], keep: int) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(self._k(room, "chat"), json.dumps(message))
            pipe.ltrim(self._k(room, "chat"), -keep, -1)
            pipe.expire(self._k(room, "chat"), self.ttl)
            await pipe.execute()

    async def chat(self, room: str) -> list[dict[str, Any]]:
        return [json.loads(m) for m in await self.redis.lrange(self._k(room, "chat"), 0, -1)]

    async def admit(self, room: str, request: AdmissionRequest) -> Admission:
        """Revocation, room state, room size and the identity claim of a join, atomically, in one round trip;
        the roster is read inside Redis, not shipped to this process."""
        keys = [self._k(room, "revoked"), self._k(room, "roster"), self._k(room, "identities")]
        flags = ("1" if request.joinable else "0", "1" if request.hidden else "0")
        args = [request.identity, request.pid, request.issued_at, *flags, request.max_participants]
        outcome, others, *rest = await self.redis.eval(
            _ADMIT, len(keys), *keys, *args, "1" if request.replace else "0", self.ttl
        )
        previous = (rest[0] or None) if rest else None
        return Admission(outcome, int(others), previous, tuple(rest[1:]))

    async def snapshot(self, room: str, *, reserve_seq: bool = False) -> tuple[int, list[Entry], list[dict[str, Any]]]:
        """``seq``, roster and chat history as of one instant (MULTI), in one round trip: what ``welcome`` needs.

        ``reserve_seq`` takes the next seq in the same step, for an event the caller sends about itself (a join's
        ``participant-joined``): the snapshot is the state as of that event."""
        return (await self.snapshot_and_member(room, reserve_seq=reserve_seq))[0]

    async def snapshot_and_member(
        self, room: str, *, reserve_seq: bool = False, set_key: str | None = None
    ) -> tuple[tuple[int, list[Entry], list[dict[str, Any]]], bool | None]:
        """``snapshot``, plus ``SISMEMBER set_key room`` in the same ``MULTI`` (a join reads whether its meeting
        moved to the SFU there: one round trip less)."""
        seq_key = self._k(room, "seq")
        async with self.redis.pipeline(transaction=True) as pipe:
            if reserve_seq:
                pipe.incr(seq_key)
                pipe.expire(seq_key, self.ttl)
            else:
                pipe.get(seq_key)
            pipe.hgetall(self._k(room, "roster"))
            pipe.lrange(self._k(room, "chat"), 0, -1)
            if set_key is not None:
                pipe.sismember(set_key, room)
            results = await pipe.execute()
        member = bool(results.pop()) if set_key is not None else None
        seq, *_, roster, chat = results
        return (int(seq or 0), [json.loads(v) for v in roster.values()], [json.loads(m) for m in chat]), member

    async def revoke(self, room: str, identity: str, at: float) -> None:
        await self.redis.hset(self._k(room, "revoked"), identity, at)
        await self.redis.expire(self._k(room, "revoked"), self.ttl)

    async def revoked_at(self, room: str, identity: str) -> float | None:
        raw = await self.redis.hget(self._k(room, "revoked"), identity)
        return float(raw) if raw is not None else None

    async def set_speaker_state(self, room: str, pid: str, level: float, at: float) -> None:
        await self.report_level(room, pid, level, at)

    async def speaker_states(self, room: str) -> dict[str, tuple[float, float]]:
        return _levels(await self.redis.hgetall(self._k(room, "levels")))

    async def report_level(
        self, room: str, pid: str, level: float, at: float
    ) -> tuple[dict[str, tuple[float, float]], str | None]:
        """Record one level, mark the room as speaking, and read what the decision needs: one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(self._k(room, "levels"), pid, f"{level:.4f},{at:.3f}")
            pipe.expire(self._k(room, "levels"), self.ttl)
            pipe.zadd(self._speaking, {room: at})
            pipe.hgetall(self._k(room, "levels"))
            pipe.get(self._k(room, "dominant"))
            *_, levels, dominant = await pipe.execute()
        return _levels(levels), dominant or None

    async def speaker_view(self, room: str) -> tuple[dict[str, tuple[float, float]], str | None]:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._k(room, "levels"))
            pipe.get(self._k(room, "dominant"))
            levels, dominant = await pipe.execute()
        return _levels(levels), dominant or None

    async def speaking_rooms(self, since: float) -> list[str]:
        """Rooms with a level reported at or after ``since``; older ones are dropped from the index."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(self._speaking, "-inf", f"({since}")
            pipe.zrange(self._speaking, 0, -1)
            _, rooms = await pipe.execute()
        return list(rooms)

    async def dominant(self, room: str) -> str | None:
        return (await self.redis.get(self._k(room, "dominant"))) or None

    async def swap_dominant(self, room: str, pid: str | None) -> bool:
        """Set the dominant speaker; True only for the caller that changed it (GETSET is atomic)."""
        previous = await self.redis.getset(self._k(room, "dominant"), pid or "")
        return (previous or None) != pid

    async def forget_room(self, room: str) -> None:
        """Drop the room's state; every session still listed is tombstoned so that no consumer restores it."""
        pids = await self.redis.hkeys(self._k(room, "roster"))
        parts = ("roster", "seq", "chat", "revoked", "levels", "dominant", "identities")
        async with self.redis.pipeline(transaction=True) as pipe:
            if pids:
                pipe.zrem(self._seen, *(_member(room, pid) for pid in pids))
                for pid in pids:
                    pipe.set(self._k(room, f"removed:{pid}"), "room_ended", ex=REMOVED_TTL)
            pipe.zrem(self._speaking, room)
            pipe.delete(*(self._k(room, p) for p in parts))
            await pipe.execute()

    def _lease(self, name: str) -> str:
        return f"{self.prefix}:lease:{name}"

    async def hold_lease(self, name: str, holder: str, now: float, ttl: float) -> bool:
        """Take or renew the lease ``name`` for ``ttl`` seconds; False while another holder's is still valid.

        Expiry is judged in ``clock.now()`` time like every heartbeat; Redis's own expiry only garbage-collects."""
        keep_ms = int(max(60.0, 10 * ttl) * 1000)
        return bool(await self.redis.eval(_HOLD_LEASE, 1, self._lease(name), holder, now, now + ttl, keep_ms))

    async def release_lease(self, name: str, holder: str) -> None:
        await self.redis.eval(_RELEASE_LEASE, 1, self._lease(name), holder)

    async def lease_held(self, name: str, now: float) -> bool:
        value = await self.redis.get(self._lease(name))
        return bool(value) and float(value.rpartition(" ")[2]) > now

    async def claim_identity(self, room: str, identity: str, pid: str, *, replace: bool) -> tuple[bool, str | None]:
        """Make ``pid`` the one session of ``identity`` (atomic across processes); (claimed, previous holder)."""
        keys = [self._k(room, "identities"), self._k(room, "roster")]
        claimed, previous = await self.redis.eval(_CLAIM, 2, *keys, identity, pid, "1" if replace else "0", self.ttl)
        return bool(claimed), previous or None

    async def add_if_claimed(self, room: str, entry: Entry) -> bool:
        keys = [self._k(room, "identities"), self._k(room, "roster"), self._seen]
        args = [entry["identity"], entry["id"], json.dumps(entry), clock.now(), self.ttl, _member(room, entry["id"])]
        return bool(await self.redis.eval(_ADD_IF_CLAIMED, len(keys), *keys, *args))

    async def push_signal(self, room: str, pid: str, frame: dict[str, Any], keep: int, ttl: float) -> None:
        key = self._k(room, f"signals:{pid}")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, json.dumps(frame))
            pipe.ltrim(key, -keep, -1)
            pipe.pexpire(key, max(1, int(ttl * 1000)))
            await pipe.execute()

    async def pop_signals(self, room: str, pid: str) -> list[dict[str, Any]]:
        key = self._k(room, f"signals:{pid}")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lrange(key, 0, -1)
            pipe.delete(key)
            raw, _ = await pipe.execute()
        return [json.loads(item) for item in raw]


EXPIRED_BATCH = 1000  # silent sessions handed to one sweep at most; the next sweep takes the rest
MARK_KEEP = 3600.0  # seconds a process's progress mark outlives its last write (a process long gone is forgotten)
#: A dead process's sessions stay resumable this many timeouts after its last progress mark (see ``overdue``).
CRASH_WINDOW = 1.5


def overdue(beat: float, progress: float | None, now: float, timeout: float) -> bool:
    """Whether a session last heard at ``beat`` (more than ``timeout`` ago) is gone.

    Judged on its own process's time when that process is alive: ``progress`` is the time up to which the process
    has handled every frame its sockets sent (``liveness``). A process whose event loop is seconds behind has not
    read its sockets' pings yet; timing its sessions out by the clock alone closed live sockets under a join storm
    (525 of 5,000 in one run). So a session of a live process goes once the process got a ``timeout`` past the last
    beat without hearing it.

    A process that made no progress for a ``timeout`` is gone (killed, crashed), and every client it had is
    reconnecting at once, a storm the other processes take seconds to serve: its sessions stay resumable for
    ``CRASH_WINDOW`` timeouts after its last mark (18 s at the defaults; 12 s lost 8 of 1,000 sessions of a storm
    that lasted 12.8 s at load 12), still well inside the 30 s in which a ghost must leave (RELIABILITY.md R06).
    With no mark at all (an entry without an owner, or a process forgotten after ``MARK_KEEP``) it goes now."""
    if progress is None:
        return True
    if progress >= now - timeout:
        return progress - beat >= timeout
    return now - max(beat, progress) >= CRASH_WINDOW * timeout


def _owner(raw: str | None) -> str | None:
    """The process that owns a stored entry (``liveness.PROCESS`` of its socket's process), if any."""
    if not raw:
        return None
    owner = json.loads(raw).get("owner")
    return owner if isinstance(owner, str) else None


def _member(room: str, pid: str) -> str:
    """A session in the cross-room liveness index (participant ids never contain a space)."""
    return f"{room} {pid}"


def _split_member(member: str) -> tuple[str, str]:
    room, _, pid = member.rpartition(" ")
    return room, pid


def _levels(raw: dict[str, str]) -> dict[str, tuple[float, float]]:
    states = {}
    for pid, value in raw.items():
        level, _, at = value.partition(",")
        states[pid] = (float(level), float(at))
    return states


def redis_url() -> str | None:
    """LEVELCHAT["REDIS_URL"], else the first host of a channels_redis default layer (its class or a subclass,
    such as ``django_levelchat.layers.RedisChannelLayer``), else None."""
    if levelchat_settings.REDIS_URL:
        return str(levelchat_settings.REDIS_URL)
    layer = getattr(settings, "CHANNEL_LAYERS", {}).get("default", {})
    if not _is_redis_layer(str(layer.get("BACKEND", ""))):
        return None
    hosts = layer.get("CONFIG", {}).get("hosts") or ["redis://127.0.0.1:6379"]
    host = hosts[0]
    if isinstance(host, dict):
        host = host.get("address", "redis://127.0.0.1:6379")
    if isinstance(host, list | tuple):
        host = f"redis://{host[0]}:{host[1]}"
    return str(host)


def _is_redis_layer(backend: str) -> bool:
    from channels_redis.core import RedisChannelLayer

    try:
        cls = import_string(backend)
    except ImportError:
        return False
    return isinstance(cls, type) and issubclass(cls, RedisChannelLayer)


_store: Presence | None = None


def get_presence() -> Presence:
    """The process's presence store for the current settings (looked up once: it is on every hot path)."""
    global _store
    if _store is None:
        url = redis_url()
        _store = RedisPresence(url, prefix=str(levelchat_settings.REDIS_PREFIX)) if url else MemoryPresence()
    return _store


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    global _store
    if setting in ("LEVELCHAT", "CHANNEL_LAYERS"):
        _store = None


setting_changed.connect(_settings_changed)
