"""What the signaling consumer needs to know about the ASGI server underneath it (daphne / autobahn / Twisted).

ASGI gives an application no back-pressure for WebSocket sends: daphne's ``send`` returns at once and Twisted
buffers whatever the client does not read, without bound. ``pending_bytes`` reads that buffer so the consumer
can close a client that stopped reading (4013 ``slow_consumer``) instead of growing the server. Under another
server (or the in-process test communicator) it reports 0 and the channel layer's per-channel capacity is the
bound.

``fail_with_close_frame`` makes autobahn answer a protocol violation it detects itself (invalid UTF-8 in a
text frame) with a close frame (1007, per RFC 6455) instead of dropping the TCP connection, so clients see a
documented close code rather than 1006.
"""

from __future__ import annotations

import functools
from typing import Any


def pending_bytes(send: Any) -> int:
    """Bytes written for this socket that the client has not read yet (daphne only; 0 elsewhere)."""
    args = getattr(send, "args", None)  # daphne passes functools.partial(server.handle_reply, protocol)
    if not args:
        return 0
    transport = getattr(args[0], "transport", None)
    buffered = getattr(transport, "dataBuffer", None)
    if not isinstance(buffered, bytes):
        return 0
    return len(buffered) - int(getattr(transport, "offset", 0)) + int(getattr(transport, "_tempDataLen", 0))


def fail_with_close_frame() -> None:
    """Set autobahn's ``failByDrop`` off for every WebSocket server factory created from now on (idempotent)."""
    try:
        from autobahn.websocket.protocol import WebSocketServerFactory
    except ImportError:  # not running under daphne
        return
    reset = WebSocketServerFactory.resetProtocolOptions
    if getattr(reset, "levelchat", False):
        return

    @functools.wraps(reset)
    def reset_protocol_options(self: Any) -> None:
        reset(self)
        self.failByDrop = False

    reset_protocol_options.levelchat = True  # type: ignore[attr-defined]
    WebSocketServerFactory.resetProtocolOptions = reset_protocol_options  # type: ignore[method-assign]
