import asyncio
from unittest import mock

from django_levelchat.layers import InMemoryChannelLayer


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
