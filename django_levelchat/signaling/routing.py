"""WebSocket URL patterns and the Origin check in front of them."""

from __future__ import annotations

from typing import Any

from channels.security.websocket import OriginValidator
from django.conf import settings
from django.urls import path

from django_levelchat.conf import levelchat_settings
from django_levelchat.signaling.consumers import SignalingConsumer


class LevelChatOriginValidator(OriginValidator):
    """Refuse cross-site sockets at the handshake (HTTP 403), before any token is looked at (T14).

    Allowed origins come from ``LEVELCHAT["ALLOWED_ORIGINS"]`` (patterns as in Channels' ``OriginValidator``:
    ``https://app.example.org``, ``.example.org``), else from ``ALLOWED_HOSTS``. A missing Origin is accepted:
    browsers always send one, so a socket without it comes from a non-browser client (a bot, a mobile app, the
    Python client), and the socket authenticates by its token, never by a cookie, so it cannot be a cross-site
    hijack. A present Origin that is not allowed (``null`` included) is refused.
    """

    def __init__(self, application: Any) -> None:
        super().__init__(application, [])

    def valid_origin(self, parsed_origin: Any) -> bool:
        if parsed_origin is None:
            return True
        configured = levelchat_settings.ALLOWED_ORIGINS
        patterns = list(configured) if configured is not None else list(settings.ALLOWED_HOSTS)
        return any(p == "*" or self.match_allowed_origin(parsed_origin, p) for p in patterns)


websocket_urlpatterns = [
    path("levelchat/v1/signal", LevelChatOriginValidator(SignalingConsumer.as_asgi())),
]
