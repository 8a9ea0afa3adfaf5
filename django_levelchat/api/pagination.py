"""Limit/offset pagination that refuses malformed values (DRF's silently falls back to the defaults)."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request


class StrictLimitOffsetPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 200
    max_offset = 10**9

    def _parse(self, request: Request, name: str, low: int, high: int, default: int) -> int:
        raw = request.query_params.get(name)
        if raw is None:
            return default
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 10) or not low <= int(raw) <= high:
            raise ValidationError({name: [f"Must be an integer between {low} and {high}."]})
        return int(raw)

    def get_limit(self, request: Request) -> int:
        return self._parse(request, self.limit_query_param, 1, self.max_limit, self.default_limit)

    def get_offset(self, request: Request) -> int:
        return self._parse(request, self.offset_query_param, 0, self.max_offset, 0)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        params = super().get_schema_operation_parameters(view)
        bounds = {
            self.limit_query_param: {"minimum": 1, "maximum": self.max_limit, "default": self.default_limit},
            self.offset_query_param: {"minimum": 0, "maximum": self.max_offset, "default": 0},
        }
        for param in params:
            param["schema"].update(bounds.get(param["name"], {}))
        return params


def pagination_parameters() -> list[Any]:
    """``limit``/``offset`` as OpenAPI parameters, for views that paginate by hand."""
    from drf_spectacular.utils import OpenApiParameter

    return [
        OpenApiParameter("limit", int, description="1…200, default 50."),
        OpenApiParameter("offset", int, description="0 or more, default 0."),
    ]
