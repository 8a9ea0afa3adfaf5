"""The Redis channel layer under a burst bigger than its pool: ``deploy.redis_channel_layer`` waits for a free
connection where stock channels-redis raises "Too many connections" (the lost chats of the 5,000-socket run)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from channels_redis.core import RedisChannelLayer as StockRedisChannelLayer
from redis.exceptions import MaxConnectionsError

from django_levelchat.deploy import redis_channel_layer
from django_levelchat.layers import RedisChannelLayer

BURST = 200
MEMBERS = 5


async def _burst(layer: StockRedisChannelLayer) -> tuple[list[str], list[BaseException]]:
    """(the group's channels, the errors of the sends)."""
    group = "room"
    channels = [await layer.new_channel() for _ in range(MEMBERS)]
    for channel in channels:
        await layer.group_add(group, channel)
    sent = [layer.group_send(group, {"type": "chat", "n": n}) for n in range(BURST)]
    results = await asyncio.gather(*sent, return_exceptions=True)
    return channels, [r for r in results if isinstance(r, BaseException)]


async def test_a_burst_waits_for_the_pool_instead_of_failing(redis_server) -> None:
    config = redis_channel_layer(redis_server.url, max_connections=2)
    assert config["BACKEND"] == "django_levelchat.layers.RedisChannelLayer"
    # A generous wait: on a loaded machine 200 sends through 2 connections can take longer than the default 20 s.
    layer = RedisChannelLayer(**config["CONFIG"], prefix=f"t{uuid.uuid4().hex[:10]}", pool_timeout=240)
    try:
        channels, errors = await _burst(layer)
        assert errors == [], errors[:3]
        for channel in channels:
            got = [(await asyncio.wait_for(layer.receive(channel), 15))["n"] for _ in range(BURST)]
            assert sorted(got) == list(range(BURST))
    finally:
        await layer.flush()


async def test_the_stock_pool_raises_under_the_same_burst(redis_server) -> None:
    """The failure the blocking pool removes (if channels-redis ever waits by itself, this shows it)."""
    config = redis_channel_layer(redis_server.url, max_connections=2)
    layer = StockRedisChannelLayer(**config["CONFIG"], prefix=f"t{uuid.uuid4().hex[:10]}")
    try:
        _, errors = await _burst(layer)
        assert errors and all(isinstance(e, MaxConnectionsError) for e in errors)
    finally:
        await layer.flush()


def test_presence_follows_the_deploy_layer(settings) -> None:
    """Presence finds Redis through the subclass as it did through stock channels-redis."""
    from django_levelchat.signaling.presence import redis_url

    settings.LEVELCHAT = {}
    settings.CHANNEL_LAYERS = {"default": redis_channel_layer("redis://10.0.0.9:6380/2")}
    assert redis_url() == "redis://10.0.0.9:6380/2"
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "django_levelchat.layers.InMemoryChannelLayer"}}
    assert redis_url() is None


async def test_connections_send_no_failing_handshake(redis_server) -> None:
    """Redis before 7.2 answers CLIENT SETINFO (and CLIENT MAINT_NOTIFICATIONS) with an error; a connect cut short
    under load left that answer unread for the connection's next command. The pools' connections send neither:
    the server counts no error for them."""
    import redis
    import redis.asyncio as aioredis

    from django_levelchat.deploy import redis_connection_options

    admin = redis.Redis.from_url(redis_server.url)
    before = admin.info("errorstats")  # (the admin connection's own SETINFO errors are counted by now)
    client = aioredis.Redis.from_url(redis_server.url, **redis_connection_options(max_connections=2))
    try:
        assert await client.ping()
        assert await client.set("k", "v") and await client.get("k") == b"v"
    finally:
        await client.aclose()
    assert admin.info("errorstats") == before
    admin.close()


async def test_group_send_and_add_of_the_deploy_layer(redis_server) -> None:
    """The layer's own group_add and group_send (fewer round trips than the stock ones) deliver what the stock
    ones deliver: to every member once, across layers of two processes, and not to a discarded member."""
    config = redis_channel_layer(redis_server.url)
    prefix = f"t{uuid.uuid4().hex[:10]}"
    one, two = (
        RedisChannelLayer(**config["CONFIG"], prefix=prefix),
        RedisChannelLayer(**config["CONFIG"], prefix=prefix),
    )
    try:
        here = [await one.new_channel() for _ in range(3)]
        there = [await two.new_channel() for _ in range(2)]
        for channel in here:
            await one.group_add("room", channel)
        for channel in there:
            await two.group_add("room", channel)
        await one.group_discard("room", here[2])
        await one.group_send("room", {"type": "chat", "n": 1})
        for layer, channel in [(one, here[0]), (one, here[1]), (two, there[0]), (two, there[1])]:
            assert (await asyncio.wait_for(layer.receive(channel), 15))["n"] == 1
        with contextlib.suppress(TimeoutError):
            got = await asyncio.wait_for(one.receive(here[2]), 0.5)
            raise AssertionError(f"a discarded member got {got}")
    finally:
        await one.flush()


async def test_a_process_backlog_is_not_capped_by_one_socket_capacity(redis_server) -> None:
    """channels-redis counts the messages of all sockets of a process in one key: with a capacity of 10, the
    11th pending group message of a process was dropped even though each socket had one. The process bound is its
    own (``process_capacity``); a socket's buffer keeps ``capacity``."""
    config = redis_channel_layer(redis_server.url, capacity=10)
    prefix = f"t{uuid.uuid4().hex[:10]}"
    sender, receiver = (
        RedisChannelLayer(**config["CONFIG"], prefix=prefix),
        RedisChannelLayer(**config["CONFIG"], prefix=prefix),
    )
    try:
        channels = [await receiver.new_channel() for _ in range(30)]
        for n, channel in enumerate(channels):
            await sender.group_add(f"room{n}", channel)
        for n in range(len(channels)):
            await sender.group_send(f"room{n}", {"type": "chat", "n": n})
        await sender.send(channels[0], {"type": "chat", "n": -1})  # no ChannelFull: 31 waiting for the process
        for n, channel in enumerate(channels):
            assert (await asyncio.wait_for(receiver.receive(channel), 15))["n"] == n
        assert (await asyncio.wait_for(receiver.receive(channels[0]), 15))["n"] == -1
    finally:
        await sender.flush()
