"""Authentication and permissions of the REST API (T39, T41, T43)."""

import hmac
from unittest import mock

import pytest

from django_levelchat import lifecycle
from django_levelchat.models import ApiKey, Recording, Room

from .conftest import BASE, JsonClient


def _endpoints(room, recording):
    """Every (method, path) of the API, with real ids so only authentication can refuse them."""
    r, rc = room.public_id, recording.public_id
    return [
        ("get", f"{BASE}/rooms"),
        ("post", f"{BASE}/rooms"),
        ("get", f"{BASE}/rooms/{r}"),
        ("patch", f"{BASE}/rooms/{r}"),
        ("delete", f"{BASE}/rooms/{r}"),
        ("post", f"{BASE}/rooms/{r}/end"),
        ("post", f"{BASE}/rooms/{r}/archive"),
        ("post", f"{BASE}/rooms/{r}/tokens"),
        ("get", f"{BASE}/rooms/{r}/participants"),
        ("get", f"{BASE}/rooms/{r}/participants/alice"),
        ("patch", f"{BASE}/rooms/{r}/participants/alice"),
        ("post", f"{BASE}/rooms/{r}/participants/alice/remove"),
        ("post", f"{BASE}/rooms/{r}/participants/alice/mute"),
        ("post", f"{BASE}/rooms/{r}/messages"),
        ("get", f"{BASE}/rooms/{r}/recordings"),
        ("post", f"{BASE}/rooms/{r}/recordings"),
        ("post", f"{BASE}/rooms/{r}/recordings/{rc}/stop"),
        ("get", f"{BASE}/recordings/{rc}"),
        ("get", f"{BASE}/recordings/{rc}/download"),
    ]


@pytest.fixture
def recording(room):
    return Recording.objects.create(room=room)


def test_t43_matrix_anonymous_401_user_403(anon, user, room, recording):
    for method, path in _endpoints(room, recording):
        resp = getattr(anon, method)(path, {})
        assert resp.status_code == 401, (method, path)
        assert resp.json() == {"code": "not_authenticated", "detail": "Authentication credentials were not provided."}
        assert resp["WWW-Authenticate"] == 'Bearer realm="levelchat"'
        resp = getattr(user, method)(path, {})
        assert resp.status_code == 403, (method, path)
        assert resp.json()["code"] == "permission_denied"
    room.refresh_from_db()
    assert room.status == Room.Status.CREATED and not room.participants.exists()


def test_staff_session_and_api_key_are_allowed(staff, api, room):
    for client in (staff, api):
        assert client.get(f"{BASE}/rooms").status_code == 200
        assert client.get(f"{BASE}/rooms/{room.public_id}").status_code == 200


def test_inactive_staff_user_is_refused(staff, django_user_model):
    django_user_model.objects.filter(username="staff").update(is_active=False)
    assert staff.get(f"{BASE}/rooms").status_code in (401, 403)


def test_valid_key_touches_last_used(api, api_key):
    key, _ = api_key
    assert key.last_used_at is None
    assert api.get(f"{BASE}/rooms").status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None


def _bad_headers(key: ApiKey, full: str) -> dict[str, str]:
    secret = full.split(".", 1)[1]
    return {
        "wrong secret": f"Bearer {full[:-1]}{'A' if full[-1] != 'A' else 'B'}",
        "unknown id": f"Bearer lc_pk_nosuchkey00.{secret}",
        "no secret": f"Bearer {key.prefix}.",
        "no dot": f"Bearer {key.prefix}",
        "wrong prefix": f"Bearer lc_sk_{key.key_id}.{secret}",
        "empty token": "Bearer ",
        "two tokens": f"Bearer {full} extra",
        "garbage": "Bearer !!!",
        "huge id": "Bearer lc_pk_" + "x" * 5000 + ".y",
        "non-ascii": "Bearer lc_pk_é.ü",
    }


def test_bad_keys_get_byte_identical_401(anon, api_key):
    key, full = api_key
    bodies = {}
    for label, header in _bad_headers(key, full).items():
        resp = anon.get(f"{BASE}/rooms", HTTP_AUTHORIZATION=header)
        assert resp.status_code == 401, label
        assert resp["WWW-Authenticate"] == 'Bearer realm="levelchat"', label
        bodies[label] = resp.content
    key.is_active = False
    key.save()
    resp = anon.get(f"{BASE}/rooms", HTTP_AUTHORIZATION=f"Bearer {full}")
    assert resp.status_code == 401
    bodies["inactive"] = resp.content
    expected = b'{"code":"authentication_failed","detail":"Invalid API key."}'
    # "empty token" has no token at all: DRF-style, it is a malformed header, same answer.
    assert set(bodies.values()) == {expected}, bodies


def test_other_schemes_are_not_api_keys(anon, api_key):
    resp = anon.get(f"{BASE}/rooms", HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")
    assert resp.status_code == 401 and resp.json()["code"] == "not_authenticated"
    resp = anon.get(f"{BASE}/rooms", HTTP_AUTHORIZATION=f"Token {api_key[1]}")
    assert resp.status_code == 401


def test_bearer_scheme_is_case_insensitive(anon, api_key):
    assert anon.get(f"{BASE}/rooms", HTTP_AUTHORIZATION=f"bearer {api_key[1]}").status_code == 200


def test_t41_api_compares_digests_for_known_and_unknown_ids(anon, api_key):
    key, full = api_key
    with mock.patch("django_levelchat.models.hmac.compare_digest", wraps=hmac.compare_digest) as spy:
        anon.get(f"{BASE}/rooms", HTTP_AUTHORIZATION=f"Bearer {key.prefix}.wrong")
        anon.get(f"{BASE}/rooms", HTTP_AUTHORIZATION="Bearer lc_pk_nosuchkey00.wrong")
    assert spy.call_count == 2


def test_bad_key_with_a_staff_session_still_fails(staff):
    resp = staff.get(f"{BASE}/rooms", HTTP_AUTHORIZATION="Bearer lc_pk_nosuchkey00.x")
    assert resp.status_code == 401


def test_t39_no_secret_in_any_response(api, api_key, room):
    """Walk every endpoint with the key; neither the secret nor the signing key appears in a body or header."""
    from django_levelchat.conf import derived_signing_key

    _, full = api_key
    secret = full.split(".", 1)[1]
    recording = Recording.objects.create(room=room, status=Recording.Status.READY)
    lifecycle.join(room, "alice", role="participant", capabilities=["chat:send"])
    responses = [getattr(api, m)(p, {"identity": "alice"}) for m, p in _endpoints(room, recording)]
    responses += [
        api.get(f"{BASE}/schema"),
        api.get(f"{BASE}/docs"),
        JsonClient().get(f"{BASE}/schema"),
    ]
    for resp in responses:
        blob = (getattr(resp, "content", b"") or b"") + str(dict(resp.items())).encode()
        assert secret.encode() not in blob
        assert derived_signing_key().encode() not in blob
        assert b"secret_hash" not in blob
