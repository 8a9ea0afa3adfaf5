"""``manage.py levelchat_recordings``: finalise and compose stopped recordings, outside the SFU process."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from django_levelchat.recording.jobs import run_pending


class Command(BaseCommand):
    help = (
        "Run recording jobs until stopped: fail recordings whose SFU worker died (keeping what they wrote), move "
        "finished track files into the recording storage and compose the call. Several may run: jobs are claimed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Run what is pending now, then exit.")
        parser.add_argument("--interval", type=float, default=5.0, help="Seconds between polls (default 5).")

    def handle(self, *args: Any, once: bool = False, interval: float = 5.0, **options: Any) -> None:
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        done = 0
        while not stop.is_set():
            close_old_connections()
            done += run_pending(should_stop=stop.is_set)
            if once:
                break
            stop.wait(interval)
        self.stderr.write(f"levelchat_recordings: {done} recording(s) processed.")
