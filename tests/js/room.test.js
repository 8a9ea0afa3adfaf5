// The Room end to end with a scripted server (fake WebSocket) and fake peer connections: events, viewers,
// media mapping, snapshots, admin mutes, revoked capabilities, resume with ICE restart, fresh-session rejoin.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ConnectionState, ErrorCode, LevelChat, RoomEvent } from '../../django_levelchat/static/levelchat/levelchat.js';
import { FakeClock, FakeWebSocket, flush, makeToken, MeshPC, welcome } from './fakes.js';

globalThis.MediaStream ??= /** @type {any} */ (class MediaStream {});

const ME = 'PA_01J9ZQ4V8M6Y7K2N3P4Q5R6S7T';
const BOB = 'PA_01J9ZQ4V8M6Y7K2N3P4Q5R6S7V'; // higher than ME: we offer to Bob
const CAROL = 'PA_01J9ZQ4V8M6Y7K2N3P4Q5R6S7A'; // lower than ME: Carol offers to us
const token = makeToken({ room: 'RM_test', aud: 'RM_test', sub: 'alice', name: 'Alice', role: 'participant', caps: ['publish:*'], region: '' });

function fakeTrack(kind) {
  const listeners = new Map();
  return {
    kind,
    id: `${kind}-${Math.random()}`,
    enabled: true,
    readyState: 'live',
    stopped: false,
    stop() {
      this.stopped = true;
      this.readyState = 'ended';
    },
    addEventListener: (type, fn) => listeners.set(type, fn),
    removeEventListener: (type) => listeners.delete(type),
    fire: (type) => listeners.get(type)?.(),
  };
}

function lc(extra = {}) {
  FakeWebSocket.reset();
  MeshPC.instances = [];
  const clock = new FakeClock();
  return {
    clock,
    client: new LevelChat({
      signalingUrl: 'ws://127.0.0.1:9/levelchat/v1/signal',
      WebSocketImpl: /** @type {any} */ (FakeWebSocket),
      RTCPeerConnectionImpl: /** @type {any} */ (MeshPC),
      clock,
      speakingDetection: false,
      logLevel: 'silent',
      ...extra,
    }),
  };
}

async function joined(welcomeOverrides = {}, join = (c) => c.joinRoom({ token })) {
  const { client, clock } = lc();
  const room = join(client);
  const events = [];
  for (const name of Object.values(RoomEvent)) room.on(name, (...args) => events.push([name, ...args]));
  const ws = FakeWebSocket.last;
  ws.open();
  ws.receive(welcome(welcomeOverrides));
  await room.ready;
  const publicEvents = events.filter((e) => e[0] !== 'connection-state');
  events.length = 0; // from here on, what happens after ready
  return { room, ws, clock, events, names: () => events.map((e) => e[0]), before: publicEvents };
}

/** Answer every request the room sent so far with an ack. */
function ackAll(ws) {
  for (const f of ws.sent) if (f.id && !f.acked) {
    f.acked = true;
    ws.receive({ type: 'ack', ref: f.id });
  }
}

test('joinRoom: signaling URL, ready with the roster, localParticipant from welcome, connected state', async () => {
  const roster = [{ id: BOB, identity: 'bob', name: 'Bob', role: 'participant', tracks: [{ sid: 'TR_cam', kind: 'video', source: 'camera', muted: false }] }];
  const { room, ws, before } = await joined({ roster, chat: [{ id: 'CM_1', from: { id: BOB, identity: 'bob' }, text: 'hi', to: null, ts: 1 }] });
  assert.equal(ws.url, 'ws://127.0.0.1:9/levelchat/v1/signal');
  assert.equal(room.state, ConnectionState.Connected);
  assert.equal(room.localParticipant.id, ME);
  assert.equal(room.localParticipant.can('publish:camera'), true);
  assert.equal(room.name, 'Test');
  assert.deepEqual([...room.participants.keys()], [BOB]);
  assert.equal(room.participants.get(BOB).cameraTrack.sid, 'TR_cam');
  assert.deepEqual(room.chatHistory.map((m) => m.text), ['hi']);
  assert.deepEqual(before, [], 'the initial roster is state, not events');
  assert.ok(room.peerConnections.has(BOB), 'we are the lower id: we connect to Bob at once');
});

test('remote join, publish, media, mute, leave: the public events in order', async () => {
  const { room, ws, events, names } = await joined();
  const arrived = [];
  room.on(RoomEvent.TrackSubscribed, (t) => arrived.push(t.mediaStreamTrack));
  ws.receive({ type: 'participant-joined', participant: { id: BOB, identity: 'bob', name: 'Bob', role: 'participant', tracks: [] }, seq: 11 });
  ws.receive({ type: 'track-published', participant: BOB, track: { sid: 'TR_cam', kind: 'video', source: 'camera', muted: false }, seq: 12 });
  const pc = room.peerConnections.get(BOB);
  pc.transceivers[1].mid = '1';
  // Bob's answer names his camera on mid 1.
  pc.signalingState = 'have-local-offer';
  ws.receive({ type: 'signal', from: BOB, description: { type: 'answer', sdp: 'v=0\r\nm=video 9 X 96\r\na=mid:1\r\na=x-levelchat-sid:TR_cam\r\n' } });
  await flush();
  const media = { kind: 'video', id: 'remote-video', enabled: true };
  pc.ontrack({ transceiver: { mid: '1' }, track: media, receiver: { getSynchronizationSources: () => [] } });
  // Media before its track-published (the audio) waits for the announcement.
  const audio = { kind: 'audio', id: 'remote-audio', enabled: true };
  pc.ontrack({ transceiver: { mid: '0' }, track: audio, receiver: { getSynchronizationSources: () => [{ audioLevel: 0.4 }] } });
  assert.ok(!names().includes('track-subscribed') || events.filter((e) => e[0] === 'track-subscribed').length === 1);
  ws.receive({ type: 'track-published', participant: BOB, track: { sid: 'TR_mic', kind: 'audio', source: 'microphone', muted: false }, seq: 13 });
  ws.receive({ type: 'track-muted', participant: BOB, track: 'TR_mic', muted: true, seq: 14 });
  ws.receive({ type: 'participant-left', participant: { id: BOB, identity: 'bob' }, reason: 'client_initiated', seq: 15 });
  assert.deepEqual(names(), [
    'participant-joined',
    'track-published',
    'track-subscribed',
    'track-published',
    'track-subscribed',
    'track-muted',
    'track-unsubscribed',
    'track-unsubscribed',
    'participant-left',
  ]);
  const subscribed = events.filter((e) => e[0] === 'track-subscribed');
  assert.equal(subscribed[0][1].sid, 'TR_cam');
  assert.deepEqual(arrived, [media, audio]);
  assert.equal(subscribed[0][1].mediaStreamTrack, null, 'released when Bob left');
  assert.equal(subscribed[1][1].sid, 'TR_mic');
  assert.equal(events.at(-1)[2], 'client_initiated');
  assert.equal(room.participants.size, 0);
  assert.equal(pc.signalingState, 'closed');
});

test('a joinLive viewer: every publish call rejects with forbidden, before any device prompt', async () => {
  const { client } = lc();
  const room = client.joinLive({ token, role: 'viewer', roomType: 'live' });
  assert.equal(room.isViewer, true);
  await assert.rejects(room.publishCamera(), (err) => err.code === ErrorCode.FORBIDDEN && /viewer/.test(err.message));
  await assert.rejects(room.publishMic(), { code: 'forbidden' });
  await assert.rejects(room.publishScreen(), { code: 'forbidden' });
  assert.throws(() => client.joinLive({ token, role: 'host' }), { code: 'invalid_argument' });
});

test('publishing without the capability is refused client side; with it, publish is acked and sent to peers', async () => {
  const { room, ws, events } = await joined({ you: { ...welcome().you, capabilities: ['publish:mic', 'subscribe:all'] }, roster: [{ id: BOB, identity: 'bob', tracks: [] }] });
  const cam = fakeTrack('video');
  await assert.rejects(room.publishCamera({ track: cam }), { code: 'forbidden' });
  const mic = fakeTrack('audio');
  const published = room.publishMic({ track: mic });
  await flush();
  assert.deepEqual(ws.sentOf('publish').map((f) => f.track.source), ['microphone']);
  ackAll(ws);
  const track = await published;
  assert.equal(track.isLocal, true);
  assert.match(track.sid, /^TR_microphone-[A-Za-z0-9_-]+$/);
  assert.equal(room.localParticipant.micTrack, track);
  assert.ok(room.peerConnections.get(BOB).transceivers.some((t) => t.sender.track === mic));
  assert.equal(events.at(-1)[0], 'local-track-published');
  await assert.rejects(room.publishMic({ track: fakeTrack('audio') }), { code: 'bad_state' });
  // Mute: local state first, the server is told.
  await Promise.all([track.mute(), (async () => { await flush(); ackAll(ws); })()]);
  assert.equal(mic.enabled, false);
  assert.deepEqual(ws.sentOf('mute').map((f) => [f.track, f.muted]), [[track.sid, true]]);
  ws.receive({ type: 'track-muted', participant: ME, track: track.sid, muted: true, seq: 11 }); // our echo: no second event
  assert.equal(events.filter((e) => e[0] === 'track-muted').length, 1);
  // The browser ended the capture (device unplugged): unpublished.
  mic.fire('ended');
  await flush();
  assert.deepEqual(events.slice(-2).map((e) => e[0]), ['local-track-ended', 'local-track-unpublished']);
  assert.deepEqual(ws.sentOf('unpublish').map((f) => f.track), [track.sid]);
});

test('an admin mute disables the local capture; a revoked capability unpublishes and stops it', async () => {
  const { room, ws, events } = await joined();
  const cam = fakeTrack('video');
  const constraints = [];
  Object.defineProperty(globalThis, 'navigator', {
    configurable: true,
    value: { mediaDevices: { getUserMedia: async (c) => (constraints.push(c), { getVideoTracks: () => [cam] }) } },
  });
  const p = room.publishCamera({ resolution: '360p' });
  await flush();
  ackAll(ws);
  const track = await p;
  ws.receive({ type: 'track-muted', participant: ME, track: track.sid, muted: true, by: BOB, seq: 11 });
  assert.equal(cam.enabled, false);
  assert.deepEqual(events.at(-1).slice(0, 1).concat(events.at(-1)[3]), ['track-muted', BOB]);
  ws.receive({ type: 'track-unpublished', participant: ME, track: track.sid, reason: 'capability_revoked', seq: 12 });
  ws.receive({ type: 'participant-updated', participant: { id: ME, capabilities: ['subscribe:all'] }, seq: 13 });
  assert.equal(events.at(-2)[0], 'local-track-unpublished');
  assert.equal(events.at(-2)[2], 'capability_revoked');
  assert.equal(cam.stopped, true, 'the camera light goes off');
  assert.deepEqual(constraints, [{ video: { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 30 } } }]);
  assert.equal(room.localParticipant.can('publish:camera'), false);
  assert.equal(events.at(-1)[0], 'participant-updated');
});

test('chat, reactions, active speaker, remote quality, recording', async () => {
  const { room, ws, events } = await joined({ roster: [{ id: BOB, identity: 'bob', tracks: [] }] });
  const sent = room.sendChat('hello');
  await flush();
  ws.receive({ type: 'ack', ref: ws.sentOf('chat')[0].id, id: 'CM_9', ts: 5 });
  assert.deepEqual(await sent, { id: 'CM_9' });
  await assert.rejects(room.sendChat('   '), { code: 'invalid_argument' });
  await assert.rejects(room.sendChat('x'.repeat(2001)), { code: 'invalid_argument' });
  ws.receive({ type: 'chat-message', id: 'CM_9', from: { id: ME, identity: 'alice' }, text: 'hello', to: null, ts: 5, seq: 11 });
  ws.receive({ type: 'chat-message', id: 'CM_p', from: { id: BOB, identity: 'bob' }, text: 'psst', to: ME, ts: 6 });
  ws.receive({ type: 'reaction', from: { id: BOB, identity: 'bob' }, emoji: '🎉', seq: 12 });
  ws.receive({ type: 'active-speaker', participant: BOB, seq: 13 });
  ws.receive({ type: 'connection-quality', participant: BOB, quality: 'poor', seq: 14 });
  ws.receive({ type: 'recording', state: 'started', recording: 'RC_1', seq: 15 });
  ws.receive({ type: 'active-speaker', participant: null, seq: 16 });
  const names = events.map((e) => e[0]);
  assert.deepEqual(names, ['chat-message', 'chat-message', 'reaction', 'speaking-changed', 'active-speaker', 'connection-quality', 'recording', 'speaking-changed', 'active-speaker']);
  assert.equal(events[0][1].participant, room.localParticipant);
  assert.equal(events[1][1].to, ME);
  assert.deepEqual(room.chatHistory.map((m) => m.id), ['CM_9'], 'private messages are not history');
  assert.equal(events[2][1].participant, room.participants.get(BOB));
  assert.equal(events[4][1], room.participants.get(BOB));
  assert.equal(room.participants.get(BOB).connectionQuality, 'poor');
  assert.equal(room.recording, 'RC_1');
  assert.equal(events.at(-1)[1], null);
  assert.equal(room.participants.get(BOB).isSpeaking, false);
});

test('a seq gap asks for a snapshot, and the snapshot is applied as a diff', async () => {
  const { room, ws, names } = await joined({ roster: [{ id: BOB, identity: 'bob', tracks: [{ sid: 'TR_cam', kind: 'video', source: 'camera' }] }] });
  ws.receive({ type: 'reaction', from: { id: BOB, identity: 'bob' }, emoji: '1', seq: 15 });
  const resync = ws.sentOf('resync');
  assert.equal(resync.length, 1);
  ws.receive({
    type: 'resync',
    ref: resync[0].id,
    room: { id: 'RM_test', name: 'Test' },
    roster: [
      { id: BOB, identity: 'bob', tracks: [{ sid: 'TR_cam', kind: 'video', source: 'camera', muted: true }, { sid: 'TR_mic', kind: 'audio', source: 'microphone' }] },
      { id: CAROL, identity: 'carol', tracks: [] },
    ],
    chat: [],
    seq: 20,
  });
  assert.deepEqual(names(), ['reaction', 'track-muted', 'track-published', 'participant-joined']);
  assert.equal(room.participants.size, 2);
  assert.ok(!room.peerConnections.has(CAROL), 'Carol has the lower id: she will offer');
});

test('signaling drop: reconnecting, resume with ICE restart on existing connections, connected; same id', async () => {
  const { room, ws, clock, events } = await joined({ roster: [{ id: BOB, identity: 'bob', tracks: [] }] });
  const pc = room.peerConnections.get(BOB);
  pc.remoteDescription = { type: 'answer', sdp: 'v=0' };
  ws.receive({ type: 'closing', code: 4012, reason: 'restart' });
  ws.serverClose(4012, '');
  assert.equal(room.state, 'reconnecting');
  await clock.advance(400); // 250 ms ± 25 %
  const ws2 = FakeWebSocket.last;
  ws2.open();
  assert.equal(ws2.sent[0].resume.session, ME);
  ws2.receive(welcome({ roster: [{ id: BOB, identity: 'bob', tracks: [] }], seq: 30 }));
  await flush();
  assert.equal(room.state, 'connected');
  assert.equal(room.localParticipant.id, ME);
  assert.equal(room.peerConnections.get(BOB), pc, 'the same peer connection');
  assert.equal(pc.restarted, 1, 'ICE restarted after the resume');
  assert.deepEqual(events.filter((e) => e[0] === 'connection-state').map((e) => [e[1], e[2]?.code ?? null]), [['reconnecting', 'restart'], ['connected', null]]);
});

test('a session that could not be resumed rejoins as a new participant: new connections, tracks republished', async () => {
  const { room, ws, clock } = await joined({ roster: [{ id: BOB, identity: 'bob', tracks: [] }] });
  const p = room.publishMic({ track: fakeTrack('audio') });
  await flush();
  ackAll(ws);
  const mic = await p;
  const oldPc = room.peerConnections.get(BOB);
  ws.serverClose(1006, '');
  await clock.advance(400); // 250 ms ± 25 %
  const ws2 = FakeWebSocket.last;
  ws2.open();
  const NEW = 'PA_01J9ZQ4V8M6Y7K2N3P4Q5R6S7Z'; // now higher than Bob: Bob offers to us
  ws2.receive(welcome({ you: { ...welcome().you, id: NEW }, roster: [{ id: BOB, identity: 'bob', tracks: [] }], seq: 3 }));
  await flush();
  assert.equal(room.localParticipant.id, NEW);
  assert.equal(oldPc.signalingState, 'closed');
  assert.equal(room.peerConnections.has(BOB), false);
  assert.deepEqual(ws2.sentOf('publish').map((f) => f.track.sid), [mic.sid]);
  assert.equal(mic.participantId, NEW);
});

test('final closes: 4403 removed → disconnected with the reason; a 4401 on join rejects ready', async () => {
  const { room, ws, events } = await joined();
  ws.receive({ type: 'closing', code: 4403, reason: 'removed' });
  ws.serverClose(4403, '');
  assert.equal(room.state, 'disconnected');
  assert.equal(room.disconnectError.code, 'removed');
  assert.deepEqual(events.at(-1).slice(0, 1), ['connection-state']);

  const { client } = lc();
  const r2 = client.joinRoom({ token });
  const errors = [];
  r2.on('error', (e) => errors.push(e.code));
  FakeWebSocket.last.open();
  FakeWebSocket.last.receive({ type: 'closing', code: 4401, reason: 'token_expired' });
  FakeWebSocket.last.serverClose(4401, '');
  await assert.rejects(r2.ready, { code: 'token_expired' });
  assert.equal(r2.state, 'failed');
  assert.deepEqual(errors, ['token_expired']);
});

test('leave stops local captures and closes peer connections', async () => {
  const { room, ws } = await joined({ roster: [{ id: BOB, identity: 'bob', tracks: [] }] });
  const cam = fakeTrack('video');
  const p = room.publishCamera({ track: cam });
  await flush();
  ackAll(ws);
  await p;
  const pc = room.peerConnections.get(BOB);
  const left = room.leave();
  await flush();
  ackAll(ws);
  await left;
  assert.equal(room.state, 'disconnected');
  assert.equal(room.disconnectError.code, 'left');
  assert.equal(pc.signalingState, 'closed');
  assert.equal(cam.stopped, false, 'a capture the app passed in belongs to the app');
});

test('issueToken: needs apiKey; posts to the REST endpoint with the bearer key; maps refusals', async () => {
  await assert.rejects(new LevelChat().issueToken({ room: 'RM_a', identity: 'a' }), { code: 'api_key_missing' });
  const calls = [];
  const fetchImpl = async (url, init) => {
    calls.push([url, init]);
    return { ok: true, status: 201, json: async () => ({ token: 't.o.k', expires_at: '2026-01-01T00:00:00Z', signaling_url: 'ws://h/levelchat/v1/signal', ice_servers: [], room: 'RM_a', identity: 'a' }) };
  };
  const client = new LevelChat({ apiKey: 'lc_pk_x.y', apiUrl: 'http://127.0.0.1:8000/', fetchImpl: /** @type {any} */ (fetchImpl) });
  const issued = await client.issueToken({ room: 'RM_a', identity: 'a', role: 'viewer' });
  assert.deepEqual(issued, { token: 't.o.k', expiresAt: '2026-01-01T00:00:00Z', signalingUrl: 'ws://h/levelchat/v1/signal', iceServers: [], room: 'RM_a', identity: 'a' });
  assert.equal(calls[0][0], 'http://127.0.0.1:8000/levelchat/v1/rooms/RM_a/tokens');
  assert.equal(calls[0][1].method, 'POST');
  assert.equal(calls[0][1].headers.Authorization, 'Bearer lc_pk_x.y');
  assert.deepEqual(JSON.parse(calls[0][1].body), { identity: 'a', role: 'viewer' });
  const refused = new LevelChat({ apiKey: 'k', apiUrl: 'http://x', fetchImpl: /** @type {any} */ (async () => ({ ok: false, status: 409, json: async () => ({ code: 'room_ended', detail: 'The room ended.' }) })) });
  await assert.rejects(refused.issueToken({ room: 'RM_a', identity: 'a' }), (e) => e.code === 'token_request_failed' && e.status === 409 && e.serverCode === 'room_ended');
});

test('signaling URL: explicit > configured by region > page host; joinRoom throws on a non-JWT', () => {
  const claims = { room: 'RM_a', region: 'eu' };
  const c = new LevelChat({ signalingUrl: 'wss://{region}.example.org/levelchat/v1/signal' });
  assert.equal(c.signalingUrlFor(/** @type {any} */ (claims)), 'wss://eu.example.org/levelchat/v1/signal');
  assert.equal(c.signalingUrlFor(/** @type {any} */ (claims), 'ws://x/y'), 'ws://x/y');
  const byRegion = new LevelChat({ signalingUrl: { eu: 'wss://eu/s', default: 'wss://any/s' } });
  assert.equal(byRegion.signalingUrlFor(/** @type {any} */ (claims)), 'wss://eu/s');
  assert.equal(byRegion.signalingUrlFor(/** @type {any} */ ({ room: 'RM_a', region: '' })), 'wss://any/s');
  const original = globalThis.location;
  globalThis.location = /** @type {any} */ ({ protocol: 'https:', host: 'app.example.org', origin: 'https://app.example.org' });
  try {
    assert.equal(new LevelChat().signalingUrlFor(/** @type {any} */ (claims)), 'wss://app.example.org/levelchat/v1/signal');
    assert.equal(new LevelChat({ signalingUrl: '/custom/signal' }).signalingUrlFor(/** @type {any} */ (claims)), 'wss://app.example.org/custom/signal');
  } finally {
    globalThis.location = original;
  }
  assert.throws(() => new LevelChat().joinRoom({ token: 'nope' }), { code: 'token_invalid' });
});

test('autoplay refused: audio-playback-changed(false), startAudio() from a gesture plays and reports true', async () => {
  const { room, ws, events } = await joined({ roster: [{ id: BOB, identity: 'bob', tracks: [{ sid: 'TR_mic', kind: 'audio', source: 'microphone' }] }] });
  let allowed = false;
  const element = {
    autoplay: false,
    muted: false,
    srcObject: null,
    play: () => (allowed ? Promise.resolve() : Promise.reject(new Error('NotAllowedError'))),
  };
  const track = room.participants.get(BOB).micTrack;
  track.attach(/** @type {any} */ (element));
  const pc = room.peerConnections.get(BOB);
  pc.ontrack({ transceiver: { mid: null }, track: { kind: 'audio', id: 'a', enabled: true }, receiver: {} });
  await flush();
  assert.equal(room.canPlaybackAudio, false);
  assert.deepEqual(events.filter((e) => e[0] === 'audio-playback-changed').map((e) => e[1]), [false]);
  allowed = true;
  await room.startAudio();
  assert.equal(room.canPlaybackAudio, true);
  assert.deepEqual(events.filter((e) => e[0] === 'audio-playback-changed').map((e) => e[1]), [false, true]);
  assert.ok(ws);
});

test('without WebSocket the room fails with not_supported instead of hanging', async () => {
  const client = new LevelChat({ signalingUrl: 'ws://x/s', WebSocketImpl: /** @type {any} */ (null), logLevel: 'silent' });
  const original = globalThis.WebSocket;
  globalThis.WebSocket = undefined;
  try {
    const room = client.joinRoom({ token });
    await assert.rejects(room.ready, { code: 'not_supported' });
    assert.equal(room.state, 'failed');
  } finally {
    globalThis.WebSocket = original;
  }
});
