"""Rows T01–T12 of RELIABILITY.md: every forged, stale or malformed token is refused with a distinct code."""

from __future__ import annotations

import base64
import hashlib
import hmac as hmac_mod
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from django_levelchat import tokens
from django_levelchat.conf import derived_signing_key
from django_levelchat.exceptions import CapabilityError, TokenError
from django_levelchat.models import CapabilityPolicy, Room


def _payload(room_id: str, **overrides):
    now = int(time.time())
    claims = {
        "iss": "django-levelchat",
        "sub": "alice",
        "aud": room_id,
        "room": room_id,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "j1",
        "name": "Alice",
        "role": "participant",
        "caps": ["publish:*", "subscribe:all"],
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(payload, key=None, alg="HS256", headers=None):
    return jwt.encode(
        payload, key or derived_signing_key(), algorithm=alg, headers={"kid": "default", **(headers or {})}
    )


def _code(token, **kw):
    with pytest.raises(TokenError) as exc:
        tokens.verify_token(token, **kw)
    return exc.value.code


def test_round_trip(room):
    token = tokens.issue_token(room, "alice", name="Alice", metadata={"team": "blue"})
    claims = tokens.verify_token(token, room=room)
    assert claims.room == room.public_id
    assert claims.identity == "alice"
    assert claims.name == "Alice"
    assert claims.role == "participant"
    assert claims.capabilities == {"publish:*", "subscribe:all", "chat:send", "react:send", "hand:raise"}
    assert claims.expires_at - claims.issued_at == 600
    assert claims.metadata == {"team": "blue"}
    raw = jwt.decode(token, options={"verify_signature": False})
    assert raw["aud"] == raw["room"] == room.public_id
    assert {"iss", "sub", "iat", "nbf", "exp", "jti", "name", "role", "caps", "region"} <= raw.keys()
    assert jwt.get_unverified_header(token)["kid"] == "default"


def test_verify_without_room_uses_the_room_claim(room):
    assert tokens.verify_token(tokens.issue_token(room, "bob")).room == room.public_id


def test_ttl_default_custom_and_cap(room):
    raw = jwt.decode(tokens.issue_token(room, "a", ttl=3600), options={"verify_signature": False})
    assert raw["exp"] - raw["iat"] == 3600
    for bad in (3601, 86400, 0, -5):
        with pytest.raises(TokenError) as exc:
            tokens.issue_token(room, "a", ttl=bad)
        assert exc.value.code == "token_ttl"


def test_capabilities_never_exceed_the_policy(room):
    with pytest.raises(CapabilityError) as exc:
        tokens.issue_token(room, "a", role="participant", capabilities=["room:admin"])
    assert exc.value.code == "capability_ceiling"
    policy = CapabilityPolicy.objects.create(name="audio", roles={"participant": ["publish:mic", "subscribe:all"]})
    audio_room = Room.objects.create(name="audio", policy=policy)
    with pytest.raises(CapabilityError):
        tokens.issue_token(audio_room, "a", capabilities=["publish:*"])
    token = tokens.issue_token(audio_room, "a", capabilities=["publish:mic"])
    assert tokens.verify_token(token).capabilities == {"publish:mic"}
    assert tokens.verify_token(tokens.issue_token(audio_room, "b")).capabilities == {"publish:mic", "subscribe:all"}


def test_unknown_capability_or_role_refused_at_issue(room):
    with pytest.raises(CapabilityError):
        tokens.issue_token(room, "a", capabilities=["publish:hologram"])
    with pytest.raises(CapabilityError):
        tokens.issue_token(room, "a", role="emperor")


@pytest.mark.parametrize("identity", ["", "x" * 129, None])
def test_bad_identity_refused_at_issue(room, identity):
    with pytest.raises(TokenError):
        tokens.issue_token(room, identity)


# --- T01 forged ---
def test_t01_wrong_key(room):
    assert _code(_sign(_payload(room.public_id), key="k" * 40)) == "token_invalid"


def test_t01_tampered_signature(room):
    token = tokens.issue_token(room, "alice")
    head, body, sig = token.split(".")
    flipped = sig[:-4] + ("AAAA" if sig[-4:] != "AAAA" else "BBBB")
    assert _code(f"{head}.{body}.{flipped}") == "token_invalid"


def test_t01_tampered_payload(room):
    token = tokens.issue_token(room, "alice", role="viewer")
    head, body, sig = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    data["caps"] = ["room:admin"]
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    assert _code(f"{head}.{forged}.{sig}") == "token_invalid"


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "x" * 9000, None, 42])
def test_t01_garbage(garbage):
    assert _code(garbage) == "token_invalid"


# --- T02 expired / T03 not yet valid / T12 clock skew ---
def test_t02_expired(room):
    now = int(time.time())
    assert _code(_sign(_payload(room.public_id, iat=now - 700, nbf=now - 700, exp=now - 10))) == "token_expired"


def test_t02_boundary_within_leeway_accepted(room):
    now = int(time.time())
    token = _sign(_payload(room.public_id, iat=now - 600, nbf=now - 600, exp=now - 3))
    assert tokens.verify_token(token).identity == "alice"


def test_t03_not_yet_valid(room):
    now = int(time.time())
    assert _code(_sign(_payload(room.public_id, iat=now + 60, nbf=now + 60, exp=now + 600))) == "token_not_yet_valid"


def test_t12_small_skew_accepted(room):
    now = int(time.time())
    assert tokens.verify_token(_sign(_payload(room.public_id, iat=now + 4, nbf=now + 4, exp=now + 300)))


# --- T04 alg none / T05 key confusion ---
def test_t04_alg_none(room):
    unsigned = jwt.encode(_payload(room.public_id), None, algorithm="none", headers={"kid": "default"})
    assert _code(unsigned) == "token_invalid"


def test_t04_alg_none_without_kid(room):
    assert _code(jwt.encode(_payload(room.public_id), None, algorithm="none")) == "token_invalid"


@pytest.fixture
def ed_keys(levelchat_settings):
    private = ed25519.Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    levelchat_settings(
        JWT_KEYS={
            "ed1": {"algorithm": "EdDSA", "private_key": private_pem, "public_key": public_pem},
            "hs1": {"algorithm": "HS256", "key": "h" * 48},
        },
        JWT_SIGNING_KEY_ID="ed1",
    )
    return private_pem, public_pem


def test_eddsa_round_trip_and_kid_pinning(room, ed_keys):
    token = tokens.issue_token(room, "alice")
    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "kid": "ed1", "typ": "JWT"}
    assert tokens.verify_token(token).identity == "alice"


def test_t05_hs_token_signed_with_the_public_key(room, ed_keys):
    _, public_pem = ed_keys
    # PyJWT refuses to sign HS256 with a PEM key, so forge the bytes by hand.
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": "ed1", "typ": "JWT"}).encode()).rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(_payload(room.public_id)).encode()).rstrip(b"=")
    sig = hmac_mod.new(public_pem.encode(), header + b"." + body, hashlib.sha256).digest()
    token = (header + b"." + body + b"." + base64.urlsafe_b64encode(sig).rstrip(b"=")).decode()
    assert _code(token) == "token_invalid"


def test_t05_hs_kid_with_eddsa_alg(room, ed_keys):
    private_pem, _ = ed_keys
    token = jwt.encode(_payload(room.public_id), private_pem, algorithm="EdDSA", headers={"kid": "hs1"})
    assert _code(token) == "token_invalid"


# --- T06 wrong room ---
def test_t06_token_for_another_room(room):
    other = Room.objects.create(name="other")
    assert _code(tokens.issue_token(room, "alice"), room=other) == "wrong_room"


def test_t06_list_audience_refused(room):
    other = Room.objects.create(name="other")
    token = _sign(_payload(room.public_id, aud=[other.public_id, room.public_id]))
    assert _code(token) == "wrong_room"


def test_t06_room_claim_differs_from_aud(room):
    other = Room.objects.create(name="other")
    token = _sign(_payload(room.public_id, room=other.public_id))
    assert _code(token, room=room) == "wrong_room"


# --- T07 TTL over cap ---
def test_t07_lifetime_over_cap(room):
    now = int(time.time())
    assert _code(_sign(_payload(room.public_id, exp=now + 86400))) == "token_ttl"


# --- T08 missing claims ---
@pytest.mark.parametrize("claim", ["exp", "iat", "aud", "sub", "caps", "iss"])
def test_t08_missing_required_claim(room, claim):
    payload = _payload(room.public_id)
    del payload[claim]
    assert _code(_sign(payload), room=room) in {"missing_claim", "token_invalid", "wrong_room"}
    assert _code(_sign(payload), room=room) != "token_expired"


def test_t08_missing_claim_code(room):
    payload = _payload(room.public_id)
    del payload["caps"]
    assert _code(_sign(payload)) == "missing_claim"


def test_wrong_issuer(room):
    assert _code(_sign(_payload(room.public_id, iss="someone-else"))) == "token_invalid"


@pytest.mark.parametrize("bad_caps", [["publish:hologram"], "publish:*", [1, 2]])
def test_caps_outside_vocabulary(room, bad_caps):
    assert _code(_sign(_payload(room.public_id, caps=bad_caps))) == "bad_capabilities"


# --- T09 header injection ---
@pytest.mark.parametrize("kid", ["../../etc/passwd", "nope", ""])
def test_t09_unknown_kid(room, kid):
    assert _code(_sign(_payload(room.public_id), headers={"kid": kid})) == "unknown_key"


@pytest.mark.parametrize("header", ["jku", "x5u", "jwk"])
def test_t09_key_material_headers_refused(room, header):
    value = {"kty": "oct", "k": "AAAA"} if header == "jwk" else "https://evil.example/keys"
    assert _code(_sign(_payload(room.public_id), headers={header: value})) == "token_invalid"


# --- T12 weak keys ---
def test_t12_short_hs_key_refused_at_runtime(room, levelchat_settings):
    from django_levelchat.exceptions import ConfigurationError

    levelchat_settings(JWT_KEYS={"k": {"algorithm": "HS256", "key": "short"}})
    with pytest.raises(ConfigurationError):
        tokens.issue_token(room, "a")


def test_key_rotation_old_kid_still_verifies(room, levelchat_settings):
    levelchat_settings(JWT_KEYS={"old": {"key": "o" * 40}}, JWT_SIGNING_KEY_ID="old")
    old_token = tokens.issue_token(room, "a")
    levelchat_settings(JWT_KEYS={"new": {"key": "n" * 40}, "old": {"key": "o" * 40}}, JWT_SIGNING_KEY_ID="new")
    assert jwt.get_unverified_header(tokens.issue_token(room, "a"))["kid"] == "new"
    assert tokens.verify_token(old_token).identity == "a"
    levelchat_settings(JWT_KEYS={"new": {"key": "n" * 40}}, JWT_SIGNING_KEY_ID="new")
    assert _code(old_token) == "unknown_key"


def test_resume_credential_round_trip_and_tamper():
    cred = tokens.issue_resume_credential("PA_X", "RM_Y", "alice")
    assert tokens.verify_resume_credential(cred) == {"session": "PA_X", "room": "RM_Y", "identity": "alice"}
    with pytest.raises(TokenError) as exc:
        tokens.verify_resume_credential(cred[:-2] + "xx")
    assert exc.value.code == "resume_invalid"
    with pytest.raises(TokenError) as exc:
        tokens.verify_resume_credential(cred, max_age=-1)
    assert exc.value.code == "resume_expired"


@pytest.mark.parametrize(
    "header",
    [b"[" * 5000, b'"a string"', b"\xff\xfe{}", b'{"alg": "HS256"', b"", b"{}" + b" " * 3, b"null"],
    ids=["deeply-nested", "not-an-object", "not-utf8", "truncated-json", "empty", "no-alg", "null"],
)
def test_malformed_header_is_token_invalid_and_not_logged(room, header, caplog):
    """The header is read before the signature is checked, so any bytes there get token_invalid, never a crash."""
    good = _sign(_payload(room.public_id))
    token = base64.urlsafe_b64encode(header).decode().rstrip("=") + good[good.index(".") :]
    with caplog.at_level("ERROR", logger="django_levelchat.tokens"):
        assert _code(token[:8000]) == "token_invalid"
    assert not caplog.records
