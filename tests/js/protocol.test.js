// Protocol frames: every client example of docs/protocol.md §5 encodes, every server example of §6 parses, and
// the JS names match the server's (django_levelchat/protocol.py) so the two cannot drift apart.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { ErrorCode, LevelChatError } from '../../django_levelchat/static/levelchat/sdk/errors.js';
import * as protocol from '../../django_levelchat/static/levelchat/sdk/protocol.js';

const root = new URL('../../', import.meta.url);
const doc = readFileSync(new URL('docs/protocol.md', root), 'utf8');
const server = readFileSync(new URL('django_levelchat/protocol.py', root), 'utf8');

/** The JSON lines of the ```json blocks between two headings of docs/protocol.md. */
function jsonExamples(fromHeading, toHeading) {
  const section = doc.slice(doc.indexOf(fromHeading), doc.indexOf(toHeading));
  const frames = [];
  for (const block of section.matchAll(/```json\n([\s\S]*?)```/g)) {
    // One frame per line, except multi-line objects (the welcome example): join lines until they parse.
    let buffer = '';
    for (const line of block[1].split('\n')) {
      if (!line.trim()) continue;
      buffer += line;
      try {
        frames.push(JSON.parse(buffer));
        buffer = '';
      } catch {
        /* keep reading */
      }
    }
    assert.equal(buffer, '', `unparsed example: ${buffer.slice(0, 80)}`);
  }
  return frames;
}

/** The string values of a Python enum class in protocol.py. */
function pyEnum(name) {
  const body = server.split(`class ${name}(`)[1].split('\n\n\n')[0];
  return [...body.matchAll(/^\s+[A-Z_]+ = "([a-z_]+)"$/gm)].map((m) => m[1]);
}

/** A Python frozenset of strings assigned to `name`. */
function pySet(name) {
  const body = server.split(`${name} = frozenset(`)[1].split(')\n')[0];
  return [...body.matchAll(/"([a-z-]+)"/g)].map((m) => m[1]);
}

test('every client example of docs/protocol.md §5 encodes to the same JSON', () => {
  const examples = jsonExamples('## 5. Client → server', '## 6. Server → client');
  const types = new Set(examples.map((f) => f.type));
  assert.ok(examples.length >= 20, `${examples.length} examples`);
  for (const frame of examples) assert.deepEqual(JSON.parse(protocol.encode(frame)), frame);
  // Each message type documented with an example is one the SDK knows.
  for (const type of types) assert.ok(protocol.CLIENT_MESSAGE_TYPES.includes(type), type);
});

test('every client message type encodes; missing required fields are bad_request with the field named', () => {
  const minimal = {
    hello: { protocol: 1 },
    signal: { to: 'PA_x', candidate: { candidate: '', sdpMid: '0' } },
    'sfu-signal': { description: { type: 'offer', sdp: 'v=0' } },
    publish: { track: { sid: 'TR_a', kind: 'audio', source: 'microphone' } },
    unpublish: { track: 'TR_a' },
    mute: { track: 'TR_a', muted: true },
    subscribe: { participant: 'PA_x' },
    unsubscribe: { participant: 'PA_x', kind: 'video' },
    'set-preferred-quality': { quality: 'low' },
    chat: { text: 'hi' },
    reaction: { emoji: '👍' },
    hand: { raised: true },
    'audio-level': { level: 0.5 },
    'quality-report': { quality: 'good', score: 80 },
    'record-start': {},
    'record-stop': {},
    resync: {},
    ping: { ts: 1 },
    leave: {},
    'mute-participant': { participant: 'PA_x' },
    'remove-participant': { participant: 'PA_x' },
    'end-room': {},
  };
  assert.deepEqual(Object.keys(minimal).sort(), [...protocol.CLIENT_MESSAGE_TYPES].sort());
  for (const [type, fields] of Object.entries(minimal)) {
    const frame = { type, id: 'r1', ...fields };
    assert.deepEqual(JSON.parse(protocol.encode(/** @type {any} */ (frame))), frame);
    for (const key of Object.keys(fields)) {
      if (type === 'signal' && key === 'candidate') continue;
      const missing = { ...frame };
      delete missing[key];
      const optional = ['ts', 'kind', 'score'].includes(key) || type === 'sfu-signal';
      if (optional) continue;
      assert.throws(() => protocol.encode(/** @type {any} */ (missing)), (err) => err.code === 'bad_request' && err.field === key, `${type}.${key}`);
    }
  }
  assert.throws(() => protocol.encode(/** @type {any} */ ({ type: 'nope' })), { code: 'unknown_type' });
  assert.throws(() => protocol.encode(/** @type {any} */ ({ type: 'signal', to: 'PA_x' })), { code: 'bad_request', field: 'description' });
  assert.throws(
    () => protocol.encode(/** @type {any} */ ({ type: 'signal', to: 'PA_x', description: { type: 'offer', sdp: '' }, candidate: { candidate: '' } })),
    { code: 'bad_request' },
  );
  assert.throws(() => protocol.encode({ type: 'chat', text: 'é'.repeat(40000) }), { code: 'too_large' });
  assert.throws(() => protocol.encode({ type: 'audio-level', level: NaN }), { code: 'bad_request', field: 'level' });
});

test('every server example of docs/protocol.md §6 parses', () => {
  const examples = jsonExamples('Examples:', '## 7. seq and resync');
  assert.ok(examples.length >= 25, `${examples.length} examples`);
  for (const frame of examples) assert.deepEqual(protocol.parse(JSON.stringify(frame)), frame);
  // The close-reason frame's example lives in §11.
  const closing = jsonExamples('## 11. Close codes', '## 12. Limits');
  for (const frame of closing) assert.deepEqual(protocol.parse(JSON.stringify(frame)), frame);
  const seen = new Set([...examples, ...closing].map((f) => f.type));
  const withoutExample = ['resync', 'subscribe'];
  for (const type of protocol.SERVER_MESSAGE_TYPES) {
    if (!withoutExample.includes(type)) assert.ok(seen.has(type), `no example for ${type}`);
  }
});

test('parse refuses what is not a server frame', () => {
  assert.throws(() => protocol.parse('{'), { code: 'bad_json' });
  assert.throws(() => protocol.parse('[]'), { code: 'bad_json' });
  assert.throws(() => protocol.parse('null'), { code: 'bad_json' });
  assert.throws(() => protocol.parse('{"type":"hello-from-the-future"}'), { code: 'unknown_type' });
  assert.throws(() => protocol.parse('{"type":"track-muted","participant":"PA_x","track":"TR_a"}'), { code: 'protocol_error', field: 'muted' });
  assert.throws(() => protocol.parse('{"type":"signal","from":"PA_x"}'), { code: 'protocol_error', field: 'description' });
  assert.throws(() => protocol.parse('{"type":"pong","seq":"1"}'), { code: 'protocol_error', field: 'seq' });
  assert.deepEqual(protocol.parse('{"type":"active-speaker","participant":null,"seq":3}'), { type: 'active-speaker', participant: null, seq: 3 });
  assert.deepEqual(protocol.parse('{"type":"ack","ref":"r1","extra":true}'), { type: 'ack', ref: 'r1', extra: true });
});

test('constants and type lists match the server', () => {
  const num = (name) => Number(server.match(new RegExp(`^${name} = (\\d+)`, 'm'))[1]);
  for (const name of ['PROTOCOL_VERSION', 'MAX_FRAME_BYTES', 'MAX_ID_LEN', 'MAX_CHAT_LEN', 'MAX_NAME_LEN', 'MAX_EMOJI_LEN', 'MAX_REASON_LEN', 'MAX_LAYERS', 'MAX_TRACKS', 'MAX_TOKEN_LEN', 'MAX_CANDIDATE_LEN']) {
    assert.equal(protocol[name], num(name), name);
  }
  assert.equal(protocol.SIGNAL_PATH, server.match(/^SIGNAL_PATH = "(.+)"/m)[1]);
  assert.equal(protocol.SUBPROTOCOL, server.match(/^SUBPROTOCOL = "(.+)"/m)[1]);
  assert.equal(protocol.TOKEN_SUBPROTOCOL_PREFIX, server.match(/^TOKEN_SUBPROTOCOL_PREFIX = "(.+)"/m)[1]);
  assert.deepEqual([...protocol.ROOM_EVENT_TYPES].sort(), pySet('ROOM_EVENT_TYPES').sort());
  const serverTypes = [...server.matchAll(/TYPE: ClassVar\[str\] = "([a-z-]+)"/g)].map((m) => m[1]);
  assert.deepEqual([...protocol.CLIENT_MESSAGE_TYPES].sort(), serverTypes.sort());
  const py = (name) => JSON.parse(server.match(new RegExp(`^${name} = \\(([^)]*)\\)`, 'm'))[0].replace(`${name} = `, '').replace(/^\(/, '[').replace(/,?\)$/, ']'));
  assert.deepEqual([...protocol.QUALITY_BANDS], py('QUALITY_BANDS'));
  assert.deepEqual([...protocol.SIMULCAST_LAYERS], py('SIMULCAST_LAYERS'));
  assert.deepEqual([...protocol.LEAVE_REASONS].sort(), pyEnum('LeaveReason').sort());
  assert.deepEqual([...protocol.ERROR_CODES].sort(), pyEnum('ErrorCode').sort());
});

test('close codes and reasons match the server, and map 1:1 onto ErrorCode', () => {
  const codes = Object.fromEntries([...server.split('class CloseCode(')[1].split('\n\n\n')[0].matchAll(/^\s+([A-Z_]+) = (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
  for (const [name, value] of Object.entries(codes)) assert.equal(protocol.CloseCode[name], value, name);
  const retryable = server.split('RETRYABLE_CLOSE_CODES: frozenset[int] = frozenset(')[1].split(')\n')[0];
  const expected = [...retryable.matchAll(/\b(\d{4})\b|CloseCode\.([A-Z_]+)|ABNORMAL_CLOSURE/g)].map((m) => (m[1] ? Number(m[1]) : m[2] ? codes[m[2]] : 1006));
  assert.deepEqual([...protocol.RETRYABLE_CLOSE_CODES].sort(), expected.sort());
  assert.ok(!expected.some((c) => c >= 4400 && c < 4500));
  const reasons = pyEnum('CloseReason');
  assert.deepEqual(Object.keys(protocol.CLOSE_REASON_CODES).sort(), [...reasons].sort());
  const mapping = [...server.split('CLOSE_REASON_CODES: dict[str, CloseCode] = {')[1].split('}')[0].matchAll(/CloseReason\.([A-Z_]+): CloseCode\.([A-Z_]+)/g)];
  for (const [, reason, code] of mapping) assert.equal(protocol.CLOSE_REASON_CODES[reason.toLowerCase()], codes[code], reason);
  const values = new Set(Object.values(ErrorCode));
  for (const reason of reasons) assert.ok(values.has(reason), `ErrorCode lacks close reason ${reason}`);
  for (const code of pyEnum('ErrorCode')) assert.ok(values.has(code), `ErrorCode lacks error code ${code}`);
  assert.ok(LevelChatError.isKnownCode('removed'));
});

test('codePointLength counts code points, not UTF-16 units', () => {
  assert.equal(protocol.codePointLength('👍'), 1);
  assert.equal(protocol.codePointLength('a👨‍👩‍👧'), 6);
});
