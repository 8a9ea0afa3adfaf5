"""``manage.py levelchat_webhooks``: the webhook delivery loop for deployments with several web processes."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from django_levelchat.conf import levelchat_settings
from django_levelchat.webhooks.delivery import run_loop


class Command(BaseCommand):
    help = (
        "Deliver queued webhooks until stopped (SIGTERM/SIGINT finish the current batch). Run as many as you like: "
        "deliveries are claimed with leases, so none is sent twice by two loops, and each room stays in order."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Deliver what is due now, then exit.")

    def handle(self, *args: Any, once: bool = False, **options: Any) -> None:
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        if not once:
            self.stdout.write("levelchat_webhooks: delivering; SIGTERM or SIGINT stops after the current batch.")
            self.stdout.flush()
        sent = run_loop(stop, idle=float(levelchat_settings.WEBHOOK_POLL_INTERVAL), once=once)
        self.stderr.write(f"levelchat_webhooks: {sent} attempt(s) made.")
