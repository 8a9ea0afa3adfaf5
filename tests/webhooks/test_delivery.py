"""Delivery to a real HTTP receiver on loopback: once, in order per room, signed; retries; outages; failures."""

from __future__ import annotations

from collections import defaultdict

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse

from django_levelchat import lifecycle
from django_levelchat.models import Recording, Room, WebhookDelivery, WebhookEndpoint, WebhookEvent
from django_levelchat.webhooks import EVENT_ID_HEADER, EVENT_TYPE_HEADER, inprocess, verify_signature

from .conftest import drain, pending

CAMERA = {"sid": "TR_cam1", "kind": "video", "source": "camera", "muted": False}


def scenario(name: str) -> Room:
    """Every event type in one room; returns the room."""
    room = Room.objects.create(name=name, metadata={"ticket": name})
    alice = lifecycle.join(room, "alice", name="Alice", role="host", capabilities=["chat:send"])
    bob = lifecycle.join(room, "bob", role="participant", capabilities=[])
    lifecycle.track_published(room, alice.public_id, CAMERA)
    lifecycle.track_unpublished(room, alice.public_id, CAMERA)
    recording = lifecycle.create_recording(room)
    lifecycle.set_recording_status(recording, Recording.Status.PROCESSING)
    lifecycle.set_recording_status(recording, Recording.Status.READY, duration=12.5)
    failed = lifecycle.create_recording(room)
    lifecycle.set_recording_status(failed, Recording.Status.FAILED, error="disk full", partial=True)
    lifecycle.leave(alice, "client_initiated")
    assert bob.is_live
    lifecycle.end_room(room, "ended_by_api")
    lifecycle.archive_room(room)
    return room


EXPECTED = [
    "room_started",
    "participant_joined",
    "participant_joined",
    "track_published",
    "track_unpublished",
    "recording_started",
    "recording_finished",
    "recording_started",
    "recording_failed",
    "participant_left",
    "participant_left",
    "room_ended",
    "room_archived",
]


def by_room(events: list[dict]) -> dict[str, list[dict]]:
    rooms: dict[str, list[dict]] = defaultdict(list)
    for event in events:
        rooms[event["room"]["id"]].append(event)
    return rooms


def test_every_event_arrives_once_in_order_per_room_and_signed(endpoint, receiver, deliverer, clock):
    one, two = scenario("one"), scenario("two")
    assert pending() == 2 * len(EXPECTED)
    drain(deliverer, clock)
    got = receiver.wait_for(lambda rs: len(rs) == 2 * len(EXPECTED))
    ids = [r.event["id"] for r in got]
    assert len(set(ids)) == len(ids), "each event exactly once"
    for r in got:
        event = verify_signature(r.body, r.headers, endpoint.secret, now=clock().timestamp())
        assert r.headers[EVENT_ID_HEADER] == event["id"] and r.headers[EVENT_TYPE_HEADER] == event["type"]
        assert r.headers["Content-Type"] == "application/json"
    rooms = by_room([r.event for r in got])
    for room in (one, two):
        events = rooms[room.public_id]
        assert [e["type"] for e in events] == EXPECTED
        stored = list(WebhookEvent.objects.filter(room_key=room.public_id).order_by("pk").values_list("public_id"))
        assert [e["id"] for e in events] == [s[0] for s in stored], "in the order the changes were committed"
        assert events[0]["room"]["metadata"] == {"ticket": room.name}
        joined, track = events[1], events[3]
        assert joined["participant"]["identity"] == "alice" and joined["participant"]["role"] == "host"
        assert track["track"] == CAMERA and track["participant"]["identity"] == "alice"
        assert events[4]["reason"] == "unpublished"
        assert events[6]["recording"]["status"] == "ready" and events[6]["recording"]["duration"] == 12.5
        assert events[8]["recording"]["error"] == "disk full" and events[8]["reason"] == "disk full"
        assert events[8]["recording"]["partial"] is True and events[6]["recording"]["partial"] is False
        left_alice, left_bob = events[9], events[10]
        assert left_alice["reason"] == "client_initiated" and left_alice["participant"]["duration"] >= 0
        assert left_bob["participant"]["identity"] == "bob" and left_bob["reason"] == "room_ended"
        assert events[11]["reason"] == "ended_by_api" and events[11]["room"]["status"] == "ended"
        assert {"id", "type", "created_at", "room", "participant", "track", "recording", "reason"} == set(events[0])
    assert WebhookDelivery.objects.filter(status="delivered", attempts=1).count() == 2 * len(EXPECTED)


def test_500_three_times_then_200_is_delivered_once_in_order(endpoint, receiver, deliverer, clock):
    receiver.script = [500, 500, 500]
    room = Room.objects.create(name="flaky")
    alice = lifecycle.join(room, "alice", role="participant", capabilities=[])
    lifecycle.leave(alice, "client_initiated")
    drain(deliverer, clock)
    statuses = [(r.event["type"], r.status) for r in receiver.requests]
    assert statuses == [
        ("room_started", 500),
        ("room_started", 500),
        ("room_started", 500),
        ("room_started", 200),
        ("participant_joined", 200),
        ("participant_left", 200),
    ], "the room's next event waits for the retried one"
    assert [e["type"] for e in receiver.delivered()] == ["room_started", "participant_joined", "participant_left"]
    first = WebhookDelivery.objects.get(event__type="room_started")
    assert first.status == "delivered" and first.attempts == 4 and first.last_status == 200


def test_retries_back_off_exponentially_with_jitter(endpoint, receiver, deliverer, clock):
    receiver.script = [503] * 6
    lifecycle.start_room(Room.objects.create(name="backoff"))
    clock.advance(1)  # the fake clock started before the event was queued
    gaps = []
    for _ in range(6):
        assert deliverer.run_once() == 1
        delivery = WebhookDelivery.objects.get()
        gaps.append((delivery.next_attempt_at - clock()).total_seconds())
        assert deliverer.run_once() == 0, "not before its time"
        clock.advance(gaps[-1] + 0.001)
    for n, gap in enumerate(gaps, start=1):
        full = min(120.0, 2 ** (n - 1))
        assert full / 2 <= gap <= full, (n, gap)
    assert delivery.last_status == 503 and delivery.attempts == 6


def test_receiver_down_for_ten_minutes_loses_nothing(endpoint, receiver, deliverer, clock):
    receiver.stop()
    rooms = [scenario(f"outage-{i}") for i in range(2)]
    start = clock()
    while (clock() - start).total_seconds() < 600:
        if not deliverer.run_once():
            clock.advance(deliverer.seconds_until_due(60) + 0.001)
    assert not WebhookDelivery.objects.filter(status="failed").exists()
    assert WebhookDelivery.objects.filter(attempts__gt=5).exists() and not receiver.requests
    assert "ConnectionRefusedError" in WebhookDelivery.objects.filter(attempts__gt=0).first().last_error
    receiver.start()
    drain(deliverer, clock)
    delivered = receiver.delivered()
    assert len(delivered) == len({e["id"] for e in delivered}) == 2 * len(EXPECTED)
    grouped = by_room(delivered)
    assert all([e["type"] for e in grouped[room.public_id]] == EXPECTED for room in rooms)


def test_final_failure_unblocks_the_room_and_admin_redelivers(
    endpoint, receiver, deliverer, clock, levelchat_settings, client
):
    levelchat_settings(WEBHOOK_MAX_ATTEMPTS=3)
    receiver.script = [500, 500, 500]
    room = Room.objects.create(name="give up")
    lifecycle.join(room, "alice", role="participant", capabilities=[])
    drain(deliverer, clock)
    failed = WebhookDelivery.objects.get(status="failed")
    assert failed.event.type == "room_started" and failed.attempts == 3 and failed.last_error == "HTTP 500"
    assert [e["type"] for e in receiver.delivered()] == ["participant_joined"]

    admin = get_user_model().objects.create_superuser("root", "root@example.org", "pw")
    client.force_login(admin)
    url = reverse("admin:django_levelchat_webhookdelivery_changelist")
    page = client.get(url + "?status__exact=failed")
    assert page.status_code == 200 and failed.event.public_id.encode() in page.content
    done = client.post(url, {"action": "redeliver_deliveries", "_selected_action": [failed.pk]}, follow=True)
    assert b"Queued 1 delivery" in done.content
    drain(deliverer, clock)
    assert [e["type"] for e in receiver.delivered()] == ["participant_joined", "room_started"]
    failed.refresh_from_db()
    assert failed.status == "delivered"


def test_event_filter_and_inactive_endpoint(endpoint, receiver, deliverer, clock):
    endpoint.events = ["participant_left"]
    endpoint.save()
    paused = WebhookEndpoint(url=receiver.url, is_active=False)
    paused.set_new_secret()
    paused.save()
    room = Room.objects.create(name="filtered")
    lifecycle.leave(lifecycle.join(room, "alice", role="participant", capabilities=[]), "client_initiated")
    assert WebhookEvent.objects.count() == 1, "nothing is queued for nobody"
    drain(deliverer, clock)
    assert [e["type"] for e in receiver.delivered()] == ["participant_left"]
    paused.is_active = True
    paused.save()
    lifecycle.end_room(room)
    assert WebhookDelivery.objects.filter(endpoint=paused).count() == 1
    paused.is_active = False
    paused.save()
    assert deliverer.run_once() == 0, "an inactive endpoint's queue waits"


def test_an_expired_lease_is_taken_over(endpoint, receiver, deliverer, clock):
    lifecycle.start_room(Room.objects.create(name="lease"))
    clock.advance(1)
    crashed = deliverer.claim(10)
    assert len(crashed) == 1
    assert deliverer.claim(10) == [], "claimed rows are not claimed twice"
    clock.advance(61)
    assert deliverer.run_once() == 1
    assert [e["type"] for e in receiver.delivered()] == ["room_started"]
    deliverer.finish(crashed[0], type("Outcome", (), {"ok": False, "status": 500, "error": "late"})(), False)
    assert WebhookDelivery.objects.get().status == "delivered", "a lost lease cannot overwrite the outcome"


@pytest.fixture
def in_process():
    yield
    inprocess.stop()


@pytest.mark.django_db(transaction=True)
def test_in_process_delivery_in_the_embedded_default(receiver, levelchat_settings, in_process):
    levelchat_settings(WEBHOOK_ALLOW_PRIVATE_URLS=True)  # WEBHOOK_IN_PROCESS None + in-memory layer = on
    hook = WebhookEndpoint(url=receiver.url)
    secret = hook.set_new_secret()
    hook.save()
    room = Room.objects.create(name="embedded")
    # One commit wakes the thread; this thread then stays off the database while it works (the test database is
    # a shared-cache SQLite memory database, whose table locks do not wait).
    with transaction.atomic():
        lifecycle.leave(lifecycle.join(room, "alice", role="participant", capabilities=[]), "client_initiated")
    got = receiver.wait_for(lambda rs: len(rs) >= 3)
    assert [r.event["type"] for r in got] == ["room_started", "participant_joined", "participant_left"]
    assert all(verify_signature(r.body, r.headers, secret) for r in got)
    inprocess.stop()  # returns after the batch in hand has its outcomes saved
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}
