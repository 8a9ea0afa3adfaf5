"""The sweeper: silent participants leave once, ghost sessions close, empty rooms end after empty_timeout."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from django_levelchat.models import Participant, Room

pytestmark = pytest.mark.django_db(transaction=True)


async def test_silent_participant_removed_once(client_for, levelchat_settings):
    levelchat_settings(PING_TIMEOUT=1.0, SWEEP_INTERVAL=0.1)
    alice, bob = client_for("alice"), client_for("bob")
    await alice.join()
    await bob.join()
    await alice.drain()
    left = None
    for _ in range(80):
        await alice.send({"type": "ping"})
        frames = await alice.drain()
        left = next((f for f in frames if f["type"] == "participant-left"), left)
        if left:
            break
        await asyncio.sleep(0.1)
    assert left is not None and left["participant"]["id"] == bob.id and left["reason"] == "connection_lost"
    close = await bob.closed()
    assert (close["code"], close["reason"]) == (4001, "ping_timeout")
    session = await sync_to_async(Participant.objects.get)(public_id=bob.id)
    assert session.leave_reason == "connection_lost"
    for _ in range(5):
        await alice.send({"type": "ping"})
        await asyncio.sleep(0.1)
    assert not [f for f in await alice.drain() if f["type"] == "participant-left"], "exactly one leave"


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
