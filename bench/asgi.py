"""ASGI application for benchmarks: the real signaling routes plus two baselines.

- ``/bench/bare``: the least a Channels chat can do. It joins one group on connect and group-sends every text
  frame it receives, unparsed, to that group; each member writes it back out unchanged. Nothing else: no auth, no
  Origin check, no parsing, no presence, no ``seq``. Its ``dispatch`` skips the stock one's
  ``close_old_connections`` thread hop (it never touches the database), as the signaling consumer's does, so it is
  the floor the signaling consumer is compared with.
- ``/bench/stock``: the same consumer with the stock ``dispatch``, i.e. what a plain ``AsyncWebsocketConsumer``
  costs: every message (each received frame and each group message delivered) first runs
  ``close_old_connections`` through ``sync_to_async`` in a worker thread.
- ``/bench/idle?room=R``: the scale benchmark's baseline (``bench/scale.py``): joins the group of its room R,
  answers a ping frame with a pong itself, and group-sends any other text frame to its room, raw.
"""

import os

from bench import memdiag

memdiag.install()  # before anything else is imported, so tracemalloc sees it all (off unless LEVELCHAT_MEMDIAG_DIR)

from django.core.asgi import get_asgi_application  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django_asgi_app = get_asgi_application()

from channels.consumer import get_handler_name  # noqa: E402
from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402  (after Django is set up)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from django_levelchat.deploy import tune_gc  # noqa: E402
from django_levelchat.routing import websocket_urlpatterns  # noqa: E402


class StockConsumer(AsyncWebsocketConsumer):
    group = "bench.stock"

    async def connect(self) -> None:
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is not None:
            await self.channel_layer.group_send(self.group, {"type": "bare.text", "text": text_data})

    async def bare_text(self, event: dict) -> None:
        await self.send(text_data=event["text"])

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.group, self.channel_name)


class BareConsumer(StockConsumer):
    group = "bench.bare"

    async def dispatch(self, message: dict) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is not None:
            await handler(message)


class IdleConsumer(BareConsumer):
    """Joins its room's group and answers pings: the least an idle call participant can cost."""

    async def connect(self) -> None:
        query = self.scope.get("query_string", b"").decode("latin-1")
        self.group = "bench.idle." + (query.partition("room=")[2].partition("&")[0] or "none")
        await super().connect()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is not None and text_data.startswith('{"type":"ping"'):
            await self.send(text_data='{"type":"pong"}')
        else:
            await super().receive(text_data, bytes_data)


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(
            [
                path("bench/bare", BareConsumer.as_asgi()),
                path("bench/stock", StockConsumer.as_asgi()),
                path("bench/idle", IdleConsumer.as_asgi()),
                *websocket_urlpatterns,
            ]
        ),
    }
)
if os.environ.get("LEVELCHAT_GC_TUNING", "1") == "1":  # as example_project/asgi.py does, for ours and the baselines
    tune_gc()
