import assert from 'node:assert/strict';
import test from 'node:test';

import { EMPTY_ROSTER, reduceRoster } from '../../django_levelchat/static/levelchat/sdk/roster.js';

const ME = 'PA_ME';
const BOB = { id: 'PA_BOB', identity: 'bob', name: 'Bob', role: 'participant', tracks: [{ sid: 'TR_cam', kind: 'video', source: 'camera', muted: false }] };
const CAROL = { id: 'PA_CAROL', identity: 'carol', tracks: [] };

/** Apply frames one after the other; return the last roster and every change. */
function run(frames, roster = EMPTY_ROSTER) {
  const all = [];
  for (const frame of frames) {
    const before = roster;
    const snapshot = new Map([...before].map(([k, v]) => [k, JSON.stringify({ ...v, tracks: [...v.tracks] })]));
    const result = reduceRoster(roster, frame, ME);
    // Pure: the input roster is never changed.
    assert.deepEqual(new Map([...before].map(([k, v]) => [k, JSON.stringify({ ...v, tracks: [...v.tracks] })])), snapshot);
    roster = result.roster;
    all.push(...result.changes);
  }
  return { roster, changes: all };
}

test('a join announces the person, then each of their tracks; frames about yourself are not the roster', () => {
  const { roster, changes } = run([
    { type: 'participant-joined', participant: BOB },
    { type: 'participant-joined', participant: { id: ME, identity: 'me', tracks: [] } },
    { type: 'track-published', participant: ME, track: { sid: 'TR_x', kind: 'audio', source: 'microphone' } },
  ]);
  assert.deepEqual(changes, [
    { type: 'joined', id: 'PA_BOB' },
    { type: 'track-published', id: 'PA_BOB', sid: 'TR_cam' },
  ]);
  assert.deepEqual([...roster.keys()], ['PA_BOB']);
  assert.equal(roster.get('PA_BOB').name, 'Bob');
});

test('events change one person: tracks, mutes, quality, reconnecting, updates; repeats change nothing', () => {
  const mic = { sid: 'TR_mic', kind: 'audio', source: 'microphone' };
  const { roster, changes } = run([
    { type: 'participant-joined', participant: CAROL },
    { type: 'track-published', participant: 'PA_CAROL', track: mic },
    { type: 'track-published', participant: 'PA_CAROL', track: mic },
    { type: 'track-muted', participant: 'PA_CAROL', track: 'TR_mic', muted: true, by: 'PA_HOST' },
    { type: 'track-muted', participant: 'PA_CAROL', track: 'TR_mic', muted: true },
    { type: 'connection-quality', participant: 'PA_CAROL', quality: 'poor' },
    { type: 'connection-quality', participant: 'PA_CAROL', quality: 'poor' },
    { type: 'participant-reconnecting', participant: { id: 'PA_CAROL' } },
    { type: 'participant-reconnecting', participant: { id: 'PA_CAROL' } },
    { type: 'participant-reconnected', participant: { id: 'PA_CAROL' } },
    { type: 'participant-updated', participant: { id: 'PA_CAROL', name: 'Carol', hand: 1732600000000 } },
    { type: 'track-unpublished', participant: 'PA_CAROL', track: 'TR_mic', reason: 'capability_revoked' },
    { type: 'track-unpublished', participant: 'PA_CAROL', track: 'TR_mic' },
  ]);
  assert.deepEqual(changes, [
    { type: 'joined', id: 'PA_CAROL' },
    { type: 'track-published', id: 'PA_CAROL', sid: 'TR_mic' },
    { type: 'track-muted', id: 'PA_CAROL', sid: 'TR_mic', muted: true, by: 'PA_HOST' },
    { type: 'quality', id: 'PA_CAROL', quality: 'poor' },
    { type: 'reconnecting', id: 'PA_CAROL', reconnecting: true },
    { type: 'reconnecting', id: 'PA_CAROL', reconnecting: false },
    { type: 'updated', id: 'PA_CAROL' },
    { type: 'track-unpublished', id: 'PA_CAROL', sid: 'TR_mic', reason: 'capability_revoked' },
  ]);
  const carol = roster.get('PA_CAROL');
  assert.equal(carol.name, 'Carol');
  assert.equal(carol.hand, 1732600000000);
  assert.equal(carol.tracks.size, 0);
  const lowered = reduceRoster(roster, { type: 'participant-updated', participant: { id: 'PA_CAROL', hand: null } }, ME);
  assert.equal(lowered.roster.get('PA_CAROL').hand, null);
  assert.equal(lowered.roster.get('PA_CAROL').name, 'Carol', 'fields not in the update stay');
});

test('frames about unknown people are ignored; a leave is announced once', () => {
  const { changes } = run([
    { type: 'participant-left', participant: { id: 'PA_NOBODY' }, reason: 'client_initiated' },
    { type: 'track-published', participant: 'PA_NOBODY', track: { sid: 'TR_a', kind: 'audio', source: 'microphone' } },
    { type: 'participant-updated', participant: { id: 'PA_NOBODY', name: 'x' } },
    { type: 'participant-joined', participant: BOB },
    { type: 'participant-left', participant: { id: 'PA_BOB' }, reason: 'client_initiated' },
    { type: 'participant-left', participant: { id: 'PA_BOB' }, reason: 'client_initiated' },
  ]);
  assert.deepEqual(changes.map((c) => c.type), ['joined', 'track-published', 'left']);
});

test('a snapshot is applied as a diff: leaves, then each person in roster order (state, update, tracks)', () => {
  const start = run([{ type: 'participant-joined', participant: BOB }, { type: 'participant-joined', participant: CAROL }]).roster;
  const bobNow = { ...BOB, name: 'Robert', state: 'reconnecting', tracks: [{ sid: 'TR_cam', kind: 'video', source: 'camera', muted: true }, { sid: 'TR_scr', kind: 'video', source: 'screen' }] };
  const dave = { id: 'PA_DAVE', identity: 'dave', tracks: [{ sid: 'TR_d', kind: 'audio', source: 'microphone' }] };
  const { roster, changes } = reduceRoster(start, { type: 'snapshot', roster: [bobNow, dave, { id: ME, identity: 'me' }] }, ME);
  assert.deepEqual(changes, [
    { type: 'left', id: 'PA_CAROL', reason: 'connection_lost' },
    { type: 'reconnecting', id: 'PA_BOB', reconnecting: true },
    { type: 'updated', id: 'PA_BOB' },
    { type: 'track-muted', id: 'PA_BOB', sid: 'TR_cam', muted: true, by: null },
    { type: 'track-published', id: 'PA_BOB', sid: 'TR_scr' },
    { type: 'joined', id: 'PA_DAVE' },
    { type: 'track-published', id: 'PA_DAVE', sid: 'TR_d' },
  ]);
  assert.deepEqual([...roster.keys()], ['PA_BOB', 'PA_DAVE']);
  // The same snapshot again changes nothing.
  assert.deepEqual(reduceRoster(roster, { type: 'snapshot', roster: [bobNow, dave] }, ME).changes, []);
  // Tracks that vanished from a snapshot are unpublished.
  const bare = reduceRoster(roster, { type: 'snapshot', roster: [{ ...bobNow, tracks: [] }, dave] }, ME);
  assert.deepEqual(bare.changes, [
    { type: 'track-unpublished', id: 'PA_BOB', sid: 'TR_cam', reason: null },
    { type: 'track-unpublished', id: 'PA_BOB', sid: 'TR_scr', reason: null },
  ]);
});

test('frames the roster does not own leave it as it was', () => {
  const start = run([{ type: 'participant-joined', participant: BOB }]).roster;
  const result = reduceRoster(start, /** @type {any} */ ({ type: 'chat-message', text: 'hi' }), ME);
  assert.equal(result.roster, start);
  assert.deepEqual(result.changes, []);
});
