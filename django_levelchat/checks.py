"""System checks for the LEVELCHAT settings and for dependency versions with known holes.

Ids: E001 unknown key, E002 wrong type, E003 token TTLs, E004 weak or reused JWT key, E005 malformed JWT_KEYS,
E006 malformed ICE_SERVERS, E007 unknown capability or role in ROLE_CAPABILITIES, E008 daphne < 4.2.2,
E009 PyJWT < 2.13, E010 malformed REGIONS, E011 webhook timing out of range; W001 ALLOWED_ORIGINS allows every
origin, W002 the webhook retries give up before a 10-minute receiver outage is over.
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
    "JOIN_CONCURRENCY": (int,),
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
    "SFU_EMBEDDED": (bool, type(None)),
    "SFU_MESH_LIMIT": (int,),
    "SFU_HEARTBEAT": (int, float),
    "SFU_LEASE_TTL": (int, float),
    "SFU_ICE_SERVERS": (list,),
    "SFU_ALLOW_PRIVATE_CANDIDATES": (bool,),
    "SFU_ANNOUNCED_ADDRESS": (str, type(None)),
    "SFU_CANDIDATE_ADDRESSES": (list, tuple, type(None)),
    "SFU_START_BITRATE": (int,),
    "SFU_KEYFRAME_INTERVAL": (int, float),
    "SFU_LAST_N": (int,),
    "SFU_AUDIO_TOP": (int,),
    "RECORDING_STORAGE": (str, type(None)),
    "RECORDING_PREFIX": (str,),
    "RECORDING_SPOOL_DIR": (str, type(None)),
    "RECORDING_ACCESS": (str, type(None)),
    "RECORDING_HEARTBEAT_TIMEOUT": (int, float),
    "RECORDING_LAYOUT": (str, type(None)),
    "RECORDING_JOBS_IN_PROCESS": (bool, type(None)),
    "WEBHOOK_ALLOW_PRIVATE_URLS": (bool,),
    "WEBHOOK_TIMEOUT": (int, float),
    "WEBHOOK_MAX_ATTEMPTS": (int,),
    "WEBHOOK_RETRY_BASE": (int, float),
    "WEBHOOK_RETRY_MAX_DELAY": (int, float),
    "WEBHOOK_LEASE": (int, float),
    "WEBHOOK_POLL_INTERVAL": (int, float),
    "WEBHOOK_CONCURRENCY": (int,),
    "WEBHOOK_RETENTION_DAYS": (int, type(None)),
    "WEBHOOK_IN_PROCESS": (bool, type(None)),
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


#: A receiver down this long must lose nothing with the configured retries (issue 15).
WEBHOOK_OUTAGE_COVERED = 600


def webhook_retry_span(attempts: int, base: float, cap: float) -> float:
    """Shortest time (worst jitter, 50 %) between the first and the last attempt of a delivery."""
    return sum(0.5 * min(cap, base * 2 ** min(n - 1, 60)) for n in range(1, attempts))


def _check_webhooks(conf: dict[str, Any]) -> list[CheckMessage]:
    names = (
        "WEBHOOK_TIMEOUT",
        "WEBHOOK_MAX_ATTEMPTS",
        "WEBHOOK_RETRY_BASE",
        "WEBHOOK_RETRY_MAX_DELAY",
        "WEBHOOK_LEASE",
        "WEBHOOK_POLL_INTERVAL",
        "WEBHOOK_CONCURRENCY",
    )
    values = {n: conf[n] for n in names}
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values.values()):
        return []  # reported by E002
    bad = [n for n, v in values.items() if v <= 0]
    if bad:
        return [Error(f"{', '.join(bad)} must be positive.", id="levelchat.E011")]
    if values["WEBHOOK_LEASE"] <= values["WEBHOOK_TIMEOUT"]:
        return [
            Error(
                "WEBHOOK_LEASE must be longer than WEBHOOK_TIMEOUT, or a slow delivery is retried while in flight.",
                id="levelchat.E011",
            )
        ]
    if values["WEBHOOK_RETRY_MAX_DELAY"] < values["WEBHOOK_RETRY_BASE"]:
        return [Error("WEBHOOK_RETRY_MAX_DELAY must be at least WEBHOOK_RETRY_BASE.", id="levelchat.E011")]
    span = webhook_retry_span(
        int(values["WEBHOOK_MAX_ATTEMPTS"]),
        float(values["WEBHOOK_RETRY_BASE"]),
        float(values["WEBHOOK_RETRY_MAX_DELAY"]),
    )
    if span < WEBHOOK_OUTAGE_COVERED:
        return [
            Warning(
                f"Webhook retries may give up {span:.0f} s after the first attempt: a receiver down for "
                f"{WEBHOOK_OUTAGE_COVERED // 60} minutes would lose events.",
                hint="Raise WEBHOOK_MAX_ATTEMPTS or WEBHOOK_RETRY_MAX_DELAY.",
                id="levelchat.W002",
            )
        ]
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
    for check in (_check_ttl, _check_keys, _check_ice, _check_roles, _check_regions, _check_webhooks):
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
