"""Settings helpers for running on several processes: the recommended Redis channel layer.

In ``settings.py``::

    from django_levelchat.deploy import redis_channel_layer

    CHANNEL_LAYERS = {"default": redis_channel_layer("redis://127.0.0.1:6379/0")}

It imports nothing from Django, so it is safe to call while settings load.
"""

from __future__ import annotations

from typing import Any

#: How long a command waits for a free pooled connection (every pool: the channel layer's, presence's, the SFU
#: leases'): a burst while the event loop lags holds connections longer; waiting beats failing the request.
POOL_TIMEOUT = 20.0


def redis_connection_options(*, max_connections: int = 500) -> dict[str, Any]:
    """redis-py options that survive a Redis restart and a join storm.

    A pool connection idle across a Redis restart is dead; ``health_check_interval`` pings idle connections
    before use and the retry policy reconnects once more, so the first command after an outage succeeds instead
    of failing. The stock pool of 100 connections raises under a join storm, hence ``max_connections``. A new
    connection may take 5 s to open: on an overloaded machine Redis itself waits for a core.
    """
    import inspect

    from redis.asyncio.connection import AbstractConnection
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import ConnectionError, TimeoutError

    # No CLIENT SETINFO nor CLIENT MAINT_NOTIFICATIONS on connect: servers before Redis 7.2 answer them with errors
    # that redis-py reads and drops, but a connect cut short under load left such an answer unread, and the
    # connection's next command got it ("unknown subcommand 'SETINFO'") — and every later command the answer
    # before its own.
    if "driver_info" in inspect.signature(AbstractConnection.__init__).parameters:
        no_setinfo: dict[str, Any] = {"driver_info": None}
    else:  # redis-py before 7.1
        no_setinfo = {"lib_name": None, "lib_version": None}
    try:
        from redis.maint_notifications import MaintNotificationsConfig

        no_setinfo["maint_notifications_config"] = MaintNotificationsConfig(enabled=False)
    except ImportError:  # redis-py before 7: no such handshake
        pass
    return {
        **no_setinfo,
        "max_connections": max_connections,
        "health_check_interval": 2,
        "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), 3),
        "retry_on_error": [ConnectionError, TimeoutError],
        "socket_keepalive": True,
        "socket_connect_timeout": 5,
    }


def redis_channel_layer(url: str, *, max_connections: int = 500, capacity: int = 1000) -> dict[str, Any]:
    """A ``CHANNEL_LAYERS`` entry for channels_redis tuned for signaling.

    ``capacity`` is per socket: one busy participant's inbox, so it must hold a burst of room events (the messages
    waiting for a whole process have a bound of their own, ``layers.PROCESS_CAPACITY``). The
    backend is ``django_levelchat.layers.RedisChannelLayer``: channels-redis whose pool waits for a free connection
    (up to ``POOL_TIMEOUT``) rather than raising when all ``max_connections`` are busy.
    """
    return {
        "BACKEND": "django_levelchat.layers.RedisChannelLayer",
        "CONFIG": {
            "hosts": [{"address": url, **redis_connection_options(max_connections=max_connections)}],
            "capacity": capacity,
        },
    }


#: A churn collection (``collect_after_churn``) waits for at least this many ended sessions: at most a few
#: milliseconds of work however often sessions end.
CHURN_COLLECT_MIN = 25

_gc_tuned = False
_ended_since_collection = 0


def tune_gc(young: int = 50_000) -> None:
    """Call once the server has started (the end of the ASGI module): a process holding thousands of sockets has
    a big, long-lived heap, and CPython's default thresholds walk it in full collections that pause the event loop
    for most of a second. ``gc.freeze()`` exempts everything start-up allocated (Django, the app, the URLconf)
    from collections, and a larger young generation lets short-lived request objects die before promotion, so full
    collections come rarely. Figures in docs/performance.md ("At scale").

    Rarely is also how often the garbage of ended connections went: CPython counts the young generation net of
    deallocations, so at a steady churn 50,000 took minutes, and what had been promoted waited for an older
    generation (up to an hour). daphne's connection objects (twisted's protocol, transport and request, autobahn's
    state: about 75 objects a socket) are reference cycles, so each closed socket's memory stayed until then: the
    soak's RSS grew 0.5 MB a minute (G16). Hence the churn collection, which the janitor's heartbeat loop runs
    (``collect_after_churn``)."""
    import gc

    global _gc_tuned
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young, middle, old)
    _gc_tuned = True


def session_ended() -> None:
    """One of this process's sessions ended (``liveness.left``)."""
    global _ended_since_collection
    _ended_since_collection += 1


def collect_after_churn(open_sessions: int) -> bool:
    """After ``tune_gc``: a full collection once the sessions that ended since the last one reach a quarter of
    those still open (at least ``CHURN_COLLECT_MIN``), so the garbage of ended sockets stays below about a quarter
    of the live sessions' memory, as CPython's own rule for full collections keeps it (pending objects a quarter of
    the long-lived ones). A collection walks what was allocated since start-up, about the live sessions; one per
    quarter of them churned is a bounded cost per session, and a join storm (nothing ends) triggers none. True when
    it collected."""
    import gc

    global _ended_since_collection
    if not _gc_tuned or _ended_since_collection < max(CHURN_COLLECT_MIN, open_sessions // 4):
        return False
    _ended_since_collection = 0
    gc.collect()
    return True
