"""The ``LEVELCHAT`` settings namespace, read through one object: ``levelchat_settings``.

Example::

    LEVELCHAT = {
        "TOKEN_TTL": 900,
        "ICE_SERVERS": [{"urls": ["stun:stun.example.org:3478"]}],
        "REGIONS": {"eu": "wss://eu.example.org/levelchat/v1/signal"},
    }

Every key has a documented default in ``DEFAULTS``. User settings are read lazily (importing this module
never touches ``django.conf.settings``) and the cache is dropped on ``setting_changed`` so
``override_settings`` works in tests. Unknown or mistyped keys are reported by system checks
(``levelchat.E001``/``E002``), see ``checks.py``.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

DEFAULTS: dict[str, Any] = {
    # --- Room tokens (JWT) ---
    # Lifetime of a room token when the caller does not ask for one (seconds).
    "TOKEN_TTL": 600,
    # Hard cap on a token's lifetime (exp - iat), enforced when minting and when verifying.
    "TOKEN_MAX_TTL": 3600,
    # Signing algorithm of the derived default key (used when JWT_KEYS is None).
    "JWT_ALGORITHM": "HS256",
    # Key map ``{kid: {"algorithm": "HS256", "key": "..."}}`` or, for asymmetric keys,
    # ``{kid: {"algorithm": "EdDSA"|"RS256"|"ES256", "private_key": PEM (optional), "public_key": PEM}}``.
    # ``None`` derives one HS256 key from SECRET_KEY (HMAC, so the JWT key is never SECRET_KEY itself).
    # Keys are only ever looked up here by ``kid``: never fetched from a header or URL.
    "JWT_KEYS": None,
    # The ``kid`` used for signing new tokens; ``None`` = the first key of JWT_KEYS.
    "JWT_SIGNING_KEY_ID": None,
    # ``iss`` claim written and required.
    "JWT_ISSUER": "django-levelchat",
    # Clock skew tolerated on exp/nbf/iat (seconds).
    "JWT_LEEWAY": 5,
    # --- Media / network ---
    # ICE servers handed to clients in ``welcome`` and by the token endpoint.
    "ICE_SERVERS": [{"urls": ["stun:stun.l.google.com:19302"]}],
    # Region name -> absolute signaling URL (``wss://…/levelchat/v1/signal``). Empty = same origin.
    "REGIONS": {},
    # Region written into new tokens when the caller does not name one ("" = none).
    "DEFAULT_REGION": "",
    # Origins allowed to open the signaling socket; ``None`` = derived from ALLOWED_HOSTS.
    "ALLOWED_ORIGINS": None,
    # --- Rooms ---
    # ``max_participants`` of a room created without one.
    "DEFAULT_MAX_PARTICIPANTS": 100,
    # Seconds an empty active room waits before it ends (rooms created without ``empty_timeout``).
    "DEFAULT_EMPTY_TIMEOUT": 300,
    # Role -> capability list overriding the built-in defaults in ``capabilities.DEFAULT_ROLE_CAPABILITIES``.
    "ROLE_CAPABILITIES": {},
    # ``{% levelchat_call %}`` for anonymous users: False shows a sign-in card; True lets them join as "Guest".
    "GUEST_ACCESS": False,
    # A second session of the same identity replaces the first (close 4409) instead of being refused.
    "REPLACE_DUPLICATE_IDENTITY": True,
    # --- Signaling timing and limits ---
    # Client ping interval and server timeout announced in ``welcome`` (seconds). A participant whose last
    # frame is older than PING_TIMEOUT is removed (``connection_lost``), so a vanished participant disappears
    # within ~15 s; until then a dropped session can resume with the credential from ``welcome``.
    "PING_INTERVAL": 5,
    "PING_TIMEOUT": 12,
    # A socket that sends no ``hello`` within this many seconds is closed 4401.
    "HELLO_TIMEOUT": 5,
    # Hellos a process joins or resumes at once; more wait their turn (a reconnect storm is answered first come,
    # first served instead of all together at its end).
    "JOIN_CONCURRENCY": 16,
    # --- Presence across processes ---
    # Redis for presence (roster, heartbeats, event sequence, chat history). ``None`` = the first host of a
    # channels_redis default layer, or process memory when the channel layer is in-memory.
    "REDIS_URL": None,
    # Prefix of every presence key in Redis (several projects can share one Redis).
    "REDIS_PREFIX": "levelchat",
    # Seconds between janitor rounds: heartbeats written (one batch per process), then vanished participants,
    # silence and empty rooms swept by the one process holding the janitor lease (each process in memory).
    "SWEEP_INTERVAL": 1.0,
    # Chat messages kept per room and replayed in ``welcome``.
    "CHAT_HISTORY": 50,
    # Per-connection token bucket: sustained frames/s and burst size.
    "RATE_LIMIT_RATE": 20,
    "RATE_LIMIT_BURST": 50,
    # Seconds of sustained flooding (after the first ``rate_limited`` warning) before close 4429.
    "RATE_LIMIT_GRACE": 5,
    # Public chat messages per second a connection may send, and their burst (over it: ``rate_limited``).
    "CHAT_RATE": 5,
    "CHAT_BURST": 10,
    # A socket whose client stopped reading is closed 4013 ``slow_consumer`` (it may resume) once this many
    # bytes or frames wait unsent in the server's write buffer for it.
    "OUTBOUND_MAX_BYTES": 1048576,
    "OUTBOUND_MAX_FRAMES": 2000,
    # Seconds a socket holds a room event that arrived ahead of a missing ``seq`` (the channel layer does not
    # keep order across senders) before it gives up waiting and lets the client resync. A process that sees a seq
    # come later than that holds longer from then on (up to 8x; docs/protocol.md §7). 1 s: on a loaded 2-core
    # machine senders stalled up to 0.84 s between stamping a seq and sending it (docs/reliability.md, class 8).
    "SEQ_REORDER_WINDOW": 1.0,
    # Signals (offers, answers, candidates) kept for a participant who is reconnecting, delivered on resume.
    "PENDING_SIGNALS": 64,
    # --- SFU (docs/sfu.md) ---
    # Run the SFU inside the server process, started on first need. ``None`` = yes exactly when the channel
    # layer is in-memory (one process); with Redis run ``manage.py runsfu`` workers instead.
    "SFU_EMBEDDED": None,
    # A meeting moves to the SFU when a join takes it past this many members (the mesh costs O(n²) streams) and
    # an SFU can take it; 0 = meetings stay on the mesh. Clients get ``sfu-state ready`` and move their media.
    "SFU_MESH_LIMIT": 0,
    # Seconds between a worker's heartbeats, and how long a silent worker keeps its rooms before another takes them.
    "SFU_HEARTBEAT": 2.0,
    "SFU_LEASE_TTL": 6.0,
    # ICE servers the SFU's own peer connections use (a TURN server if the SFU sits behind a restrictive NAT).
    "SFU_ICE_SERVERS": [],
    # Accept ICE candidates on loopback, private and link-local addresses (and mDNS names). Off: a client must
    # not steer the SFU at the server's own network. Turn on for a LAN deployment or tests on loopback.
    "SFU_ALLOW_PRIVATE_CANDIDATES": False,
    # The public address clients should reach the SFU at, replacing the address of its host candidates (a server
    # behind 1:1 NAT, e.g. a cloud VM's public IP). ``None`` = the addresses aiortc finds on the interfaces.
    "SFU_ANNOUNCED_ADDRESS": None,
    # Local addresses whose host candidates the SFU advertises (e.g. hide docker bridges). ``None`` = all.
    "SFU_CANDIDATE_ADDRESSES": None,
    # ``x-google-start-bitrate`` (kbps) in answers to publishers: Chrome starts near it instead of ramping ~30 s.
    "SFU_START_BITRATE": 1000,
    # At most one upstream keyframe request (PLI) per layer this often (seconds); the rest collapse into it.
    "SFU_KEYFRAME_INTERVAL": 0.5,
    # Last-N: a subscriber on the SFU gets camera video from at most this many others (those it pins with a
    # per-participant ``medium``/``high`` quality, then the most recent speakers); the rest are paused. 0 = all.
    "SFU_LAST_N": 9,
    # A subscriber on the SFU gets the microphones of only this many others, the loudest by the RFC 6464 level on
    # their packets; the rest are paused. 0 = all.
    "SFU_AUDIO_TOP": 3,
    # --- Recordings (docs/recording.md) ---
    # Where finished files go: ``None`` = the project's default storage; a string = an alias of ``STORAGES``
    # (e.g. an S3 bucket through django-storages). Files are served only through the authorised download view.
    "RECORDING_STORAGE": None,
    # Name prefix of recording files inside that storage.
    "RECORDING_PREFIX": "levelchat/recordings/",
    # Local directory the SFU writes live files into before they are finalised; ``None`` = <tmp>/levelchat-spool.
    # Must be on a local disk shared by the SFU workers and the process running ``levelchat_recordings``.
    "RECORDING_SPOOL_DIR": None,
    # Dotted path of ``fn(request, recording) -> bool`` deciding who may download a recording besides API keys;
    # ``None`` = staff users only.
    "RECORDING_ACCESS": None,
    # A recording whose worker has not reported for this many seconds is failed (partial) and finalised.
    "RECORDING_HEARTBEAT_TIMEOUT": 30,
    # Composed file of the whole call: "grid", "speaker" (the loudest person large) or None (track files only).
    "RECORDING_LAYOUT": "grid",
    # Run recording jobs (finalise, compose) in a thread of the web process. ``None`` = only when the channel
    # layer is in-memory (embedded mode); otherwise run ``manage.py levelchat_recordings``.
    "RECORDING_JOBS_IN_PROCESS": None,
    # --- Webhooks (docs/webhooks.md) ---
    # Allow endpoint URLs that resolve to loopback, private, link-local or reserved addresses. Off, such URLs
    # are refused when an endpoint is saved and again before every delivery (SSRF).
    "WEBHOOK_ALLOW_PRIVATE_URLS": False,
    # Seconds to connect and get an answer from a receiver; slower is a failed attempt.
    "WEBHOOK_TIMEOUT": 10,
    # Attempts per delivery before it is marked failed. With the retry defaults below the last attempt comes
    # 18-36 minutes after the first, so a receiver down for 10 minutes loses nothing.
    "WEBHOOK_MAX_ATTEMPTS": 25,
    # Retry n waits min(WEBHOOK_RETRY_MAX_DELAY, WEBHOOK_RETRY_BASE * 2**(n-1)) seconds, times a random 0.5-1.
    "WEBHOOK_RETRY_BASE": 1.0,
    "WEBHOOK_RETRY_MAX_DELAY": 120.0,
    # Seconds a deliverer holds a claimed delivery; if it dies, another retries after this. > WEBHOOK_TIMEOUT.
    "WEBHOOK_LEASE": 60,
    # Seconds the delivery loop sleeps when nothing is due (new events wake the in-process deliverer at once).
    "WEBHOOK_POLL_INTERVAL": 1.0,
    # Parallel HTTP requests per deliverer (different rooms or endpoints; one room is always sequential).
    "WEBHOOK_CONCURRENCY": 8,
    # Days to keep delivered or failed events (and their delivery records); 0 or None = forever.
    "WEBHOOK_RETENTION_DAYS": 30,
    # Deliver from a thread of the web process. None = yes with the in-memory channel layer (the embedded
    # default), no otherwise: then run ``manage.py levelchat_webhooks`` (any number of them).
    "WEBHOOK_IN_PROCESS": None,
}


class LevelChatSettings:
    """Attribute access to ``settings.LEVELCHAT`` with defaults; unknown names raise ``AttributeError``."""

    def __init__(self, defaults: dict[str, Any] | None = None) -> None:
        self.defaults = defaults or DEFAULTS
        self._cached: set[str] = set()

    @property
    def user_settings(self) -> dict[str, Any]:
        if not hasattr(self, "_user_settings"):
            self._user_settings = dict(getattr(settings, "LEVELCHAT", None) or {})
        return self._user_settings

    def __getattr__(self, attr: str) -> Any:
        if attr not in self.defaults:
            raise AttributeError(f"Invalid LEVELCHAT setting: {attr!r}")
        value = self.user_settings.get(attr, self.defaults[attr])
        self._cached.add(attr)
        setattr(self, attr, value)
        return value

    def reload(self) -> None:
        for attr in self._cached:
            delattr(self, attr)
        self._cached.clear()
        if hasattr(self, "_user_settings"):
            delattr(self, "_user_settings")


levelchat_settings = LevelChatSettings(DEFAULTS)


def embedded_default(override: bool | None) -> bool:
    """Whether a background job runs inside the web process: ``override`` is that feature's own setting, and None
    follows the deployment — the embedded default is one process on an in-memory channel layer."""
    if override is not None:
        return bool(override)
    layers = getattr(settings, "CHANNEL_LAYERS", None) or {}
    backend = str(layers.get("default", {}).get("BACKEND", "channels.layers.InMemoryChannelLayer"))
    return backend.rsplit(".", 1)[-1] == "InMemoryChannelLayer"


def region_signaling_url(region: str) -> str | None:
    """The signaling URL configured for ``region`` in REGIONS, or None (then: the page's or request's own host)."""
    return levelchat_settings.REGIONS.get(region) if region else None


def derived_signing_key() -> str:
    """The default HS256 key: an HMAC of SECRET_KEY, so the JWT key never equals SECRET_KEY."""
    return hmac.new(settings.SECRET_KEY.encode(), b"django_levelchat.jwt", hashlib.sha256).hexdigest()


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting in ("LEVELCHAT", "SECRET_KEY", "ALLOWED_HOSTS"):
        levelchat_settings.reload()
        from django_levelchat import tokens  # local: tokens caches its key map

        tokens.clear_key_cache()


setting_changed.connect(_reload)
