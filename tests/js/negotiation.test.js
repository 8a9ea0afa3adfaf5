// Perfect negotiation with a strict fake RTCPeerConnection (no implicit rollback): initiator rule, glare on both
// sides, explicit rollback, candidate buffering and ordering, ICE restart.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Logger } from '../../django_levelchat/static/levelchat/sdk/logger.js';
import { isInitiator, isPolite } from '../../django_levelchat/static/levelchat/sdk/mesh.js';
import { needsOffer, PerfectNegotiator, toWireCandidate } from '../../django_levelchat/static/levelchat/sdk/negotiation.js';
import { FakeClock, FakePeerConnection, flush } from './fakes.js';

const LOW = 'PA_01JDKG3VKVQ614K1T79ZPQA9W2';
const HIGH = 'PA_01JDKG3VKWAAAAAAAAAAAAAAAA';
const quiet = new Logger('test', { level: 'silent' });

/** Two peers joined by a wire whose deliveries the test controls. */
function pair(aId = LOW, bId = HIGH, clock = undefined) {
  const wire = { toA: [], toB: [] };
  const make = (id, other, queue) => {
    const pc = new FakePeerConnection(id.slice(-4));
    const negotiator = new PerfectNegotiator(pc, {
      polite: isPolite(id, other),
      initiator: isInitiator(id, other),
      send: (payload) => queue.push(payload),
      logger: quiet,
      clock,
    });
    return { id, pc, negotiator };
  };
  const a = make(aId, bId, wire.toB);
  const b = make(bId, aId, wire.toA);
  /** Deliver everything queued toward `peer` ('a' or 'b'). */
  const deliver = async (peer) => {
    const target = peer === 'a' ? a : b;
    const queue = peer === 'a' ? wire.toA : wire.toB;
    const batch = queue.splice(0);
    for (const msg of batch) {
      if (msg.description) void target.negotiator.handleDescription(msg.description);
      else void target.negotiator.handleCandidate(msg.candidate);
    }
    await flush();
  };
  const settle = async () => {
    for (let i = 0; i < 10 && (wire.toA.length || wire.toB.length); i++) {
      await deliver('a');
      await deliver('b');
    }
  };
  return { a, b, wire, deliver, settle };
}

test('offerer selection: the lower participant id offers, the higher is polite', () => {
  assert.equal(isInitiator(LOW, HIGH), true);
  assert.equal(isInitiator(HIGH, LOW), false);
  assert.equal(isPolite(HIGH, LOW), true);
  assert.equal(isPolite(LOW, HIGH), false);
  // ULIDs compare by time as strings.
  assert.equal(isInitiator('PA_01JDKG3VKV', 'PA_01JDKG3VKW'), true);
});

test('initiator rule: the non-initiator defers its offer until the first remote offer, then offers if still needed', async () => {
  const { a, b, wire, deliver, settle } = pair();
  b.pc.transceivers.push({ mid: null }); // b added a track before the initiator's offer arrived
  b.pc.needNegotiation();
  await flush();
  assert.equal(wire.toA.length, 0, 'the polite non-initiator must not offer first');
  assert.equal(b.negotiator.canOffer, false);
  a.pc.needNegotiation();
  await flush();
  assert.equal(wire.toB.length, 1);
  assert.equal(wire.toB[0].description.type, 'offer');
  await deliver('b'); // b answers, then replays its deferred negotiation (its transceiver has no mid yet)
  assert.deepEqual(wire.toA.map((m) => m.description.type), ['answer', 'offer']);
  await settle();
  assert.equal(a.pc.signalingState, 'stable');
  assert.equal(b.pc.signalingState, 'stable');
  assert.deepEqual(a.pc.log, ['local-offer', 'remote-answer', 'remote-offer', 'local-answer']);
  assert.deepEqual(b.pc.log, ['remote-offer', 'local-answer', 'local-offer', 'remote-answer']);
});

test('initiator rule: no extra offer when the answer already covered the deferred change', async () => {
  const { a, b, wire, deliver, settle } = pair();
  b.pc.transceivers.push({ mid: '0' }); // associated by the initiator's offer
  b.pc.needNegotiation();
  a.pc.needNegotiation();
  await flush();
  await deliver('b');
  await flush();
  assert.deepEqual(wire.toA.map((m) => m.description.type), ['answer']);
  await settle();
  assert.equal(b.negotiator.offersSent, 0);
  assert.equal(needsOffer({ getTransceivers: () => [{ mid: null, stopped: true }] }), false);
  assert.equal(needsOffer({}), true);
});

/** Connect a pair, then make both offer at once and deliver the offers crosswise in `order`. */
async function glare(aId, bId, order) {
  const p = pair(aId, bId);
  p.a.pc.id = aId;
  const initiator = isInitiator(aId, bId) ? p.a : p.b;
  initiator.pc.needNegotiation();
  await flush();
  await p.settle();
  p.a.pc.log.length = 0;
  p.b.pc.log.length = 0;
  p.a.pc.needNegotiation();
  p.b.pc.needNegotiation();
  await flush();
  assert.equal(p.a.pc.signalingState, 'have-local-offer');
  assert.equal(p.b.pc.signalingState, 'have-local-offer');
  for (const peer of order) await p.deliver(peer);
  await p.settle();
  return p;
}

for (const [label, aId, bId] of [
  ['a impolite', LOW, HIGH],
  ['a polite', HIGH, LOW],
]) {
  for (const order of [['a', 'b'], ['b', 'a']]) {
    test(`glare (${label}, ${order[0]} receives first): impolite ignores, polite rolls back and answers`, async () => {
      const { a, b, settle } = await glare(aId, bId, order);
      const polite = a.negotiator.polite ? a : b;
      const impolite = a.negotiator.polite ? b : a;
      assert.ok(polite.pc.log.includes('rollback'), `polite log: ${polite.pc.log}`);
      assert.ok(!impolite.pc.log.includes('rollback'));
      assert.ok(!impolite.pc.log.includes('remote-offer'), 'the impolite side ignored the colliding offer');
      assert.deepEqual(polite.pc.log.slice(-3), ['rollback', 'remote-offer', 'local-answer']);
      assert.equal(a.pc.signalingState, 'stable');
      assert.equal(b.pc.signalingState, 'stable');
      // The polite side's change is still to be negotiated: the browser fires negotiationneeded again.
      polite.pc.needNegotiation();
      await flush();
      assert.equal(polite.pc.signalingState, 'have-local-offer');
      await settle();
      assert.deepEqual(impolite.pc.log.slice(-2), ['remote-offer', 'local-answer']);
      assert.equal(a.pc.signalingState, 'stable');
      assert.equal(b.pc.signalingState, 'stable');
    });
  }
}

test('glare then renegotiation completes: the polite offer goes through afterwards', async () => {
  const p = await glare(LOW, HIGH, ['a', 'b']);
  p.b.pc.needNegotiation(); // b (polite) still has its change
  await flush();
  await p.settle();
  assert.equal(p.a.pc.signalingState, 'stable');
  assert.equal(p.b.pc.signalingState, 'stable');
  assert.deepEqual(p.a.pc.log.slice(-2), ['remote-offer', 'local-answer']);
  assert.equal(p.a.negotiator.ignoreOffer, false);
});

test('candidates are buffered until a remote description is set, then applied in order', async () => {
  const { a, b, wire, deliver } = pair();
  a.pc.needNegotiation();
  await flush();
  const offer = wire.toB.splice(0);
  // Candidates overtake the offer on the wire.
  const c1 = { candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 40000 typ host', sdpMid: '0', sdpMLineIndex: 0 };
  const c2 = { candidate: 'candidate:2 1 udp 2122260223 127.0.0.1 40001 typ host', sdpMid: '0', sdpMLineIndex: 0 };
  wire.toB.push({ candidate: c1 }, { candidate: c2 });
  await deliver('b');
  assert.equal(b.negotiator.pendingCandidates, 2);
  assert.equal(b.pc.addedCandidates.length, 0);
  wire.toB.push(...offer);
  await deliver('b');
  assert.equal(b.negotiator.pendingCandidates, 0);
  assert.deepEqual(b.pc.addedCandidates, [c1, c2]);
  // A description followed at once by a candidate: the chain applies them in order (no "no remote description").
  const c3 = { candidate: 'candidate:3 1 udp 2122260223 127.0.0.1 40002 typ host', sdpMid: '0', sdpMLineIndex: 0 };
  await deliver('a');
  assert.equal(a.pc.signalingState, 'stable');
  a.pc.needNegotiation();
  await flush();
  wire.toB.push({ candidate: c3 });
  await deliver('b');
  assert.deepEqual(b.pc.addedCandidates.at(-1), c3);
});

test('local candidates go out in wire form; end-of-candidates is not sent', () => {
  const { a, wire } = pair();
  a.pc.emitCandidate({ candidate: 'candidate:1 1 udp 1 127.0.0.1 1 typ host', sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'abcd' });
  a.pc.emitCandidate(null);
  a.pc.emitCandidate({ candidate: '' });
  assert.deepEqual(wire.toB, [{ candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 1 typ host', sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'abcd' } }]);
  assert.deepEqual(toWireCandidate({ candidate: 'c', sdpMid: null, sdpMLineIndex: 1 }), { candidate: 'c', sdpMLineIndex: 1 });
});

test('ICE restart makes a new offer; stray answers and rollbacks from the wire are ignored', async () => {
  const { a, b, wire, settle } = pair();
  a.pc.needNegotiation();
  await flush();
  await settle();
  a.negotiator.restartIce();
  await flush();
  assert.equal(a.pc.restarted, 1);
  assert.equal(wire.toB.at(-1).description.type, 'offer');
  await settle();
  assert.equal(b.pc.signalingState, 'stable');
  await b.negotiator.handleDescription({ type: 'answer', sdp: 'v=0\r\n' }); // stable: not expecting an answer
  await b.negotiator.handleDescription({ type: 'rollback' });
  assert.equal(b.pc.signalingState, 'stable');
  b.negotiator.close();
  b.pc.needNegotiation();
  assert.equal(b.pc.onnegotiationneeded, null);
});

test('outgoing and incoming hooks rewrite descriptions', async () => {
  const seen = [];
  const pc = new FakePeerConnection('x');
  const sent = [];
  const n = new PerfectNegotiator(pc, {
    polite: false,
    initiator: true,
    logger: quiet,
    send: (p) => sent.push(p),
    outgoing: (d) => ({ ...d, sdp: `${d.sdp}a=x-test:1\r\n` }),
    incoming: (d) => {
      seen.push(d.sdp);
      return { ...d, sdp: 'v=0\r\n' };
    },
  });
  await n.negotiate();
  assert.match(sent[0].description.sdp, /a=x-test:1/);
  await n.handleDescription({ type: 'answer', sdp: 'v=0\r\na=x-remote:1\r\n' });
  assert.deepEqual(seen, ['v=0\r\na=x-remote:1\r\n']);
  assert.equal(pc.remoteDescription.sdp, 'v=0\r\n');
});

test('both peers lost signaling: the lost impolite offer is sent again and both end stable (issue 10)', async () => {
  const clock = new FakeClock();
  const { a, b, wire, deliver, settle } = pair(LOW, HIGH, clock);
  a.pc.needNegotiation();
  await flush();
  await settle();
  assert.equal(a.pc.signalingState, 'stable');
  // Both resume and restart ICE at once. The impolite (lower id) peer's offer goes to a dead socket and is lost.
  a.negotiator.restartIce();
  b.negotiator.restartIce();
  await flush();
  assert.equal(a.pc.signalingState, 'have-local-offer');
  assert.equal(b.pc.signalingState, 'have-local-offer');
  wire.toB.splice(0); // lost
  await deliver('a'); // the polite peer's offer reaches the impolite one, which ignores it (glare)
  assert.equal(a.pc.signalingState, 'have-local-offer');
  assert.equal(b.pc.signalingState, 'have-local-offer');
  await clock.advance(3000); // no answer: the impolite peer sends its offer again
  assert.equal(a.negotiator.offersResent, 1);
  await settle();
  assert.equal(a.pc.signalingState, 'stable');
  assert.equal(b.pc.signalingState, 'stable');
  await clock.advance(10_000);
  await settle();
  assert.equal(a.pc.signalingState, 'stable');
  assert.equal(b.pc.signalingState, 'stable');
});

test('an answered offer is never sent again, and resends stop after maxOfferRetries', async () => {
  const clock = new FakeClock();
  const { a, wire, settle } = pair(LOW, HIGH, clock);
  a.pc.needNegotiation();
  await flush();
  await settle();
  await clock.advance(30_000);
  assert.equal(a.negotiator.offersResent, 0);
  a.negotiator.restartIce();
  await flush();
  wire.toB.splice(0);
  for (let i = 0; i < 10; i++) {
    await clock.advance(3000);
    wire.toB.splice(0); // the peer never comes back
  }
  assert.equal(a.negotiator.offersResent, 5);
  assert.equal(clock.timers.length, 0);
});
