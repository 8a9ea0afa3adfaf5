import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Emitter } from '../../django_levelchat/static/levelchat/sdk/emitter.js';
import {
  ConnectionFailedError,
  DeviceError,
  ErrorCode,
  ForbiddenError,
  LevelChatError,
  RoomAccessError,
  TokenError,
  closeError,
  createError,
  frameError,
} from '../../django_levelchat/static/levelchat/sdk/errors.js';
import { decodeJwt, readToken } from '../../django_levelchat/static/levelchat/sdk/jwt.js';
import { Logger } from '../../django_levelchat/static/levelchat/sdk/logger.js';
import { joinedAtFromId, LocalParticipant } from '../../django_levelchat/static/levelchat/sdk/participant.js';
import { makeToken } from './fakes.js';

test('emitter: on/emit/off, on() returns an unsubscribe function, once fires once', () => {
  const e = new Emitter();
  const calls = [];
  const off = e.on('a', (x, y) => calls.push(['a', x, y]));
  e.once('a', (x) => calls.push(['once', x]));
  assert.equal(e.emit('a', 1, 2), true);
  e.emit('a', 3, 4);
  off();
  assert.equal(e.emit('a', 5), false);
  assert.deepEqual(calls, [['a', 1, 2], ['once', 1], ['a', 3, 4]]);
  assert.equal(e.listenerCount('a'), 0);
});

test('emitter: off(event, fn) and off(event) remove listeners; a throwing listener does not stop the others', async () => {
  const e = new Emitter();
  const seen = [];
  const fn = () => seen.push('fn');
  e.on('x', fn);
  e.on('x', () => seen.push('other'));
  e.off('x', fn);
  e.emit('x');
  e.off('x');
  e.emit('x');
  assert.deepEqual(seen, ['other']);

  const errors = [];
  const original = globalThis.reportError;
  globalThis.reportError = (err) => errors.push(err);
  try {
    e.on('y', () => {
      throw new Error('boom');
    });
    e.on('y', () => seen.push('after'));
    e.emit('y');
  } finally {
    globalThis.reportError = original;
  }
  assert.deepEqual(seen, ['other', 'after']);
  assert.equal(errors[0].message, 'boom');
});

test('emitter: a listener added during emit is not called in that round, one removed is still called', () => {
  const e = new Emitter();
  const seen = [];
  e.on('x', () => {
    seen.push(1);
    e.on('x', () => seen.push('late'));
  });
  e.emit('x');
  assert.deepEqual(seen, [1]);
});

test('jwt: decodes the payload without verifying, reads room/region/caps', () => {
  const token = makeToken({ sub: 'zoë', aud: 'RM_a', room: 'RM_a', region: 'eu', caps: ['publish:*', 3], name: 'Zoë ✓', exp: 100 });
  const payload = decodeJwt(token);
  assert.equal(payload.name, 'Zoë ✓');
  const claims = readToken(token);
  assert.deepEqual(
    { room: claims.room, region: claims.region, identity: claims.identity, caps: claims.capabilities, exp: claims.expiresAt },
    { room: 'RM_a', region: 'eu', identity: 'zoë', caps: ['publish:*'], exp: 100000 },
  );
  assert.equal(readToken(makeToken({ aud: ['RM_b'] })).room, 'RM_b');
  assert.equal(readToken(makeToken({ aud: 'RM_c' })).region, '');
});

test('jwt: anything that is not a JWT with an object payload is token_invalid', () => {
  for (const bad of ['', 'abc', 'a.b', 'a.!!!.c', `x.${Buffer.from('[1]').toString('base64url')}.y`, `x.${Buffer.from('nope').toString('base64url')}.y`, null]) {
    assert.throws(() => decodeJwt(/** @type {any} */ (bad)), (err) => err instanceof LevelChatError && err.code === ErrorCode.TOKEN_INVALID, String(bad));
  }
  assert.throws(() => readToken(makeToken({ sub: 'x' })), { code: 'token_invalid' });
});

test('errors: close reasons become codes; unknown reasons connection_closed; error frames keep field and retry_after', () => {
  const e = closeError(4401, 'token_expired');
  assert.equal(e.code, 'token_expired');
  assert.equal(e.closeCode, 4401);
  assert.equal(closeError(4999, 'weird').code, 'connection_closed');
  const f = frameError({ code: 'rate_limited', message: 'slow down', retry_after: 1.5, field: 'text' });
  assert.deepEqual([f.code, f.message, f.retryAfter, f.field], ['rate_limited', 'slow down', 1.5, 'text']);
  assert.ok(e instanceof Error);
  assert.ok(e instanceof LevelChatError && e instanceof TokenError);
  assert.equal(e.name, 'TokenError');
});

test('errors: each code family has its class, all of them LevelChatError', () => {
  const cases = [
    [closeError(4403, 'room_ended'), RoomAccessError, 'RoomAccessError'],
    [closeError(4409, 'replaced'), RoomAccessError, 'RoomAccessError'],
    [frameError({ code: 'forbidden', message: 'no' }), ForbiddenError, 'ForbiddenError'],
    [createError('permission_denied'), DeviceError, 'DeviceError'],
    [createError('timeout'), ConnectionFailedError, 'ConnectionFailedError'],
    [frameError({ code: 'bad_request' }), LevelChatError, 'LevelChatError'],
  ];
  for (const [error, Cls, name] of cases) {
    assert.ok(error instanceof Cls && error instanceof LevelChatError, error.code);
    assert.equal(error.name, name);
  }
  assert.ok(!(frameError({ code: 'bad_request' }) instanceof TokenError));
});

test('logger: silent below its level, default warn, child shares the sink', () => {
  const lines = [];
  const log = new Logger('levelchat', { sink: (level, ns, args) => lines.push([level, ns, ...args]) });
  log.debug('d');
  log.info('i');
  log.warn('w');
  log.child('room').error('e');
  log.setLevel('silent');
  log.error('gone');
  assert.deepEqual(lines, [['warn', 'levelchat', 'w'], ['error', 'levelchat:room', 'e']]);
});

test('participant: join time from the ULID, capability wildcards', () => {
  // django_levelchat.ids.ulid(1732600000123) starts with 01JDKG3VKV.
  assert.equal(joinedAtFromId('PA_01JDKG3VKVQ614K1T79ZPQA9W2'), 1732600000123);
  assert.equal(joinedAtFromId('PA_short'), null);
  const p = new LocalParticipant({ id: 'PA_01JDKG3VKVQ614K1T79ZPQA9W2', identity: 'a', capabilities: ['publish:*', 'chat:send'] });
  assert.equal(p.can('publish:camera'), true);
  assert.equal(p.can('chat:send'), true);
  assert.equal(p.can('room:admin'), false);
  assert.equal(p.name, 'a');
});
