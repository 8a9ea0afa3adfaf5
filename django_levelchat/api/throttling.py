"""Throttling of token minting for session callers; API keys bypass it by design (quotas are theirs to set).

The rate is ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["levelchat_token"]`` (default ``DEFAULT_RATE``; ``None``
disables it), read at request time so ``override_settings`` applies. Clients are told apart by user id, else
by DRF's ``get_ident`` (set ``REST_FRAMEWORK["NUM_PROXIES"]`` behind a proxy so X-Forwarded-For cannot be
spoofed). DRF throttling is a quota, not a security control: its cache updates are not atomic.
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from django_levelchat.api.permissions import is_api_key_request

DEFAULT_RATE = "60/min"


class TokenMintThrottle(SimpleRateThrottle):
    scope = "levelchat_token"

    def get_rate(self) -> str | None:
        rates = api_settings.DEFAULT_THROTTLE_RATES or {}
        return rates.get(self.scope, DEFAULT_RATE)

    def allow_request(self, request: Request, view: Any) -> bool:
        if is_api_key_request(request):
            return True
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: Any) -> str:
        user = request.user
        ident = f"user:{user.pk}" if user and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
