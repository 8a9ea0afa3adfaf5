"""Which SFU worker serves which room: worker heartbeats and room leases, in process memory or Redis.

A worker is live while its heartbeat (an expiry time) is in the future. A room's lease names one worker and is
valid while that worker is live, so a worker that dies (``kill -9``) loses all its rooms at once when its
heartbeat expires; a live worker's sweep then claims them (compare-and-set, so exactly one worker wins) and tells
the room. The store follows presence: Redis when presence uses Redis, else this process's memory.
"""

from __future__ import annotations

import asyncio
import random
import time
import weakref
from typing import Any, Protocol

from django_levelchat.conf import levelchat_settings
from django_levelchat.deploy import redis_connection_options
from django_levelchat.signaling.presence import redis_url


def worker_channel(worker_id: str) -> str:
    """The channel-layer channel a worker listens on."""
    return f"sfu.{worker_id}"


class Leases(Protocol):
    async def heartbeat(self, worker: str, ttl: float) -> None: ...
    async def retire(self, worker: str) -> None: ...
    async def live_workers(self) -> list[str]: ...
    async def assign(self, room: str) -> str | None: ...
    async def holder(self, room: str) -> str | None: ...
    async def orphaned(self) -> list[tuple[str, str]]: ...
    async def claim(self, room: str, expected: str, worker: str) -> bool: ...
    async def release(self, room: str, worker: str) -> None: ...
    async def promote(self, room: str) -> bool: ...
    async def promoted(self, room: str) -> bool: ...
    async def demote(self, room: str) -> None: ...


class MemoryLeases:
    """Leases for one process (the embedded SFU). No awaits inside an operation, so each one is atomic."""

    def __init__(self) -> None:
        self.workers: dict[str, float] = {}
        self.rooms: dict[str, str] = {}
        self.meetings: set[str] = set()

    def _live(self, worker: str | None) -> bool:
        return worker is not None and self.workers.get(worker, 0.0) > time.time()

    async def heartbeat(self, worker: str, ttl: float) -> None:
        self.workers[worker] = time.time() + ttl

    async def retire(self, worker: str) -> None:
        self.workers.pop(worker, None)
        for room in [r for r, w in self.rooms.items() if w == worker]:
            del self.rooms[room]

    async def live_workers(self) -> list[str]:
        return sorted(w for w in self.workers if self._live(w))

    async def assign(self, room: str) -> str | None:
        current = self.rooms.get(room)
        if self._live(current):
            return current
        live = await self.live_workers()
        if not live:
            return None
        chosen = min(live, key=lambda w: (sum(1 for x in self.rooms.values() if x == w), random.random()))
        self.rooms[room] = chosen
        return chosen

    async def holder(self, room: str) -> str | None:
        current = self.rooms.get(room)
        return current if self._live(current) else None

    async def orphaned(self) -> list[tuple[str, str]]:
        return [(room, worker) for room, worker in self.rooms.items() if not self._live(worker)]

    async def claim(self, room: str, expected: str, worker: str) -> bool:
        if self.rooms.get(room) != expected:
            return False
        self.rooms[room] = worker
        return True

    async def release(self, room: str, worker: str) -> None:
        if self.rooms.get(room) == worker:
            del self.rooms[room]

    async def promote(self, room: str) -> bool:
        if room in self.meetings:
            return False
        self.meetings.add(room)
        return True

    async def promoted(self, room: str) -> bool:
        return room in self.meetings

    async def demote(self, room: str) -> None:
        self.meetings.discard(room)


# KEYS[1] = room hash, KEYS[2] = worker zset; ARGV = room, now, candidate. Keeps a live holder, else sets candidate.
_ASSIGN = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local expires = redis.call('ZSCORE', KEYS[2], current)
  if expires and tonumber(expires) > tonumber(ARGV[2]) then return current end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return ARGV[3]
"""
# KEYS[1] = room hash; ARGV = room, expected, new worker ('' = delete).
_CLAIM = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
return 1
"""


class RedisLeases:
    """Keys: ``{prefix}:sfu:workers`` (zset worker → heartbeat expiry), ``{prefix}:sfu:rooms`` (hash room → worker),
    ``{prefix}:sfu:meetings`` (set of meetings moved to the SFU)."""

    def __init__(self, url: str, *, prefix: str = "levelchat") -> None:
        self.url = url
        self.workers_key = f"{prefix}:sfu:workers"
        self.rooms_key = f"{prefix}:sfu:rooms"
        self.meetings_key = f"{prefix}:sfu:meetings"
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()

    @property
    def redis(self) -> Any:
        import redis.asyncio as aioredis

        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            options = redis_connection_options(max_connections=20)
            pool = aioredis.BlockingConnectionPool.from_url(self.url, timeout=5, decode_responses=True, **options)
            client = self._clients[loop] = aioredis.Redis(connection_pool=pool)
        return client

    async def heartbeat(self, worker: str, ttl: float) -> None:
        await self.redis.zadd(self.workers_key, {worker: time.time() + ttl})

    async def retire(self, worker: str) -> None:
        await self.redis.zrem(self.workers_key, worker)
        for room, holder in (await self.redis.hgetall(self.rooms_key)).items():
            if holder == worker:
                await self.redis.eval(_CLAIM, 1, self.rooms_key, room, worker, "")

    async def live_workers(self) -> list[str]:
        return sorted(await self.redis.zrangebyscore(self.workers_key, time.time(), "+inf"))

    async def assign(self, room: str) -> str | None:
        live = await self.live_workers()
        if not live:
            return None
        load = dict.fromkeys(live, 0)
        for holder in (await self.redis.hgetall(self.rooms_key)).values():
            if holder in load:
                load[holder] += 1
        candidate = min(live, key=lambda w: (load[w], random.random()))
        return str(await self.redis.eval(_ASSIGN, 2, self.rooms_key, self.workers_key, room, time.time(), candidate))

    async def holder(self, room: str) -> str | None:
        current = await self.redis.hget(self.rooms_key, room)
        if current is None:
            return None
        expires = await self.redis.zscore(self.workers_key, current)
        return current if expires is not None and expires > time.time() else None

    async def orphaned(self) -> list[tuple[str, str]]:
        live = set(await self.live_workers())
        return [(r, w) for r, w in (await self.redis.hgetall(self.rooms_key)).items() if w not in live]

    async def claim(self, room: str, expected: str, worker: str) -> bool:
        return bool(await self.redis.eval(_CLAIM, 1, self.rooms_key, room, expected, worker))

    async def release(self, room: str, worker: str) -> None:
        await self.redis.eval(_CLAIM, 1, self.rooms_key, room, worker, "")

    async def promote(self, room: str) -> bool:
        return bool(await self.redis.sadd(self.meetings_key, room))

    async def promoted(self, room: str) -> bool:
        return bool(await self.redis.sismember(self.meetings_key, room))

    async def demote(self, room: str) -> None:
        await self.redis.srem(self.meetings_key, room)


_store: Leases | None = None
_store_key: str | None = None


def get_leases() -> Leases:
    """The lease store for the current settings (Redis exactly when presence uses Redis)."""
    global _store, _store_key
    url = redis_url()
    key = url or "memory"
    if _store is None or _store_key != key:
        _store = RedisLeases(url, prefix=str(levelchat_settings.REDIS_PREFIX)) if url else MemoryLeases()
        _store_key = key
    return _store
