"""Real ``manage.py levelchat_webhooks`` processes: several at once never double-deliver and keep each room in order
(on PostgreSQL, with SKIP LOCKED, and on a shared SQLite file); one killed with SIGKILL mid-request is resumed from
the outbox by another, with no loss."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import Counter, defaultdict
from contextlib import closing

import pytest

from django_levelchat.webhooks import verify_signature
from tests.livecluster import ROOT, Cluster
from tests.services import PostgresDatabase, postgres_missing_reason

from .conftest import eventually
from .receiver import Receiver

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(params=["postgresql", "sqlite"])
def world(request, tmp_path):
    database = None
    if request.param == "postgresql":
        if reason := postgres_missing_reason():
            pytest.skip(reason)
        database = PostgresDatabase("levelchat_webhooks")
    c = Cluster(tmp_path, redis_url=None, database_url=database.url if database else None)
    c.env["DJANGO_SETTINGS_MODULE"] = "tests.webhooks.worker_settings"
    c.manage("migrate", "--verbosity", "0")
    c.deliverers: list[subprocess.Popen[str]] = []
    yield c
    for proc in c.deliverers:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    if database is not None:
        database.drop()


def queue_events(c: Cluster, url: str, rooms: int, people: int) -> tuple[str, dict[str, list[str]]]:
    """Create an endpoint and ``rooms`` rooms' worth of events in one process; returns the secret and, per room,
    the event ids in the order the outbox holds them."""
    code = f"""
from django_levelchat import lifecycle
from django_levelchat.models import Room, WebhookEndpoint, WebhookEvent
hook = WebhookEndpoint(url={url!r})
hook.set_new_secret()
hook.save()
for i in range({rooms}):
    room = Room.objects.create(name=f"r{{i}}")
    sessions = [lifecycle.join(room, f"u{{j}}", role="participant", capabilities=[]) for j in range({people})]
    for p in sessions[::2]:
        lifecycle.leave(p, "client_initiated")
    lifecycle.end_room(room)
print("SECRET", hook.secret)
for event in WebhookEvent.objects.order_by("pk"):
    print("EVENT", event.room_key, event.public_id)
"""
    out = c.manage("shell", "-c", code)
    secret = re.search(r"^SECRET (\S+)$", out, re.M).group(1)
    order: dict[str, list[str]] = defaultdict(list)
    for room, event in re.findall(r"^EVENT (\S+) (\S+)$", out, re.M):
        order[room].append(event)
    return secret, dict(order)


def start_deliverer(c: Cluster, **env: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "levelchat_webhooks"],
        cwd=ROOT,
        env={**c.env, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    c.deliverers.append(proc)
    assert proc.stdout is not None
    # Wait until it is ready (its SIGTERM handler is in place): on a loaded machine Django's start-up takes seconds.
    ready = proc.stdout.readline()
    assert "delivering" in ready, f"deliverer did not start: {ready!r} {proc.stderr.read() if proc.stderr else ''}"
    return proc


STATUS_SQL = "SELECT status, count(*) FROM django_levelchat_webhookdelivery GROUP BY status"


def statuses(c: Cluster) -> Counter[str]:
    if "LEVELCHAT_DATABASE_URL" not in c.env:
        with closing(sqlite3.connect(c.env["LEVELCHAT_SQLITE_PATH"], timeout=30)) as conn:
            return Counter(dict(conn.execute(STATUS_SQL).fetchall()))
    import psycopg

    with psycopg.connect(c.env["LEVELCHAT_DATABASE_URL"].replace("postgres://", "postgresql://")) as conn:
        return Counter(dict(conn.execute(STATUS_SQL).fetchall()))


def first_arrivals(receiver: Receiver) -> dict[str, list[str]]:
    seen: set[str] = set()
    rooms: dict[str, list[str]] = defaultdict(list)
    for event in receiver.delivered():
        if event["id"] not in seen:
            seen.add(event["id"])
            rooms[event["room"]["id"]].append(event["id"])
    return dict(rooms)


def test_concurrent_deliverers_never_double_deliver_and_keep_room_order(world):
    receiver = Receiver()
    try:
        secret, order = queue_events(world, receiver.url, rooms=8, people=4)
        total = sum(len(ids) for ids in order.values())
        assert total == 8 * (1 + 4 + 4 + 1)
        patient = {"LEVELCHAT_TEST_WEBHOOK_TIMEOUT": "30", "LEVELCHAT_TEST_WEBHOOK_LEASE": "120"}
        procs = [start_deliverer(world, **patient) for _ in range(3)]
        receiver.wait_for(lambda rs: len(rs) >= total, timeout=120)
        eventually(lambda: statuses(world) == Counter({"delivered": total}), what="all delivered")
        attempts = 0
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
            assert proc.returncode == 0, err
            attempts += int(re.search(r"(\d+) attempt\(s\) made", err).group(1))
        ids = [e["id"] for e in receiver.delivered()]
        assert len(ids) == len(set(ids)) == total, "every event exactly once"
        assert attempts == total, "no delivery was attempted by two processes"
        assert first_arrivals(receiver) == order, "each room in outbox order"
        assert all(verify_signature(r.body, r.headers, secret) for r in receiver.requests)
    finally:
        receiver.stop()


def test_a_killed_deliverer_is_resumed_from_the_outbox_without_loss(world):
    receiver = Receiver()
    receiver.hold = threading.Event()  # requests get no answer until released: the kill lands mid-request
    lease = {"LEVELCHAT_TEST_WEBHOOK_TIMEOUT": "1", "LEVELCHAT_TEST_WEBHOOK_LEASE": "3"}
    try:
        _, order = queue_events(world, receiver.url, rooms=3, people=2)
        total = sum(len(ids) for ids in order.values())
        victim = start_deliverer(world, **lease)
        in_flight = receiver.wait_for(lambda rs: len(rs) >= 1, timeout=60)
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        with receiver.cond:
            in_flight_ids = {r.event["id"] for r in receiver.requests}
            release, receiver.hold = receiver.hold, None
        release.set()
        assert in_flight and statuses(world)["delivered"] == 0, "the victim died before recording any outcome"
        start_deliverer(world, **lease)
        eventually(lambda: statuses(world) == Counter({"delivered": total}), timeout=120, what="resumed delivery")
        ids = [e["id"] for e in receiver.delivered()]
        assert set(ids) == {i for room in order.values() for i in room}, "nothing lost"
        duplicates = {i for i, n in Counter(ids).items() if n > 1}
        assert duplicates <= in_flight_ids, "only the in-flight requests came twice (at-least-once, same id)"
        assert first_arrivals(receiver) == order
    finally:
        if receiver.hold is not None:
            receiver.hold.set()
        receiver.stop()
