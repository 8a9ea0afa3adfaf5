"""Where recording jobs run: ``manage.py levelchat_recordings``, or a thread of the web process (embedded mode).

``RECORDING_JOBS_IN_PROCESS`` (None = only with the in-memory channel layer, the one-process default) starts one
daemon thread per process on the first recording; it is woken when a recording stops and otherwise wakes every
half ``RECORDING_HEARTBEAT_TIMEOUT`` to reap recordings whose worker died, and after ``jobs.RETRY_DELAY`` while a
job that raised waits to be retried. It never runs on an event loop, so
composing (which decodes) never stalls signaling. Jobs are claimed in the database, so the thread and any number
of commands can run side by side.
"""

from __future__ import annotations

import logging
import threading

from django.db import close_old_connections, connections

from django_levelchat.background import WakeableThread
from django_levelchat.conf import embedded_default, levelchat_settings
from django_levelchat.models import Recording

logger = logging.getLogger("django_levelchat.recording")


def enabled() -> bool:
    return embedded_default(levelchat_settings.RECORDING_JOBS_IN_PROCESS)


def _run(stop: threading.Event, wake: threading.Event) -> None:
    from django_levelchat.recording.jobs import RETRY_DELAY, run_pending

    while not stop.is_set():
        wake.clear()
        try:
            close_old_connections()
            run_pending()
            live = Recording.objects.filter(status=Recording.Status.RECORDING).exists()
            retrying = Recording.objects.filter(needs_processing=True).exists()  # a job that raised, given back
        except Exception:
            logger.exception("in-process recording jobs failed; retrying")
            connections.close_all()
            live = retrying = True
        pauses = [float(levelchat_settings.RECORDING_HEARTBEAT_TIMEOUT) / 2] if live else []
        if retrying:
            pauses.append(RETRY_DELAY.total_seconds())
        wake.wait(timeout=min(pauses, default=None))


_jobs = WakeableThread("levelchat-recordings", _run)


def notify() -> None:
    """A recording started or stopped: wake (or start) this process's job thread, if in-process jobs are on."""
    if enabled():
        _jobs.notify()


def stop(timeout: float = 30) -> None:
    """Stop this process's job thread after its current pass (tests; a clean shutdown)."""
    _jobs.stop(timeout)
