"""``manage.py levelchat_webhooks``: the webhook delivery loop for deployments with several web processes."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from django_levelchat.conf import levelchat_settings
from django_levelchat.webhooks.delivery import Deliverer, prune

PRUNE_EVERY = 3600.0


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
        deliverer = Deliverer()
        poll = float(levelchat_settings.WEBHOOK_POLL_INTERVAL)
        sent = 0
        pruned_at = -PRUNE_EVERY
        while not stop.is_set():
            close_old_connections()
            if time.monotonic() - pruned_at >= PRUNE_EVERY:
                prune()
                pruned_at = time.monotonic()
            batch = deliverer.run_once()
            sent += batch
            if batch:
                continue
            if once:
                break
            stop.wait(deliverer.seconds_until_due(poll))
        self.stderr.write(f"levelchat_webhooks: {sent} attempt(s) made.")
