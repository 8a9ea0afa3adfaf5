"""SSRF refusals (creation and delivery) and the receivers' verify helpers (good, tampered, old, replayed)."""

from __future__ import annotations

import json
import time

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.test import RequestFactory

from django_levelchat import lifecycle
from django_levelchat.models import Room, WebhookDelivery, WebhookEndpoint
from django_levelchat.webhooks import WebhookVerificationError, sign, verify, verify_signature
from django_levelchat.webhooks.ssrf import UnsafeURL, check_url

from .conftest import drain

BASE = "/levelchat/v1"
FORBIDDEN = [
    "http://127.0.0.1/hook",
    "http://localhost:8000/hook",
    "http://10.1.2.3/hook",
    "http://192.168.0.10/hook",
    "http://172.16.5.5/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[fe80::1]/hook",
    "http://0.0.0.0/hook",
    "http://100.64.0.1/hook",
    "http://224.0.0.1/hook",
]
MALFORMED = ["ftp://example.org/x", "http:///nohost", "http://user:pw@8.8.8.8/", "http://host.invalid/x", "x"]


@pytest.mark.parametrize("url", FORBIDDEN)
def test_internal_addresses_are_refused(url):
    with pytest.raises(UnsafeURL, match="private"):
        check_url(url, allow_private=False)
    assert check_url(url, allow_private=True).ip


@pytest.mark.parametrize("url", MALFORMED)
def test_malformed_or_unresolvable_urls_are_refused(url):
    with pytest.raises(UnsafeURL):
        check_url(url, allow_private=True)


def test_public_address_is_pinned_for_the_connection():
    target = check_url("https://8.8.8.8:8443/in?x=1", allow_private=False)
    assert (target.scheme, target.host, target.port, target.ip, target.path) == (
        "https",
        "8.8.8.8",
        8443,
        "8.8.8.8",
        "/in?x=1",
    )


@pytest.mark.parametrize("url", FORBIDDEN[:4])
def test_rest_and_model_refuse_ssrf_urls_at_creation(api_client, url):
    resp = api_client.post(f"{BASE}/webhooks", {"url": url}, format="json")
    assert resp.status_code == 400 and "private" in resp.json()["fields"]["url"][0]
    with pytest.raises(ValidationError):
        WebhookEndpoint(url=url, secret="s").full_clean()
    assert not WebhookEndpoint.objects.exists()


def test_ssrf_is_checked_again_at_delivery(endpoint, receiver, deliverer, clock, levelchat_settings):
    lifecycle.start_room(Room.objects.create(name="rebound"))
    levelchat_settings(WEBHOOK_ALLOW_PRIVATE_URLS=False)  # e.g. the name now resolves to an internal address
    drain(deliverer, clock)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed" and delivery.attempts == 1 and delivery.last_error.startswith("refused:")
    assert receiver.requests == [], "nothing was sent"


# --- verify -------------------------------------------------------------------------------------------------


SECRET = "whsec_test-secret"
BODY = json.dumps({"id": "EV_1", "type": "room_started"}).encode()


def signed(body: bytes = BODY, ts: int | None = None, secret: str = SECRET) -> dict[str, str]:
    return {**sign(secret, body, ts), "Content-Type": "application/json"}


def test_verify_signature_accepts_a_good_request_with_any_header_case():
    headers = {k.lower(): v for k, v in signed().items()}
    assert verify_signature(BODY, headers, SECRET) == {"id": "EV_1", "type": "room_started"}


@pytest.mark.parametrize(
    ("request_now", "message"),
    [
        (lambda: (BODY.replace(b"room_started", b"room_ended_"), signed()), "bad signature"),
        (lambda: (BODY, signed(secret="whsec_other")), "bad signature"),
        (lambda: (BODY, signed(ts=int(time.time()) - 1000)), "replay window"),
        (lambda: (BODY, signed(ts=int(time.time()) + 1000)), "replay window"),
        (lambda: (BODY, {**signed(), "LevelChat-Signature": "v0=abc"}), "bad signature"),
        (lambda: (BODY, {"LevelChat-Signature": signed()["LevelChat-Signature"]}), "missing LevelChat-Timestamp"),
        (lambda: (BODY, {**signed(), "LevelChat-Timestamp": "12a"}), "malformed timestamp"),
    ],
    ids=["tampered", "other-secret", "old", "future", "unknown-scheme", "no-timestamp", "bad-timestamp"],
)
def test_verify_signature_refuses_tampered_forged_and_old(request_now, message):
    body, headers = request_now()  # signed when the test runs, not at collection
    with pytest.raises(WebhookVerificationError, match=message):
        verify_signature(body, headers, SECRET)


def test_signature_covers_the_timestamp():
    headers = signed(ts=int(time.time()) - 10)
    headers["LevelChat-Timestamp"] = str(int(time.time()))
    with pytest.raises(WebhookVerificationError, match="bad signature"):
        verify_signature(BODY, headers, SECRET)


def test_django_verify_refuses_a_replayed_request():
    cache.clear()
    factory = RequestFactory()
    headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in signed().items() if k != "Content-Type"}
    first = factory.post("/hook", BODY, content_type="application/json", **headers)
    assert verify(first, SECRET)["id"] == "EV_1"
    again = factory.post("/hook", BODY, content_type="application/json", **headers)
    with pytest.raises(WebhookVerificationError, match="replayed"):
        verify(again, SECRET)
    fresh = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in signed(ts=int(time.time()) - 1).items()}
    assert verify(factory.post("/hook", BODY, content_type="application/json", **fresh), SECRET)["id"] == "EV_1"


def test_plain_python_replay_store():
    store: set[str] = set()

    def seen_once(signature: str, ttl: int) -> bool:
        if signature in store:
            return True
        store.add(signature)
        return False

    headers = signed()
    verify_signature(BODY, headers, SECRET, seen=seen_once)
    with pytest.raises(WebhookVerificationError, match="replayed"):
        verify_signature(BODY, headers, SECRET, seen=seen_once)
