"""The OpenAPI schema (drf-spectacular) validates, documents every route, and the docs page needs no CDN."""

import re

import pytest
from django.core.management import call_command
from django.urls import get_resolver
from drf_spectacular.validation import validate_schema

from .conftest import BASE

OPERATIONS = {
    ("/levelchat/v1/rooms", "get"),
    ("/levelchat/v1/rooms", "post"),
    ("/levelchat/v1/rooms/{room_id}", "get"),
    ("/levelchat/v1/rooms/{room_id}", "patch"),
    ("/levelchat/v1/rooms/{room_id}", "delete"),
    ("/levelchat/v1/rooms/{room_id}/end", "post"),
    ("/levelchat/v1/rooms/{room_id}/archive", "post"),
    ("/levelchat/v1/rooms/{room_id}/tokens", "post"),
    ("/levelchat/v1/rooms/{room_id}/participants", "get"),
    ("/levelchat/v1/rooms/{room_id}/participants/{identity}", "get"),
    ("/levelchat/v1/rooms/{room_id}/participants/{identity}", "patch"),
    ("/levelchat/v1/rooms/{room_id}/participants/{identity}/remove", "post"),
    ("/levelchat/v1/rooms/{room_id}/participants/{identity}/mute", "post"),
    ("/levelchat/v1/rooms/{room_id}/messages", "post"),
    ("/levelchat/v1/rooms/{room_id}/recordings", "get"),
    ("/levelchat/v1/rooms/{room_id}/recordings", "post"),
    ("/levelchat/v1/rooms/{room_id}/recordings/{recording_id}/stop", "post"),
    ("/levelchat/v1/recordings/{recording_id}", "get"),
    ("/levelchat/v1/recordings/{recording_id}/download", "get"),
    ("/levelchat/v1/recordings/{recording_id}/files/{file_id}/download", "get"),
    ("/levelchat/v1/webhooks", "get"),
    ("/levelchat/v1/webhooks", "post"),
    ("/levelchat/v1/webhooks/{webhook_id}", "get"),
    ("/levelchat/v1/webhooks/{webhook_id}", "patch"),
    ("/levelchat/v1/webhooks/{webhook_id}", "delete"),
    ("/levelchat/v1/webhooks/{webhook_id}/deliveries", "get"),
    ("/levelchat/v1/webhooks/{webhook_id}/events/{event_id}/redeliver", "post"),
    ("/levelchat/v1/usage", "get"),
    ("/levelchat/v1/usage/sessions", "get"),
}


@pytest.fixture
def schema(anon):
    resp = anon.get(f"{BASE}/schema")
    assert resp.status_code == 200 and resp["Content-Type"].startswith("application/vnd.oai.openapi+json")
    return resp.json()


def test_spectacular_validate_fail_on_warn(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))


def test_served_schema_is_valid_and_complete(schema):
    validate_schema(schema)
    assert schema["openapi"].startswith("3.") and schema["info"]["version"] == "1"
    operations = {(path, method) for path, item in schema["paths"].items() for method in item}
    assert operations == OPERATIONS, "only the levelchat API, every route of it"
    assert {op["operationId"] for item in schema["paths"].values() for op in item.values()} >= {
        "rooms_create",
        "tokens_create",
        "participants_remove",
    }


def test_every_operation_needs_auth_and_documents_errors(schema):
    assert schema["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "lc_pk_<id>.<secret>",
        "description": "An API key: `Authorization: Bearer lc_pk_<id>.<secret>`.",
    }
    for path, item in schema["paths"].items():
        for method, op in item.items():
            assert op["security"] == [{"apiKey": []}, {"cookieAuth": []}], (path, method)
            assert {"401", "403"} <= set(op["responses"]), (path, method)
            if "{" in path:
                assert "404" in op["responses"], (path, method)
            if "requestBody" in op:
                assert {"400", "415"} <= set(op["responses"])


def test_request_bodies_are_closed(schema):
    components = schema["components"]["schemas"]
    for name in ("RoomRequest", "PatchedRoomUpdateRequest", "TokenCreateRequest", "MuteRequest", "MessageRequest"):
        assert components[name]["additionalProperties"] is False, name
    assert "status" not in components["RoomRequest"]["properties"]
    assert "room_type" not in components["PatchedRoomUpdateRequest"]["properties"]
    assert components["CapabilitiesUpdateRequest"]["required"] == ["capabilities"]
    assert components["MuteRequest"]["maxProperties"] == 1


def test_yaml_on_request(anon):
    resp = anon.get(f"{BASE}/schema?format=yaml")
    assert resp.status_code == 200 and resp.content.startswith(b"openapi: 3")


def test_schema_routes_exist(schema):
    resolver = get_resolver()
    for path in schema["paths"]:
        concrete = re.sub(r"\{[^}]+\}", "X", path)
        assert resolver.resolve(concrete).url_name, path


def test_docs_page_is_self_hosted(anon):
    resp = anon.get(f"{BASE}/docs")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert f"{BASE}/schema" in html
    assert not re.search(r"""(src|href)=["']https?://""", html), "no CDN"
