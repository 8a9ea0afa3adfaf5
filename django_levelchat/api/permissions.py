"""Who may call the API: a backend holding an API key, or a staff member's session (the admin UI)."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from django_levelchat.models import ApiKey


def is_api_key_request(request: Request) -> bool:
    return isinstance(request.auth, ApiKey)


class IsApiKeyOrStaff(BasePermission):
    """An API key (keys are global in v1), or an active staff user logged in through the session."""

    message = "An API key or a staff session is required."

    def has_permission(self, request: Request, view: Any) -> bool:
        if is_api_key_request(request):
            return True
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.is_staff)
