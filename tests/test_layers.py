import asyncio
from unittest import mock

import pytest

from django_levelchat.deploy import redis_channel_layer
from django_levelchat.layers import InMemoryChannelLayer, RedisChannelLayer


async def test_expiry_scan_is_throttled_but_still_expires():
    layer = InMemoryChannelLayer(expiry=0.05, clean_interval=0.2)
    now = [100.0]
    layer.clock = lambda: now[0]  # the throttle's time moves only when the test says so
    await layer.group_add("room", "specific.a!x")
    await layer.send("specific.a!x", {"type": "t"})
    with mock.patch("channels.layers.InMemoryChannelLayer._clean_expired") as scan:
        for _ in range(50):
            await layer.group_send("room", {"type": "t"})
        assert scan.call_count == 1, "one scan per interval, not one per message"
    now[0] += 0.25
    await asyncio.sleep(0.1)  # at least the 0.05 s message expiry passes in real time (a lower bound: never racy)
    await layer.group_send("room", {"type": "t"})  # runs the real scan: the stale message expires
    assert "specific.a!x" not in layer.groups.get("room", {}), "a channel with expired messages leaves its groups"


async def test_messages_still_flow():
    layer = InMemoryChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add("g", channel)
    await layer.group_send("g", {"type": "hello", "n": 1})
    assert await layer.receive(channel) == {"type": "hello", "n": 1}


async def test_an_idle_redis_receive_outlasts_the_blocking_pop(redis_server):
    """redis-py 8 reads with a 5 s socket timeout by default, the same as channels-redis's blocking pop: an
    idle receive failed with ``TimeoutError`` and every consumer resynced its client (every 21 s)."""
    config = redis_channel_layer(redis_server.url)["CONFIG"]
    layer = RedisChannelLayer(**config)
    channel = await layer.new_channel()
    pool = layer.create_pool(0)
    assert pool.connection_kwargs["socket_timeout"] > layer.brpop_timeout
    idle = 2 * layer.brpop_timeout + 1  # two full blocking pops with nothing to receive
    with pytest.raises(asyncio.TimeoutError):  # our bound, not redis-py's TimeoutError
        await asyncio.wait_for(layer.receive(channel), idle)
    await layer.send(channel, {"type": "still.working"})
    assert (await asyncio.wait_for(layer.receive(channel), 30))["type"] == "still.working"
    await layer.flush()
