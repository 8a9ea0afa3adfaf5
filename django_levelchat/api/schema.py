"""OpenAPI 3 for the REST API (drf-spectacular): the auth scheme, error responses, the schema and docs views."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.templatetags.static import static
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance
from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

TITLE = "django-levelchat REST API"
DESCRIPTION = """Rooms, room tokens, participants, moderation and recordings of django-levelchat.

Authenticate with an API key: `Authorization: Bearer lc_pk_<id>.<secret>` (create one in the admin or with
`manage.py levelchat_createkey`). A staff user's session is accepted too. Every error is
`{"code": "...", "detail": "..."}`, with `"fields"` on 400 validation errors.
"""

ERROR_DESCRIPTIONS = {
    400: "Invalid input (`invalid` with `fields`, or a specific code such as `token_ttl`, `capability_ceiling`).",
    401: "No credentials (`not_authenticated`) or a bad API key (`authentication_failed`).",
    403: "Authenticated but not allowed (`permission_denied`): a session of a non-staff user.",
    404: "No such object (`not_found`), or the participant is not connected (`not_connected`).",
    406: "The Accept header allows no JSON (`not_acceptable`).",
    409: "Illegal lifecycle step for the object's current state (`room_ended`, `illegal_transition`, …).",
    415: "The body is not JSON (`unsupported_media_type`).",
    429: "Throttled (`throttled`); see Retry-After.",
    503: "A needed service is not available (`sfu_unavailable`, `signaling_unavailable`).",
}


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "django_levelchat.api.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "lc_pk_<id>.<secret>",
            "description": "An API key: `Authorization: Bearer lc_pk_<id>.<secret>`.",
        }


class LevelChatAutoSchema(AutoSchema):
    """Adds the error answers every operation can give, and closes strict request bodies.

    Views list their specific errors (409, 429, 503) through ``errors()``; 400/401/403/404/406/415 are added
    here from what the operation has (a body, path parameters, query parameters).
    """

    def get_operation(self, path: str, path_regex: str, path_prefix: str, method: str, registry: Any) -> Any:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        params = operation.get("parameters", [])
        codes = {401, 403, 406}
        if "requestBody" in operation:
            codes |= {400, 415}
        if any(p["in"] == "path" for p in params):
            codes.add(404)
        if any(p["in"] == "query" for p in params):
            codes.add(400)
        responses = operation["responses"]
        for code in sorted(codes):
            responses.setdefault(str(code), error_response_schema(self, code))
        return operation

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        from django_levelchat.api.serializers import StrictSerializer

        schema = super()._map_basic_serializer(serializer, direction)
        serializer = force_instance(serializer)
        if direction == "request" and isinstance(serializer, StrictSerializer):
            schema["additionalProperties"] = False  # the server answers 400 to unknown or read-only keys
            schema.update(serializer.schema_extra)
        return schema


def error_response_schema(auto_schema: AutoSchema, code: int) -> dict[str, Any]:
    from django_levelchat.api.serializers import ErrorSerializer

    component = auto_schema.resolve_serializer(ErrorSerializer, "response")
    return {"description": ERROR_DESCRIPTIONS[code], "content": {"application/json": {"schema": component.ref}}}


def errors(*codes: int) -> dict[int, Any]:
    """``extend_schema(responses=...)`` entries for view-specific error statuses."""
    from drf_spectacular.utils import OpenApiResponse

    from django_levelchat.api.serializers import ErrorSerializer

    return {code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code]) for code in codes}


def only_levelchat_endpoints(endpoints: list[tuple[str, str, str, Any]]) -> list[tuple[str, str, str, Any]]:
    """Preprocessing hook: the levelchat schema documents the levelchat API only, not the host project's."""
    return [
        e for e in endpoints if getattr(getattr(e[3], "cls", None), "__module__", "") == "django_levelchat.api.views"
    ]


class LevelChatSchemaView(SpectacularAPIView):
    """``GET v1/schema``: OpenAPI 3 of this API, JSON by default (``?format=yaml`` for YAML)."""

    renderer_classes = [OpenApiJsonRenderer, OpenApiJsonRenderer2, OpenApiYamlRenderer, OpenApiYamlRenderer2]
    custom_settings = {
        "TITLE": TITLE,
        "DESCRIPTION": DESCRIPTION,
        "VERSION": "1",
        "PREPROCESSING_HOOKS": ["django_levelchat.api.schema.only_levelchat_endpoints"],
        "COMPONENT_SPLIT_REQUEST": True,
    }


def _sidecar_installed() -> bool:
    return apps.is_installed("drf_spectacular_sidecar")


class LevelChatDocsView(SpectacularSwaggerView):
    """``GET v1/docs``: Swagger UI served from drf-spectacular-sidecar's static files (no CDN).

    Without ``drf_spectacular_sidecar`` in INSTALLED_APPS it falls back to drf-spectacular's
    ``SWAGGER_UI_DIST`` setting (a CDN by default).
    """

    url_name = "levelchat_api:schema"
    title = TITLE

    @staticmethod
    def _swagger_ui_resource(filename: str) -> str:
        if _sidecar_installed():
            return static(f"drf_spectacular_sidecar/swagger-ui-dist/{filename}")
        return SpectacularSwaggerView._swagger_ui_resource(filename)

    @staticmethod
    def _swagger_ui_favicon() -> str:
        if _sidecar_installed():
            return static("drf_spectacular_sidecar/swagger-ui-dist/favicon-32x32.png")
        return SpectacularSwaggerView._swagger_ui_favicon()
