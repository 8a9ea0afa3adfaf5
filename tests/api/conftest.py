from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.test import APIClient

from django_levelchat.models import ApiKey, Room

BASE = "/levelchat/v1"


class JsonClient(APIClient):
    default_format = "json"


@pytest.fixture(autouse=True)
def clear_throttle_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_key(db) -> tuple[ApiKey, str]:
    return ApiKey.create_key("backend")


@pytest.fixture
def api(api_key) -> JsonClient:
    """A client authenticated by an API key."""
    client = JsonClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key[1]}")
    return client


@pytest.fixture
def anon(db) -> JsonClient:
    return JsonClient()


@pytest.fixture
def staff(db) -> JsonClient:
    client = JsonClient()
    client.force_login(get_user_model().objects.create_user("staff", password="pw", is_staff=True))
    return client


@pytest.fixture
def user(db) -> JsonClient:
    client = JsonClient()
    client.force_login(get_user_model().objects.create_user("member", password="pw"))
    return client


@pytest.fixture
def other_room(db) -> Room:
    return Room.objects.create(name="Other")
