"""Issue 10 (3): every token failure, alone or combined with others, via each transport (subprotocol, ``?token=``,
``hello.token``) closes 4401 with its documented reason, without ``error internal`` and without waiting for the
hello deadline."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from asgiref.sync import sync_to_async

from django_levelchat import protocol
from django_levelchat.conf import derived_signing_key
from django_levelchat.models import Participant, Room
from tests.signaling.conftest import Client

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN_REASONS = {r for r, c in protocol.CLOSE_REASON_CODES.items() if c == protocol.CloseCode.TOKEN}


def forged(target: Room, key: str | None = None, headers: dict | None = None, drop: tuple = (), **overrides):
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
    for name in drop:
        claims.pop(name)
    return jwt.encode(
        claims, key or derived_signing_key(), algorithm="HS256", headers={"kid": "default", **(headers or {})}
    )


def _with_header(token: str, header: dict) -> str:
    """The token re-signed under a header PyJWT itself refuses to write."""
    head = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    signing_input = f"{head}.{token.split('.')[1]}"
    mac = hmac.new(derived_signing_key().encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def _now() -> int:
    return int(time.time())


# (case id, token factory, acceptable reasons). Several cases carry two or three defects at once.
CASES = [
    ("wrong-key", lambda r: forged(r, key="k" * 40), {"token_invalid"}),
    ("expired", lambda r: forged(r, exp=_now() - 30, iat=_now() - 100), {"token_expired"}),
    ("expired+ttl", lambda r: forged(r, iat=_now() - 7200, nbf=_now() - 7200, exp=_now() - 60), {"token_ttl"}),
    ("expired+bad-caps", lambda r: forged(r, exp=_now() - 60, caps=["root"]), {"bad_capabilities"}),
    ("expired+wrong-key", lambda r: forged(r, key="q" * 40, exp=_now() - 60), {"token_invalid", "token_expired"}),
    ("expired+no-sub", lambda r: forged(r, exp=_now() - 60, drop=("sub",)), {"missing_claim"}),
    ("expired+wrong-room", lambda r: forged(r, exp=_now() - 60, room="RM_x", aud="RM_x"), {"wrong_room"}),
    ("expired+nul-identity", lambda r: forged(r, exp=_now() - 60, sub="a\x00b"), {"token_invalid"}),
    ("expired+big-metadata", lambda r: forged(r, exp=_now() - 60, metadata={"x": "y" * 5000}), {"token_invalid"}),
    ("expired+ttl+bad-caps", lambda r: forged(r, iat=_now() - 9000, exp=_now() - 60, caps=7), {"token_ttl"}),
    ("future", lambda r: forged(r, nbf=_now() + 60, iat=_now() + 60), {"token_not_yet_valid"}),
    ("future+ttl", lambda r: forged(r, iat=_now() + 60, exp=_now() + 90000), {"token_not_yet_valid", "token_ttl"}),
    ("ttl", lambda r: forged(r, exp=_now() + 86400), {"token_ttl"}),
    ("bad-caps", lambda r: forged(r, caps=["publish:hologram"]), {"bad_capabilities"}),
    ("caps-not-list", lambda r: forged(r, caps="publish:*"), {"bad_capabilities"}),
    ("caps-objects", lambda r: forged(r, caps=[{"a": 1}]), {"bad_capabilities"}),
    ("aud-list", lambda r: forged(r, aud=[r.public_id, "RM_other"]), {"wrong_room"}),
    ("room-aud-differ", lambda r: forged(r, room="RM_other"), {"wrong_room"}),
    ("no-such-room", lambda r: forged(r, room="RM_nope", aud="RM_nope"), {"wrong_room"}),
    ("no-exp", lambda r: forged(r, drop=("exp",)), {"missing_claim"}),
    ("no-caps", lambda r: forged(r, drop=("caps",)), {"missing_claim"}),
    ("no-iss", lambda r: forged(r, drop=("iss",)), {"missing_claim"}),
    ("no-aud-no-room", lambda r: forged(r, drop=("aud", "room")), {"missing_claim"}),
    ("wrong-iss", lambda r: forged(r, iss="evil"), {"token_invalid"}),
    ("sub-int", lambda r: forged(r, sub=42), {"token_invalid"}),
    ("sub-empty", lambda r: forged(r, sub=""), {"token_invalid"}),
    ("sub-slash", lambda r: forged(r, sub="a/b"), {"token_invalid"}),
    ("sub-nul", lambda r: forged(r, sub="a\x00"), {"token_invalid"}),
    ("sub-newline", lambda r: forged(r, sub="a\nb"), {"token_invalid"}),
    ("sub-too-long", lambda r: forged(r, sub="x" * 129), {"token_invalid"}),
    ("name-control", lambda r: forged(r, name="a\x07"), {"token_invalid"}),
    ("name-object", lambda r: forged(r, name={"x": 1}), {"token_invalid"}),
    ("role-int", lambda r: forged(r, role=5), {"token_invalid"}),
    ("role-long", lambda r: forged(r, role="r" * 40), {"token_invalid"}),
    ("metadata-5k", lambda r: forged(r, metadata={"x": "y" * 5000}), {"token_invalid"}),
    ("metadata-list", lambda r: forged(r, metadata=[1, 2]), {"token_invalid"}),
    ("metadata-nul", lambda r: forged(r, metadata={"a": "\x00"}), {"token_invalid"}),
    ("iat-string", lambda r: forged(r, iat="yesterday"), {"token_invalid"}),
    ("exp-string", lambda r: forged(r, exp="tomorrow"), {"token_invalid"}),
    ("exp-float-huge", lambda r: forged(r, exp=1e300), {"token_invalid", "token_ttl"}),
    ("unknown-kid", lambda r: forged(r, headers={"kid": "../../etc/passwd"}), {"unknown_key"}),
    ("kid-int", lambda r: _with_header(forged(r), {"alg": "HS256", "kid": 7}), {"token_invalid", "unknown_key"}),
    ("jku", lambda r: forged(r, headers={"jku": "https://evil.example/k"}), {"token_invalid"}),
    ("jwk", lambda r: forged(r, headers={"jwk": {"kty": "oct", "k": "AAAA"}}), {"token_invalid"}),
    ("alg-none", lambda r: jwt.encode({"sub": "x", "room": r.public_id}, None, algorithm="none"), {"token_invalid"}),
    ("garbage", lambda r: "not-a-token", {"token_invalid"}),
    ("three-dots", lambda r: "a.b.c", {"token_invalid"}),
    ("tampered", lambda r: forged(r)[:-3] + "AAA", {"token_invalid"}),
]


def _client(token: str, transport: str) -> Client:
    if transport == "subprotocol":
        return Client(token)
    if transport == "query":
        return Client(token, query=True)
    return Client(None)


@pytest.mark.parametrize("transport", ["subprotocol", "query", "hello"])
@pytest.mark.parametrize(("case", "make", "reasons"), CASES, ids=[c[0] for c in CASES])
async def test_token_failure_closes_4401_with_its_reason(signal_room, transport, case, make, reasons):
    token = make(signal_room)
    client = _client(token, transport)
    connected, _ = await client.connect()
    assert connected
    # An expired token on the URL/subprotocol is kept until hello (it may come with a resume), so hello is sent
    # every time; the close must come from the token check, well before the 5 s hello deadline.
    await client.send({"type": "hello", "protocol": 1, **({"token": token} if transport == "hello" else {})})
    frames = []
    while True:
        out = await client.raw(timeout=3)
        if out["type"] == "websocket.close":
            break
        frames.append(out)
    assert out["code"] == 4401 and out["reason"] in reasons, (case, out)
    assert out["reason"] in TOKEN_REASONS
    assert [f for f in frames if f["type"] == "error"] == [], frames
    assert frames[-1] == {"type": "closing", "code": 4401, "reason": out["reason"]} | (
        {"message": frames[-1]["message"]} if "message" in frames[-1] else {}
    )
    assert not await sync_to_async(Participant.objects.exists)()


@pytest.mark.parametrize("token", ["", "x" * (protocol.MAX_TOKEN_LEN + 1)])
async def test_empty_or_oversized_token_in_hello_is_4401(signal_room, token):
    client = Client(None)
    await client.connect()
    await client.send({"type": "hello", "protocol": 1, "token": token})
    close = await client.closed()
    assert close["code"] == 4401 and close["reason"] in {"token_invalid", "token_missing"}


async def test_hello_deadline_armed_even_after_a_refused_upgrade_token(signal_room, levelchat_settings):
    """The deadline is armed before the token is looked at, so no path leaves a socket open without it."""
    levelchat_settings(HELLO_TIMEOUT=0.3)
    client = Client(None, query=False)
    await client.connect()
    close = await client.closed(timeout=5)
    assert (close["code"], close["reason"]) == (4401, "hello_timeout")
