"""Egress fast path: forwarded frames go out through our own send path, in place of ``RTCRtpSender._run_rtp``.

Profiling the forwarding path (bench/sfu.py --profile) showed the per-subscriber, per-packet cost in aiortc's
sender loop, not in the fan-out: for every packet it builds an ``RtpPacket``, packs its header extensions, reads
the wall clock twice through ``datetime``, awaits three coroutine layers down to ``sendto``, and the VP8 payloads of
the same frame are cut again for every subscriber (after two copies through ``av.Packet``). Here:

- a frame is cut into payload chunks **once**, shared by every subscriber of the layer (``EncodedFrame.chunks``);
- frames are pushed (``sfu.forward``), so there is no queue and no task switch per subscriber and frame;
- the clock is read once per frame, and the header extensions packed once per frame and m-line layout (mid and
  extension ids, mostly the same for every subscriber of a track); per packet there is one
  ``struct.pack`` of the fixed header, one join, SRTP ``protect`` and a synchronous ``sendto``, all packets of a
  frame in one go (no awaits between them);
- forwarded audio keeps the publisher's RFC 6464 level (aiortc's own path drops it for pre-encoded audio).

aiortc's sender keeps everything else: RTCP sender reports (from the counters kept here), SDES, NACK handling
(``_retransmit`` below answers from our own history, with RTX when negotiated), PLI and REMB. The private
attributes this relies on are checked by ``sfu.selfcheck`` before the SFU accepts a room.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Callable
from struct import pack
from typing import Any

from aiortc import clock
from aiortc.rtcdtlstransport import State
from aiortc.rtp import HeaderExtensions

from django_levelchat.sfu.relay import VP8_CHUNK, EncodedFrame

HISTORY = 128  # packets kept for NACK, as aiortc's sender (rtp.RTP_HISTORY_SIZE)
_S = "_RTCRtpSender__"


class Egress:
    """Sends one subscriber's forwarded track on ``sender`` (a track-less, send-only transceiver's sender).

    aiortc calls ``_run_rtp`` once the connection is up (we replace it: it only marks the egress ready until the
    sender stops) and ``_retransmit`` on a NACK (answered from our history).
    """

    def __init__(self, sender: Any, kind: str, on_ready: Callable[[], None]) -> None:
        self.sender = sender
        self.video = kind == "video"
        self._on_ready = on_ready
        self.ready = False
        self.payload_type = 0
        self._layout: tuple[Any, ...] = ()
        self.sequence_number = random.getrandbits(16)
        self.timestamp_origin = random.getrandbits(32)
        self.picture_id = random.getrandbits(15)
        self.rtx_sequence_number = random.getrandbits(16)
        self.history: list[tuple[int, int, int, bytes, bytes, bytes] | None] = [None] * HISTORY
        self.retransmitted = 0
        sender._run_rtp = self._run_rtp
        sender._retransmit = self._retransmit

    async def _run_rtp(self, codec: Any) -> None:
        self.payload_type = codec.payloadType
        ids = getattr(self.sender, _S + "rtp_header_extensions_map")._HeaderExtensionsMap__ids
        self._layout = (getattr(self.sender, _S + "mid"), dataclasses.astuple(ids))
        getattr(self.sender, _S + "rtp_started").set()
        self.ready = True
        self._on_ready()  # send what the fan-out held while the connection came up
        try:
            await asyncio.get_running_loop().create_future()  # until the sender stops (cancels this task)
        except asyncio.CancelledError:
            pass
        finally:
            self.ready = False
            getattr(self.sender, _S + "rtp_exited").set()

    def _extensions(self, frame: EncodedFrame, ntp: int) -> bytes:
        """The header-extension block of every packet of this frame (profile, length, values)."""
        values = HeaderExtensions()
        values.abs_send_time = (ntp >> 14) & 0x00FFFFFF
        values.mid = getattr(self.sender, _S + "mid")
        if frame.audio_level is not None:
            values.audio_level = (False, frame.audio_level)
        profile, value = getattr(self.sender, _S + "rtp_header_extensions_map").set(values)
        return pack("!HH", profile, len(value) >> 2) + value if value else b""

    def _path(self) -> tuple[Any, Any, Any] | None:
        """``(protect, sendto, address)`` of the connection, or None while it is not up."""
        transport = self.sender.transport
        if not self.ready or not self.sender._enabled or transport._state != State.CONNECTED:
            return None
        pair = transport.transport._connection._nominated.get(1)
        if pair is None:
            return None
        return transport._tx_srtp.protect, pair.protocol.transport.sendto, pair.remote_addr

    def send(self, frame: EncodedFrame, pts: int) -> bool:
        """Packetize and send one frame at ``pts`` (in the stream's clock); False if the connection is not up."""
        path = self._path()
        if path is None:
            return False
        protect, sendto, address = path
        sender = self.sender
        ssrc = sender._ssrc
        timestamp = (self.timestamp_origin + pts) & 0xFFFFFFFF
        ntp = frame.ntp
        if ntp is None:
            ntp = frame.ntp = clock.current_ntp_time()
        # Subscribers whose m-line has the same mid and extension ids share one block per frame.
        if frame.extensions is None:
            frame.extensions = {}
        extensions = frame.extensions.get(self._layout)
        if extensions is None:
            extensions = frame.extensions[self._layout] = self._extensions(frame, ntp)
        first_byte = 0x90 if extensions else 0x80
        if self.video:
            chunks = frame.chunks
            if chunks is None:
                data = frame.data
                chunks = frame.chunks = tuple(data[i : i + VP8_CHUNK] for i in range(0, len(data), VP8_CHUNK))
            picture = pack("!H", 0x8000 | self.picture_id)
            descriptors = (b"\x90\x80" + picture, b"\x80\x80" + picture)
            self.picture_id = (self.picture_id + 1) & 0x7FFF
        else:
            chunks = (frame.data,)
            descriptors = (b"", b"")
        history = self.history
        payload_type = self.payload_type
        sequence_number = self.sequence_number
        last = len(chunks) - 1
        sent_bytes = octets = 0
        for n, chunk in enumerate(chunks):
            descriptor = descriptors[n > 0]
            marker_type = (0x80 if n == last else 0) | payload_type
            header = pack("!BBHLL", first_byte, marker_type, sequence_number, timestamp, ssrc)
            history[sequence_number % HISTORY] = (
                sequence_number,
                timestamp,
                marker_type,
                extensions,
                descriptor,
                chunk,
            )
            packet = protect(b"".join((header, extensions, descriptor, chunk)))
            sendto(packet, address)
            sent_bytes += len(packet)
            octets += len(descriptor) + len(chunk)
            sequence_number = (sequence_number + 1) & 0xFFFF
        self.sequence_number = sequence_number
        # What aiortc's RTCP loop puts in sender reports, and the transport's stats.
        setattr(sender, _S + "ntp_timestamp", ntp)
        setattr(sender, _S + "rtp_timestamp", timestamp)
        setattr(sender, _S + "octet_count", getattr(sender, _S + "octet_count") + octets)
        setattr(sender, _S + "packet_count", getattr(sender, _S + "packet_count") + last + 1)
        transport = sender.transport
        transport._RTCDtlsTransport__tx_bytes += sent_bytes
        transport._RTCDtlsTransport__tx_packets += last + 1
        return True

    async def _retransmit(self, sequence_number: int) -> None:
        """Answer a NACK from the history: as RTX when negotiated (original sequence number first), else as is."""
        entry = self.history[sequence_number % HISTORY]
        path = self._path()
        if entry is None or entry[0] != sequence_number or path is None:
            return
        protect, sendto, address = path
        _seq, timestamp, marker_type, extensions, descriptor, chunk = entry
        first_byte = 0x90 if extensions else 0x80
        rtx_payload_type = getattr(self.sender, _S + "rtx_payload_type")
        if rtx_payload_type is not None:
            seq = self.rtx_sequence_number
            self.rtx_sequence_number = (seq + 1) & 0xFFFF
            marker_type = (marker_type & 0x80) | rtx_payload_type
            header = pack("!BBHLL", first_byte, marker_type, seq, timestamp, self.sender._rtx_ssrc)
            body = pack("!H", sequence_number) + descriptor + chunk
        else:
            header = pack("!BBHLL", first_byte, marker_type, sequence_number, timestamp, self.sender._ssrc)
            body = descriptor + chunk
        self.retransmitted += 1
        sendto(protect(header + extensions + body), address)
