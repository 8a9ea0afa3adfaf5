"""Channel layers: Channels' in-memory layer with its expiry scan throttled (the embedded default), and
channels-redis with a pool that waits instead of raising (``deploy.redis_channel_layer``).

The stock layer walks every channel and every group membership of the process on each ``receive`` and
``group_send``; with a few hundred sockets that scan was ~15 % of daphne's time in the fan-out benchmark. Running it
at most once per ``clean_interval`` keeps expiry (messages live 60 s by default) while making the cost per message
independent of the number of sockets.
"""

from __future__ import annotations

import collections
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from channels.layers import InMemoryChannelLayer as StockInMemoryChannelLayer
from channels_redis.core import BoundedQueue
from channels_redis.core import RedisChannelLayer as StockRedisChannelLayer
from channels_redis.utils import create_pool
from redis.asyncio import BlockingConnectionPool

from django_levelchat.deploy import POOL_TIMEOUT

logger = logging.getLogger("django_levelchat.signaling")

#: Seconds a read may take beyond the blocking pop's own timeout (a loaded Redis answers late, not never).
READ_MARGIN = 10.0

#: Messages waiting for one process, all its sockets together (see ``RedisChannelLayer.get_capacity``).
PROCESS_CAPACITY = 100_000

# One group send's delivery on one shard: each channel key's expired messages dropped, then the message added unless
# the key is at capacity; returns how many keys were full. KEYS = channel keys; ARGV = the messages, the capacities,
# then "expired before", now, expiry. The stock layer does the expiry in a pipeline of its own, one round trip more.
_GROUP_SEND = """
local n = #KEYS
local expired_before, now, expiry = ARGV[2 * n + 1], ARGV[2 * n + 2], ARGV[2 * n + 3]
local over = 0
for i = 1, n do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, expired_before)
  if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[n + i]) then
    redis.call('ZADD', KEYS[i], now, ARGV[i])
    redis.call('EXPIRE', KEYS[i], expiry)
  else
    over = over + 1
  end
end
return over
"""


# A receive's first step, one round trip where the stock layer makes three: put back what an interrupted receive left
# in the backup key (as the stock cleanup script does), then pop the oldest message into the backup key (the stock
# BZPOPMIN + ZADD) without blocking. KEYS = the channel key, its backup key. Only an empty channel blocks.
_POP = """
local backed_up = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
for i = #backed_up, 1, -2 do
  redis.call('ZADD', KEYS[1], backed_up[i], backed_up[i - 1])
end
redis.call('DEL', KEYS[2])
local popped = redis.call('ZPOPMIN', KEYS[1])
if popped[1] then
  redis.call('ZADD', KEYS[2], popped[2], popped[1])
  return popped[1]
end
return false
"""


class InMemoryChannelLayer(StockInMemoryChannelLayer):
    #: The throttle's clock (tests replace it to step time instead of racing it).
    clock = staticmethod(time.monotonic)

    def __init__(self, *args: Any, clean_interval: float = 1.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clean_interval = clean_interval
        self._last_clean = float("-inf")

    def _clean_expired(self) -> None:
        now = self.clock()
        if now - self._last_clean >= self.clean_interval:
            self._last_clean = now
            super()._clean_expired()


class ReceiveBuffers(collections.defaultdict[str, Any]):
    """channels-redis's per-channel receive buffers, which drop messages for channels whose consumer ended.

    channels-redis keeps every process-local channel of a process in one Redis key: whichever consumer holds the
    receive lock pops the next message and buffers it for its channel (``receive_buffer[channel]``, created on
    first use). A buffer is deleted only when its own channel's receive empties it or is cancelled, so a message
    popped after that channel's consumer ended (the room event announcing its own departure, chats sent before its
    ``group_discard`` landed) created a buffer nobody would ever read: about one per departure, each holding its
    messages, for the life of the process (the soak's RSS growth, G16). A channel ``forget`` names is remembered
    until ``until``: buffers made for it meanwhile are thrown away (its messages are dropped), and deleting a
    missing buffer is not an error (the stock receive deletes its channel's buffer when cancelled).
    """

    def __init__(self, factory: Callable[[], Any]) -> None:
        super().__init__(factory)
        self.forgotten: dict[str, float] = {}  # channel -> until (monotonic), oldest first

    def __missing__(self, channel: str) -> Any:
        if channel in self.forgotten:
            assert self.default_factory is not None
            return self.default_factory()  # not stored: what is put in it is dropped
        return super().__missing__(channel)

    def __delitem__(self, channel: str) -> None:
        self.pop(channel, None)

    def forget(self, channel: str, now: float, until: float) -> None:
        self.pop(channel, None)
        self.forgotten.pop(channel, None)
        self.forgotten[channel] = until
        while self.forgotten:  # in order of expiry: every entry is kept for the same time
            oldest, expires = next(iter(self.forgotten.items()))
            if expires > now:
                break
            del self.forgotten[oldest]


class RedisChannelLayer(StockRedisChannelLayer):
    """channels-redis with a pool that waits for a free connection instead of raising.

    channels-redis builds a redis-py ``ConnectionPool``, which raises "Too many connections" the moment every
    pooled connection is busy. Under a burst (a chat in each of 1,000 rooms while the event loop lags) that turned
    into ``error unavailable`` answers for ours and dead consumers for a stock one. A ``BlockingConnectionPool``
    of the same size makes the burst queue for up to ``pool_timeout`` seconds instead; only hosts given as
    ``{"address": url, ...}`` (what ``deploy.redis_channel_layer`` writes) get it, others keep the stock pool.

    Every pool also reads with a socket timeout longer than the layer's blocking pop. redis-py 8 defaults
    ``socket_timeout`` to 5 s, exactly channels-redis's ``brpop_timeout``: an idle receive then timed out (every 21 s
    with ``deploy``'s three retries), and each consumer took that for an outage and sent its client a resync.
    """

    def __init__(
        self, *args: Any, pool_timeout: float = POOL_TIMEOUT, process_capacity: int = PROCESS_CAPACITY, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.pool_timeout = pool_timeout
        self.process_capacity = process_capacity
        self.receive_buffer = ReceiveBuffers(functools.partial(BoundedQueue, self.capacity))

    def forget_channel(self, channel: str) -> None:
        """The consumer of ``channel`` ended: drop its buffered messages, and those that arrive for it during the
        next two message expiries (by then what was sent to it has been received or dropped from Redis as expired,
        unless this process is minutes behind)."""
        now = time.monotonic()
        self.receive_buffer.forget(channel, now, now + 2 * self.expiry)

    def get_capacity(self, channel: str) -> int:
        """channels-redis keeps the messages of every process-local channel (``specific.<process>!<socket>``) of a
        process in ONE Redis key and checks the capacity against that key: ``capacity`` (1,000 by default) bounded
        the backlog of a whole daphne, not of one socket. A process a few seconds behind under a join storm filled
        it, and from then on every group send to its sockets was dropped (logged at INFO) and every send raised
        ``ChannelFull``: lost chats at 5,000 sockets. Each socket's own buffer in the process stays ``capacity``."""
        if "!" in channel:
            return self.process_capacity
        return int(super().get_capacity(channel))

    async def _brpop_with_clean(self, index: int, channel: str, timeout: float) -> Any:
        """The stock receive step (restore the backup, pop into the backup) in one script while messages wait,
        which under load is every receive; the blocking pop only when the channel is empty."""
        connection = self.connection(index)
        backup = self._backup_channel_name(channel)
        member = await connection.eval(_POP, 2, channel, backup)
        if member is not None:
            return member
        result = await connection.bzpopmin(channel, timeout=timeout)
        if result is None:
            return None
        _, member, score = result
        await connection.zadd(backup, {member: float(score)})
        return member

    async def group_add(self, group: str, channel: str) -> None:
        """The stock ZADD and EXPIRE in one round trip instead of two (every join makes one)."""
        assert self.require_valid_group_name(group), "Group name not valid"
        assert self.require_valid_channel_name(channel), "Channel name not valid"
        key = self._group_key(group)
        async with self.connection(self.consistent_hash(group)).pipeline(transaction=False) as pipe:
            pipe.zadd(key, {channel: time.time()})
            pipe.expire(key, self.group_expiry)
            await pipe.execute()

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        """The stock group send in two round trips instead of four (every room event is one): the group's
        expiry and members in one pipeline, then per shard one script (``_GROUP_SEND``). A full key is logged as
        a warning, not at INFO: it is a lost message."""
        assert self.require_valid_group_name(group), "Group name not valid"
        key = self._group_key(group)
        async with self.connection(self.consistent_hash(group)).pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(key, min=0, max=int(time.time()) - self.group_expiry)
            pipe.zrange(key, 0, -1)
            _, members = await pipe.execute()
        by_connection, messages, capacities = self._map_channel_keys_to_connection(
            [m.decode("utf8") for m in members], message
        )
        for index, keys in by_connection.items():
            now = time.time()
            args = [messages[k] for k in keys] + [capacities[k] for k in keys]
            args += [int(now) - int(self.expiry), now, self.expiry]
            over = await self.connection(index).eval(_GROUP_SEND, len(keys), *keys, *args)
            if over:
                logger.warning(
                    "group send to %s: %s of %s channel keys at capacity, message dropped", group, over, len(keys)
                )

    def create_pool(self, index: int) -> Any:
        host = dict(self.hosts[index])
        host.setdefault("socket_timeout", self.brpop_timeout + READ_MARGIN)
        if "address" not in host or "master_name" in host:
            return create_pool(host)
        address = host.pop("address")
        return BlockingConnectionPool.from_url(address, timeout=self.pool_timeout, **host)
