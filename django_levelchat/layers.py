"""Channel layers: Channels' in-memory layer with its expiry scan throttled (the embedded default), and
channels-redis with a pool that waits instead of raising (``deploy.redis_channel_layer``).

The stock layer walks every channel and every group membership of the process on each ``receive`` and
``group_send``; with a few hundred sockets that scan was ~15 % of daphne's time in the fan-out benchmark. Running it
at most once per ``clean_interval`` keeps expiry (messages live 60 s by default) while making the cost per message
independent of the number of sockets.
"""

from __future__ import annotations

import time
from typing import Any

from channels.layers import InMemoryChannelLayer as StockInMemoryChannelLayer
from channels_redis.core import RedisChannelLayer as StockRedisChannelLayer
from channels_redis.utils import create_pool
from redis.asyncio import BlockingConnectionPool

from django_levelchat.deploy import POOL_TIMEOUT

#: Seconds a read may take beyond the blocking pop's own timeout (a loaded Redis answers late, not never).
READ_MARGIN = 10.0


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

    def __init__(self, *args: Any, pool_timeout: float = POOL_TIMEOUT, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pool_timeout = pool_timeout

    def create_pool(self, index: int) -> Any:
        host = dict(self.hosts[index])
        host.setdefault("socket_timeout", self.brpop_timeout + READ_MARGIN)
        if "address" not in host or "master_name" in host:
            return create_pool(host)
        address = host.pop("address")
        return BlockingConnectionPool.from_url(address, timeout=self.pool_timeout, **host)
