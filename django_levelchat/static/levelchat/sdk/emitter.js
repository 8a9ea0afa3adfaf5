/**
 * A tiny typed event emitter: `on()` returns an unsubscribe function, `once()`, `off()`, and `emit()` for
 * subclasses. A listener that throws does not stop the others: its error is reported like an uncaught one.
 * @module
 */

/** @typedef {(...args: any[]) => void} AnyListener */

/**
 * @template {Record<string, unknown[]>} M  event name → listener argument tuple
 */
export class Emitter {
  /** @type {Map<string, Set<AnyListener>>} */
  #listeners = new Map();

  /**
   * Listen to `event`. Returns a function that removes the listener.
   * @template {keyof M & string} K
   * @param {K} event
   * @param {(...args: M[K]) => void} listener
   * @returns {() => void}
   */
  on(event, listener) {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(/** @type {AnyListener} */ (listener));
    return () => this.off(event, listener);
  }

  /**
   * Listen to the next `event` only.
   * @template {keyof M & string} K
   * @param {K} event
   * @param {(...args: M[K]) => void} listener
   * @returns {() => void}
   */
  once(event, listener) {
    /** @param {M[K]} args */
    const wrapper = (...args) => {
      off();
      listener(...args);
    };
    const off = this.on(event, /** @type {(...args: M[K]) => void} */ (wrapper));
    return off;
  }

  /**
   * Remove a listener (or every listener of `event` when `listener` is omitted).
   * @template {keyof M & string} K
   * @param {K} event
   * @param {(...args: M[K]) => void} [listener]
   */
  off(event, listener) {
    if (!listener) this.#listeners.delete(event);
    else this.#listeners.get(event)?.delete(/** @type {AnyListener} */ (listener));
  }

  /**
   * The number of listeners of `event`.
   * @param {keyof M & string} event
   */
  listenerCount(event) {
    return this.#listeners.get(event)?.size ?? 0;
  }

  /**
   * Call every listener of `event` with `args`, in the order they were added.
   * @protected
   * @template {keyof M & string} K
   * @param {K} event
   * @param {M[K]} args
   * @returns {boolean} whether anyone listened
   */
  emit(event, ...args) {
    const set = this.#listeners.get(event);
    if (!set || set.size === 0) return false;
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch (err) {
        reportListenerError(err);
      }
    }
    return true;
  }
}

/** @param {unknown} err */
function reportListenerError(err) {
  const report = /** @type {{reportError?: (e: unknown) => void}} */ (globalThis).reportError;
  if (typeof report === 'function') report(err);
  else
    queueMicrotask(() => {
      throw err;
    });
}
