"""The sweeper: silent participants leave once, ghost sessions close, empty rooms end after empty_timeout."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from django_levelchat.models import Participant, Room
from django_levelchat.signaling import janitor

pytestmark = pytest.mark.django_db(transaction=True)


async def test_silent_participant_removed_once(client_for, levelchat_settings, fake_clock):
    # Time is the test's: the background sweeper never fires (hour-long interval); the test sweeps by hand.
    levelchat_settings(PING_TIMEOUT=10.0, SWEEP_INTERVAL=3600)
    alice, bob = client_for("alice"), client_for("bob")
    await alice.join()
    await bob.join()
    await alice.drain()
    fake_clock.advance(6)
    await alice.send({"type": "ping"})  # alice is heard from at +6 s, bob last at +0 s
    await alice.recv("pong")
    fake_clock.advance(6)  # +12 s: bob silent past PING_TIMEOUT, alice only 6 s
    await janitor.sweep_presence(fake_clock.now())
    left = await alice.recv("participant-left")
    assert left["participant"]["id"] == bob.id and left["reason"] == "connection_lost"
    close = await bob.closed()
    assert (close["code"], close["reason"]) == (4001, "ping_timeout")
    session = await sync_to_async(Participant.objects.get)(public_id=bob.id)
    assert session.leave_reason == "connection_lost"
    await janitor.sweep_presence(fake_clock.now())  # a second sweep (or another process's) finds nothing
    await alice.send({"type": "ping"})
    frames = []
    while (frame := await alice.recv()).get("type") != "pong":
        frames.append(frame)
    assert not [f for f in frames if f["type"] == "participant-left"], "exactly one leave"


async def test_ghost_session_closed_and_empty_room_ended(client_for, signal_room, levelchat_settings):
    levelchat_settings(PING_TIMEOUT=0.5, SWEEP_INTERVAL=0.05)
    signal_room.empty_timeout = 0
    await sync_to_async(signal_room.save)()
    alice = client_for("alice")
    await alice.join()
    ghost = await sync_to_async(Participant.objects.create)(
        room=signal_room, identity="ghost", joined_at=timezone.now() - timedelta(seconds=30)
    )
    await alice.request({"type": "leave"})
    for _ in range(50):
        await sync_to_async(signal_room.refresh_from_db)()
        if signal_room.status == Room.Status.ENDED:
            break
        await asyncio.sleep(0.05)
    assert signal_room.status == Room.Status.ENDED and signal_room.end_reason == "empty_timeout"
    await sync_to_async(ghost.refresh_from_db)()
    assert ghost.left_at is not None and ghost.leave_reason == "connection_lost"


async def test_room_with_people_is_not_ended(client_for, signal_room, levelchat_settings):
    levelchat_settings(SWEEP_INTERVAL=0.05)
    signal_room.empty_timeout = 0
    await sync_to_async(signal_room.save)()
    alice = client_for("alice")
    await alice.join()
    await asyncio.sleep(0.5)
    await sync_to_async(signal_room.refresh_from_db)()
    assert signal_room.status == Room.Status.ACTIVE
