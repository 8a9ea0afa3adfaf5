"""Room tokens (JWT, via PyJWT) and session resume credentials.

A room token authorises one WebSocket upgrade for one identity in one room with a capability list. Verification
pins the algorithm per ``kid`` (looked up only in the configured key map, never fetched), requires
exp/iat/aud/sub/caps, uses ``strict_aud``, and adds what PyJWT does not check: the lifetime cap, the ``room``
claim matching ``aud``, and capabilities within the vocabulary.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from django.core import signing

from django_levelchat import capabilities as caps
from django_levelchat import protocol
from django_levelchat.conf import derived_signing_key, levelchat_settings
from django_levelchat.exceptions import CapabilityError, ConfigurationError, TokenError

logger = logging.getLogger("django_levelchat.tokens")

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"})
REQUIRED_CLAIMS = ["exp", "iat", "aud", "sub", "caps", "iss"]
FORBIDDEN_HEADERS = frozenset({"jku", "jwk", "x5u", "x5c"})


@dataclass(frozen=True)
class JwtKey:
    kid: str
    algorithm: str
    signing_key: Any  # None when only the public half is configured
    verifying_key: Any


@dataclass(frozen=True)
class RoomClaims:
    """The verified content of a room token."""

    room: str
    identity: str
    name: str
    role: str
    capabilities: frozenset[str]
    issued_at: int
    expires_at: int
    jti: str
    region: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


def clear_key_cache() -> None:
    get_keys.cache_clear()


@functools.cache
def get_keys() -> dict[str, JwtKey]:
    """The configured key map, validated; ``JWT_KEYS=None`` gives one key derived from SECRET_KEY."""
    configured = levelchat_settings.JWT_KEYS
    if configured is None:
        key = derived_signing_key()
        return {"default": JwtKey("default", levelchat_settings.JWT_ALGORITHM, key, key)}
    if not isinstance(configured, Mapping) or not configured:
        raise ConfigurationError("LEVELCHAT['JWT_KEYS'] must be a non-empty mapping of kid -> key spec.")
    keys: dict[str, JwtKey] = {}
    for kid, spec in configured.items():
        algorithm = spec.get("algorithm", "HS256") if isinstance(spec, Mapping) else None
        if algorithm in HMAC_ALGORITHMS:
            secret = spec.get("key")
            if not isinstance(secret, str | bytes) or len(secret) < 32:
                raise ConfigurationError(f"JWT key {kid!r}: an HMAC key needs at least 32 bytes.")
            keys[kid] = JwtKey(kid, algorithm, secret, secret)
        elif algorithm in ASYMMETRIC_ALGORITHMS:
            public = spec.get("public_key")
            if not public:
                raise ConfigurationError(f"JWT key {kid!r}: an asymmetric key needs 'public_key'.")
            keys[kid] = JwtKey(kid, algorithm, spec.get("private_key"), public)
        else:
            raise ConfigurationError(f"JWT key {kid!r}: unsupported algorithm {algorithm!r}.")
    return keys


def _signing_key() -> JwtKey:
    keys = get_keys()
    kid = levelchat_settings.JWT_SIGNING_KEY_ID or next(iter(keys))
    key = keys.get(kid)
    if key is None or key.signing_key is None:
        raise ConfigurationError(f"No private/secret key configured for signing kid {kid!r}.")
    return key


def _room_id(room: Any) -> str:
    return room if isinstance(room, str) else room.public_id


def issue_token(
    room: Any,
    identity: str,
    *,
    name: str = "",
    role: str | None = None,
    capabilities: Iterable[str] | None = None,
    ttl: int | None = None,
    metadata: Mapping[str, Any] | None = None,
    region: str | None = None,
) -> str:
    """Mint a room token. ``room`` is a Room (its policy is the capability ceiling) or a public id string.

    Raises TokenError(``token_ttl``) when ``ttl`` exceeds the cap and CapabilityError when the requested
    capabilities exceed what the role is granted.
    """
    _check_fields(identity, name, metadata, minting=True)
    role = role or caps.PARTICIPANT
    ceiling = room.capabilities_for(role) if not isinstance(room, str) else caps.role_capabilities(role)
    if capabilities is None:
        granted = ceiling
    else:
        granted = caps.parse_capabilities(capabilities)
        caps.ensure_within(granted, ceiling, role)
    ttl = int(levelchat_settings.TOKEN_TTL if ttl is None else ttl)
    max_ttl = int(levelchat_settings.TOKEN_MAX_TTL)
    if ttl <= 0 or ttl > max_ttl:
        raise TokenError(f"ttl must be between 1 and {max_ttl} seconds.", code="token_ttl")
    now = int(time.time())
    room_id = _room_id(room)
    payload: dict[str, Any] = {
        "iss": levelchat_settings.JWT_ISSUER,
        "sub": identity,
        "aud": room_id,
        "room": room_id,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": secrets.token_urlsafe(12),
        "name": name or identity,
        "role": role,
        "caps": sorted(granted),
        "region": levelchat_settings.DEFAULT_REGION if region is None else region,
    }
    if metadata:
        payload["metadata"] = dict(metadata)
    key = _signing_key()
    token = jwt.encode(payload, key.signing_key, algorithm=key.algorithm, headers={"kid": key.kid})
    if len(token) > protocol.MAX_TOKEN_LEN:  # it could not be carried to the signaling server
        raise TokenError(f"The token would be longer than {protocol.MAX_TOKEN_LEN} characters.", code="token_too_large")
    return token


_ERRORS: list[tuple[type[Exception], str]] = [
    (jwt.ExpiredSignatureError, "token_expired"),
    (jwt.ImmatureSignatureError, "token_not_yet_valid"),
    (jwt.MissingRequiredClaimError, "missing_claim"),
]


def _check_fields(identity: Any, name: Any, metadata: Any, *, minting: bool) -> None:
    """The identity, display-name and metadata limits of ``protocol.py``, shared by minting and verifying.

    Minting reports ``bad_identity`` / ``bad_name`` / ``bad_metadata``; a token that breaks them is ``token_invalid``.
    """
    checks: list[tuple[str, Any, Any]] = [("identity", protocol.validate_identity, identity)]
    if name:
        checks.append(("name", protocol.validate_name, name))
    if metadata is not None:
        checks.append(("metadata", protocol.validate_metadata, metadata))
    for name_, check, value in checks:
        try:
            check(value, field=name_)
        except protocol.ProtocolError as exc:
            raise TokenError(f"{exc.message}.", code=f"bad_{name_}" if minting else "token_invalid") from None


def verify_token(token: str, *, room: Any = None, allow_expired: bool = False) -> RoomClaims:
    """Verify a room token and return its claims; raises TokenError with a distinct ``code`` per failure.

    ``room`` (a Room or public id) is the room the caller expects; without it the token's own ``room`` claim
    is the audience, which must then equal ``aud`` exactly. ``allow_expired`` checks everything but ``exp``:
    the signaling server uses it only together with a valid resume credential. Any other exception while
    reading untrusted input is a bug, logged, and still reported as ``token_invalid``.
    """
    try:
        return _verify_token(token, room=room, allow_expired=allow_expired)
    except TokenError:
        raise
    except Exception:
        logger.exception("unexpected error while verifying a token")
        raise TokenError("Invalid token.") from None


def _verify_token(token: str, *, room: Any, allow_expired: bool) -> RoomClaims:
    if not isinstance(token, str) or not token or len(token) > protocol.MAX_TOKEN_LEN:
        raise TokenError("Token missing or too long.")
    header = _unverified_header(token)
    if FORBIDDEN_HEADERS & header.keys():
        raise TokenError("Tokens may not carry key material or key URLs in their header.")
    keys = get_keys()
    kid = header.get("kid")
    if kid is None and len(keys) == 1:
        kid = next(iter(keys))
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise TokenError("Unknown signing key id.", code="unknown_key")
    if header.get("alg") != key.algorithm:
        raise TokenError(f"Algorithm {header.get('alg')!r} is not allowed for this key.")
    # The audience is checked here, after the signature, rather than by PyJWT: without an expected room it is the
    # token's own ``room`` claim, and reading that first would cost another parse of the token.
    try:
        claims = jwt.decode(
            token,
            key.verifying_key,
            algorithms=[key.algorithm],
            issuer=levelchat_settings.JWT_ISSUER,
            leeway=int(levelchat_settings.JWT_LEEWAY),
            options={
                "require": REQUIRED_CLAIMS,
                "verify_aud": False,
                "enforce_minimum_key_length": True,
                "verify_exp": not allow_expired,
            },
        )
    except jwt.PyJWTError as exc:
        code = next((c for cls, c in _ERRORS if isinstance(exc, cls)), "token_invalid")
        raise TokenError(str(exc) or "Invalid token.", code=code) from None
    audience = _room_id(room) if room is not None else claims.get("room")
    if not isinstance(audience, str) or not audience or not claims["aud"]:
        raise TokenError("Token has no room.", code="missing_claim")
    if claims["aud"] != audience:
        raise TokenError("The token is for another room.", code="wrong_room")
    return _checked_claims(claims)


def _unverified_header(token: str) -> dict[str, Any]:
    """The header, read only to pick the key: ``jwt.decode`` checks the whole token again. Not PyJWT's
    ``get_unverified_header``: that validates every segment byte by byte in Python, which made a verification
    cost two full parses (bench/tokens.py)."""
    segment = token.partition(".")[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, TypeError, RecursionError) as exc:  # binascii, JSON and Unicode errors are ValueErrors
        raise TokenError(f"Malformed token header: {exc}") from None
    if not isinstance(header, dict):
        raise TokenError("Malformed token header: not an object.")
    return header


def _checked_claims(claims: dict[str, Any]) -> RoomClaims:
    iat, exp = claims["iat"], claims["exp"]
    if not isinstance(iat, int | float) or not isinstance(exp, int | float):
        raise TokenError("iat and exp must be numbers.")
    if exp - iat > int(levelchat_settings.TOKEN_MAX_TTL):
        raise TokenError("Token lifetime exceeds the configured cap.", code="token_ttl")
    if claims.get("room", claims["aud"]) != claims["aud"]:
        raise TokenError("room and aud claims differ.", code="wrong_room")
    identity = claims["sub"]
    metadata = claims.get("metadata")
    name = claims.get("name")
    role = claims.get("role")
    if name is not None and not isinstance(name, str):
        raise TokenError("name must be a string.")
    if role is not None and (not isinstance(role, str) or not 0 < len(role) <= protocol.MAX_ROLE_LEN):
        raise TokenError("role must be a short string.")
    _check_fields(identity, name, metadata, minting=False)
    raw_caps = claims["caps"]
    if not isinstance(raw_caps, list):
        raise TokenError("caps must be a list.", code="bad_capabilities")
    try:
        granted = caps.parse_capabilities(raw_caps)
    except CapabilityError as exc:
        raise TokenError(exc.detail, code="bad_capabilities") from None
    return RoomClaims(
        room=claims["aud"],
        identity=identity,
        name=name or identity,
        role=role or caps.PARTICIPANT,
        capabilities=granted,
        issued_at=int(iat),
        expires_at=int(exp),
        jti=str(claims.get("jti", "")),
        region=str(claims.get("region") or ""),
        metadata=metadata or {},
    )


RESUME_SALT = "django_levelchat.resume"


def issue_resume_credential(session: str, room: str, identity: str) -> str:
    """A server-signed credential that lets this participant session resume after its JWT expired."""
    return signing.dumps({"s": session, "r": room, "i": identity}, salt=RESUME_SALT, compress=False)


RESUME_CREDENTIAL_MAX_AGE = 24 * 3600


def verify_resume_credential(credential: str, *, max_age: int = RESUME_CREDENTIAL_MAX_AGE) -> dict[str, str]:
    """Return ``{"session", "room", "identity"}`` or raise TokenError(``resume_invalid``/``resume_expired``).

    The credential proves who owns a session; whether that session can still be resumed is presence's call
    (it stays in the roster for PING_TIMEOUT after its last frame).
    """
    try:
        data = signing.loads(credential, salt=RESUME_SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise TokenError("Resume window has passed.", code="resume_expired") from None
    except (signing.BadSignature, TypeError, ValueError):
        raise TokenError("Invalid resume credential.", code="resume_invalid") from None
    if not isinstance(data, dict):
        raise TokenError("Invalid resume credential.", code="resume_invalid")
    return {"session": data.get("s", ""), "room": data.get("r", ""), "identity": data.get("i", "")}
