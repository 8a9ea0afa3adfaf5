"""The embedded SFU: with the in-memory channel layer (one process) the worker runs as a task of the server.

Started on first need by the signaling side, on the server's own event loop; the same ``SfuWorker`` code path as
``manage.py runsfu``. Set ``LEVELCHAT["SFU_EMBEDDED"]`` to force it on or off.
"""

from __future__ import annotations

import asyncio
import weakref

from django_levelchat.conf import embedded_default, levelchat_settings
from django_levelchat.sfu.worker import SfuWorker

_workers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[SfuWorker, asyncio.Task[None]]] = (
    weakref.WeakKeyDictionary()
)


def embedded_enabled() -> bool:
    return embedded_default(levelchat_settings.SFU_EMBEDDED)


async def ensure_worker() -> SfuWorker:
    """This loop's embedded worker, started (and registered in the leases) if it is not running.

    Raises :class:`~django_levelchat.sfu.selfcheck.SfuUnsupported` when the installed aiortc cannot run the SFU.
    """
    loop = asyncio.get_running_loop()
    running = _workers.get(loop)
    if running is not None and not running[1].done():
        await running[0].ready.wait()
        return running[0]
    worker = SfuWorker()
    task = loop.create_task(worker.run())
    _workers[loop] = (worker, task)
    ready = loop.create_task(worker.ready.wait())
    await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
    if not worker.ready.is_set():
        ready.cancel()
        task.result()  # re-raises why the worker could not start
    return worker


async def stop_worker() -> None:
    """Stop this loop's embedded worker (tests; server shutdown)."""
    running = _workers.pop(asyncio.get_running_loop(), None)
    if running is None:
        return
    running[1].cancel()
    try:
        await running[1]
    except asyncio.CancelledError:
        pass
