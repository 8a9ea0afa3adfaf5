"""ASGI entry point: HTTP through Django, WebSockets through the levelchat signaling routes.

``LEVELCHAT_SERVE_STATIC=1`` makes the app serve static files itself (daphne does not): for browser tests and
local runs under plain ``daphne``. Production serves ``STATIC_ROOT`` from the web server or a CDN.
``LEVELCHAT_GC_TUNING=0`` leaves CPython's garbage collector at its defaults (see ``deploy.tune_gc``).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
django_asgi_app = get_asgi_application()
if os.environ.get("LEVELCHAT_SERVE_STATIC") == "1":
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    django_asgi_app = ASGIStaticFilesHandler(django_asgi_app)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402  (after Django is set up)

from django_levelchat.deploy import tune_gc  # noqa: E402
from django_levelchat.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": URLRouter(websocket_urlpatterns)})

if os.environ.get("LEVELCHAT_GC_TUNING", "1") == "1":
    tune_gc()
