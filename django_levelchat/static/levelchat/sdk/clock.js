/**
 * @internal
 * Time, injectable: tests drive timers by hand instead of sleeping.
 * @module
 */

/**
 * @typedef {object} Clock
 * @property {() => number} now  ms
 * @property {(fn: () => void, ms: number) => any} setTimeout
 * @property {(id: any) => void} clearTimeout
 */

/** @type {Clock} */
export const realClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (id) => globalThis.clearTimeout(id),
};
