"""Token minting over the REST API: claims, TTL cap, capability ceiling, signaling URL, throttling (T46)."""

from datetime import datetime

import pytest
from django.test import override_settings

from django_levelchat import lifecycle
from django_levelchat.models import CapabilityPolicy
from django_levelchat.tokens import verify_token

from .conftest import BASE


def _url(room):
    return f"{BASE}/rooms/{room.public_id}/tokens"


def test_mint_token(api, room, levelchat_settings):
    levelchat_settings(ICE_SERVERS=[{"urls": ["stun:stun.example.org:3478"]}])
    resp = api.post(_url(room), {"identity": "alice", "name": "Alice", "metadata": {"seat": 3}})
    assert resp.status_code == 201, resp.json()
    body = resp.json()
    assert set(body) == {"token", "expires_at", "signaling_url", "ice_servers", "room", "identity"}
    assert (body["room"], body["identity"]) == (room.public_id, "alice")
    assert body["ice_servers"] == [{"urls": ["stun:stun.example.org:3478"]}]
    assert body["signaling_url"] == "ws://testserver/levelchat/v1/signal"
    claims = verify_token(body["token"], room=room)
    assert (claims.identity, claims.name, claims.role, claims.metadata) == (
        "alice",
        "Alice",
        "participant",
        {"seat": 3},
    )
    assert claims.expires_at - claims.issued_at == 600, "default ttl"
    assert datetime.fromisoformat(body["expires_at"]).timestamp() == claims.expires_at
    assert claims.capabilities == room.capabilities_for("participant")


def test_mint_with_role_capabilities_and_ttl(api, room):
    body = api.post(
        _url(room), {"identity": "h", "role": "host", "capabilities": ["room:admin", "chat:send"], "ttl": 3600}
    ).json()
    claims = verify_token(body["token"], room=room)
    assert claims.role == "host" and claims.capabilities == {"room:admin", "chat:send"}
    assert claims.expires_at - claims.issued_at == 3600


def test_wss_url_on_https(api, room):
    body = api.post(_url(room), {"identity": "a"}, secure=True).json()
    assert body["signaling_url"] == "wss://testserver/levelchat/v1/signal"


def test_region_url(api, room, levelchat_settings):
    levelchat_settings(REGIONS={"eu": "wss://eu.example.org/levelchat/v1/signal"}, DEFAULT_REGION="eu")
    body = api.post(_url(room), {"identity": "a"}).json()
    assert body["signaling_url"] == "wss://eu.example.org/levelchat/v1/signal"
    assert verify_token(body["token"], room=room).region == "eu"
    body = api.post(_url(room), {"identity": "a", "region": ""}).json()
    assert body["signaling_url"] == "ws://testserver/levelchat/v1/signal"
    resp = api.post(_url(room), {"identity": "a", "region": "us"})
    assert resp.status_code == 400 and "region" in resp.json()["fields"]


@pytest.mark.parametrize("ttl", [3601, 10**12, 0, -5])
def test_ttl_outside_the_cap_is_token_ttl(api, room, ttl):
    resp = api.post(_url(room), {"identity": "a", "ttl": ttl})
    assert resp.status_code == 400
    assert resp.json()["code"] == "token_ttl"


def test_ttl_cap_follows_settings(api, room, levelchat_settings):
    levelchat_settings(TOKEN_MAX_TTL=60, TOKEN_TTL=30)
    assert api.post(_url(room), {"identity": "a", "ttl": 61}).json()["code"] == "token_ttl"
    claims = verify_token(api.post(_url(room), {"identity": "a"}).json()["token"], room=room)
    assert claims.expires_at - claims.issued_at == 30


def test_capability_ceiling_of_the_room_policy(api, room):
    room.policy = CapabilityPolicy.objects.create(name="quiet", roles={"participant": ["subscribe:all", "chat:send"]})
    room.save()
    resp = api.post(_url(room), {"identity": "a", "capabilities": ["publish:camera"]})
    assert resp.status_code == 400 and resp.json()["code"] == "capability_ceiling"
    resp = api.post(_url(room), {"identity": "a", "role": "participant", "capabilities": ["publish:*"]})
    assert resp.json()["code"] == "capability_ceiling"
    body = api.post(_url(room), {"identity": "a"}).json()
    assert verify_token(body["token"], room=room).capabilities == {"subscribe:all", "chat:send"}
    assert api.post(_url(room), {"identity": "a", "capabilities": []}).status_code == 201


def test_viewer_cannot_get_host_capabilities(api, room):
    resp = api.post(_url(room), {"identity": "v", "role": "viewer", "capabilities": ["room:admin"]})
    assert resp.status_code == 400 and resp.json()["code"] == "capability_ceiling"


@pytest.mark.parametrize(
    "data, code",
    [
        ({"identity": "a", "capabilities": ["fly:away"]}, "bad_capability"),
        ({"identity": "a", "role": "emperor"}, "bad_role"),
        ({}, "invalid"),
        ({"identity": ""}, "invalid"),
        ({"identity": "x" * 129}, "invalid"),
        ({"identity": "a/b"}, "invalid"),
        ({"identity": "a\nb"}, "invalid"),
        ({"identity": 42}, "invalid"),
        ({"identity": "a", "ttl": "600"}, "invalid"),
        ({"identity": "a", "ttl": 60.5}, "invalid"),
        ({"identity": "a", "capabilities": "chat:send"}, "invalid"),
        ({"identity": "a", "capabilities": [1]}, "invalid"),
        ({"identity": "a", "metadata": ["x"]}, "invalid"),
        ({"identity": "a", "metadata": {"k": "x" * 5000}}, "invalid"),
        ({"identity": "a", "caps": ["chat:send"]}, "invalid"),  # a typo must not mint the full default set
        ({"identity": "a", "name": "x" * 129}, "invalid"),
    ],
)
def test_bad_token_requests(api, room, data, code):
    resp = api.post(_url(room), data)
    assert resp.status_code == 400, resp.json()
    assert resp.json()["code"] == code


def test_ended_and_archived_rooms_refuse_tokens(api, room):
    lifecycle.end_room(room)
    resp = api.post(_url(room), {"identity": "a"})
    assert resp.status_code == 409 and resp.json()["code"] == "room_ended"
    lifecycle.archive_room(room)
    assert api.post(_url(room), {"identity": "a"}).json()["code"] == "room_ended"


def test_unknown_room_is_404(api):
    assert api.post(f"{BASE}/rooms/RM_nope/tokens", {"identity": "a"}).status_code == 404


@override_settings(REST_FRAMEWORK={"DEFAULT_THROTTLE_RATES": {"levelchat_token": "3/min"}})
def test_t46_session_callers_are_throttled(staff, room):
    statuses = [staff.post(_url(room), {"identity": f"u{i}"}).status_code for i in range(5)]
    assert statuses == [201, 201, 201, 429, 429]
    resp = staff.post(_url(room), {"identity": "late"})
    assert resp.json()["code"] == "throttled" and int(resp["Retry-After"]) > 0


@override_settings(REST_FRAMEWORK={"DEFAULT_THROTTLE_RATES": {"levelchat_token": "3/min"}})
def test_t46_spoofed_forwarded_for_does_not_reset_the_quota(staff, room):
    statuses = [
        staff.post(_url(room), {"identity": "u"}, HTTP_X_FORWARDED_FOR=f"10.0.0.{i}").status_code for i in range(5)
    ]
    assert statuses.count(201) == 3


@override_settings(REST_FRAMEWORK={"DEFAULT_THROTTLE_RATES": {"levelchat_token": "3/min"}})
def test_t46_api_keys_bypass_the_throttle(api, room):
    assert {api.post(_url(room), {"identity": f"u{i}"}).status_code for i in range(10)} == {201}


@override_settings(REST_FRAMEWORK={"DEFAULT_THROTTLE_RATES": {"levelchat_token": None}})
def test_throttle_can_be_disabled(staff, room):
    assert {staff.post(_url(room), {"identity": f"u{i}"}).status_code for i in range(70)} == {201}


def test_default_throttle_rate_applies_without_settings(staff, room):
    statuses = [staff.post(_url(room), {"identity": "u"}).status_code for _ in range(62)]
    assert statuses.count(201) == 60 and statuses[-1] == 429


@override_settings(REST_FRAMEWORK={"DEFAULT_THROTTLE_RATES": {"levelchat_token": "3/min"}})
def test_throttle_applies_only_to_token_minting(staff, room):
    for _ in range(5):
        assert staff.get(f"{BASE}/rooms/{room.public_id}").status_code == 200
