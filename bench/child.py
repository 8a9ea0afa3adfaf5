"""The measured process of a benchmark: a child (``python -m <module> --serve <socket> …``) answering JSON requests.

The SFU and recording benchmarks run the code they measure in a process of its own, so its CPU time is the figure,
and steer it over a Unix socket, one JSON line per request and answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

Call = Callable[..., Awaitable[Any]]


@contextlib.asynccontextmanager
async def serving(module: str, *args: str, tmp: str | None = None) -> AsyncIterator[Call]:
    """Start ``python -m module --serve <tmp>/sock *args`` and yield ``call``: ``await call(op=…)`` is the child's
    ``result``. The child is killed at exit."""
    path = os.path.join(tmp or tempfile.mkdtemp(prefix="lc-bench-"), "sock")
    child = await asyncio.create_subprocess_exec(sys.executable, "-m", module, "--serve", path, *args)
    try:
        for _ in range(1200):  # until the child listens (it imports aiortc and the app's code first)
            try:
                reader, writer = await asyncio.open_unix_connection(path)
                break
            except OSError:
                await asyncio.sleep(0.05)
        else:
            raise RuntimeError(f"the {module} process did not start")

        async def call(**request: Any) -> Any:
            writer.write((json.dumps(request) + "\n").encode())
            await writer.drain()
            return json.loads(await reader.readline())["result"]

        try:
            yield call
        finally:
            writer.close()
    finally:
        with contextlib.suppress(ProcessLookupError):
            child.kill()
        await child.wait()
