"""The error format: every error is JSON ``{code, detail}`` (``fields`` on 400) with a stable code."""

import json

import pytest
from django.test import RequestFactory

from django_levelchat.api.exceptions import exception_handler
from django_levelchat.exceptions import CapabilityError, ConfigurationError, IllegalTransition, TokenError

from .conftest import BASE


def test_method_not_allowed(api, room):
    for method, path in [
        ("put", f"{BASE}/rooms/{room.public_id}"),
        ("delete", f"{BASE}/rooms"),
        ("get", f"{BASE}/rooms/{room.public_id}/end"),
        ("options", f"{BASE}/rooms"),
        ("get", f"{BASE}/rooms/{room.public_id}/tokens"),
    ]:
        resp = getattr(api, method)(path)
        assert resp.status_code == 405, (method, path)
        assert resp.json()["code"] == "method_not_allowed"
        assert "Allow" in resp


def test_malformed_json_is_parse_error(api):
    resp = api.generic("POST", f"{BASE}/rooms", b'{"name": ', content_type="application/json")
    assert resp.status_code == 400 and resp.json()["code"] == "parse_error"
    resp = api.generic("POST", f"{BASE}/rooms", b'{"name": NaN}', content_type="application/json")
    assert resp.status_code == 400 and resp.json()["code"] == "parse_error"


def test_deeply_nested_json_is_400_not_500(api):
    body = b"[" * 30_000 + b"]" * 30_000  # under the body limit, far over the interpreter's recursion limit
    resp = api.generic("POST", f"{BASE}/rooms", body, content_type="application/json")
    assert resp.status_code == 400 and resp.json()["code"] == "parse_error"


def test_only_json_bodies(api):
    resp = api.generic("POST", f"{BASE}/rooms", "name=x", content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 415 and resp.json()["code"] == "unsupported_media_type"


def test_only_json_answers(api):
    resp = api.get(f"{BASE}/rooms", HTTP_ACCEPT="text/html")
    assert resp.status_code == 406 and resp.json()["code"] == "not_acceptable"


def test_validation_error_shape(api):
    body = api.post(f"{BASE}/rooms", {"name": "", "max_participants": 0}).json()
    assert body["code"] == "invalid" and body["detail"] == "Invalid input."
    assert set(body["fields"]) == {"name", "max_participants"}
    assert all(isinstance(v, list) and v for v in body["fields"].values())


@pytest.mark.parametrize(
    "exc, status, code",
    [
        (IllegalTransition("no"), 409, "illegal_transition"),
        (IllegalTransition("no", code="room_ended"), 409, "room_ended"),
        (TokenError("ttl", code="token_ttl"), 400, "token_ttl"),
        (CapabilityError("cap"), 400, "bad_capability"),
        (ConfigurationError("bad"), 500, "configuration"),
    ],
)
def test_library_errors_map_to_statuses(exc, status, code):
    response = exception_handler(exc, {"request": RequestFactory().get("/")})
    assert response.status_code == status
    assert response.data == {"code": code, "detail": exc.detail}


def test_unknown_exceptions_are_left_to_django():
    assert exception_handler(RuntimeError("boom"), {}) is None


def test_404_body_is_json_for_api_objects(api):
    resp = api.get(f"{BASE}/recordings/RC_nope")
    assert resp["Content-Type"] == "application/json"
    assert json.loads(resp.content) == {"code": "not_found", "detail": "Not found."}


@pytest.mark.parametrize(
    "path",
    ["/rooms", "/rooms/{room}", "/rooms/{room}/tokens", "/rooms/{room}/messages", "/rooms/{room}/participants/a/mute"],
)
@pytest.mark.parametrize("size", [65537, 3 * 1024 * 1024])
def test_oversized_body_is_json_413(api, room, path, size):
    """Issue 10 (11): a body over the limit is a JSON 413 with a code, on every endpoint that takes a body."""
    body = json.dumps({"name": "x" * size}).encode()
    method = "PATCH" if path == "/rooms/{room}" else "POST"
    resp = api.generic(method, BASE + path.format(room=room.public_id), body, content_type="application/json")
    assert resp.status_code == 413 and resp["Content-Type"] == "application/json"
    assert resp.json()["code"] == "too_large"


def test_request_data_too_big_is_json_413():
    from django.core.exceptions import RequestDataTooBig

    resp = exception_handler(RequestDataTooBig("big"), {})
    assert resp.status_code == 413 and resp.data["code"] == "too_large"


def test_body_at_the_limit_is_parsed(api):
    name = "x" * 150
    padding = " " * (65536 - len(json.dumps({"name": name})))
    resp = api.generic(
        "POST", f"{BASE}/rooms", (json.dumps({"name": name}) + padding).encode(), content_type="application/json"
    )
    assert resp.status_code == 201, resp.json()
