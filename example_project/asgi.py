"""ASGI entry point: HTTP through Django, WebSockets through the levelchat signaling routes.

``LEVELCHAT_SERVE_STATIC=1`` makes the app serve static files itself (daphne does not): for browser tests and
local runs under plain ``daphne``. Production serves ``STATIC_ROOT`` from the web server or a CDN.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
django_asgi_app = get_asgi_application()
if os.environ.get("LEVELCHAT_SERVE_STATIC") == "1":
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    django_asgi_app = ASGIStaticFilesHandler(django_asgi_app)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402  (after Django is set up)

from django_levelchat.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": URLRouter(websocket_urlpatterns)})
