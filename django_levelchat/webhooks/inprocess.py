"""In-process delivery for the embedded default (one process, in-memory channel layer).

One daemon thread per process, woken when a transaction that queued events commits and otherwise at the next
retry time. It runs the same ``Deliverer`` as ``manage.py levelchat_webhooks`` (so several processes still never
double-deliver) on its own database connection, never on the event loop: signaling is never blocked by a slow
receiver. With ``WEBHOOK_IN_PROCESS`` off (the default with a Redis channel layer), run the command instead.
"""

from __future__ import annotations

import threading

from django_levelchat.background import WakeableThread
from django_levelchat.conf import embedded_default, levelchat_settings


def enabled() -> bool:
    """WEBHOOK_IN_PROCESS, or (None) whether the default channel layer is the in-memory one."""
    return embedded_default(levelchat_settings.WEBHOOK_IN_PROCESS)


def _run(stop: threading.Event, wake: threading.Event) -> None:
    from django_levelchat.webhooks.delivery import run_loop

    # A background thread must not die on a bug or an outage: every error is logged and retried.
    run_loop(stop, idle=float(levelchat_settings.WEBHOOK_POLL_INTERVAL) * 30, wake=wake, tolerate=(Exception,))


_deliverer = WakeableThread("levelchat-webhooks", _run)


def notify() -> None:
    """New events were committed: wake (or start) this process's deliverer if in-process delivery is on."""
    if enabled():
        _deliverer.notify()


def stop(timeout: float = 30) -> None:
    """Stop this process's deliverer thread after its current batch (tests; a clean shutdown)."""
    _deliverer.stop(timeout)
