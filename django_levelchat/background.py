"""One daemon thread per process that is started on first need and woken on demand.

The embedded default runs webhook delivery and recording jobs in the web process. Both want the same shape: never
on the event loop, started lazily by the first event, woken when new work commits, stoppable for tests and a clean
shutdown. The worker function gets the two events and loops until ``stop`` is set.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class WakeableThread:
    """A lazily started daemon thread running ``work(stop, wake)``; ``notify`` starts it or wakes it."""

    def __init__(self, name: str, work: Callable[[threading.Event, threading.Event], None]) -> None:
        self.name = name
        self._work = work
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def notify(self) -> None:
        """Start the thread if it is not running, then wake it."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(
                    target=self._work, args=(self._stop, self._wake), name=self.name, daemon=True
                )
                self._thread.start()
        self._wake.set()

    def stop(self, timeout: float = 30) -> None:
        """Ask the thread to finish its current step and wait for it (tests; a clean shutdown)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            self._wake.set()
            thread.join(timeout)
