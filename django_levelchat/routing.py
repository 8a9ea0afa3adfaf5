"""Public routing entry: ``websocket_urlpatterns`` to include in your ASGI ``URLRouter``."""

from django_levelchat.signaling.routing import websocket_urlpatterns

__all__ = ["websocket_urlpatterns"]
