"""Webhook endpoints over REST (secret shown once), deliveries and redelivery; usage in a time window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from django_levelchat import lifecycle
from django_levelchat.models import Participant, Room, WebhookDelivery, WebhookEndpoint

from .conftest import drain

BASE = "/levelchat/v1"


def test_endpoint_crud_shows_the_secret_once(api_client, allow_loopback, receiver):
    resp = api_client.post(
        f"{BASE}/webhooks", {"url": receiver.url, "events": ["participant_left", "room_started"]}, format="json"
    )
    assert resp.status_code == 201, resp.json()
    body = resp.json()
    assert body["secret"].startswith("whsec_") and body["id"].startswith("WH_")
    assert body["events"] == ["participant_left", "room_started"] and body["is_active"] is True
    endpoint = WebhookEndpoint.objects.get(public_id=body["id"])
    assert endpoint.secret == body["secret"]
    one = api_client.get(f"{BASE}/webhooks/{body['id']}").json()
    listed = api_client.get(f"{BASE}/webhooks").json()
    assert "secret" not in one and "secret" not in listed["results"][0] and listed["count"] == 1
    resp = api_client.patch(f"{BASE}/webhooks/{body['id']}", {"is_active": False, "events": []}, format="json")
    assert resp.status_code == 200 and resp.json()["is_active"] is False and "secret" not in resp.json()
    for bad in ({"secret": "mine"}, {"events": ["nope"]}, {"is_active": "yes"}, {"url": "ftp://example.org/x"}):
        assert api_client.patch(f"{BASE}/webhooks/{body['id']}", bad, format="json").status_code == 400, bad
    assert api_client.delete(f"{BASE}/webhooks/{body['id']}").status_code == 204
    assert api_client.get(f"{BASE}/webhooks/{body['id']}").status_code == 404


def test_private_urls_need_the_setting(api_client, receiver):
    resp = api_client.post(f"{BASE}/webhooks", {"url": receiver.url}, format="json")
    assert resp.status_code == 400 and resp.json()["code"] == "invalid"


def test_deliveries_listing_and_redelivery(api_client, endpoint, receiver, deliverer, clock, levelchat_settings):
    levelchat_settings(WEBHOOK_MAX_ATTEMPTS=1)
    receiver.script = [500]
    lifecycle.start_room(Room.objects.create(name="r"))
    drain(deliverer, clock)
    failed = api_client.get(f"{BASE}/webhooks/{endpoint.public_id}/deliveries?status=failed").json()["results"]
    assert len(failed) == 1 and failed[0]["type"] == "room_started" and failed[0]["last_status"] == 500
    event_id = failed[0]["event"]
    resp = api_client.post(f"{BASE}/webhooks/{endpoint.public_id}/events/{event_id}/redeliver")
    assert resp.status_code == 200 and resp.json()["status"] == "pending" and resp.json()["attempts"] == 0
    assert api_client.post(f"{BASE}/webhooks/{endpoint.public_id}/events/EV_nope/redeliver").status_code == 404
    assert api_client.get(f"{BASE}/webhooks/{endpoint.public_id}/deliveries?status=bogus").status_code == 400
    drain(deliverer, clock)
    assert WebhookDelivery.objects.get().status == "delivered"


def test_admin_create_shows_the_secret_once_and_refuses_private_urls(client, levelchat_settings, receiver, db):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.org", "pw"))
    add = reverse("admin:django_levelchat_webhookendpoint_add")
    resp = client.post(add, {"url": receiver.url, "events": "[]", "is_active": "on", "description": ""})
    assert (
        resp.status_code == 200 and b"resolves to a loopback" in resp.content and not WebhookEndpoint.objects.exists()
    )
    levelchat_settings(WEBHOOK_ALLOW_PRIVATE_URLS=True)
    resp = client.post(add, {"url": receiver.url, "events": '["room_started"]', "is_active": "on", "description": ""})
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret.encode() in resp.content and endpoint.events == ["room_started"]
    change = client.get(reverse("admin:django_levelchat_webhookendpoint_change", args=[endpoint.pk]))
    assert change.status_code == 200 and endpoint.secret.encode() not in change.content
    for model in ("webhookdelivery", "webhookevent", "participant"):
        assert client.get(reverse(f"admin:django_levelchat_{model}_changelist")).status_code == 200


# --- usage ---------------------------------------------------------------------------------------------------

T0 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def session(room: Room, identity: str, start_min: float, end_min: float | None, role: str = "participant") -> None:
    Participant.objects.create(
        room=room,
        identity=identity,
        role=role,
        joined_at=T0 + timedelta(minutes=start_min),
        left_at=None if end_min is None else T0 + timedelta(minutes=end_min),
    )


@pytest.fixture
def billed(db) -> tuple[Room, Room]:
    a, b = Room.objects.create(name="a"), Room.objects.create(name="b")
    session(a, "alice", 0, 30, role="host")  # 30 min
    session(a, "bob", 20, 50)  # 30 min, 10 of them after 10:40
    session(b, "carol", 35, 45)  # 10 min
    session(b, "dave", -60, -30)  # before the window
    return a, b


def iso(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def test_usage_per_room_clipped_to_the_window(api_client, billed):
    a, b = billed
    body = api_client.get(f"{BASE}/usage", {"from": iso(0), "to": iso(40)}).json()
    assert body["sessions"] == 3 and body["participant_minutes"] == 30 + 20 + 5
    rooms = {r["room"]: r for r in body["results"]}
    assert rooms[a.public_id] == {"room": a.public_id, "name": "a", "sessions": 2, "participant_minutes": 50.0}
    assert rooms[b.public_id]["participant_minutes"] == 5.0 and body["count"] == 2
    later = api_client.get(f"{BASE}/usage", {"from": iso(40), "to": iso(100)}).json()
    assert later["participant_minutes"] == 10 + 5, "consecutive windows add up without double counting"
    only_b = api_client.get(f"{BASE}/usage", {"from": iso(-120), "to": iso(100), "room": b.public_id}).json()
    assert only_b["participant_minutes"] == 40 and only_b["count"] == 1


def test_usage_sessions_with_duration_and_billed_seconds(api_client, billed):
    a, _ = billed
    session(a, "eve", 35, None)  # still in the call
    body = api_client.get(f"{BASE}/usage/sessions", {"from": iso(0), "to": iso(40)}).json()
    rows = {r["identity"]: r for r in body["results"]}
    assert set(rows) == {"alice", "bob", "carol", "eve"}
    assert (
        rows["alice"]["duration"] == 1800
        and rows["alice"]["billed_seconds"] == 1800
        and rows["alice"]["role"] == "host"
    )
    assert rows["bob"]["duration"] == 1800 and rows["bob"]["billed_seconds"] == 1200
    assert rows["eve"]["live"] is True and rows["eve"]["duration"] is None and rows["eve"]["billed_seconds"] == 300


@pytest.mark.parametrize(
    "query",
    [{"from": "yesterday"}, {"to": "2026-13-01T00:00:00Z"}, {"from": iso(10), "to": iso(5)}, {"limit": "0"}],
)
def test_usage_refuses_bad_windows(api_client, query, db):
    assert api_client.get(f"{BASE}/usage", query).status_code == 400
    if "limit" not in query:
        assert api_client.get(f"{BASE}/usage/sessions", query).status_code == 400


def test_usage_needs_credentials(client, db):
    assert client.get(f"{BASE}/usage").status_code == 401
