"""Refuse to run the SFU on an aiortc whose private internals differ from the ones the relay hooks into.

Encoded forwarding depends on private attributes of aiortc 1.16 (docs/sfu.md, "Why private hooks"). A version
that renamed them would not fail loudly: receivers would silently decode again, or PLIs would go nowhere. So the
worker checks them on real objects before it accepts a room, and says exactly what is missing.
"""

from __future__ import annotations

from typing import Any

SUPPORTED = ">=1.16,<1.17"

RECEIVER_ATTRS = (
    "_RTCRtpReceiver__jitter_buffer",
    "_RTCRtpReceiver__remote_bitrate_estimator",
    "_RTCRtpReceiver__rtcp_ssrc",
    "_send_rtcp_pli",
    "_send_rtcp",
    "_handle_rtp_packet",
)
SENDER_ATTRS = (
    "_send_keyframe",
    "_handle_rtcp_packet",
    "_ssrc",
    "_stream_id",
    "_track_id",
    # sfu.egress: its own RTP loop replaces _run_rtp/_retransmit and keeps these up to date
    "_run_rtp",
    "_retransmit",
    "_rtx_ssrc",
    "_enabled",
    "_RTCRtpSender__rtp_started",
    "_RTCRtpSender__rtp_exited",
    "_RTCRtpSender__mid",
    "_RTCRtpSender__rtp_header_extensions_map",
    "_RTCRtpSender__rtx_payload_type",
    "_RTCRtpSender__ntp_timestamp",
    "_RTCRtpSender__rtp_timestamp",
    "_RTCRtpSender__octet_count",
    "_RTCRtpSender__packet_count",
)
#: Negotiated state sfu.room puts back after aiortc's createOffer resets it.
TRANSCEIVER_ATTRS = ("_codecs", "_headerExtensions")
#: The sender's DTLS transport, as sfu.egress sends through it (``transport._connection`` is aioice's).
TRANSPORT_ATTRS = ("_state", "_tx_srtp", "_RTCDtlsTransport__tx_bytes", "_RTCDtlsTransport__tx_packets")


class SfuUnsupported(RuntimeError):
    """The installed aiortc lacks an internal the SFU needs; the message names it and the supported range."""


def missing_internals(receiver: Any, sender: Any, module: Any, transceiver: Any = None) -> list[str]:
    """Names of the hooks absent from these objects (empty when the SFU can run on them)."""
    missing = [f"RTCRtpReceiver.{name}" for name in RECEIVER_ATTRS if not hasattr(receiver, name)]
    if transceiver is not None:
        missing += [f"RTCRtpTransceiver.{name}" for name in TRANSCEIVER_ATTRS if not hasattr(transceiver, name)]
    missing += [f"RTCRtpSender.{name}" for name in SENDER_ATTRS if not hasattr(sender, name)]
    extension_map = getattr(sender, "_RTCRtpSender__rtp_header_extensions_map", None)
    if not hasattr(extension_map, "_HeaderExtensionsMap__ids"):
        missing.append("HeaderExtensionsMap._HeaderExtensionsMap__ids")
    transport = getattr(sender, "transport", None)
    missing += [f"RTCDtlsTransport.{name}" for name in TRANSPORT_ATTRS if not hasattr(transport, name)]
    connection = getattr(getattr(transport, "transport", None), "_connection", None)
    if not hasattr(connection, "_nominated"):
        missing.append("RTCIceTransport._connection._nominated (aioice)")
    if not hasattr(module, "decoder_worker"):
        missing.append("aiortc.rtcrtpreceiver.decoder_worker")
    buffer = getattr(receiver, "_RTCRtpReceiver__jitter_buffer", None)
    if buffer is not None and not callable(getattr(buffer, "add", None)):
        missing.append("RTCRtpReceiver jitter buffer .add()")
    return missing


def check_aiortc() -> None:
    """Raise :class:`SfuUnsupported` unless the installed aiortc has every internal the relay uses.

    Call it inside a running event loop (aiortc's sender binds to it).
    """
    import aiortc
    from aiortc import RTCPeerConnection, rtcrtpreceiver

    transceiver = RTCPeerConnection().addTransceiver("video", direction="sendrecv")  # never negotiated
    missing = missing_internals(transceiver.receiver, transceiver.sender, rtcrtpreceiver, transceiver)
    if missing:
        raise SfuUnsupported(
            f"the SFU cannot run on aiortc {aiortc.__version__}: missing {', '.join(missing)}. "
            f"It forwards encoded media through private aiortc hooks and supports aiortc{SUPPORTED} only; "
            f'install it with: pip install "aiortc{SUPPORTED}"'
        )
