"""Room presence shared by every signaling process: roster, heartbeats, per-room event sequence, chat history.

Two stores with one interface:

- ``MemoryPresence``: a process-local dict, for the embedded default (one process, in-memory channel layer).
- ``RedisPresence``: Redis hashes/sorted sets, for many daphne processes on many machines. Every entry has a
  heartbeat score, so a process that died leaves entries that any other process's sweep removes.

The store is picked from ``LEVELCHAT["REDIS_URL"]``, or from the Redis channel layer's first host when unset.
Operations whose winner must be unique across processes (removing an entry) return whether this caller won,
so exactly one ``participant-left`` is sent per session.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections import deque
from typing import Any, Protocol

from django.conf import settings
from redis.exceptions import WatchError

from django_levelchat.conf import levelchat_settings
from django_levelchat.deploy import redis_connection_options
from django_levelchat.signaling import clock

Entry = dict[str, Any]


class Presence(Protocol):
    async def add(self, room: str, entry: Entry) -> None: ...
    async def get(self, room: str, pid: str) -> Entry | None: ...
    async def put(self, room: str, entry: Entry) -> bool: ...
    async def update_if(self, room: str, pid: str, expect: dict[str, Any], changes: dict[str, Any]) -> Entry | None: ...
    async def remove(self, room: str, pid: str) -> Entry | None: ...
    async def was_removed(self, room: str, pid: str) -> bool: ...
    async def roster(self, room: str) -> list[Entry]: ...
    async def touch(self, room: str, pid: str, now: float | None = None) -> bool: ...
    async def stale(self, room: str, older_than: float) -> list[str]: ...
    async def rooms(self) -> list[str]: ...
    async def next_seq(self, room: str) -> int: ...
    async def current_seq(self, room: str) -> int: ...
    async def push_chat(self, room: str, message: dict[str, Any], keep: int) -> None: ...
    async def chat(self, room: str) -> list[dict[str, Any]]: ...
    async def revoke(self, room: str, identity: str, at: float) -> None: ...
    async def revoked_at(self, room: str, identity: str) -> float | None: ...
    async def set_speaker_state(self, room: str, pid: str, level: float, at: float) -> None: ...
    async def speaker_states(self, room: str) -> dict[str, tuple[float, float]]: ...
    async def dominant(self, room: str) -> str | None: ...
    async def swap_dominant(self, room: str, pid: str | None) -> bool: ...
    async def forget_room(self, room: str) -> None: ...
    async def claim_identity(self, room: str, identity: str, pid: str, *, replace: bool) -> tuple[bool, str | None]: ...
    async def add_if_claimed(self, room: str, entry: Entry) -> bool: ...
    async def push_signal(self, room: str, pid: str, frame: dict[str, Any], keep: int, ttl: float) -> None: ...
    async def pop_signals(self, room: str, pid: str) -> list[dict[str, Any]]: ...


class _MemoryRoom:
    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        self.seen: dict[str, float] = {}
        self.seq = 0
        self.chat: deque[dict[str, Any]] = deque()
        self.revoked: dict[str, float] = {}
        self.levels: dict[str, tuple[float, float]] = {}
        self.dominant: str | None = None
        self.removed: set[str] = set()
        self.identities: dict[str, str] = {}
        self.signals: dict[str, tuple[float, list[dict[str, Any]]]] = {}


class MemoryPresence:
    """Presence for one process. Coroutines never await inside an operation, so each one is atomic."""

    def __init__(self) -> None:
        self._rooms: dict[str, _MemoryRoom] = {}

    def _room(self, room: str) -> _MemoryRoom:
        return self._rooms.setdefault(room, _MemoryRoom())

    async def add(self, room: str, entry: Entry) -> None:
        state = self._room(room)
        state.entries[entry["id"]] = dict(entry)
        state.seen[entry["id"]] = clock.now()

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

    async def remove(self, room: str, pid: str) -> Entry | None:
        state = self._room(room)
        state.seen.pop(pid, None)
        state.levels.pop(pid, None)
        state.signals.pop(pid, None)
        entry = state.entries.pop(pid, None)
        if entry is not None:
            state.removed.add(pid)
            if state.identities.get(entry["identity"]) == pid:
                del state.identities[entry["identity"]]
        return entry

    async def was_removed(self, room: str, pid: str) -> bool:
        return pid in self._room(room).removed

    async def roster(self, room: str) -> list[Entry]:
        return [dict(e) for e in self._room(room).entries.values()]

    async def touch(self, room: str, pid: str, now: float | None = None) -> bool:
        state = self._room(room)
        if pid not in state.entries:
            return False
        state.seen[pid] = clock.now() if now is None else now
        return True

    async def stale(self, room: str, older_than: float) -> list[str]:
        return [pid for pid, ts in self._room(room).seen.items() if ts < older_than]

    async def rooms(self) -> list[str]:
        return [r for r, s in self._rooms.items() if s.entries]

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

    async def revoke(self, room: str, identity: str, at: float) -> None:
        self._room(room).revoked[identity] = at

    async def revoked_at(self, room: str, identity: str) -> float | None:
        return self._room(room).revoked.get(identity)

    async def set_speaker_state(self, room: str, pid: str, level: float, at: float) -> None:
        self._room(room).levels[pid] = (level, at)

    async def speaker_states(self, room: str) -> dict[str, tuple[float, float]]:
        return dict(self._room(room).levels)

    async def dominant(self, room: str) -> str | None:
        return self._room(room).dominant

    async def swap_dominant(self, room: str, pid: str | None) -> bool:
        state = self._room(room)
        previous, state.dominant = state.dominant, pid
        return previous != pid

    async def forget_room(self, room: str) -> None:
        self._rooms.pop(room, None)

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
        queue = [*queue, frame][-keep:]
        state.signals[pid] = (now + ttl, queue)

    async def pop_signals(self, room: str, pid: str) -> list[dict[str, Any]]:
        expires, queue = self._room(room).signals.pop(pid, (0.0, []))
        return queue if expires >= clock.now() else []


# The identity claim: HSET identity -> pid unless (no replace) a live session holds it. Returns {claimed, previous}.
_CLAIM = """
local previous = redis.call('HGET', KEYS[1], ARGV[1])
if previous and ARGV[3] == '0' and redis.call('HEXISTS', KEYS[2], previous) == 1 then return {0, previous} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {1, previous or ''}
"""
# Add a roster entry only while its session holds the identity claim (one atomic step: never two entries).
_ADD_IF_CLAIMED = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2])
redis.call('SADD', KEYS[4], ARGV[6])
for i = 2, 3 do redis.call('EXPIRE', KEYS[i], ARGV[5]) end
return 1
"""
# Remove an entry, leave a tombstone, and release the identity claim if this session held it.
_REMOVE = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local deleted = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('SET', KEYS[4], 1, 'EX', ARGV[2])
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
_TOUCH_IF_PRESENT = "if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1]) return 1 end return 0"


class RedisPresence:
    """Presence in Redis. Keys: ``{prefix}:{room}:roster`` (hash pid→JSON), ``:seen`` (zset pid→time),
    ``:seq``, ``:chat`` (list), ``:revoked`` (hash), ``:levels`` (hash), ``:dominant``, ``:removed:{pid}``
    (tombstone, so a session removed by one process is not restored by its own), ``:identities`` (hash
    identity→pid: the claim that makes one session per identity atomic), ``:signals:{pid}`` (list: signals
    held for a reconnecting participant); ``{prefix}:rooms`` (set).

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
            pool = aioredis.BlockingConnectionPool.from_url(self.url, timeout=5, decode_responses=True, **options)
            client = aioredis.Redis(connection_pool=pool)
            self._clients[loop] = client
        return client

    def _k(self, room: str, part: str) -> str:
        return f"{self.prefix}:{room}:{part}"

    async def add(self, room: str, entry: Entry) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._k(room, "roster"), entry["id"], json.dumps(entry))
            pipe.zadd(self._k(room, "seen"), {entry["id"]: clock.now()})
            pipe.sadd(f"{self.prefix}:rooms", room)
            for part in ("roster", "seen"):
                pipe.expire(self._k(room, part), self.ttl)
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

    async def remove(self, room: str, pid: str) -> Entry | None:
        keys = [
            self._k(room, p) for p in ("roster", "seen", "levels", f"removed:{pid}", "identities", f"signals:{pid}")
        ]
        raw = await self.redis.eval(_REMOVE, len(keys), *keys, pid, self.ttl)
        return json.loads(raw) if raw else None

    async def was_removed(self, room: str, pid: str) -> bool:
        return bool(await self.redis.exists(self._k(room, f"removed:{pid}")))

    async def roster(self, room: str) -> list[Entry]:
        raw = await self.redis.hgetall(self._k(room, "roster"))
        return [json.loads(v) for v in raw.values()]

    async def touch(self, room: str, pid: str, now: float | None = None) -> bool:
        ts = clock.now() if now is None else now
        return bool(
            await self.redis.eval(_TOUCH_IF_PRESENT, 2, self._k(room, "roster"), self._k(room, "seen"), pid, ts)
        )

    async def stale(self, room: str, older_than: float) -> list[str]:
        return list(await self.redis.zrangebyscore(self._k(room, "seen"), "-inf", f"({older_than}"))

    async def rooms(self) -> list[str]:
        rooms = list(await self.redis.smembers(f"{self.prefix}:rooms"))
        live = []
        for room in rooms:
            if await self.redis.hlen(self._k(room, "roster")):
                live.append(room)
            else:
                await self.redis.srem(f"{self.prefix}:rooms", room)
        return live

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

    async def revoke(self, room: str, identity: str, at: float) -> None:
        await self.redis.hset(self._k(room, "revoked"), identity, at)
        await self.redis.expire(self._k(room, "revoked"), self.ttl)

    async def revoked_at(self, room: str, identity: str) -> float | None:
        raw = await self.redis.hget(self._k(room, "revoked"), identity)
        return float(raw) if raw is not None else None

    async def set_speaker_state(self, room: str, pid: str, level: float, at: float) -> None:
        await self.redis.hset(self._k(room, "levels"), pid, f"{level:.4f},{at:.3f}")

    async def speaker_states(self, room: str) -> dict[str, tuple[float, float]]:
        raw = await self.redis.hgetall(self._k(room, "levels"))
        states = {}
        for pid, value in raw.items():
            level, _, at = value.partition(",")
            states[pid] = (float(level), float(at))
        return states

    async def dominant(self, room: str) -> str | None:
        return (await self.redis.get(self._k(room, "dominant"))) or None

    async def swap_dominant(self, room: str, pid: str | None) -> bool:
        """Set the dominant speaker; True only for the caller that changed it (GETSET is atomic)."""
        previous = await self.redis.getset(self._k(room, "dominant"), pid or "")
        return (previous or None) != pid

    async def forget_room(self, room: str) -> None:
        parts = ("roster", "seen", "seq", "chat", "revoked", "levels", "dominant", "identities")
        await self.redis.delete(*(self._k(room, p) for p in parts))
        await self.redis.srem(f"{self.prefix}:rooms", room)

    async def claim_identity(self, room: str, identity: str, pid: str, *, replace: bool) -> tuple[bool, str | None]:
        """Make ``pid`` the one session of ``identity`` (atomic across processes); (claimed, previous holder)."""
        keys = [self._k(room, "identities"), self._k(room, "roster")]
        claimed, previous = await self.redis.eval(_CLAIM, 2, *keys, identity, pid, "1" if replace else "0", self.ttl)
        return bool(claimed), previous or None

    async def add_if_claimed(self, room: str, entry: Entry) -> bool:
        keys = [self._k(room, "identities"), self._k(room, "roster"), self._k(room, "seen"), f"{self.prefix}:rooms"]
        args = [entry["identity"], entry["id"], json.dumps(entry), clock.now(), self.ttl, room]
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


def redis_url() -> str | None:
    """LEVELCHAT["REDIS_URL"], else the first host of a channels_redis default layer, else None."""
    if levelchat_settings.REDIS_URL:
        return str(levelchat_settings.REDIS_URL)
    layer = getattr(settings, "CHANNEL_LAYERS", {}).get("default", {})
    if "channels_redis" not in str(layer.get("BACKEND", "")):
        return None
    hosts = layer.get("CONFIG", {}).get("hosts") or ["redis://127.0.0.1:6379"]
    host = hosts[0]
    if isinstance(host, dict):
        host = host.get("address", "redis://127.0.0.1:6379")
    if isinstance(host, list | tuple):
        host = f"redis://{host[0]}:{host[1]}"
    return str(host)


_store: Presence | None = None
_store_key: str | None = None


def get_presence() -> Presence:
    """The process's presence store for the current settings."""
    global _store, _store_key
    url = redis_url()
    key = url or "memory"
    if _store is None or _store_key != key:
        _store = RedisPresence(url, prefix=str(levelchat_settings.REDIS_PREFIX)) if url else MemoryPresence()
        _store_key = key
    return _store
