"""Webhook benchmark (issue 15): what the outbox costs the lifecycle, and how fast a deliverer drains it.

- **Outbox cost**: join + leave of one participant (two transactions, ``lifecycle.join``/``leave``) per second,
  with no active webhook endpoint (the baseline: nothing is written) and with one subscribed endpoint (an event
  row and a delivery row per transition), interleaved rounds in the same run on the same SQLite file (the example
  project's database). Prints the ratio.
- **Drain rate**: events per second one ``Deliverer`` (real HTTP to a threaded receiver on loopback) delivers,
  spread over 50 rooms (parallel up to ``WEBHOOK_CONCURRENCY``) and in a single room (strictly sequential: each
  event waits for the previous answer).

It prints figures and never asserts. The database is a fresh SQLite file, or PostgreSQL when
``LEVELCHAT_DATABASE_URL`` names an (empty) database, as in the example project.

    python -m bench.webhooks [--pairs 300] [--events 500]
    LEVELCHAT_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_db python -m bench.webhooks
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--events", type=int, default=500)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp())
    os.environ["LEVELCHAT_SQLITE_PATH"] = str(tmp / "bench.sqlite3")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.LEVELCHAT = {**getattr(settings, "LEVELCHAT", {}), "WEBHOOK_ALLOW_PRIVATE_URLS": True}
    settings.LEVELCHAT["WEBHOOK_IN_PROCESS"] = False
    from django_levelchat.conf import levelchat_settings

    levelchat_settings.reload()
    call_command("migrate", verbosity=0)

    from django_levelchat import lifecycle
    from django_levelchat.models import Room, WebhookDelivery, WebhookEndpoint
    from django_levelchat.webhooks.delivery import Deliverer

    def pairs_per_second(label: str) -> float:
        room = Room.objects.create(name=label)
        start = time.perf_counter()
        for i in range(args.pairs):
            lifecycle.leave(lifecycle.join(room, f"u{i}", role="participant", capabilities=[]), "client_initiated")
        return args.pairs / (time.perf_counter() - start)

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = WebhookEndpoint(url=f"http://127.0.0.1:{server.server_address[1]}/hook", is_active=False)
    hook.set_new_secret()
    hook.save()
    pairs_per_second("warm-up")
    rounds: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(3):  # interleaved, so load on the machine hits both alike
        for active in (False, True):
            WebhookEndpoint.objects.filter(pk=hook.pk).update(is_active=active)
            rounds[active].append(pairs_per_second(f"endpoint active={active}"))
    baseline, with_outbox = (statistics.median(rounds[k]) for k in (False, True))
    print(
        f"join+leave pairs/s (median of 3): no endpoint {baseline:.0f}, one endpoint {with_outbox:.0f} "
        f"(ratio {with_outbox / baseline:.2f})"
    )

    deliverer = Deliverer()
    while deliverer.run_once():  # drain what the measurement above queued
        pass

    def drain_rate(rooms: int) -> float:
        targets = [Room.objects.create(name=f"drain-{rooms}-{i}") for i in range(rooms)]
        per_room = max(1, args.events // rooms)
        for room in targets:
            for i in range(per_room):
                lifecycle.leave(lifecycle.join(room, f"d{i}", role="participant", capabilities=[]), "left")
        queued = WebhookDelivery.objects.filter(status="pending").count()
        start = time.perf_counter()
        while deliverer.run_once():
            pass
        elapsed = time.perf_counter() - start
        assert not WebhookDelivery.objects.filter(status="pending").exists()
        return queued / elapsed

    print(f"delivered events/s: 50 rooms {drain_rate(50):.0f}, one room {drain_rate(1):.0f}")
    server.shutdown()


if __name__ == "__main__":
    main()
