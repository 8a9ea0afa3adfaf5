// The recording leg (a mesh room being recorded): send-only transceivers pinned to VP8/Opus, each published sid
// repeated with its mid, one offer, the worker's answer applied, candidates both ways, nothing after close.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Logger } from '../../django_levelchat/static/levelchat/sdk/logger.js';
import { RecordingLeg } from '../../django_levelchat/static/levelchat/sdk/recording-leg.js';
import { flush, MeshPC } from './fakes.js';

const CODECS = {
  getCapabilities: (kind) => ({
    codecs:
      kind === 'video'
        ? [{ mimeType: 'video/AV1' }, { mimeType: 'video/VP8' }, { mimeType: 'video/rtx' }]
        : [{ mimeType: 'audio/opus' }, { mimeType: 'audio/PCMU' }],
  }),
};

function leg() {
  MeshPC.instances = [];
  const requests = [];
  const sent = [];
  const recording = new RecordingLeg({
    iceServers: [],
    request: async (message) => {
      requests.push(message);
      return { type: 'ack' };
    },
    send: (message) => sent.push(message),
    logger: new Logger('test', { level: 'silent' }),
    RTCPeerConnectionImpl: /** @type {any} */ (MeshPC),
    RTCRtpSenderImpl: CODECS,
  });
  return { recording, requests, sent, pc: MeshPC.instances[0] };
}

const media = (sid, kind, source) => ({ sid, kind, source, track: { kind, id: sid }, maxBitrate: 0 });

test('publishes every track send-only on one offer, repeating each sid with its mid, and applies the answer', async () => {
  const { recording, requests, pc } = leg();
  const done = recording.publish([media('TR_cam-1', 'video', 'camera'), media('TR_mic-1', 'audio', 'microphone')]);
  await flush();
  assert.deepEqual(
    pc.transceivers.map((t) => [t.direction, t.codecs.map((c) => c.mimeType)]),
    [
      ['sendonly', ['video/VP8', 'video/rtx']],
      ['sendonly', ['audio/opus']],
    ],
  );
  assert.deepEqual(requests.slice(0, 2), [
    { type: 'publish', track: { sid: 'TR_cam-1', kind: 'video', source: 'camera', muted: false, mids: ['0'] } },
    { type: 'publish', track: { sid: 'TR_mic-1', kind: 'audio', source: 'microphone', muted: false, mids: ['1'] } },
  ]);
  assert.equal(requests[2].type, 'sfu-signal');
  assert.equal(requests[2].description.type, 'offer');
  await recording.handleSignal({ candidate: { candidate: 'candidate:1 1 udp 1 10.0.0.1 9 typ host', sdpMid: '0' } });
  await recording.handleSignal({ description: { type: 'answer', sdp: 'v=0\r\n' } });
  await done;
  assert.equal(pc.signalingState, 'stable');
  assert.equal(pc.addedCandidates.length, 1, 'a candidate that came before the answer is applied after it');

  await recording.publish([media('TR_cam-1', 'video', 'camera')]);
  assert.equal(requests.length, 3, 'a track already on the leg is not offered again');
});

test('trickles our candidates over sfu-signal; stops a track; nothing goes out after close', async () => {
  const { recording, sent, pc } = leg();
  const done = recording.publish([media('TR_cam-1', 'video', 'camera')]);
  await flush();
  pc.emitCandidate({ toJSON: () => ({ candidate: 'candidate:2 1 udp 1 10.0.0.2 9 typ host', sdpMid: '0' }) });
  assert.deepEqual(sent, [{ type: 'sfu-signal', candidate: { candidate: 'candidate:2 1 udp 1 10.0.0.2 9 typ host', sdpMid: '0' } }]);
  await recording.handleSignal({ description: { type: 'answer', sdp: 'v=0\r\n' } });
  await done;
  await recording.unpublish('TR_cam-1');
  assert.equal(pc.transceivers[0].sender.track, null);
  recording.close();
  assert.equal(pc.signalingState, 'closed');
  pc.emitCandidate({ toJSON: () => ({ candidate: 'x' }) });
  assert.equal(sent.length, 1);
});
