"""A malformed RTP header extension costs that packet, not the connection (django_levelchat/rtpguard.py)."""

from __future__ import annotations

import struct

import pytest
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpReceiveParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from django_levelchat import rtpguard

AUDIO_LEVEL = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"


def _packet(element: bytes) -> bytes:
    """An RTP packet with a two-byte-header extension block (RFC 8285 §4.3) holding ``element``."""
    header = bytes([0x90, 111]) + struct.pack("!HII", 1, 3000, 0x1234)
    block = element + b"\x00" * (-len(element) % 4)
    return header + struct.pack("!HH", 0x1000, len(block) // 4) + block + b"\xde\xad"


@pytest.fixture
def extensions() -> HeaderExtensionsMap:
    mapping = HeaderExtensionsMap()
    mapping.configure(
        RTCRtpReceiveParameters(headerExtensions=[RTCRtpHeaderExtensionParameters(id=1, uri=AUDIO_LEVEL)])
    )
    return mapping


@pytest.mark.parametrize(
    ("element", "level"),
    [
        (bytes([1, 0]), None),  # an audio level of zero bytes: aiortc unpacks one byte
        (bytes([1, 1, 0x85]), (True, 5)),  # a good one still parses
    ],
    ids=["empty-audio-level", "valid-audio-level"],
)
def test_a_short_extension_is_a_parse_error_aiortc_drops(extensions, element, level) -> None:
    rtpguard.install()
    rtpguard.install()  # twice: still one wrapper
    data = _packet(element)
    if level is None:
        with pytest.raises(ValueError, match="malformed RTP header extension"):
            RtpPacket.parse(data, extensions)
    else:
        assert RtpPacket.parse(data, extensions).extensions.audio_level == level
