"""Issue 10 (2) / T13: two joins of one identity at the same moment: exactly one session survives, the other is
closed 4409, and no roster ever lists the identity twice."""

from __future__ import annotations

import asyncio

import pytest

from django_levelchat.signaling.presence import get_presence
from tests.signaling.conftest import Client

pytestmark = pytest.mark.django_db(transaction=True)


async def _outcome(client: Client) -> str:
    while True:
        out = await client.raw(timeout=5)
        if out["type"] == "welcome":
            client.welcome = out
            return "welcome"
        if out["type"] == "websocket.close":
            return f"close:{out['code']}"


async def test_simultaneous_joins_with_one_token(token_for, signal_room, client_for):
    observer = client_for("observer")
    await observer.join()
    for attempt in range(10):
        token = token_for("twin")
        a, b = Client(token), Client(token)
        await asyncio.gather(a.connect(), b.connect())
        hello = {"type": "hello", "protocol": 1}
        await asyncio.gather(a.send(hello), b.send(hello))
        outcomes = await asyncio.gather(_outcome(a), _outcome(b))
        # The winner may be closed later too, if the loser's join superseded it: then exactly one survives.
        finals = []
        for client, outcome in zip((a, b), outcomes, strict=True):
            if outcome == "welcome" and not await client.nothing(0.2):
                rest = await client.drain()
                outcome = "close:4409" if any(f.get("code") == 4409 for f in rest) else outcome
            finals.append(outcome)
        assert sorted(finals) == ["close:4409", "welcome"], (attempt, outcomes, finals)
        roster = await get_presence().roster(signal_room.public_id)
        assert [e["identity"] for e in roster].count("twin") == 1
        survivor = a if finals[0] == "welcome" else b
        assert any(e["id"] == survivor.welcome["you"]["id"] for e in roster)
        await survivor.disconnect()
        await observer.drain()
    late = client_for("late")
    welcome = await late.join()
    assert [p["identity"] for p in welcome["roster"]].count("twin") == 0


async def test_sequential_join_replaces_the_older_session(client_for, token_for):
    first = client_for("alice")
    await first.join()
    second = Client(token_for("alice"))
    await second.join()
    close = await first.closed()
    assert (close["code"], close["reason"]) == (4409, "replaced")
    assert [p["identity"] for p in second.welcome["roster"]] == []


async def test_refusing_duplicates_keeps_the_first(client_for, token_for, levelchat_settings):
    levelchat_settings(REPLACE_DUPLICATE_IDENTITY=False)
    first = client_for("alice")
    await first.join()
    second = Client(token_for("alice"))
    await second.connect()
    await second.send({"type": "hello", "protocol": 1})
    assert (await second.closed())["code"] == 4409
    await first.send({"type": "ping", "id": "p"})
    assert (await first.recv("pong"))["ref"] == "p"
