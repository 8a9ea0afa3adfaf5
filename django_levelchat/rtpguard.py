"""One malformed RTP packet must cost that packet, not the connection.

aiortc drops a packet it cannot parse when the parser raises ``ValueError``. But a header extension whose value is
shorter than its type needs raises ``struct.error``. That happens, for example, with a zero-length two-byte-header
element under an id aiortc maps to the audio level, and it ends the DTLS transport's receive loop: one such
packet from a browser stopped all of a connection's media. ``install()`` turns it into the ``ValueError`` aiortc
already handles. The Python client and the SFU worker both install it.
"""

from __future__ import annotations

import struct
from typing import Any

from aiortc import rtp


def install() -> None:
    parse = rtp.HeaderExtensionsMap.get
    if getattr(parse, "levelchat_guarded", False):
        return

    def guarded(self: rtp.HeaderExtensionsMap, extension_profile: int, extension_value: bytes) -> Any:
        try:
            return parse(self, extension_profile, extension_value)
        except struct.error as exc:
            raise ValueError(f"malformed RTP header extension: {exc}") from None

    guarded.levelchat_guarded = True  # type: ignore[attr-defined]
    rtp.HeaderExtensionsMap.get = guarded  # type: ignore[method-assign]
