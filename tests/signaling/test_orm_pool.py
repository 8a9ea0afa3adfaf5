"""Database calls from the event loop: side by side on a server database, one at a time on SQLite."""

from __future__ import annotations

import asyncio
import threading

from django_levelchat.signaling import orm


async def test_calls_overlap_in_the_pool_on_a_server_database(monkeypatch) -> None:
    monkeypatch.setattr(orm, "parallel", lambda: True)
    barrier = threading.Barrier(orm.POOL_THREADS, timeout=30)

    @orm.db_call
    def meet() -> str:
        barrier.wait()  # returns only once POOL_THREADS calls are inside at the same time
        return threading.current_thread().name

    names = await asyncio.gather(*(meet() for _ in range(orm.POOL_THREADS)))
    assert len(set(names)) == orm.POOL_THREADS
    assert all(name.startswith("levelchat-db") for name in names)


async def test_sqlite_keeps_channels_single_thread(db) -> None:
    assert not orm.parallel()
    calls = [orm.db_call(lambda: threading.get_ident()) for _ in range(3)]
    idents = await asyncio.gather(*(call() for call in calls))
    assert len(set(idents)) == 1 and threading.get_ident() not in idents
