// The mesh transport with fake peer connections: who connects, recvonly for non-publishers, codec preference on
// video transceivers, track sid annotations, per-peer subscribe/unsubscribe and preferred quality, ICE restart.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Logger } from '../../django_levelchat/static/levelchat/sdk/logger.js';
import { annotateSdp, MeshTransport, readSdpAnnotations, stripSdpAnnotations } from '../../django_levelchat/static/levelchat/sdk/mesh.js';
import { flush, MeshPC } from './fakes.js';

globalThis.MediaStream ??= /** @type {any} */ (class MediaStream {});

const LOW = 'PA_01JDKG3VKVQ614K1T79ZPQA9W2';
const MID = 'PA_01JDKG3VKWAAAAAAAAAAAAAAAA';
const HIGH = 'PA_01JDKG3VKXAAAAAAAAAAAAAAAA';

const track = (kind, id = kind) => ({ kind, id, enabled: true });
const CODECS = { getCapabilities: () => ({ codecs: [{ mimeType: 'video/VP8' }, { mimeType: 'video/AV1' }, { mimeType: 'video/rtx' }] }) };

function mesh(localId, extra = {}) {
  MeshPC.instances = [];
  const signals = [];
  const remote = [];
  const transport = new MeshTransport({
    localId,
    iceServers: [{ urls: 'stun:127.0.0.1:3478' }],
    RTCPeerConnectionImpl: /** @type {any} */ (MeshPC),
    RTCRtpSenderImpl: CODECS,
    logger: new Logger('test', { level: 'silent' }),
    callbacks: {
      sendSignal: (m) => signals.push(m),
      onRemoteTrack: (pid, sid, t) => remote.push([pid, sid, t.kind]),
    },
    ...extra,
  });
  return { transport, signals, remote };
}

test('the lower id connects at once (recvonly for kinds it does not send); the higher waits for the offer', async () => {
  const { transport } = mesh(MID);
  transport.addParticipant(HIGH); // we are lower: initiator
  transport.addParticipant(LOW); // we are higher: wait
  transport.addParticipant(MID); // ourselves: ignored
  assert.deepEqual([...transport.peers.keys()], [HIGH]);
  const pc = transport.peers.get(HIGH).pc;
  assert.deepEqual(pc.config, { iceServers: [{ urls: 'stun:127.0.0.1:3478' }], bundlePolicy: 'max-bundle' });
  assert.deepEqual(pc.transceivers.map((t) => [t.receiver.track.kind, t.direction]), [['audio', 'recvonly'], ['video', 'recvonly']]);
  assert.equal(pc.transceivers[1].codecs[0].mimeType, 'video/AV1', 'codec preference on video transceivers');
  assert.equal(pc.transceivers[0].codecs, undefined);
  // The higher-id peer's first offer creates its connection.
  transport.handleSignal({ type: 'signal', from: LOW, description: { type: 'offer', sdp: 'v=0\r\n' } });
  await flush();
  assert.ok(transport.peers.has(LOW));
  assert.equal(transport.peers.get(LOW).pc.signalingState, 'stable');
});

test('a publisher adds its tracks to every peer (sendrecv, no extra recvonly); unpublish removes them', () => {
  const { transport } = mesh(LOW);
  const cam = track('video', 'cam');
  const mic = track('audio', 'mic');
  transport.publish({ sid: 'TR_cam', kind: 'video', source: 'camera', track: cam, maxBitrate: 1_000_000 });
  transport.addParticipant(MID);
  transport.publish({ sid: 'TR_mic', kind: 'audio', source: 'microphone', track: mic, maxBitrate: 64_000 });
  transport.addParticipant(HIGH);
  for (const id of [MID, HIGH]) {
    const pc = transport.peers.get(id).pc;
    assert.deepEqual(
      pc.transceivers.map((t) => [t.receiver.track.kind, t.direction, t.sender.track?.id ?? null]),
      id === MID ? [['video', 'sendrecv', 'cam'], ['audio', 'recvonly', null], ['audio', 'sendrecv', 'mic']] : [['video', 'sendrecv', 'cam'], ['audio', 'sendrecv', 'mic']],
    );
  }
  transport.unpublish('TR_cam');
  assert.equal(transport.peers.get(HIGH).pc.transceivers[0].sender.track, null);
  assert.equal(transport.peers.get(HIGH).senders.has('TR_cam'), false);
});

test('outgoing descriptions name the track sid of each sending section; incoming ones are read and stripped', async () => {
  const sdp = 'v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendrecv\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=sendrecv\r\n';
  const annotated = annotateSdp(sdp, new Map([['1', 'TR_cam-1']]));
  assert.equal(annotated, sdp.replace('a=mid:1\r\n', 'a=mid:1\r\na=x-levelchat-sid:TR_cam-1\r\n'));
  assert.deepEqual([...readSdpAnnotations(annotated)], [['1', 'TR_cam-1']]);
  assert.equal(stripSdpAnnotations(annotated), sdp);

  const { transport, signals, remote } = mesh(LOW);
  transport.publish({ sid: 'TR_cam', kind: 'video', source: 'camera', track: track('video'), maxBitrate: 1e6 });
  transport.addParticipant(HIGH);
  const peer = transport.peers.get(HIGH);
  // Pretend the browser assigned mids and produced this offer.
  peer.pc.transceivers[0].mid = '0';
  peer.pc.transceivers[1].mid = '1';
  peer.pc.localDescription = null;
  peer.pc.setLocalDescription = async function () {
    this.signalingState = 'have-local-offer';
    this.localDescription = { type: 'offer', sdp: sdp.replace('m=audio', 'm=audio').replace(/a=mid:0/, 'a=mid:1X').replace('a=mid:1\r', 'a=mid:0\r') };
  };
  await peer.negotiator.negotiate();
  const sent = signals.at(-1);
  assert.equal(sent.type, 'signal');
  assert.equal(sent.to, HIGH);
  assert.match(sent.description.sdp, /a=mid:0\r\na=x-levelchat-sid:TR_cam\r\n/);
  // The answer names the remote's track on mid 1; ontrack for that transceiver reports its sid.
  transport.handleSignal({ type: 'signal', from: HIGH, description: { type: 'answer', sdp: 'v=0\r\nm=video 9 X 96\r\na=mid:1\r\na=x-levelchat-sid:TR_theirs\r\n' } });
  await flush();
  assert.equal(peer.pc.remoteDescription.sdp, 'v=0\r\nm=video 9 X 96\r\na=mid:1\r\n', 'annotations are stripped before use');
  peer.pc.ontrack({ transceiver: { mid: '1' }, track: { kind: 'video' }, receiver: {} });
  peer.pc.ontrack({ transceiver: { mid: '7' }, track: { kind: 'audio' }, receiver: {} });
  assert.deepEqual(remote, [[HIGH, 'TR_theirs', 'video'], [HIGH, null, 'audio']]);
});

test('subscribe/unsubscribe from a peer stop and resume sending to that peer only', async () => {
  const { transport } = mesh(LOW);
  const cam = track('video', 'cam');
  const mic = track('audio', 'mic');
  transport.publish({ sid: 'TR_cam', kind: 'video', source: 'camera', track: cam, maxBitrate: 1e6 });
  transport.publish({ sid: 'TR_mic', kind: 'audio', source: 'microphone', track: mic, maxBitrate: 64e3 });
  transport.addParticipant(MID);
  transport.addParticipant(HIGH);
  const sent = (id, sid) => transport.peers.get(id).senders.get(sid).track?.id ?? null;
  transport.handleSubscription({ type: 'unsubscribe', from: MID, kind: 'video' });
  await flush();
  assert.deepEqual([sent(MID, 'TR_cam'), sent(MID, 'TR_mic'), sent(HIGH, 'TR_cam')], [null, 'mic', 'cam']);
  // A video track published later is not sent to MID either.
  transport.publish({ sid: 'TR_screen', kind: 'video', source: 'screen', track: track('video', 'screen'), maxBitrate: 2e6 });
  await flush();
  assert.equal(sent(MID, 'TR_screen'), null);
  assert.equal(sent(HIGH, 'TR_screen'), 'screen');
  transport.handleSubscription({ type: 'subscribe', from: MID, track: 'TR_screen' });
  await flush();
  assert.deepEqual([sent(MID, 'TR_screen'), sent(MID, 'TR_cam')], ['screen', null]);
  transport.handleSubscription({ type: 'subscribe', from: MID, kind: 'video' });
  await flush();
  assert.deepEqual([sent(MID, 'TR_screen'), sent(MID, 'TR_cam')], ['screen', 'cam']);
  transport.handleSubscription({ type: 'unsubscribe', from: HIGH });
  await flush();
  assert.deepEqual([sent(HIGH, 'TR_cam'), sent(HIGH, 'TR_mic'), sent(HIGH, 'TR_screen')], [null, null, null]);
  transport.handleSubscription({ type: 'subscribe', from: HIGH });
  await flush();
  assert.deepEqual([sent(HIGH, 'TR_cam'), sent(HIGH, 'TR_mic')], ['cam', 'mic']);
  // A device switch follows the subscription state.
  transport.handleSubscription({ type: 'unsubscribe', from: HIGH, track: 'TR_cam' });
  await transport.replaceTrack('TR_cam', track('video', 'cam2'));
  assert.deepEqual([sent(HIGH, 'TR_cam'), sent(MID, 'TR_cam')], [null, 'cam2']);
});

test('set-preferred-quality from a subscriber adapts the camera sender toward that peer only', async () => {
  const { transport } = mesh(LOW);
  transport.publish({ sid: 'TR_cam', kind: 'video', source: 'camera', track: track('video'), maxBitrate: 1_000_000 });
  transport.publish({ sid: 'TR_screen', kind: 'video', source: 'screen', track: track('video', 's'), maxBitrate: 2_000_000 });
  transport.publish({ sid: 'TR_mic', kind: 'audio', source: 'microphone', track: track('audio'), maxBitrate: 64_000 });
  transport.addParticipant(MID);
  transport.addParticipant(HIGH);
  const enc = (id, sid) => transport.peers.get(id).senders.get(sid).params.encodings[0];
  transport.handlePreferredQuality({ type: 'set-preferred-quality', from: MID, quality: 'low' });
  assert.deepEqual([enc(MID, 'TR_cam').scaleResolutionDownBy, enc(MID, 'TR_cam').maxBitrate], [4, 150_000]);
  assert.deepEqual([enc(MID, 'TR_screen').scaleResolutionDownBy, enc(MID, 'TR_screen').maxBitrate], [1, 300_000], 'a screen keeps its resolution');
  assert.equal(enc(MID, 'TR_mic').maxBitrate, undefined, 'audio is not touched');
  assert.deepEqual([enc(HIGH, 'TR_cam').scaleResolutionDownBy, enc(HIGH, 'TR_cam').maxBitrate], [1, 1_000_000]);
  transport.handlePreferredQuality({ type: 'set-preferred-quality', from: MID, quality: 'medium' });
  assert.deepEqual([enc(MID, 'TR_cam').scaleResolutionDownBy, enc(MID, 'TR_cam').maxBitrate], [2, 400_000]);
  transport.handlePreferredQuality({ type: 'set-preferred-quality', from: MID, quality: 'high' });
  assert.deepEqual([enc(MID, 'TR_cam').scaleResolutionDownBy, enc(MID, 'TR_cam').maxBitrate], [1, 1_000_000]);
});

test('restartIce restarts only connections that were negotiated; removeParticipant closes', async () => {
  const { transport } = mesh(LOW);
  transport.addParticipant(MID);
  transport.addParticipant(HIGH);
  transport.peers.get(MID).pc.remoteDescription = { type: 'answer', sdp: 'v=0' };
  transport.restartIce();
  await flush();
  assert.equal(transport.peers.get(MID).pc.restarted, 1);
  assert.equal(transport.peers.get(HIGH).pc.restarted, 0);
  const pc = transport.peers.get(HIGH).pc;
  transport.removeParticipant(HIGH);
  assert.equal(pc.signalingState, 'closed');
  assert.equal(transport.peers.has(HIGH), false);
  // A failed connection restarts ICE by itself.
  const mid = transport.peers.get(MID).pc;
  mid.connectionState = 'failed';
  mid.onconnectionstatechange();
  await flush();
  assert.equal(mid.restarted, 2);
  transport.close();
  assert.equal(transport.peers.size, 0);
});

test('pinning a codec later re-orders the preference of existing video transceivers', () => {
  const { transport } = mesh(LOW);
  transport.addParticipant(HIGH);
  const video = transport.peers.get(HIGH).pc.transceivers[1];
  assert.equal(video.codecs[0].mimeType, 'video/AV1');
  transport.setVideoCodec('vp8');
  assert.deepEqual(video.codecs.map((c) => c.mimeType), ['video/VP8', 'video/AV1', 'video/rtx']);
  assert.equal(transport.peers.get(HIGH).pc.transceivers[0].codecs, undefined, 'audio untouched');
});
