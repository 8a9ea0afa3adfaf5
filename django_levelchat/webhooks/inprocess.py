"""In-process delivery for the embedded default (one process, in-memory channel layer).

One daemon thread per process, woken when a transaction that queued events commits and otherwise at the next
retry time. It runs the same ``Deliverer`` as ``manage.py levelchat_webhooks`` (so several processes still never
double-deliver) on its own database connection, never on the event loop: signaling is never blocked by a slow
receiver. With ``WEBHOOK_IN_PROCESS`` off (the default with a Redis channel layer), run the command instead.
"""

from __future__ import annotations

import threading

from django_levelchat.conf import embedded_default, levelchat_settings

_lock = threading.Lock()
_wake = threading.Event()
_stop = threading.Event()
_thread: threading.Thread | None = None


def enabled() -> bool:
    """WEBHOOK_IN_PROCESS, or (None) whether the default channel layer is the in-memory one."""
    return embedded_default(levelchat_settings.WEBHOOK_IN_PROCESS)


def notify() -> None:
    """New events were committed: wake (or start) this process's deliverer if in-process delivery is on."""
    global _thread
    if not enabled():
        return
    with _lock:
        if _thread is None or not _thread.is_alive():
            _stop.clear()
            _thread = threading.Thread(target=_run, name="levelchat-webhooks", daemon=True)
            _thread.start()
    _wake.set()


def _run() -> None:
    from django_levelchat.webhooks.delivery import run_loop

    # A background thread must not die on a bug or an outage: every error is logged and retried.
    run_loop(_stop, idle=float(levelchat_settings.WEBHOOK_POLL_INTERVAL) * 30, wake=_wake, tolerate=(Exception,))


def stop(timeout: float = 30) -> None:
    """Stop this process's deliverer thread after its current batch (tests; a clean shutdown)."""
    global _thread
    with _lock:
        thread, _thread = _thread, None
    if thread is not None:
        _stop.set()
        _wake.set()
        thread.join(timeout)
