"""API errors and the exception handler: every error body is ``{"code", "detail"}`` (plus ``"fields"`` on 400).

Codes are part of the public contract (``docs/rest.md`` lists them). Library errors map to HTTP statuses:
``IllegalTransition`` → 409, ``TokenError``/``CapabilityError`` → 400, ``Http404`` → 404 ``not_found``.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from django_levelchat.exceptions import CapabilityError, IllegalTransition, LevelChatError, TokenError
from django_levelchat.exceptions import SfuUnavailable as SfuUnavailableError

logger = logging.getLogger(__name__)


class Conflict(exceptions.APIException):
    """409: the resource is in a state that forbids the request (an illegal lifecycle step)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class NotConnected(exceptions.APIException):
    """404: the participant has no live session in the room."""

    status_code = status.HTTP_404_NOT_FOUND
    default_detail = "This participant is not connected to the room."
    default_code = "not_connected"


class SfuUnavailable(exceptions.APIException):
    """503: recordings need the SFU media server, which is not available."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Recording needs the SFU media server, which is not available."
    default_code = "sfu_unavailable"


class SignalingUnavailable(exceptions.APIException):
    """503: a live action needs the signaling control plane, which is not installed."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The signaling server is not available."
    default_code = "signaling_unavailable"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


_LIBRARY_STATUS: list[tuple[type[LevelChatError], int]] = [
    (IllegalTransition, status.HTTP_409_CONFLICT),
    (TokenError, status.HTTP_400_BAD_REQUEST),
    (CapabilityError, status.HTTP_400_BAD_REQUEST),
    (SfuUnavailableError, status.HTTP_503_SERVICE_UNAVAILABLE),
]


def _code(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else exc.default_code


def _fields(detail: Any) -> dict[str, Any]:
    if isinstance(detail, dict):
        return detail
    return {"non_field_errors": detail if isinstance(detail, list) else [detail]}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF exception handler producing ``{"code", "detail"[, "fields"]}``; unknown exceptions propagate (500)."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, LevelChatError):
        http_status = next((s for cls, s in _LIBRARY_STATUS if isinstance(exc, cls)), None)
        if http_status is None:  # ConfigurationError and future errors: a server problem, logged
            logger.error("levelchat API error: %s", exc, exc_info=exc)
            http_status = status.HTTP_500_INTERNAL_SERVER_ERROR
        set_rollback()
        return Response({"code": exc.code, "detail": exc.detail}, status=http_status)

    if not isinstance(exc, exceptions.APIException):
        return None

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(math.ceil(exc.wait))
    if isinstance(exc, exceptions.ValidationError):
        data: dict[str, Any] = {"code": "invalid", "detail": "Invalid input.", "fields": _fields(exc.detail)}
    else:
        data = {"code": _code(exc), "detail": str(exc.detail)}
    set_rollback()
    return Response(data, status=exc.status_code, headers=headers)
