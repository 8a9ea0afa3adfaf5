/**
 * Reconnect policy: exponential backoff from 250 ms doubling to 8 s, each delay ±25 % jitter, and a give-up
 * window (60 s by default) counted from the moment the connection was lost. Only the retryable close codes
 * (`RETRYABLE_CLOSE_CODES`: 1006, the server's 4001/4012/4013 and their proxy forms 1001/1012/1013) are retried;
 * 44xx never are. The browser's `online` event
 * resets the backoff (handled by the signaling client, which restarts the count at 0).
 * @module
 */

import { RETRYABLE_CLOSE_CODES } from './protocol.js';

/**
 * @typedef {object} ReconnectContext
 * @property {number} retryCount  attempts already made since the connection was lost (0 before the first)
 * @property {number} elapsedMs   time since the connection was lost
 * @property {number} closeCode   the close code of the last failure (1006 for a network failure)
 * @property {string} [reason]    its close reason
 */

/**
 * @typedef {object} ReconnectPolicy
 * @property {(context: ReconnectContext) => number | null} nextRetryDelayMs  ms to wait before the next
 *   attempt, or null to give up
 */

/**
 * @typedef {object} ReconnectOptions
 * @property {number} [initialDelayMs]  first delay, default 250
 * @property {number} [maxDelayMs]      cap of the doubling, default 8000
 * @property {number} [jitter]          plus or minus fraction applied to each delay, default 0.25
 * @property {number} [giveUpAfterMs]   give-up window, default 60000
 * @property {() => number} [random]    a [0, 1) source, default Math.random
 */

/** Whether a close code is retried. @param {number} code */
export function isRetryable(code) {
  return RETRYABLE_CLOSE_CODES.has(code);
}

/** @implements {ReconnectPolicy} */
export class DefaultReconnectPolicy {
  #random;

  /** @param {ReconnectOptions} [options] */
  constructor({ initialDelayMs = 250, maxDelayMs = 8000, jitter = 0.25, giveUpAfterMs = 60000, random = Math.random } = {}) {
    this.initialDelayMs = initialDelayMs;
    this.maxDelayMs = maxDelayMs;
    this.jitter = jitter;
    this.giveUpAfterMs = giveUpAfterMs;
    this.#random = random;
  }

  /**
   * The delay without jitter for attempt `retryCount`: initial · 2^retryCount, capped.
   * @param {number} retryCount
   */
  baseDelayMs(retryCount) {
    return Math.min(this.maxDelayMs, this.initialDelayMs * 2 ** Math.min(retryCount, 30));
  }

  /** @param {ReconnectContext} context */
  nextRetryDelayMs({ retryCount, elapsedMs, closeCode }) {
    if (!isRetryable(closeCode)) return null;
    if (elapsedMs >= this.giveUpAfterMs) return null;
    const base = this.baseDelayMs(retryCount);
    const delay = base * (1 + this.jitter * (2 * this.#random() - 1));
    // Never sleep past the window: the last attempt happens at its end at the latest.
    return Math.max(0, Math.round(Math.min(delay, this.giveUpAfterMs - elapsedMs)));
  }
}
