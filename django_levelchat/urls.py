"""HTTP routes of django_levelchat: include them under a prefix, e.g. ``path("levelchat/", include(...))``.

The REST API lives at ``v1/…`` (namespace ``levelchat_api``); the signaling WebSocket is routed separately
(``django_levelchat.routing.websocket_urlpatterns``, at ``levelchat/v1/signal``).
"""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("", include("django_levelchat.api.urls")),
]
