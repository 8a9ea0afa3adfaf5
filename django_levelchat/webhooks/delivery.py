"""The delivery engine: claim due deliveries, POST them signed, record the outcome, schedule retries.

Order: per (endpoint, room) only the oldest pending delivery is eligible, so a room's next event waits until the
previous one is delivered or has finally failed (a ``participant_joined`` never arrives after its
``participant_left``). Rooms and endpoints are independent of each other.

Claiming works across processes: one UPDATE sets a lease (``locked_until``, ``lock_token``) on rows picked by a
subquery that on PostgreSQL is ``FOR UPDATE SKIP LOCKED`` (concurrent deliverers pick different rows) and on
SQLite runs inside the UPDATE statement (SQLite serialises writers). Only the lease holder writes the outcome. A
deliverer killed mid-request leaves its lease to expire, then another one retries: delivery is at-least-once,
and receivers dedupe on the event id.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import DatabaseError, close_old_connections, connection, connections, transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone

from django_levelchat.conf import levelchat_settings
from django_levelchat.models import WebhookDelivery, WebhookEvent
from django_levelchat.webhooks import sender
from django_levelchat.webhooks.signing import EVENT_ID_HEADER, EVENT_TYPE_HEADER, sign
from django_levelchat.webhooks.ssrf import UnsafeURL, check_url

logger = logging.getLogger("django_levelchat.webhooks")

PENDING = WebhookDelivery.Status.PENDING
DELIVERED = WebhookDelivery.Status.DELIVERED
FAILED = WebhookDelivery.Status.FAILED


def retry_delay(attempts: int, rng: random.Random) -> float:
    """Seconds before attempt ``attempts + 1``: exponential, capped, with jitter in [50 %, 100 %]."""
    base = float(levelchat_settings.WEBHOOK_RETRY_BASE)
    cap = float(levelchat_settings.WEBHOOK_RETRY_MAX_DELAY)
    delay = min(cap, base * 2 ** min(attempts - 1, 60))
    return delay * (0.5 + rng.random() / 2)


def body_of(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _heads() -> Q:
    """Pending deliveries that are the oldest pending one of their (endpoint, room) on an active endpoint."""
    earlier_pending = WebhookDelivery.objects.filter(
        endpoint=OuterRef("endpoint"), room_key=OuterRef("room_key"), status=PENDING, pk__lt=OuterRef("pk")
    )
    return Q(status=PENDING, endpoint__is_active=True) & ~Exists(earlier_pending)


def _unleased(now: datetime) -> Q:
    return Q(locked_until__isnull=True) | Q(locked_until__lt=now)


@dataclass
class Deliverer:
    """Delivers due webhooks; ``clock`` and ``rng`` are injectable so tests need no real waiting."""

    clock: Callable[[], datetime] = timezone.now
    rng: random.Random = field(default_factory=random.Random)

    def claim(self, limit: int) -> list[WebhookDelivery]:
        now = self.clock()
        token = secrets.token_hex(8)
        lease = timedelta(seconds=float(levelchat_settings.WEBHOOK_LEASE))
        with transaction.atomic():
            due = _heads() & _unleased(now) & Q(next_attempt_at__lte=now)
            picked = WebhookDelivery.objects.filter(due).order_by("pk").values("pk")[:limit]
            if connection.features.has_select_for_update_skip_locked:
                picked = picked.select_for_update(skip_locked=True, of=("self",))
            WebhookDelivery.objects.filter(_unleased(now), pk__in=Subquery(picked), status=PENDING).update(
                locked_until=now + lease, lock_token=token
            )
        return list(
            WebhookDelivery.objects.filter(lock_token=token, status=PENDING)
            .select_related("event", "endpoint")
            .order_by("pk")
        )

    def attempt(self, delivery: WebhookDelivery) -> tuple[sender.Outcome, bool]:
        """POST one delivery; returns the outcome and whether a failure is final (no retry)."""
        try:
            target = check_url(delivery.endpoint.url)
        except UnsafeURL as exc:
            # A name that stops resolving may come back; an address that became private is refused for good.
            final = "does not resolve" not in str(exc)
            return sender.Outcome(False, None, f"refused: {exc}"[:500]), final
        body = body_of(delivery.event.payload)
        headers = {
            **sign(delivery.endpoint.secret, body, int(self.clock().timestamp())),
            EVENT_ID_HEADER: delivery.event.public_id,
            EVENT_TYPE_HEADER: delivery.event.type,
        }
        return sender.post(target, body, headers, float(levelchat_settings.WEBHOOK_TIMEOUT)), False

    def finish(self, delivery: WebhookDelivery, outcome: sender.Outcome, final: bool) -> None:
        now = self.clock()
        attempts = delivery.attempts + 1
        update: dict[str, object] = {
            "attempts": attempts,
            "last_status": outcome.status,
            "last_error": outcome.error,
            "locked_until": None,
            "lock_token": "",
        }
        if outcome.ok:
            update |= {"status": DELIVERED, "delivered_at": now}
        elif final or attempts >= int(levelchat_settings.WEBHOOK_MAX_ATTEMPTS):
            update["status"] = FAILED
            logger.warning("webhook %s to %s failed for good: %s", delivery.event, delivery.endpoint, outcome.error)
        else:
            update["next_attempt_at"] = now + timedelta(seconds=retry_delay(attempts, self.rng))
        # Only the lease holder writes: after an expired lease another deliverer owns the row.
        WebhookDelivery.objects.filter(pk=delivery.pk, lock_token=delivery.lock_token).update(**update)

    def run_once(self, limit: int | None = None) -> int:
        """Claim and attempt one batch (HTTP in parallel threads, database writes here); returns its size."""
        batch = self.claim(limit or int(levelchat_settings.WEBHOOK_CONCURRENCY) * 4)
        if not batch:
            return 0
        workers = min(len(batch), int(levelchat_settings.WEBHOOK_CONCURRENCY))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="levelchat-webhook") as pool:
            results = list(pool.map(self.attempt, batch))
        with transaction.atomic():  # one commit for the batch's outcomes
            for delivery, (outcome, final) in zip(batch, results, strict=True):
                self.finish(delivery, outcome, final)
        return len(batch)

    def seconds_until_due(self, ceiling: float) -> float:
        """Time to the next scheduled retry (or lease expiry), at most ``ceiling``: how long a loop may sleep."""
        now = self.clock()
        heads = WebhookDelivery.objects.filter(_heads()).order_by("next_attempt_at")
        moments = heads.values_list("next_attempt_at", "locked_until")[:200]
        soonest = min((max(n, lk) if lk else n for n, lk in moments), default=None)
        if soonest is None:
            return ceiling
        return max(0.0, min(ceiling, (soonest - now).total_seconds()))


def prune(now: datetime | None = None) -> int:
    """Delete events older than WEBHOOK_RETENTION_DAYS that nobody waits for; returns how many."""
    days = levelchat_settings.WEBHOOK_RETENTION_DAYS
    if not days:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    waiting = WebhookDelivery.objects.filter(event=OuterRef("pk"), status=PENDING)
    old = WebhookEvent.objects.filter(created_at__lt=cutoff).exclude(Exists(waiting))
    return int(old.delete()[1].get(WebhookEvent._meta.label, 0))


def redeliver(deliveries: object) -> int:
    """Queue finished deliveries again (admin action / REST); the room order applies again from here."""
    return WebhookDelivery.objects.filter(pk__in=Subquery(deliveries.values("pk"))).update(  # type: ignore[attr-defined]
        status=PENDING, attempts=0, next_attempt_at=timezone.now(), locked_until=None, lock_token="", delivered_at=None
    )


PRUNE_EVERY = 3600.0


def run_loop(
    stop: threading.Event,
    *,
    idle: float,
    wake: threading.Event | None = None,
    once: bool = False,
    tolerate: tuple[type[Exception], ...] = (DatabaseError,),
) -> int:
    """Deliver until ``stop`` is set: batches back to back, then sleep until the next retry (at most ``idle``
    seconds, or until ``wake``). ``tolerate``d errors (by default database errors: a restart, a locked SQLite
    file) are logged and retried, never fatal. Prunes old events hourly. Returns the number of attempts made."""
    deliverer = Deliverer()
    sent = 0
    pruned_at = -PRUNE_EVERY
    while not stop.is_set():
        if wake is not None:
            wake.clear()
        try:
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
            pause = deliverer.seconds_until_due(idle)
        except tolerate:
            logger.exception("webhook delivery failed; retrying")
            connections.close_all()
            pause = max(idle, 1.0)
        (wake or stop).wait(max(pause, 0.01))
        if wake is not None and stop.is_set():
            break
    return sent
