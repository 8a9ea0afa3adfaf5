"""Tombstones of removed sessions (``removed:{pid}``): they hold the close reason for ``REMOVED_TTL`` seconds, not
the presence TTL (24 h: 86,400 keys at one departure a second, G16), and a session whose close message was lost is
closed with that reason at its next heartbeat instead of waiting for it (and restoring itself once the tombstone
expired)."""

from __future__ import annotations

import uuid

import pytest
import redis as sync_redis
from asgiref.sync import sync_to_async

from django_levelchat import protocol
from django_levelchat.models import Participant
from django_levelchat.signaling import liveness
from django_levelchat.signaling.presence import REMOVED_TTL, RedisPresence, get_presence
from tests.signaling.conftest import WAIT, Client, entry


async def test_a_tombstone_holds_the_close_reason_for_removed_ttl_only(store, fake_clock):
    assert REMOVED_TTL <= 3600, "as long as a live consumer needs to see it, not the presence TTL"
    for n in range(3):
        await store.add("RM_t", entry(f"PA_{n}"))
    assert await store.remove("RM_t", "PA_0", close="removed")
    assert await store.remove("RM_t", "PA_1")
    assert await store.removal("RM_t", "PA_0") == "removed"
    assert await store.removal("RM_t", "PA_1") == "left"
    assert await store.removal("RM_t", "PA_2") is None, "not removed"
    if isinstance(store, RedisPresence):  # Redis expires it on its own clock: its TTL is what matters
        client = sync_redis.Redis.from_url(store.url)
        try:
            ttl = client.ttl(f"{store.prefix}:RM_t:removed:PA_0")
        finally:
            client.close()
        assert 0 < ttl <= REMOVED_TTL
    else:
        fake_clock.advance(REMOVED_TTL + 1)
        assert await store.removal("RM_t", "PA_0") is None
        assert await store.remove("RM_t", "PA_2", close="replaced")
        assert list(store._rooms["RM_t"].removed) == ["PA_2"], "expired tombstones are dropped, not kept"


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_a_removed_session_whose_close_was_lost_closes_at_its_next_heartbeat(
    backend, client_for, fake_clock, levelchat_settings, request
):
    if backend == "redis":
        url = request.getfixturevalue("redis_server").url
        levelchat_settings(REDIS_URL=url, REDIS_PREFIX=f"t{uuid.uuid4().hex[:10]}")
    levelchat_settings(PING_TIMEOUT=9.0, SWEEP_INTERVAL=3600)
    alice, bob = client_for("alice"), client_for("bob")
    await alice.join()
    await bob.join()
    room = alice.welcome["room"]["id"]
    # Another process removed bob (a host's kick) and its close message never reached bob's consumer.
    assert await get_presence().remove(room, bob.id, close=protocol.CloseReason.REMOVED)
    fake_clock.advance(4)  # past PING_TIMEOUT / 3: bob's next frame is a heartbeat to write
    await bob.send({"type": "ping"})
    await bob.recv("pong", WAIT)
    await liveness.flush()  # finds bob's entry gone: his consumer looks for a tombstone instead of restoring
    close = await bob.closed(WAIT)
    assert (close["code"], close["reason"]) == (protocol.CloseCode.FORBIDDEN, "removed")
    assert bob.id not in {p["id"] for p in await get_presence().roster(room)}, "not restored"
    await alice.disconnect()


async def test_a_session_removed_a_moment_ago_is_not_revived_by_a_resume(client_for, token_for):
    """A resume whose presence entry is gone revives the session from its open Participant row (a Redis restart):
    not while the row of a session just removed is still open (its close is on the way)."""
    alice, bob = client_for("alice"), client_for("bob")
    await alice.join()
    await bob.join()
    room = alice.welcome["room"]["id"]
    await bob.disconnect(1006)  # resumable: the entry stays, marked reconnecting
    assert await get_presence().remove(room, bob.id, close=protocol.CloseReason.REMOVED)
    assert await sync_to_async(Participant.objects.filter(public_id=bob.id, left_at__isnull=True).exists)()
    again = Client(token_for("bob"))
    welcome = await again.join(resume={"session": bob.id, "credential": bob.welcome["resume"]["credential"]})
    assert welcome["you"]["id"] != bob.id, "a fresh session, not the removed one revived"
    await again.disconnect()
    await alice.disconnect()
