"""Webhook settings: system checks on values that can be wrong, and retention of finished events."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from django_levelchat import lifecycle
from django_levelchat.checks import check_settings, webhook_retry_span
from django_levelchat.models import Room, WebhookDelivery, WebhookEvent
from django_levelchat.webhooks.delivery import prune


def ids(settings, **values) -> list[str]:
    settings.LEVELCHAT = {"ICE_SERVERS": [], **values}
    return [m.id for m in check_settings()]


def test_defaults_cover_a_ten_minute_outage(settings):
    assert ids(settings) == []
    assert webhook_retry_span(25, 1.0, 120.0) >= 600 * 1.5


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"WEBHOOK_MAX_ATTEMPTS": 5}, "levelchat.W002"),
        ({"WEBHOOK_RETRY_MAX_DELAY": 5}, "levelchat.W002"),
        ({"WEBHOOK_TIMEOUT": 0}, "levelchat.E011"),
        ({"WEBHOOK_LEASE": 10, "WEBHOOK_TIMEOUT": 10}, "levelchat.E011"),
        ({"WEBHOOK_RETRY_BASE": 10, "WEBHOOK_RETRY_MAX_DELAY": 5}, "levelchat.E011"),
        ({"WEBHOOK_ALLOW_PRIVATE_URLS": "yes"}, "levelchat.E002"),
        ({"WEBHOOK_IN_PROCESS": 1}, "levelchat.E002"),
        ({"WEBHOOK_TIMEOUTS": 3}, "levelchat.E001"),
    ],
)
def test_wrong_webhook_settings_are_reported(settings, values, expected):
    assert expected in ids(settings, **values)


def test_old_finished_events_are_pruned_pending_ones_kept(endpoint, levelchat_settings):
    lifecycle.start_room(Room.objects.create(name="old"))
    lifecycle.start_room(Room.objects.create(name="waiting"))
    done, waiting = WebhookDelivery.objects.order_by("pk")
    WebhookDelivery.objects.filter(pk=done.pk).update(status="delivered")
    WebhookEvent.objects.update(created_at=timezone.now() - timedelta(days=31))
    assert prune() == 1
    assert list(WebhookDelivery.objects.all()) == [waiting]
    levelchat_settings(WEBHOOK_RETENTION_DAYS=0)
    WebhookDelivery.objects.update(status="failed")
    assert prune() == 0 and WebhookEvent.objects.count() == 1


def test_command_once_delivers_what_is_due(endpoint, receiver):
    lifecycle.start_room(Room.objects.create(name="cli"))
    call_command("levelchat_webhooks", "--once")
    assert [e["type"] for e in receiver.delivered()] == ["room_started"]
    assert WebhookDelivery.objects.get().status == "delivered"
