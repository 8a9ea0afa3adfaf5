"""The wall clock that liveness reads (heartbeats, the janitor's cut-offs): one seam, so tests drive time forward
instead of waiting for it and pass however loaded the machine is. Callers use ``clock.now()`` at call time."""

from __future__ import annotations

import time


def now() -> float:
    """Seconds since the epoch (shared across processes through Redis, hence not monotonic)."""
    return time.time()
