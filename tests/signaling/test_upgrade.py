"""The upgrade: Origin at the handshake (403), every token failure as accept-then-close 4401, hello deadline."""

from __future__ import annotations

import time

import jwt
import pytest
from asgiref.sync import sync_to_async

from django_levelchat.conf import derived_signing_key
from django_levelchat.models import Participant, Room
from tests.signaling.conftest import Client

pytestmark = pytest.mark.django_db(transaction=True)


def forged(target: Room, key: str | None = None, **overrides):
    now = int(time.time())
    claims = {
        "iss": "django-levelchat",
        "sub": "mallory",
        "aud": target.public_id,
        "room": target.public_id,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "caps": ["publish:*", "subscribe:all"],
        **overrides,
    }
    return jwt.encode(claims, key or derived_signing_key(), algorithm="HS256", headers={"kid": "default"})


@pytest.mark.parametrize(
    ("origin", "accepted"),
    [
        ((b"origin", b"http://127.0.0.1:8000"), True),
        ((b"origin", b"http://localhost:8000"), True),
        ((b"origin", b"https://evil.example"), False),
        ((b"origin", b"null"), False),
        ((b"origin", b""), False),
        (None, True),  # a non-browser client: the token authenticates it, no cookie to hijack
    ],
)
async def test_t14_origin_checked_at_handshake(token_for, origin, accepted):
    client = Client(token_for("alice"), origin=origin)
    connected, _ = await client.connect()
    assert connected is accepted
    if connected:
        await client.disconnect()


async def test_missing_origin_joins_and_foreign_origin_is_refused(token_for):
    bot = Client(token_for("bot"), origin=None)
    welcome = await bot.join()
    assert welcome["you"]["identity"] == "bot"
    await bot.disconnect()
    evil = Client(token_for("evil"), origin=(b"origin", b"https://evil.example"))
    connected, _ = await evil.connect()
    assert connected is False  # daphne answers this denial with HTTP 403 (tests/e2e/test_python_client.py checks it)


async def test_allowed_origins_setting(token_for, levelchat_settings):
    levelchat_settings(ALLOWED_ORIGINS=["https://app.example.org"])
    assert (await Client(token_for("a"), origin=(b"origin", b"https://app.example.org")).connect())[0]
    assert not (await Client(token_for("a"), origin=(b"origin", b"http://127.0.0.1:8000")).connect())[0]


async def _close_of(token: str | None) -> dict:
    client = Client(token)
    connected, _ = await client.connect()
    assert connected, "token failures are accepted first so the browser can read the close code"
    await client.send({"type": "hello", "protocol": 1})
    return await client.closed()


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda r: forged(r, key="k" * 40), "token_invalid"),
        (lambda r: forged(r, exp=int(time.time()) - 30, iat=int(time.time()) - 100), "token_expired"),
        (lambda r: forged(r, nbf=int(time.time()) + 60, iat=int(time.time()) + 60), "token_not_yet_valid"),
        (lambda r: forged(r, exp=int(time.time()) + 86400), "token_ttl"),
        (lambda r: forged(r, caps=["publish:hologram"]), "bad_capabilities"),
        (lambda r: forged(r, aud=[r.public_id, "RM_other"]), "wrong_room"),
        (lambda r: forged(r, room="RM_doesnotexist", aud="RM_doesnotexist"), "wrong_room"),
        (lambda r: jwt.encode({"sub": "x", "room": r.public_id}, None, algorithm="none"), "token_invalid"),
        (lambda r: "not-a-token", "token_invalid"),
        (lambda r: None, "token_missing"),
    ],
)
async def test_token_failures_close_4401(signal_room, make, reason):
    close = await _close_of(make(signal_room))
    assert (close["code"], close["reason"]) == (4401, reason)
    assert not await sync_to_async(Participant.objects.exists)(), "no session row for a refused token"


async def test_expired_token_refused_without_resume(signal_room):
    now = int(time.time())
    client = Client(forged(signal_room, exp=now - 30, iat=now - 100))
    await client.connect()
    await client.send({"type": "hello", "protocol": 1})
    assert (await client.closed())["code"] == 4401


async def test_refused_token_sends_no_join_to_others(client_for, signal_room):
    alice = client_for("alice")
    await alice.join()
    await _close_of(forged(signal_room, key="x" * 40))
    assert await alice.nothing(0.3)


async def test_hello_deadline(token_for, levelchat_settings):
    levelchat_settings(HELLO_TIMEOUT=0.2)
    client = Client(token_for("slow"))
    await client.connect()
    close = await client.closed()
    assert (close["code"], close["reason"]) == (4401, "hello_timeout")


async def test_unsupported_protocol_version(token_for):
    client = Client(token_for("old"))
    await client.connect()
    await client.send({"type": "hello", "protocol": 99})
    error = await client.recv("error")
    assert error["code"] == "bad_request" and error["field"] == "protocol"


async def test_binary_frame_closes_4400(client_for):
    alice = client_for("alice")
    await alice.join()
    await alice.ws.send_to(bytes_data=b"\x00\x01")
    close = await alice.closed()
    assert (close["code"], close["reason"]) == (4400, "binary_frame")


async def test_oversize_frame_closes_4400(client_for):
    alice = client_for("alice")
    await alice.join()
    await alice.send('{"type":"chat","text":"' + "x" * 100_000 + '"}')
    close = await alice.closed()
    assert (close["code"], close["reason"]) == (4400, "frame_too_large")
