// Protocol frames: every client example of docs/protocol.md §5 encodes, every server example of §6 parses, and the
// frames of django_levelchat/protocol_examples.py (generated into protocol-examples.js; the server ones made by the
// server's own builders) pass the SDK's checks. The constants themselves are generated from protocol.py
// (protocol-defs.js); tests/test_protocol_js.py fails when that file is out of date.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { ErrorCode, LevelChatError } from '../../django_levelchat/static/levelchat/sdk/errors.js';
import * as defs from '../../django_levelchat/static/levelchat/sdk/protocol-defs.js';
import * as protocol from '../../django_levelchat/static/levelchat/sdk/protocol.js';
import { CLIENT_EXAMPLES, SERVER_EXAMPLES } from './protocol-examples.js';

const root = new URL('../../', import.meta.url);
const doc = readFileSync(new URL('docs/protocol.md', root), 'utf8');

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

test('every client example of docs/protocol.md §5 encodes to the same JSON', () => {
  const examples = jsonExamples('## 5. Client → server', '## 6. Server → client');
  const types = new Set(examples.map((f) => f.type));
  assert.ok(examples.length >= 20, `${examples.length} examples`);
  for (const frame of examples) assert.deepEqual(JSON.parse(protocol.encode(frame)), frame);
  // Each message type documented with an example is one the SDK knows.
  for (const type of types) assert.ok(protocol.CLIENT_MESSAGE_TYPES.includes(type), type);
});

test('every client example of protocol_examples.py encodes; each missing required field is named', () => {
  assert.deepEqual(Object.keys(CLIENT_EXAMPLES).sort(), [...protocol.CLIENT_MESSAGE_TYPES].sort());
  for (const [type, example] of Object.entries(CLIENT_EXAMPLES)) {
    const frame = { id: 'r1', ...example };
    assert.deepEqual(JSON.parse(protocol.encode(/** @type {any} */ (frame))), frame);
    for (const key of Object.keys(defs.CLIENT_REQUIRED_FIELDS[type])) {
      const missing = { ...frame };
      delete missing[key];
      assert.throws(() => protocol.encode(/** @type {any} */ (missing)), (err) => err.code === 'bad_request' && err.field === key, `${type}.${key}`);
      const mistyped = { ...frame, [key]: Symbol.for('x') };
      assert.throws(() => protocol.encode(/** @type {any} */ (mistyped)), (err) => err.field === key, `${type}.${key} mistyped`);
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

test('every frame the server builders make parses; each missing required field is named', () => {
  assert.deepEqual(Object.keys(SERVER_EXAMPLES).sort(), [...protocol.SERVER_MESSAGE_TYPES].sort());
  for (const [type, frame] of Object.entries(SERVER_EXAMPLES)) {
    assert.deepEqual(protocol.parse(JSON.stringify(frame)), frame);
    for (const key of Object.keys(defs.SERVER_REQUIRED_FIELDS[type])) {
      const missing = { ...frame };
      delete missing[key];
      assert.throws(() => protocol.parse(JSON.stringify(missing)), (err) => err.code === 'protocol_error' && err.field === key, `${type}.${key}`);
    }
  }
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

test('the SDK re-exports the generated constants unchanged', () => {
  for (const name of ['PROTOCOL_VERSION', 'SIGNAL_PATH', 'SUBPROTOCOL', 'TOKEN_SUBPROTOCOL_PREFIX', 'MAX_FRAME_BYTES', 'MAX_CHAT_LEN', 'MAX_EMOJI_LEN', 'CloseCode', 'CLOSE_REASON_CODES', 'ERROR_CODES', 'LEAVE_REASONS', 'QUALITY_BANDS', 'ROOM_EVENT_TYPES']) {
    assert.equal(protocol[name], defs[name], name);
  }
  assert.deepEqual([...protocol.RETRYABLE_CLOSE_CODES].sort(), [...defs.RETRYABLE_CLOSE_CODES_LIST].sort());
  assert.deepEqual(protocol.SOURCE_KINDS, defs.SOURCE_KINDS);
});

test('close codes: retryable ones are never 44xx; every reason and error code is an SDK ErrorCode', () => {
  assert.ok(!defs.RETRYABLE_CLOSE_CODES_LIST.some((c) => c >= 4400 && c < 4500));
  const closeCodes = new Set(Object.values(defs.CloseCode));
  for (const [reason, code] of Object.entries(defs.CLOSE_REASON_CODES)) assert.ok(closeCodes.has(code), `${reason} → ${code}`);
  const values = new Set(Object.values(ErrorCode));
  for (const reason of Object.keys(defs.CLOSE_REASON_CODES)) assert.ok(values.has(reason), `ErrorCode lacks close reason ${reason}`);
  for (const code of defs.ERROR_CODES) assert.ok(values.has(code), `ErrorCode lacks error code ${code}`);
  assert.ok(LevelChatError.isKnownCode('removed'));
});

test('codePointLength counts code points, not UTF-16 units', () => {
  assert.equal(protocol.codePointLength('👍'), 1);
  assert.equal(protocol.codePointLength('a👨‍👩‍👧'), 6);
});
