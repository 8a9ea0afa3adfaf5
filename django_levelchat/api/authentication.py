"""API key authentication: ``Authorization: Bearer lc_pk_<id>.<secret>``.

The key is looked up by its public id and the secret's hash compared in constant time
(``ApiKey.objects.authenticate``). Every bad key (malformed, unknown id, wrong secret, inactive) gets the same
401 body, so the answer is no oracle for which ids exist.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from django_levelchat.models import ApiKey

INVALID_KEY = "Invalid API key."
REALM = "levelchat"


class ApiKeyUser:
    """The principal of a request authenticated by an API key (``request.user``); not a Django user."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, key: ApiKey) -> None:
        self.key = key
        self.pk = self.id = f"apikey:{key.key_id}"
        self.username = key.prefix

    def __str__(self) -> str:
        return self.username

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False


class ApiKeyAuthentication(BaseAuthentication):
    """``Authorization: Bearer lc_pk_<id>.<secret>``; ``request.auth`` is the ``ApiKey``."""

    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[ApiKeyUser, ApiKey] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None  # no API key: another authenticator (the session) may apply
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(INVALID_KEY)
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(INVALID_KEY) from None
        key = ApiKey.objects.authenticate(raw)
        if key is None:
            raise exceptions.AuthenticationFailed(INVALID_KEY)
        key.touch()
        return ApiKeyUser(key), key

    def authenticate_header(self, request: Request) -> str:
        # Being the first authenticator, this makes DRF answer 401 (not 403) to unauthenticated requests.
        return f'Bearer realm="{REALM}"'
