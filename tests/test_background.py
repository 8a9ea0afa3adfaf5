"""The lazily started, wakeable thread behind in-process webhook delivery and recording jobs."""

from __future__ import annotations

import queue
import threading

from django_levelchat.background import WakeableThread


def test_notify_starts_wakes_and_stop_joins() -> None:
    passes: queue.Queue[str] = queue.Queue()

    def work(stop: threading.Event, wake: threading.Event) -> None:
        while not stop.is_set():
            wake.clear()
            passes.put(threading.current_thread().name)
            wake.wait()

    worker = WakeableThread("test-wakeable", work)
    worker.notify()
    assert passes.get(timeout=30) == "test-wakeable"
    worker.notify()  # already running: a second pass, not a second thread
    assert passes.get(timeout=30) == "test-wakeable"
    assert [t.name for t in threading.enumerate()].count("test-wakeable") == 1
    worker.stop()
    assert "test-wakeable" not in [t.name for t in threading.enumerate()]
    worker.notify()  # a stopped worker starts again on the next event
    assert passes.get(timeout=30) == "test-wakeable"
    worker.stop()
