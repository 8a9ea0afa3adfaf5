"""Chromium → SFU → Chromium: multi-transceiver VP8 simulcast through the embedded SFU of a real daphne server.

The pages use raw ``RTCPeerConnection`` and the signaling socket (the SDK's SFU transport does not exist yet), the
way docs/sfu.md says a client must: three send-only transceivers of camera clones at ¼, ½ and full size with one
encoding each, VP8 pinned, their mids in ``publish``; the subscriber answers the SFU's offers and asks for layers
with ``set-preferred-quality``. Asserted: the subscriber's ``videoWidth`` follows the asked layer, and the layer
switches happen on keyframes (``keyFramesDecoded`` grows) without a freeze counted by Chrome.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings

from django_levelchat.models import Room
from tests.e2e.conftest import in_db_thread, wait_until
from tests.e2e.live import WAIT_MS, WAIT_S, LiveServer, start_server

pytestmark = pytest.mark.e2e
#: This module's own database alias: the shared e2e server's alias points at another SQLite file.
DB_ALIAS = "sfu_e2e"

# Shared by both pages: a signaling socket that answers the SFU's offers and trickles candidates.
SETUP = """
async ({url, token}) => {
  const ws = new WebSocket(url, ['levelchat.v1', 'token.' + token]);
  await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = fail; });
  const pc = new RTCPeerConnection({iceServers: []});
  const lc = window.lc = {ws, pc, frames: [], welcome: null, n: 0};
  lc.send = (frame) => ws.send(JSON.stringify(frame));
  pc.ontrack = (event) => {
    const video = lc.video = document.createElement('video');
    video.autoplay = true; video.muted = true; video.playsInline = true;
    document.body.appendChild(video);
    video.srcObject = new MediaStream([event.track]);
  };
  pc.onicecandidate = (e) => { if (e.candidate) lc.send({type: 'sfu-signal', candidate: e.candidate.toJSON()}); };
  ws.onmessage = async (event) => {
    const frame = JSON.parse(event.data);
    lc.frames.push(frame);
    if (frame.type === 'welcome') lc.welcome = frame;
    if (frame.type !== 'sfu-signal') return;
    if (frame.description) {
      await pc.setRemoteDescription(frame.description);
      if (frame.description.type === 'offer') {
        await pc.setLocalDescription();
        lc.send({type: 'sfu-signal', description: pc.localDescription.toJSON()});
      }
    } else if (frame.candidate && frame.candidate.candidate) {
      await pc.addIceCandidate(frame.candidate);
    }
  };
  lc.send({type: 'hello', protocol: 1, sdk: {name: 'e2e-raw', version: '0'}});
  await new Promise((ok, fail) => {
    const t = setInterval(() => { if (lc.welcome) { clearInterval(t); ok(); } }, 20);
    ws.addEventListener('close', (e) => { clearInterval(t); fail(new Error('closed ' + e.code + ' ' + JSON.stringify(lc.frames))); });
    setTimeout(() => { clearInterval(t); fail(new Error('no welcome in 60 s: ' + JSON.stringify(lc.frames))); }, 60000);
  });
  setInterval(() => lc.send({type: 'ping'}), 2000);
  return lc.welcome.you.id;
}
"""

PUBLISH = """
async () => {
  const lc = window.lc;
  const stream = await navigator.mediaDevices.getUserMedia({video: {width: 1280, height: 720}});
  const camera = stream.getVideoTracks()[0];
  const codecs = RTCRtpSender.getCapabilities('video').codecs.filter((c) => /vp8|rtx/i.test(c.mimeType));
  const layers = [[4, 150000], [2, 500000], [1, 1500000]];
  const transceivers = layers.map(([scale, maxBitrate]) => {
    const t = lc.pc.addTransceiver(camera.clone(), {
      direction: 'sendonly', sendEncodings: [{scaleResolutionDownBy: scale, maxBitrate}],
    });
    t.setCodecPreferences(codecs);
    return t;
  });
  await lc.pc.setLocalDescription();
  const mids = transceivers.map((t) => t.mid);
  lc.send({type: 'publish', id: 'pub', track: {sid: 'TR_cam', kind: 'video', source: 'camera',
           layers: ['q', 'h', 'f'], mids}});
  lc.send({type: 'sfu-signal', id: 'offer', description: lc.pc.localDescription.toJSON()});
  return {mids, settings: camera.getSettings()};
}
"""

INBOUND = """
async () => {
  const stats = await window.lc.pc.getStats();
  for (const s of stats.values()) if (s.type === 'inbound-rtp' && s.kind === 'video') {
    return {width: window.lc.video.videoWidth, keyFramesDecoded: s.keyFramesDecoded || 0,
            freezeCount: s.freezeCount || 0, framesDecoded: s.framesDecoded || 0,
            keyframeRequests: (s.pliCount || 0) + (s.firCount || 0)};
  }
  return {width: window.lc.video ? window.lc.video.videoWidth : 0, keyFramesDecoded: 0, freezeCount: 0, framesDecoded: 0,
          keyframeRequests: 0};
}
"""


@pytest.fixture(scope="module")
def sfu_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of its own with the in-memory channel layer, so the SFU runs embedded in daphne."""
    server = start_server(tmp_path_factory.mktemp("sfu-e2e"), secret_key=settings.SECRET_KEY)
    try:
        yield server
    finally:
        server.stop()


def test_simulcast_layers_follow_preferred_quality(
    sfu_server: LiveServer, browser: Any, django_db_blocker: Any
) -> None:
    from django.db import connections

    from django_levelchat import tokens

    conf = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(sfu_server.db_path), "OPTIONS": {"timeout": 20}}
    connections.settings[DB_ALIAS] = connections.configure_settings({"default": {}, DB_ALIAS: conf})[DB_ALIAS]
    try:
        room = in_db_thread(
            lambda: Room.objects.using(DB_ALIAS).create(name="Live", room_type=Room.RoomType.LIVE), django_db_blocker
        )
        host_token = in_db_thread(lambda: tokens.issue_token(room, "host", role="broadcaster"), django_db_blocker)
        viewer_token = in_db_thread(lambda: tokens.issue_token(room, "viewer", role="viewer"), django_db_blocker)
    finally:

        def forget() -> None:  # the connection object lives in the database thread
            connections[DB_ALIAS].close()
            del connections[DB_ALIAS]

        in_db_thread(forget, django_db_blocker)
        del connections.settings[DB_ALIAS]

    ws_url = sfu_server.url.replace("http://", "ws://") + "/levelchat/v1/signal"
    pages = []
    for token in (host_token, viewer_token):
        context = browser.new_context()
        context.set_default_timeout(WAIT_MS)
        page = context.new_page()
        page.goto(sfu_server.url + "/sdk-test/")
        try:
            page.evaluate(SETUP, {"url": ws_url, "token": token})
        except Exception as exc:
            raise AssertionError(
                f"joining the live room failed: {exc}\nserver log:\n{sfu_server.log_tail(80)}"
            ) from exc
        pages.append(page)
    host, viewer = pages
    published = host.evaluate(PUBLISH)
    full_width = published["settings"]["width"]
    wait_until(
        lambda: host.evaluate("window.lc.frames.some((f) => f.type === 'ack' && f.ref === 'offer')"),
        timeout=4 * WAIT_S,  # the embedded SFU starts on this first need
        message="the SFU acked the publisher's offer",
    )
    answer = host.evaluate("window.lc.pc.remoteDescription && window.lc.pc.remoteDescription.sdp")
    assert "x-google-start-bitrate" in answer and "VP9" not in answer

    viewer.evaluate("window.lc.send({type: 'set-preferred-quality', quality: 'low'})")
    try:
        wait_until(lambda: viewer.evaluate(INBOUND)["width"] == full_width // 4, timeout=60, message="the q layer")
    except AssertionError:
        raise AssertionError(_diagnose(host, viewer, sfu_server)) from None

    for quality, width in (("high", full_width), ("medium", full_width // 2), ("low", full_width // 4)):
        before = viewer.evaluate(INBOUND)
        viewer.evaluate(f"window.lc.send({{type: 'set-preferred-quality', quality: '{quality}'}})")
        after = wait_until(
            lambda w=width: (s := viewer.evaluate(INBOUND))["width"] == w and s, timeout=60, message=quality
        )
        assert after["keyFramesDecoded"] > before["keyFramesDecoded"]  # the switch started on a keyframe
    final = viewer.evaluate(INBOUND)
    wait_until(lambda: viewer.evaluate(INBOUND)["framesDecoded"] > final["framesDecoded"] + 10, message="playing")
    # A switch that landed on a delta frame leaves the decoder without a reference, and Chromium then asks
    # for a keyframe itself. freezeCount is no measure here: it counts every render stall, a loaded
    # machine's included.
    assert viewer.evaluate(INBOUND)["keyframeRequests"] == 0
    for page in pages:
        page.context.close()


def _diagnose(host: Any, viewer: Any, server: LiveServer) -> str:
    report = []
    for name, page in (("host", host), ("viewer", viewer)):
        state = page.evaluate(
            """async () => {
              const lc = window.lc; const out = [];
              for (const s of (await lc.pc.getStats()).values())
                if (s.type.endsWith('bound-rtp')) out.push([s.type, s.mid, s.frameWidth, s.packetsSent ?? s.packetsReceived,
                  s.qualityLimitationReason, s.framesDecoded]);
              return {conn: lc.pc.connectionState, sig: lc.pc.signalingState,
                      frames: lc.frames.filter((f) => f.type !== 'pong').map((f) => f.type + ':' + (f.code || f.ref || '')),
                      rtp: out};
            }"""
        )
        report.append(f"{name}: {state}")
    report.append(server.log_tail())
    return "\n".join(report)
