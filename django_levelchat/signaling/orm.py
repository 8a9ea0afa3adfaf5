"""Database calls from the event loop, several at a time where the database allows it.

Channels' ``database_sync_to_async`` runs every call of a process in ONE thread, in turn, so a join storm queues
on it: each join waits for every earlier join's round trips (at 5,000 sockets 15 joins/s while daphne used 17 ms
of CPU per join). On a server database (PostgreSQL) the calls here run in a small pool of threads instead, each
with its own connection (kept for ``CONN_MAX_AGE``); on SQLite, whose writers serialise anyway and whose test
databases live in one connection, they keep Channels' single thread.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from channels.db import database_sync_to_async
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.utils import load_backend

P = ParamSpec("P")
R = TypeVar("R")

#: Threads (so database connections) per process for the calls below on a server database.
POOL_THREADS = 4

_pool = ThreadPoolExecutor(max_workers=POOL_THREADS, thread_name_prefix="levelchat-db")


def parallel() -> bool:
    """Whether calls may run side by side: not on SQLite.

    Read from the settings, not from ``connections[alias]``: on the event loop that is per task (asgiref's Local),
    so asking it from each socket's task built a DatabaseWrapper per socket, never used (3.2 KB each, issue 16)."""
    return _vendor(connections.settings[DEFAULT_DB_ALIAS]["ENGINE"]) != "sqlite"


@functools.cache
def _vendor(engine: str) -> str:
    return str(load_backend(engine).DatabaseWrapper.vendor)


def db_call(func: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """``database_sync_to_async`` that uses the thread pool on a server database (see the module docstring)."""
    serial = database_sync_to_async(func)
    pooled = database_sync_to_async(func, thread_sensitive=False, executor=_pool)

    @functools.wraps(func)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        runner = pooled if parallel() else serial
        return await runner(*args, **kwargs)

    return call
