from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from django_levelchat.models import ApiKey, WebhookDelivery, WebhookEndpoint
from django_levelchat.webhooks.delivery import Deliverer

from .receiver import Receiver


class FakeClock:
    def __init__(self) -> None:
        self.now = timezone.now()

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    if r.hold is not None:
        r.hold.set()
    if r.server is not None:
        r.stop()


@pytest.fixture
def allow_loopback(levelchat_settings):
    levelchat_settings(WEBHOOK_ALLOW_PRIVATE_URLS=True, WEBHOOK_IN_PROCESS=False, WEBHOOK_TIMEOUT=5)


@pytest.fixture
def endpoint(db, allow_loopback, receiver) -> WebhookEndpoint:
    hook = WebhookEndpoint(url=receiver.url)
    hook.set_new_secret()
    hook.full_clean()
    hook.save()
    return hook


@pytest.fixture
def api_client(db) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {ApiKey.create_key('backend')[1]}")
    return client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def deliverer(clock) -> Deliverer:
    return Deliverer(clock=clock)


def pending() -> int:
    return WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING).count()


def drain(deliverer: Deliverer, clock: FakeClock, *, max_rounds: int = 500, until=None) -> int:
    """Run the deliverer, jumping the clock to each next retry, until nothing is pending (or ``until()``)."""
    rounds = 0
    while pending() and not (until and until()):
        rounds += 1
        assert rounds <= max_rounds, "deliveries never finish"
        if not deliverer.run_once():
            clock.advance(deliverer.seconds_until_due(3600) + 0.001)
    return rounds


def eventually(predicate, timeout: float = 60, what: str = "condition") -> None:
    """Poll ``predicate`` (state another thread or process changes) until true, within a generous deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
