// The SFU transport's SDP helpers (sdk/sfu.js). The transport itself is tested with Chromium and the real SFU
// (tests/e2e/test_sfu_sdk.py): its job is to get along with aiortc, which no fake reproduces.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { alignExtmaps, readMsids, sfuCodecs } from '../../django_levelchat/static/levelchat/sdk/sfu.js';

const extmaps = (sdp) => sdp.split('\r\n').filter((l) => l.startsWith('a=extmap:'));

test('readMsids maps each mid to the publisher and track sid of its a=msid', () => {
  const sdp = ['v=0', 'm=video 9 UDP/TLS/RTP/SAVPF 97', 'a=mid:0', 'a=msid:PA_1 TR_cam-1', 'm=audio 9 UDP/TLS/RTP/SAVPF 96', 'a=mid:1', 'a=msid:PA_2 TR_microphone-2', 'm=video 0 UDP/TLS/RTP/SAVPF 97', 'a=mid:2', ''].join('\r\n');
  const msids = readMsids(sdp);
  assert.deepEqual(msids.get('0'), { stream: 'PA_1', track: 'TR_cam-1' });
  assert.deepEqual(msids.get('1'), { stream: 'PA_2', track: 'TR_microphone-2' });
  assert.equal(msids.has('2'), false);
});

test("alignExtmaps gives an aiortc offer's extensions the ids already applied on our side", () => {
  // Our earlier offer: Chrome's numbering. aiortc's re-offer: its own (1 mid, 2 audio level, 3 abs-send-time).
  const reference = ['m=video 9 UDP/TLS/RTP/SAVPF 96', 'a=mid:0', 'a=extmap:2 urn:ietf:params:rtp-hdrext:toffset', 'a=extmap:3 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time', 'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid'].join('\r\n');
  const offer = ['m=video 9 UDP/TLS/RTP/SAVPF 97', 'a=mid:0', 'a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid', 'a=extmap:3 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time', 'm=audio 9 UDP/TLS/RTP/SAVPF 96', 'a=mid:1', 'a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid', 'a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level', ''].join('\r\n');
  assert.deepEqual(extmaps(alignExtmaps(offer, reference)), [
    'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
    'a=extmap:3 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
    'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
    'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level', // 2 is toffset here: the first free id
  ]);
});

test('alignExtmaps makes one description consistent across its sections and keeps directions', () => {
  const offer = ['m=video 9 X 96', 'a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid', 'm=audio 9 X 111', 'a=extmap:1/sendonly urn:ietf:params:rtp-hdrext:ssrc-audio-level', 'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid', ''].join('\n');
  assert.deepEqual(
    alignExtmaps(offer).split('\n').filter((l) => l.startsWith('a=extmap:')),
    ['a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid', 'a=extmap:2/sendonly urn:ietf:params:rtp-hdrext:ssrc-audio-level', 'a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid'],
  );
  const clean = 'v=0\r\nm=audio 9 X 111\r\na=extmap:1 urn:a\r\n';
  assert.equal(alignExtmaps(clean, clean), clean);
});

test('sfuCodecs keeps VP8 and RTX for video, Opus for audio; null without them', () => {
  const Sender = {
    getCapabilities: (kind) =>
      kind === 'video'
        ? { codecs: [{ mimeType: 'video/VP9' }, { mimeType: 'video/VP8' }, { mimeType: 'video/rtx' }, { mimeType: 'video/AV1' }] }
        : { codecs: [{ mimeType: 'audio/opus' }, { mimeType: 'audio/PCMU' }] },
  };
  assert.deepEqual(sfuCodecs(Sender, 'video').map((c) => c.mimeType), ['video/VP8', 'video/rtx']);
  assert.deepEqual(sfuCodecs(Sender, 'audio').map((c) => c.mimeType), ['audio/opus']);
  assert.equal(sfuCodecs({ getCapabilities: () => ({ codecs: [{ mimeType: 'video/H264' }, { mimeType: 'video/rtx' }] }) }, 'video'), null);
  assert.equal(sfuCodecs(undefined, 'video'), null);
});
