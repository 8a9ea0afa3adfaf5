import assert from 'node:assert/strict';
import { test } from 'node:test';

import { DefaultReconnectPolicy, isRetryable } from '../../django_levelchat/static/levelchat/sdk/reconnect.js';

const ctx = (retryCount, elapsedMs = 0, closeCode = 1006) => ({ retryCount, elapsedMs, closeCode });

test('backoff doubles from 250 ms to an 8 s cap', () => {
  const policy = new DefaultReconnectPolicy({ random: () => 0.5 }); // no jitter at the midpoint
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 10, 50].map((n) => policy.nextRetryDelayMs(ctx(n))),
    [250, 500, 1000, 2000, 4000, 8000, 8000, 8000, 8000],
  );
});

test('jitter stays within ±25 % of the base delay', () => {
  const low = new DefaultReconnectPolicy({ random: () => 0 });
  const high = new DefaultReconnectPolicy({ random: () => 0.999999 });
  for (let n = 0; n < 8; n++) {
    const base = Math.min(8000, 250 * 2 ** n);
    assert.equal(low.nextRetryDelayMs(ctx(n)), Math.round(base * 0.75));
    assert.ok(high.nextRetryDelayMs(ctx(n)) <= Math.round(base * 1.25));
    assert.ok(high.nextRetryDelayMs(ctx(n)) >= Math.round(base * 1.249));
  }
  const real = new DefaultReconnectPolicy();
  for (let i = 0; i < 2000; i++) {
    const n = i % 8;
    const base = Math.min(8000, 250 * 2 ** n);
    const d = real.nextRetryDelayMs(ctx(n));
    assert.ok(d >= base * 0.75 - 1 && d <= base * 1.25 + 1, `${d} for base ${base}`);
  }
});

test('gives up after the window (60 s default, configurable) and never sleeps past it', () => {
  const policy = new DefaultReconnectPolicy({ random: () => 0.5 });
  assert.equal(policy.nextRetryDelayMs(ctx(9, 60_000)), null);
  assert.equal(policy.nextRetryDelayMs(ctx(9, 59_000)), 1000);
  const short = new DefaultReconnectPolicy({ giveUpAfterMs: 5000, random: () => 0.5 });
  assert.equal(short.nextRetryDelayMs(ctx(0, 4999)), 1);
  assert.equal(short.nextRetryDelayMs(ctx(0, 5000)), null);
});

test('retries exactly 1006, 4001, 4012, 4013 and their proxy forms 1001, 1012, 1013; never 1000 or 44xx', () => {
  const policy = new DefaultReconnectPolicy();
  for (const code of [1001, 1006, 1012, 1013, 4001, 4012, 4013]) {
    assert.equal(isRetryable(code), true);
    assert.notEqual(policy.nextRetryDelayMs(ctx(0, 0, code)), null);
  }
  for (const code of [1000, 1011, 4400, 4401, 4403, 4409, 4429, 4000]) {
    assert.equal(isRetryable(code), false, String(code));
    assert.equal(policy.nextRetryDelayMs(ctx(0, 0, code)), null, String(code));
  }
});
