"""Issue 10 (8): room events reach each client in ``seq`` order even when the channel layer delivers them out of
order; a seq that never arrives is given up after SEQ_REORDER_WINDOW and the client resyncs."""

from __future__ import annotations

import asyncio
import random

import pytest
from channels.layers import get_channel_layer

from django_levelchat import protocol
from django_levelchat.signaling import consumers, rooms
from django_levelchat.signaling.presence import get_presence

pytestmark = pytest.mark.django_db(transaction=True)


async def _channel(client, room_id: str) -> str:
    return (await get_presence().get(room_id, client.id))["channel"]


def _event(seq: int) -> dict:
    frame = protocol.reaction(from_={"id": None, "identity": "t", "name": "t"}, emoji=str(seq), seq=seq)
    return {"type": rooms.EVENT, "event": frame["type"], "seq": seq, "text": protocol.encode(frame)}


@pytest.mark.parametrize("seed", range(5))
async def test_shuffled_events_are_delivered_in_order(client_for, signal_room, seed):
    alice = client_for("alice")
    await alice.join()
    base = alice.welcome["seq"]
    channel = await _channel(alice, signal_room.public_id)
    order = list(range(base + 1, base + 41))
    random.Random(seed).shuffle(order)
    for seq in order:
        await get_channel_layer().send(channel, _event(seq))
    got = [(await alice.recv("reaction"))["seq"] for _ in range(40)]
    assert got == list(range(base + 1, base + 41))


async def test_a_lost_seq_is_given_up_after_the_window(client_for, signal_room, levelchat_settings):
    levelchat_settings(SEQ_REORDER_WINDOW=0.2)
    alice = client_for("alice")
    await alice.join()
    base = alice.welcome["seq"]
    channel = await _channel(alice, signal_room.public_id)
    for seq in (base + 3, base + 2, base + 5):  # base+1 and base+4 never come
        await get_channel_layer().send(channel, _event(seq))
    got = [(await alice.recv("reaction", timeout=5))["seq"] for _ in range(3)]
    assert got == [base + 2, base + 3, base + 5]  # in order; the client sees the gaps and resyncs
    await alice.send({"type": "resync", "id": "r"})
    snapshot = await alice.recv("resync")
    assert snapshot["ref"] == "r" and snapshot["seq"] >= base


async def test_many_lost_seqs_cost_one_window_not_one_each(client_for, signal_room, levelchat_settings):
    """An overflowing channel layer loses many events at once: each held event waits at most one window, so 20
    gaps are given up together (one window per gap would take 40 s here)."""
    levelchat_settings(SEQ_REORDER_WINDOW=2.0)
    alice = client_for("alice")
    await alice.join()
    base = alice.welcome["seq"]
    channel = await _channel(alice, signal_room.public_id)
    expected = [base + 2 * i for i in range(1, 21)]  # every odd seq lost
    for seq in expected:
        await get_channel_layer().send(channel, _event(seq))
    async with asyncio.timeout(25):  # all of them: generous for a loaded machine, well short of 20 windows
        got = [(await alice.recv("reaction", timeout=25))["seq"] for _ in expected]
    assert got == expected


async def test_a_seq_that_comes_after_its_window_widens_the_window(client_for, signal_room, levelchat_settings):
    """A loaded server can stall a sender between stamping a seq and sending it for longer than the window: the
    late seq cost one resync, and the process holds events longer from then on."""
    levelchat_settings(SEQ_REORDER_WINDOW=0.2)
    alice = client_for("alice")
    await alice.join()
    base = alice.welcome["seq"]
    channel = await _channel(alice, signal_room.public_id)
    await get_channel_layer().send(channel, _event(base + 2))
    assert (await alice.recv("reaction", timeout=15))["seq"] == base + 2  # base+1 given up
    await asyncio.sleep(0.3)  # base+1 comes late: a stalled sender
    await get_channel_layer().send(channel, _event(base + 1))
    await alice.request({"type": "ping"}, timeout=15)  # dispatched after the late event
    assert 0.2 * 1.5 * 2 <= consumers.reorder_window() <= 0.2 * 8
    await get_channel_layer().send(channel, _event(base + 4))
    await get_channel_layer().send(channel, _event(base + 3))
    got = [(await alice.recv("reaction", timeout=15))["seq"] for _ in range(2)]
    assert got == [base + 3, base + 4]


async def test_events_already_in_the_snapshot_are_not_repeated(client_for, signal_room):
    alice = client_for("alice")
    await alice.join()
    base = alice.welcome["seq"]
    channel = await _channel(alice, signal_room.public_id)
    for seq in (base, base - 1, base + 1):
        await get_channel_layer().send(channel, _event(seq))
    assert (await alice.recv("reaction"))["seq"] == base + 1
    assert await alice.nothing(0.2)


async def test_real_broadcasts_from_many_sockets_arrive_in_order(client_for):
    senders = [client_for(f"s{i}") for i in range(4)]
    for s in senders:
        await s.join()
    listener = senders[0]
    await listener.drain()
    for round_ in range(5):
        for s in senders:
            await s.send({"type": "reaction", "emoji": f"{round_}"})
    seqs = []
    while len(seqs) < 20:
        seqs.append((await listener.recv("reaction", timeout=5))["seq"])
    assert seqs == sorted(seqs) and len(set(seqs)) == 20
