// The signaling client against a scripted WebSocket and a manual clock: hello/welcome, requests, seq gaps and
// resync, the reconnect policy (never on 44xx), resume, liveness pings, the send queue, leave.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Logger } from '../../django_levelchat/static/levelchat/sdk/logger.js';
import { DefaultReconnectPolicy } from '../../django_levelchat/static/levelchat/sdk/reconnect.js';
import { SignalingClient } from '../../django_levelchat/static/levelchat/sdk/signaling.js';
import { FakeClock, FakeWebSocket, flush, welcome } from './fakes.js';

const quiet = new Logger('test', { level: 'silent' });
const ME = 'PA_01J9ZQ4V8M6Y7K2N3P4Q5R6S7T';

function setup(options = {}) {
  FakeWebSocket.reset();
  const clock = new FakeClock();
  const online = new EventTarget();
  const client = new SignalingClient({
    url: 'ws://127.0.0.1/levelchat/v1/signal',
    token: 'aaa.bbb.ccc',
    WebSocketImpl: /** @type {any} */ (FakeWebSocket),
    clock,
    onlineTarget: online,
    logger: quiet,
    policy: new DefaultReconnectPolicy({ random: () => 0.5 }),
    ...options,
  });
  const frames = [];
  const states = [];
  const welcomes = [];
  client.onFrame = (f) => frames.push(f);
  client.onStateChange = (s, e) => states.push([s, e?.code ?? null]);
  client.onWelcome = (w, info) => welcomes.push(info);
  return { client, clock, online, frames, states, welcomes };
}

async function joined(options) {
  const t = setup(options);
  const connected = t.client.connect();
  const ws = FakeWebSocket.last;
  ws.open();
  ws.receive(welcome());
  await connected;
  return { ...t, ws };
}

test('connect: token as a subprotocol, hello first, welcome resolves', async () => {
  const { client, welcomes, states } = setup();
  const connected = client.connect();
  const ws = FakeWebSocket.last;
  assert.equal(ws.url, 'ws://127.0.0.1/levelchat/v1/signal');
  assert.deepEqual(ws.protocols, ['levelchat.v1', 'token.aaa.bbb.ccc']);
  ws.open();
  assert.deepEqual(ws.sent, [{ type: 'hello', protocol: 1, sdk: { name: 'levelchat-js', version: '0.1.0' } }]);
  ws.receive(welcome());
  const w = await connected;
  assert.equal(w.you.id, ME);
  assert.equal(client.participantId, ME);
  assert.equal(client.lastSeq, 10);
  assert.deepEqual(welcomes, [{ resumed: false, first: true }]);
  assert.deepEqual(states, [['connecting', null], ['connected', null]]);
});

test('requests: ack resolves, error rejects with its code, no answer times out', async () => {
  const { client, ws, clock } = await joined();
  const p1 = client.request({ type: 'chat', text: 'hi' });
  const p2 = client.request({ type: 'publish', track: { sid: 'TR_a', kind: 'video', source: 'screen' } });
  const p3 = client.request({ type: 'reaction', emoji: '👍' });
  assert.deepEqual(ws.sent.slice(1).map((f) => f.id), ['r1', 'r2', 'r3']);
  ws.receive({ type: 'ack', ref: 'r1', id: 'CM_1', ts: 5 });
  ws.receive({ type: 'error', ref: 'r2', code: 'forbidden', message: 'publish:screen is not in your capabilities' });
  assert.deepEqual(await p1, { type: 'ack', ref: 'r1', id: 'CM_1', ts: 5 });
  await assert.rejects(p2, { name: 'ForbiddenError', code: 'forbidden' });
  await clock.advance(10_001);
  await assert.rejects(p3, { code: 'timeout' });
});

test('seq: duplicates dropped, a gap applies the event and sends ONE resync, whose snapshot resets seq even lower', async () => {
  const { client, ws, frames } = await joined();
  ws.receive({ type: 'reaction', from: { id: 'PA_x', identity: 'x' }, emoji: '1', seq: 11 });
  ws.receive({ type: 'reaction', from: { id: 'PA_x', identity: 'x' }, emoji: 'dup', seq: 11 });
  ws.receive({ type: 'reaction', from: { id: 'PA_x', identity: 'x' }, emoji: 'old', seq: 9 });
  assert.deepEqual(frames.map((f) => f.emoji), ['1']);
  ws.receive({ type: 'reaction', from: { id: 'PA_x', identity: 'x' }, emoji: '3', seq: 13 });
  ws.receive({ type: 'reaction', from: { id: 'PA_x', identity: 'x' }, emoji: '5', seq: 15 });
  assert.deepEqual(frames.map((f) => f.emoji), ['1', '3', '5']);
  const resyncs = ws.sentOf('resync');
  assert.equal(resyncs.length, 1, 'one resync until its answer arrives');
  ws.receive({ type: 'resync', ref: resyncs[0].id, room: { id: 'RM_test' }, roster: [], chat: [], seq: 4 });
  assert.equal(client.lastSeq, 4);
  assert.equal(frames.at(-1).type, 'resync');
  ws.receive({ type: 'reaction', from: { id: 'PA_x', identity: 'x' }, emoji: '5b', seq: 5 });
  assert.equal(frames.at(-1).emoji, '5b');
  ws.receive({ type: 'reaction', from: { id: 'PA_x', identity: 'x' }, emoji: '7', seq: 7 });
  assert.equal(ws.sentOf('resync').length, 2, 'a new gap after the snapshot asks again');
  // Directed frames carry no seq and never count.
  ws.receive({ type: 'signal', from: 'PA_x', candidate: { candidate: '', sdpMid: '0' } });
  assert.equal(frames.at(-1).type, 'signal');
  // An unsolicited resync (the server lost state) also resets.
  ws.receive({ type: 'resync', room: { id: 'RM_test' }, roster: [], seq: 100 });
  assert.equal(client.lastSeq, 100);
});

test('reconnect: a retryable close backs off, resumes with the welcome credential, and says resumed', async () => {
  const { client, ws, clock, states, welcomes } = await joined();
  const pending = client.request({ type: 'chat', text: 'in flight' });
  ws.serverClose(4012, '');
  await assert.rejects(pending, { code: 'interrupted' });
  assert.deepEqual(states.at(-1), ['reconnecting', 'connection_closed']);
  assert.equal(clock.nextDelay(), 250);
  client.send({ type: 'chat', text: 'queued' });
  const queued = client.request({ type: 'reaction', emoji: '👍' });
  await clock.advance(249);
  assert.equal(FakeWebSocket.instances.length, 1);
  await clock.advance(1);
  const ws2 = FakeWebSocket.last;
  assert.notEqual(ws2, ws);
  ws2.open();
  assert.deepEqual(ws2.sent[0], { type: 'hello', protocol: 1, sdk: { name: 'levelchat-js', version: '0.1.0' }, resume: { session: ME, credential: 'cred-1' } });
  ws2.receive(welcome({ seq: 20, resume: { session: ME, credential: 'cred-2', expires_in: 12 } }));
  assert.deepEqual(welcomes.at(-1), { resumed: true, first: false });
  assert.deepEqual(states.at(-1), ['connected', null]);
  assert.deepEqual(ws2.sent.slice(1).map((f) => f.type), ['chat', 'reaction'], 'the queue is flushed after the welcome');
  ws2.receive({ type: 'ack', ref: ws2.sent[2].id });
  await queued;
  // The next resume uses the newest credential.
  ws2.serverClose(1006, '');
  await clock.advance(300);
  FakeWebSocket.last.open();
  assert.equal(FakeWebSocket.last.sent[0].resume.credential, 'cred-2');
});

test('reconnect: the closing frame supplies the reason daphne drops; closes with 4001/4013/1001/1006 retry', async () => {
  for (const code of [4001, 4013, 1001, 1006, 1012, 1013]) {
    const { ws, clock } = await joined();
    ws.receive({ type: 'closing', code, reason: 'shutdown' });
    ws.serverClose(code, '');
    await clock.advance(400);
    assert.equal(FakeWebSocket.instances.length, 2, `retried ${code}`);
  }
});

test('reconnect: never after 44xx (nor 1000); the error code is the close reason', async () => {
  const cases = [
    [4400, 'bad_hello', 'failed'],
    [4401, 'token_expired', 'failed'],
    [4403, 'removed', 'disconnected'],
    [4403, 'room_ended', 'disconnected'],
    [4409, 'replaced', 'disconnected'],
    [4429, 'rate_limited', 'failed'],
    [1000, 'left', 'disconnected'],
  ];
  for (const [code, reason, final] of cases) {
    const { ws, clock, states, client } = await joined();
    ws.receive({ type: 'closing', code, reason, message: 'because' });
    ws.serverClose(code, ''); // daphne: no reason in the close frame
    await clock.advance(120_000);
    assert.equal(FakeWebSocket.instances.length, 1, `no retry after ${code}`);
    assert.deepEqual(states.at(-1), [final, reason]);
    assert.throws(() => client.send({ type: 'chat', text: 'x' }), { code: 'not_connected' });
  }
});

test('first connection: a 4401 rejects connect() with the documented code', async () => {
  const { client } = setup();
  const connected = client.connect();
  const ws = FakeWebSocket.last;
  ws.open();
  ws.receive({ type: 'closing', code: 4401, reason: 'token_expired', message: 'the token expired' });
  ws.serverClose(4401, 'token_expired');
  await assert.rejects(connected, (err) => err.code === 'token_expired' && err.closeCode === 4401 && err.message === 'the token expired');
});

test('give-up window: network failures retry with backoff for 60 s, then fail with connection_failed', async () => {
  const { client, ws, clock, states } = await joined();
  ws.serverClose(1006, '');
  const start = clock.now();
  while (client.state === 'reconnecting' && clock.now() - start < 120_000) {
    await clock.advance(clock.nextDelay() ?? 1000);
    const next = FakeWebSocket.last;
    if (next.readyState === 0) next.serverClose(1006, ''); // the server is still down
  }
  assert.equal(client.state, 'failed');
  assert.deepEqual(states.at(-1), ['failed', 'connection_failed']);
  const elapsed = clock.now() - start;
  assert.ok(elapsed >= 60_000 && elapsed <= 61_000, `${elapsed}`);
  const attempts = FakeWebSocket.instances.length - 1;
  assert.ok(attempts >= 10 && attempts <= 14, `${attempts} attempts`);
});

test('the online event resets the backoff and retries at once', async () => {
  const { clock, online, ws } = await joined();
  ws.serverClose(1006, '');
  for (let i = 0; i < 6; i++) {
    await clock.advance(clock.nextDelay());
    FakeWebSocket.last.serverClose(1006, '');
  }
  assert.equal(clock.nextDelay(), 8000);
  const before = FakeWebSocket.instances.length;
  online.dispatchEvent(new Event('online'));
  assert.equal(FakeWebSocket.instances.length, before + 1, 'retried immediately');
  FakeWebSocket.last.serverClose(1006, '');
  assert.equal(clock.nextDelay(), 250, 'backoff restarted');
});

test('liveness: pings every ping_interval; no frame for ping_timeout abandons the socket (no close frame) and resumes', async () => {
  const { client, ws, clock, states } = await joined();
  await clock.advance(5000);
  const pings = ws.sentOf('ping');
  assert.equal(pings.length, 1);
  ws.receive({ type: 'pong', ts: pings[0].ts });
  assert.equal(client.rttMs, 0);
  await clock.advance(12_000); // 5 s since the pong was received? no: the pong came at 5 s; silence until 17 s
  assert.equal(client.state, 'connected');
  await clock.advance(1000);
  assert.equal(client.state, 'reconnecting');
  assert.equal(ws.closedWith, null, 'a dead socket is not closed: a close frame would end the session on the server');
  assert.deepEqual(states.at(-1), ['reconnecting', 'ping_timeout']);
  await clock.advance(300);
  assert.equal(FakeWebSocket.instances.length, 2);
  ws.receive({ type: 'reaction', from: { id: 'x', identity: 'x' }, emoji: 'ghost', seq: 11 }); // the zombie is ignored
  assert.equal(client.lastSeq, 10);
});

test('a session that could not be resumed is a new one: queued frames for the old session are dropped', async () => {
  const { client, ws, clock, welcomes } = await joined();
  ws.serverClose(1006, '');
  const queued = client.request({ type: 'chat', text: 'stale' });
  await clock.advance(300);
  const ws2 = FakeWebSocket.last;
  ws2.open();
  ws2.receive(welcome({ you: { ...welcome().you, id: 'PA_01J9ZQ4V8M6Y7K2N3P4Q5R6S7V' } }));
  assert.deepEqual(welcomes.at(-1), { resumed: false, first: false });
  await assert.rejects(queued, { code: 'interrupted' });
  assert.equal(ws2.sentOf('chat').length, 0);
});

test('an attempt that never gets a welcome is abandoned after the attempt timeout and retried', async () => {
  const { client, clock } = setup({ attemptTimeoutMs: 3000 });
  client.connect().catch(() => {});
  await clock.advance(3000);
  assert.equal(FakeWebSocket.instances.length, 1);
  await clock.advance(300);
  assert.equal(FakeWebSocket.instances.length, 2);
  await clock.advance(30_000);
  assert.equal(client.state, 'failed', 'the first connection gives up after connectTimeoutMs (15 s)');
});

test('leave: sends leave, waits for the ack, closes 1000', async () => {
  const { client, ws, states } = await joined();
  const left = client.leave('bye');
  assert.deepEqual(ws.sentOf('leave'), [{ type: 'leave', reason: 'bye', id: 'r1' }]);
  ws.receive({ type: 'ack', ref: 'r1' });
  await left;
  await flush();
  assert.deepEqual(ws.closedWith, { code: 1000, reason: 'left' });
  assert.deepEqual(states.at(-1), ['disconnected', 'left']);
  await client.leave();
});

test('unknown frame types from a newer server are ignored; malformed ones too', async () => {
  const { ws, frames, client } = await joined();
  ws.receive({ type: 'something-new', x: 1 });
  ws.receive('not json');
  ws.receive({ type: 'track-muted' });
  assert.equal(frames.length, 0);
  assert.equal(client.state, 'connected');
});
