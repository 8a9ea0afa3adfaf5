"""Soak (G16): nothing of a session outlives it for long. The Redis channel layer keeps no buffer for a channel whose
consumer ended, the consumer is freed as it ends, and after ``tune_gc`` the garbage of closed sockets is collected
per churn.

channels-redis pops the messages of all of a process's sockets from one Redis key and buffers each for its channel
until that channel's receive takes it; a message that arrived after its consumer ended (the room event of its own
departure, a chat sent before its ``group_discard``) made a buffer nobody read, one per departure, for the life of
the process."""

from __future__ import annotations

import asyncio
import gc
import uuid
import weakref

from channels.layers import get_channel_layer

from django_levelchat import deploy, protocol
from django_levelchat.deploy import redis_channel_layer
from django_levelchat.layers import RedisChannelLayer
from django_levelchat.signaling import rooms
from django_levelchat.signaling.consumers import SignalingConsumer
from django_levelchat.signaling.presence import get_presence
from tests.signaling.conftest import WAIT


async def test_sessions_that_joined_and_left_leave_no_receive_buffer(client_for, signal_room, settings, redis_server):
    config = redis_channel_layer(redis_server.url)
    config["CONFIG"]["prefix"] = f"t{uuid.uuid4().hex[:10]}"
    settings.CHANNEL_LAYERS = {"default": config}
    layer = get_channel_layer()
    assert isinstance(layer, RedisChannelLayer)
    try:
        alice = client_for("alice")
        await alice.join()
        await alice.drain()
        baseline = len(layer.receive_buffer)
        for n in range(5):
            bob = client_for(f"bob-{n}")
            await bob.join()
            channel = (await get_presence().get(signal_room.public_id, bob.id))["channel"]
            if n % 2:
                assert (await bob.request({"type": "leave"}))["type"] == "ack"
                assert (await bob.closed(WAIT))["code"] == 1000
            await bob.disconnect()  # returns once the consumer has ended
            # A room event that reached the process after bob's consumer ended, then one for alice: her receive
            # pops bob's first (one key per process, in order) and has to put it somewhere.
            await layer.send(channel, rooms._event_message(protocol.pong(0.0)))
            await alice.send({"type": "chat", "text": f"after {n}"})
            assert (await alice.recv("chat-message", WAIT))["text"] == f"after {n}"
            await alice.drain()
        assert len(layer.receive_buffer) == baseline, f"buffers of ended consumers kept: {dict(layer.receive_buffer)}"
        await alice.disconnect()
    finally:
        await layer.flush()


async def test_a_forgotten_channel_drops_late_messages_for_a_while_only(redis_server) -> None:
    layer = RedisChannelLayer(**redis_channel_layer(redis_server.url)["CONFIG"], prefix=f"t{uuid.uuid4().hex[:10]}")
    try:
        live, ended = await layer.new_channel(), await layer.new_channel()
        waiting = asyncio.ensure_future(layer.receive(ended))
        await asyncio.sleep(0)
        waiting.cancel()  # how a consumer's receive ends: the stock layer deletes the channel's buffer
        await asyncio.gather(waiting, return_exceptions=True)
        layer.forget_channel(ended)
        layer.forget_channel(ended)  # twice is harmless
        await layer.send(ended, {"type": "late"})
        await layer.send(live, {"type": "chat"})
        assert (await asyncio.wait_for(layer.receive(live), WAIT))["type"] == "chat"
        assert ended not in layer.receive_buffer and not layer.receive_buffer
        buffers = layer.receive_buffer
        later = list(buffers.forgotten.values())[-1] + 1
        buffers.forget("specific.other!x", later, later + 120)
        assert list(buffers.forgotten) == ["specific.other!x"], "forgotten channels are remembered for a while only"
    finally:
        await layer.flush()


async def test_a_session_that_ended_is_freed_without_the_cycle_collector(client_for):
    """``deploy.tune_gc`` makes collections rare (a young generation of 50,000 net allocations): a session kept
    alive by a reference cycle waited minutes, and once promoted an hour, to be freed; in the soak that was the RSS
    growth (G16). Its media router's reply callable referred back to the consumer."""
    alice = client_for("alice")
    await alice.join()
    gc.collect()
    gc.disable()
    try:
        for n in range(3):
            bob = client_for(f"bob-{n}")
            await bob.join()
            await alice.send({"type": "chat", "text": "hi"})
            await bob.recv("chat-message", WAIT)
            (consumer,) = [o for o in gc.get_objects() if isinstance(o, SignalingConsumer) and o.pid == bob.id]
            ended = weakref.ref(consumer)
            del consumer
            if n % 2:
                assert (await bob.request({"type": "leave"}))["type"] == "ack"
                await bob.closed(WAIT)
            await bob.disconnect()
            await alice.drain()
            assert ended() is None, f"session {n} still referenced: {[type(r) for r in gc.get_referrers(ended())]}"
    finally:
        gc.enable()
    await alice.disconnect()


def test_after_tune_gc_a_full_collection_per_quarter_of_the_open_sessions_ended(monkeypatch):
    """daphne's own connection objects are reference cycles (twisted's protocol and transport, autobahn's state):
    with ``tune_gc``'s thresholds the garbage of closed sockets waited minutes to an hour. The janitor's heartbeat
    loop collects once the sessions ended since the last collection reach a quarter of those open."""
    collected: list[tuple] = []
    monkeypatch.setattr(gc, "collect", lambda *args: collected.append(args) or 0)
    monkeypatch.setattr(deploy, "_ended_since_collection", 0)
    monkeypatch.setattr(deploy, "_gc_tuned", False)
    for _ in range(100):
        deploy.session_ended()
    assert not deploy.collect_after_churn(40) and not collected, "CPython's own thresholds: nothing to add"
    monkeypatch.setattr(deploy, "_gc_tuned", True)
    assert deploy.collect_after_churn(40) and len(collected) == 1
    assert not deploy.collect_after_churn(40), "counted afresh"
    for _ in range(deploy.CHURN_COLLECT_MIN - 1):
        deploy.session_ended()
    assert not deploy.collect_after_churn(0), "at least CHURN_COLLECT_MIN"
    deploy.session_ended()
    assert deploy.collect_after_churn(0)
    for _ in range(399):
        deploy.session_ended()
    assert not deploy.collect_after_churn(1600), "a quarter of the open sessions"
    deploy.session_ended()
    assert deploy.collect_after_churn(1600) and len(collected) == 3


async def test_every_ended_session_counts_toward_the_churn_collection(client_for, monkeypatch):
    monkeypatch.setattr(deploy, "_ended_since_collection", 0)
    for n in range(3):
        bob = client_for(f"bob-{n}")
        await bob.join()
        await bob.disconnect(1000 if n else 1006)
    assert deploy._ended_since_collection == 3
