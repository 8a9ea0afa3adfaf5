/**
 * A namespaced, levelled logger. The default level is `warn`, and normal operation logs nothing at `warn`:
 * reconnect attempts, renegotiations and quality changes are `info`/`debug`; only real problems are `warn`.
 * @module
 */

/** @typedef {'debug' | 'info' | 'warn' | 'error' | 'silent'} LogLevel */
/** @typedef {(level: Exclude<LogLevel, 'silent'>, namespace: string, args: unknown[]) => void} LogSink */

export const LOG_LEVELS = Object.freeze({ debug: 10, info: 20, warn: 30, error: 40, silent: 100 });

/** @type {LogSink} */
const consoleSink = (level, namespace, args) => {
  // eslint-disable-next-line no-console
  console[level](`[${namespace}]`, ...args);
};

export class Logger {
  #level;
  #sink;

  /**
   * @param {string} namespace e.g. `levelchat:room`
   * @param {{ level?: LogLevel, sink?: LogSink }} [options]
   */
  constructor(namespace, { level = 'warn', sink = consoleSink } = {}) {
    /** @readonly */
    this.namespace = namespace;
    this.#level = LOG_LEVELS[level] ?? LOG_LEVELS.warn;
    this.#sink = sink;
  }

  /** @param {LogLevel} level */
  setLevel(level) {
    this.#level = LOG_LEVELS[level] ?? LOG_LEVELS.warn;
  }

  /** @returns {LogLevel} */
  get level() {
    return /** @type {LogLevel} */ (
      Object.keys(LOG_LEVELS).find((k) => LOG_LEVELS[/** @type {LogLevel} */ (k)] === this.#level) ?? 'warn'
    );
  }

  /**
   * A logger for a sub-namespace that shares this one's level and sink.
   * @param {string} name
   */
  child(name) {
    return new Logger(`${this.namespace}:${name}`, { level: this.level, sink: this.#sink });
  }

  /** @param {Exclude<LogLevel, 'silent'>} level @param {unknown[]} args */
  #log(level, args) {
    if (LOG_LEVELS[level] >= this.#level) this.#sink(level, this.namespace, args);
  }

  /** @param {...unknown} args */
  debug(...args) {
    this.#log('debug', args);
  }

  /** @param {...unknown} args */
  info(...args) {
    this.#log('info', args);
  }

  /** @param {...unknown} args */
  warn(...args) {
    this.#log('warn', args);
  }

  /** @param {...unknown} args */
  error(...args) {
    this.#log('error', args);
  }
}
