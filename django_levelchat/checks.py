"""System checks for the LEVELCHAT settings and for dependency versions with known holes.

Ids: E001 unknown key, E002 wrong type, E003 token TTLs, E004 weak or reused JWT key, E005 malformed JWT_KEYS,
E006 malformed ICE_SERVERS, E007 unknown capability or role in ROLE_CAPABILITIES, E008 daphne < 4.2.2,
E009 PyJWT < 2.13, E010 malformed REGIONS; W001 ALLOWED_ORIGINS allows every origin.
"""

from __future__ import annotations

import difflib
from importlib import metadata
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from django_levelchat.conf import DEFAULTS

_TYPES: dict[str, tuple[type, ...]] = {
    "TOKEN_TTL": (int,),
    "TOKEN_MAX_TTL": (int,),
    "JWT_ALGORITHM": (str,),
    "JWT_KEYS": (dict, type(None)),
    "JWT_SIGNING_KEY_ID": (str, type(None)),
    "JWT_ISSUER": (str,),
    "JWT_LEEWAY": (int,),
    "ICE_SERVERS": (list,),
    "REGIONS": (dict,),
    "DEFAULT_REGION": (str,),
    "ALLOWED_ORIGINS": (list, tuple, type(None)),
    "DEFAULT_MAX_PARTICIPANTS": (int,),
    "DEFAULT_EMPTY_TIMEOUT": (int,),
    "ROLE_CAPABILITIES": (dict,),
    "GUEST_ACCESS": (bool,),
    "REPLACE_DUPLICATE_IDENTITY": (bool,),
    "PING_INTERVAL": (int, float),
    "PING_TIMEOUT": (int, float),
    "HELLO_TIMEOUT": (int, float),
    "REDIS_URL": (str, type(None)),
    "REDIS_PREFIX": (str,),
    "SWEEP_INTERVAL": (int, float),
    "CHAT_HISTORY": (int,),
    "RATE_LIMIT_RATE": (int, float),
    "RATE_LIMIT_BURST": (int,),
    "RATE_LIMIT_GRACE": (int, float),
    "CHAT_RATE": (int, float),
    "CHAT_BURST": (int,),
    "OUTBOUND_MAX_BYTES": (int,),
    "OUTBOUND_MAX_FRAMES": (int,),
    "SEQ_REORDER_WINDOW": (int, float),
    "PENDING_SIGNALS": (int,),
    "RECORDINGS_DIR": (str, type(None)),
}
assert _TYPES.keys() == DEFAULTS.keys(), "every setting needs a type for the checks"

ABSOLUTE_TOKEN_CAP = 3600


def _version(dist: str) -> tuple[int, ...] | None:
    try:
        raw = metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None
    parts = []
    for piece in raw.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _check_types(user: dict[str, Any]) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for key, value in user.items():
        if key not in DEFAULTS:
            close = difflib.get_close_matches(key, DEFAULTS, n=1)
            errors.append(
                Error(
                    f"Unknown LEVELCHAT setting {key!r}.",
                    hint=f"Did you mean {close[0]!r}?" if close else "See django_levelchat/conf.py for the keys.",
                    id="levelchat.E001",
                )
            )
            continue
        expected = _TYPES[key]
        if isinstance(value, bool) and bool not in expected or not isinstance(value, expected):
            names = " or ".join("None" if t is type(None) else t.__name__ for t in expected)
            errors.append(
                Error(f"LEVELCHAT[{key!r}] must be {names}, got {type(value).__name__}.", id="levelchat.E002")
            )
    return errors


def _check_ttl(conf: dict[str, Any]) -> list[CheckMessage]:
    ttl, cap = conf["TOKEN_TTL"], conf["TOKEN_MAX_TTL"]
    if not (isinstance(ttl, int) and isinstance(cap, int)):
        return []
    if not 0 < cap <= ABSOLUTE_TOKEN_CAP:
        return [Error(f"TOKEN_MAX_TTL must be 1..{ABSOLUTE_TOKEN_CAP} seconds.", id="levelchat.E003")]
    if not 0 < ttl <= cap:
        return [Error("TOKEN_TTL must be positive and at most TOKEN_MAX_TTL.", id="levelchat.E003")]
    return []


def _check_keys(conf: dict[str, Any]) -> list[CheckMessage]:
    keys = conf["JWT_KEYS"]
    if keys is None:
        if conf["JWT_ALGORITHM"] not in ("HS256", "HS384", "HS512"):
            return [Error("Without JWT_KEYS the derived key is HMAC: JWT_ALGORITHM must be HS*.", id="levelchat.E005")]
        return []
    if not isinstance(keys, dict):
        return []
    from django_levelchat.tokens import ASYMMETRIC_ALGORITHMS, HMAC_ALGORITHMS

    errors: list[CheckMessage] = []
    if not keys:
        errors.append(Error("JWT_KEYS is empty.", id="levelchat.E005"))
    for kid, spec in keys.items():
        if not isinstance(spec, dict):
            errors.append(Error(f"JWT_KEYS[{kid!r}] must be a dict.", id="levelchat.E005"))
            continue
        alg = spec.get("algorithm", "HS256")
        if alg in HMAC_ALGORITHMS:
            secret = spec.get("key")
            raw = secret.encode() if isinstance(secret, str) else secret
            if not isinstance(raw, bytes) or len(raw) < 32:
                errors.append(Error(f"JWT key {kid!r} is shorter than 32 bytes.", id="levelchat.E004"))
            elif secret == settings.SECRET_KEY or raw == str(settings.SECRET_KEY).encode():
                errors.append(
                    Error(
                        f"JWT key {kid!r} equals SECRET_KEY.",
                        hint="Use a separate key, or leave JWT_KEYS unset to derive one.",
                        id="levelchat.E004",
                    )
                )
        elif alg in ASYMMETRIC_ALGORITHMS:
            if not spec.get("public_key"):
                errors.append(Error(f"JWT key {kid!r} needs 'public_key'.", id="levelchat.E005"))
        else:
            errors.append(Error(f"JWT key {kid!r}: unsupported algorithm {alg!r}.", id="levelchat.E005"))
    signing_kid = conf["JWT_SIGNING_KEY_ID"]
    if signing_kid is not None and signing_kid not in keys:
        errors.append(Error(f"JWT_SIGNING_KEY_ID {signing_kid!r} is not in JWT_KEYS.", id="levelchat.E005"))
    return errors


def _check_ice(conf: dict[str, Any]) -> list[CheckMessage]:
    servers = conf["ICE_SERVERS"]
    if not isinstance(servers, list):
        return []
    for server in servers:
        urls = server.get("urls") if isinstance(server, dict) else None
        if isinstance(urls, str):
            urls = [urls]
        if not urls or not all(isinstance(u, str) and u.split(":", 1)[0] in ("stun", "turn", "turns") for u in urls):
            return [
                Error(
                    f"Malformed ICE server {server!r}.",
                    hint='Use {"urls": ["stun:host:3478"]} or a turn: URL with username/credential.',
                    id="levelchat.E006",
                )
            ]
    return []


def _check_roles(conf: dict[str, Any]) -> list[CheckMessage]:
    roles = conf["ROLE_CAPABILITIES"]
    if not isinstance(roles, dict):
        return []
    from django_levelchat.capabilities import parse_capabilities
    from django_levelchat.exceptions import CapabilityError

    errors: list[CheckMessage] = []
    for role, names in roles.items():
        try:
            parse_capabilities(names)
        except CapabilityError as exc:
            errors.append(Error(f"ROLE_CAPABILITIES[{role!r}]: {exc.detail}", id="levelchat.E007"))
    return errors


def _check_regions(conf: dict[str, Any]) -> list[CheckMessage]:
    regions = conf["REGIONS"]
    if not isinstance(regions, dict):
        return []
    bad = [r for r, url in regions.items() if not (isinstance(url, str) and url.startswith(("ws://", "wss://")))]
    if bad:
        return [Error(f"REGIONS values must be ws:// or wss:// URLs (bad: {', '.join(bad)}).", id="levelchat.E010")]
    return []


def _check_versions() -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    daphne = _version("daphne")
    if daphne is not None and daphne < (4, 2, 2):
        errors.append(Error("daphne < 4.2.2 allows upgrade-header smuggling (CVE-2026-44546).", id="levelchat.E008"))
    pyjwt = _version("PyJWT")
    if pyjwt is not None and pyjwt < (2, 13):
        errors.append(Error("PyJWT < 2.13 accepts a JWK as an HMAC secret (CVE-2026-48526).", id="levelchat.E009"))
    return errors


@register(Tags.security, Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    user = getattr(settings, "LEVELCHAT", None) or {}
    if not isinstance(user, dict):
        return [Error("LEVELCHAT must be a dict.", id="levelchat.E002")]
    errors = _check_types(user)
    conf = {**DEFAULTS, **{k: v for k, v in user.items() if k in DEFAULTS}}
    for check in (_check_ttl, _check_keys, _check_ice, _check_roles, _check_regions):
        errors.extend(check(conf))
    origins = conf["ALLOWED_ORIGINS"]
    if isinstance(origins, list | tuple) and "*" in origins:
        errors.append(
            Warning(
                "LEVELCHAT['ALLOWED_ORIGINS'] contains '*': any site can open signaling sockets (CSWSH).",
                id="levelchat.W001",
            )
        )
    errors.extend(_check_versions())
    return errors
