/**
 * @internal
 * The signaling connection: WebSocket lifecycle, hello/welcome, resume, ping/pong liveness, the reconnect loop,
 * request/answer matching, a send queue while reconnecting, and `seq` tracking with `resync` on gaps.
 *
 * It exposes callback fields (`onWelcome`, `onFrame`, `onStateChange`); the Room turns them into public events.
 * @module
 */

import { realClock } from './clock.js';
import { ErrorCode, LevelChatError, createError, closeError, frameError } from './errors.js';
import { Logger } from './logger.js';
import { encode, parse, PROTOCOL_VERSION, SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX } from './protocol.js';
import { DefaultReconnectPolicy, isRetryable } from './reconnect.js';

/** @import { ClientMessage, ServerFrame, WelcomeFrame, AckFrame } from './protocol.js' */
/** @import { ReconnectPolicy } from './reconnect.js' */
/** @import { Clock } from './clock.js' */

export const SDK_NAME = 'levelchat-js';
export const SDK_VERSION = '0.1.0';

/** @typedef {'idle' | 'connecting' | 'connected' | 'reconnecting' | 'disconnected' | 'failed'} SignalingState */

/**
 * The subset of the WebSocket API the client uses (so tests can inject a fake).
 * @typedef {object} WebSocketLike
 * @property {number} readyState
 * @property {((ev: any) => void) | null} onopen
 * @property {((ev: { data: any }) => void) | null} onmessage
 * @property {((ev: { code: number, reason: string }) => void) | null} onclose
 * @property {((ev: any) => void) | null} onerror
 * @property {(data: string) => void} send
 * @property {(code?: number, reason?: string) => void} close
 */
/** @typedef {new (url: string, protocols: string[]) => WebSocketLike} WebSocketConstructor */

/**
 * @typedef {object} SignalingOptions
 * @property {string} url
 * @property {string} token
 * @property {WebSocketConstructor} [WebSocketImpl]
 * @property {ReconnectPolicy} [policy]
 * @property {Logger} [logger]
 * @property {Clock} [clock]
 * @property {{ addEventListener: (type: string, fn: () => void) => void, removeEventListener: (type: string, fn: () => void) => void } | null} [onlineTarget]
 *   where the `online` event is heard (window); null for none
 * @property {number} [connectTimeoutMs]  how long the FIRST connection may take, retries included (default 15000)
 * @property {number} [attemptTimeoutMs]  one attempt: socket open → welcome (default 10000)
 * @property {number} [requestTimeoutMs]  an answer to a request (default 10000)
 * @property {number} [maxQueue]  frames kept while reconnecting (default 256)
 */

/**
 * @typedef {object} PendingRequest
 * @property {(frame: any) => void} resolve
 * @property {(error: LevelChatError) => void} reject
 * @property {any} [timer]
 */

/**
 * A frame waiting for the connection; `arm` starts a request's answer timer when it is written.
 * @typedef {{ message: ClientMessage, arm?: () => void, reject?: (error: LevelChatError) => void }} QueueItem
 */

const OPEN = 1;
const WATCHDOG_MS = 1000;

/** @internal */
export class SignalingClient {
  /** Called for every welcome (first join, resume, or a fresh join after a failed resume). */
  /** @type {(welcome: WelcomeFrame, info: { resumed: boolean, first: boolean }) => void} */
  onWelcome = () => {};
  /** Called for every other frame the Room must see: room events (deduplicated by seq), resync snapshots,
   * directed frames (signal, relays) and unsolicited errors. */
  /** @type {(frame: ServerFrame) => void} */
  onFrame = () => {};
  /** @type {(state: SignalingState, error: LevelChatError | null) => void} */
  onStateChange = () => {};

  /** @type {SignalingState} */
  state = 'idle';
  /** The seq of the last room event applied (§7). */
  lastSeq = 0;
  /** Round-trip time of the last ping, ms (null before the first pong). @type {number | null} */
  rttMs = null;
  /** The participant id of the current session. @type {string | null} */
  participantId = null;

  #url;
  #token;
  #WebSocket;
  #policy;
  #log;
  #clock;
  #onlineTarget;
  #connectTimeoutMs;
  #attemptTimeoutMs;
  #requestTimeoutMs;
  #maxQueue;

  /** @type {WebSocketLike | null} */
  #ws = null;
  #welcomed = false;
  /** @type {{ session: string, credential: string } | null} */
  #resume = null;
  #pingIntervalMs = 5000;
  #pingTimeoutMs = 12000;
  #lastFrameAt = 0;
  #lastPingAt = 0;
  /** @type {any} */ #watchdog = null;
  /** @type {any} */ #attemptTimer = null;
  /** @type {any} */ #retryTimer = null;
  /** When the connection was lost (or the first attempt began); null while connected. @type {number | null} */
  #lostAt = null;
  #retryCount = 0;
  #everWelcomed = false;
  #resyncPending = false;
  /** The server's `closing` frame on the current socket (daphne drops close-frame reasons). */
  /** @type {{ code: number, reason: string, message?: string } | null} */
  #closing = null;
  #nextId = 0;
  /** @type {Map<string, PendingRequest>} */
  #pending = new Map();
  /** @type {QueueItem[]} */
  #queue = [];
  /** Sockets given up on (dead) but not closed: closing them could end the session we are resuming. */
  /** @type {Set<WebSocketLike>} */
  #zombies = new Set();
  /** @type {{ resolve: (w: WelcomeFrame) => void, reject: (e: LevelChatError) => void } | null} */
  #firstConnect = null;
  #onOnline = () => this.#handleOnline();

  /** @param {SignalingOptions} options */
  constructor(options) {
    this.#url = options.url;
    this.#token = options.token;
    this.#WebSocket = options.WebSocketImpl ?? /** @type {WebSocketConstructor} */ (/** @type {unknown} */ (globalThis.WebSocket));
    this.#policy = options.policy ?? new DefaultReconnectPolicy();
    this.#log = options.logger ?? new Logger('levelchat:signal');
    this.#clock = options.clock ?? realClock;
    this.#onlineTarget =
      options.onlineTarget !== undefined
        ? options.onlineTarget
        : typeof globalThis.addEventListener === 'function'
          ? /** @type {any} */ (globalThis)
          : null;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 15000;
    this.#attemptTimeoutMs = options.attemptTimeoutMs ?? 10000;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 10000;
    this.#maxQueue = options.maxQueue ?? 256;
  }

  /** Whether frames go out now (false while connecting or reconnecting: they are queued). */
  get isOpen() {
    return this.#welcomed && this.#ws !== null && this.#ws.readyState === OPEN;
  }

  /**
   * Open the connection. Resolves with the first welcome; rejects with a LevelChatError when the server
   * refuses (44xx) or cannot be reached within `connectTimeoutMs`.
   * @returns {Promise<WelcomeFrame>}
   */
  connect() {
    if (this.state !== 'idle') return Promise.reject(createError(ErrorCode.BAD_STATE, 'connect() was already called'));
    if (typeof this.#WebSocket !== 'function') {
      const error = createError(ErrorCode.NOT_SUPPORTED, 'this environment has no WebSocket');
      this.#setState('failed', error);
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.#firstConnect = { resolve, reject };
      this.#onlineTarget?.addEventListener('online', this.#onOnline);
      this.#lostAt = this.#clock.now();
      this.#setState('connecting', null);
      this.#open();
    });
  }

  /**
   * Send a message now, or queue it until the connection is back. Throws when the connection is over.
   * @param {ClientMessage} message
   */
  send(message) {
    this.#assertUsable();
    if (this.isOpen) this.#write(message);
    else this.#enqueue({ message });
  }

  /**
   * Send a request (an `id` is added) and wait for its answer: `ack` (or `resync`/`pong` for those types).
   * Rejects with the server's error (a LevelChatError with the error code), `interrupted` when the socket
   * dropped before the answer, or `timeout`.
   * @param {ClientMessage} message
   * @param {{ timeoutMs?: number }} [options]
   * @returns {Promise<AckFrame>}
   */
  request(message, { timeoutMs } = {}) {
    try {
      this.#assertUsable();
    } catch (err) {
      return Promise.reject(err);
    }
    const id = `r${++this.#nextId}`;
    const framed = /** @type {ClientMessage} */ ({ ...message, id });
    const ms = timeoutMs ?? this.#requestTimeoutMs;
    return new Promise((resolve, reject) => {
      /** @type {PendingRequest} */
      const request = { resolve, reject };
      // The answer timer starts when the frame is written (now, or when the queue is flushed).
      const arm = () => {
        this.#pending.set(id, request);
        request.timer = this.#clock.setTimeout(() => {
          if (this.#settle(id)) reject(createError(ErrorCode.TIMEOUT, `no answer to ${message.type} within ${ms} ms`));
        }, ms);
      };
      if (this.isOpen) {
        arm();
        try {
          this.#write(framed);
        } catch (err) {
          this.#settle(id);
          reject(err);
        }
      } else {
        this.#enqueue({ message: framed, arm, reject });
      }
    });
  }

  /**
   * Leave on purpose: send `leave`, wait briefly for its ack, close 1000. The session cannot be resumed.
   * @param {string} [reason]
   */
  async leave(reason) {
    if (this.state === 'disconnected' || this.state === 'failed') return;
    const ws = this.#ws;
    if (this.isOpen) {
      try {
        await this.request(reason ? { type: 'leave', reason } : { type: 'leave' }, { timeoutMs: 2000 });
      } catch (err) {
        this.#log.debug('leave was not acknowledged', err);
      }
    }
    this.#finish('disconnected', createError(ErrorCode.LEFT, 'left the room'));
    for (const socket of [ws, ...this.#zombies]) {
      try {
        socket?.close(1000, 'left');
      } catch {
        /* already closed */
      }
    }
    this.#zombies.clear();
  }

  /** Ask for a full snapshot (once until it arrives). */
  requestResync() {
    if (this.#resyncPending || !this.isOpen) return;
    this.#resyncPending = true;
    this.request({ type: 'resync' }).then(
      () => {},
      (err) => {
        this.#resyncPending = false;
        this.#log.info('resync failed', err);
      },
    );
  }

  /**
   * Drop the socket as if the network had died (1006), then reconnect and resume. For tests and for
   * "the page knows better" cases (e.g. a network change).
   */
  simulateDrop() {
    if (this.#ws) this.#abandon(1006, 'simulated');
  }

  // ------------------------------------------------------------------------------------------------------------

  #assertUsable() {
    if (this.state === 'disconnected' || this.state === 'failed' || this.state === 'idle') {
      throw createError(ErrorCode.NOT_CONNECTED, `the connection is ${this.state}`);
    }
  }

  /** @param {SignalingState} state @param {LevelChatError | null} error */
  #setState(state, error) {
    if (this.state === state) return;
    this.state = state;
    this.onStateChange(state, error);
  }

  /** @param {QueueItem} item */
  #enqueue(item) {
    if (this.#queue.length >= this.#maxQueue) {
      const dropped = this.#queue.shift();
      this.#log.warn('send queue full; dropping', dropped?.message.type);
      dropped?.reject?.(createError(ErrorCode.INTERRUPTED, 'dropped from a full send queue'));
    }
    this.#queue.push(item);
  }

  /** @param {ClientMessage} message */
  #write(message) {
    const text = encode(message);
    /** @type {WebSocketLike} */ (this.#ws).send(text);
  }

  #open() {
    this.#retryTimer = null;
    this.#welcomed = false;
    this.#closing = null;
    let ws;
    try {
      ws = new this.#WebSocket(this.#url, [SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX + this.#token]);
    } catch (cause) {
      this.#log.info('could not open the socket', cause);
      this.#clock.setTimeout(() => this.#lost(1006, 'open_failed'), 0);
      return;
    }
    this.#ws = ws;
    ws.onopen = () => {
      if (ws !== this.#ws) return;
      /** @type {ClientMessage} */
      const hello = { type: 'hello', protocol: PROTOCOL_VERSION, sdk: { name: SDK_NAME, version: SDK_VERSION } };
      if (this.#resume) hello.resume = this.#resume;
      ws.send(encode(hello));
    };
    ws.onmessage = (ev) => {
      if (ws === this.#ws) this.#receive(ev.data);
    };
    ws.onerror = () => {};
    ws.onclose = (ev) => {
      if (ws === this.#ws) this.#closed(ev.code, ev.reason);
    };
    this.#attemptTimer = this.#clock.setTimeout(() => {
      if (ws === this.#ws && !this.#welcomed) this.#abandon(1006, 'attempt_timeout');
    }, this.#attemptTimeoutMs);
  }

  /** @param {unknown} data */
  #receive(data) {
    this.#lastFrameAt = this.#clock.now();
    if (typeof data !== 'string') {
      this.#log.warn('ignoring a binary frame from the server');
      return;
    }
    /** @type {ServerFrame} */
    let frame;
    try {
      frame = parse(data);
    } catch (err) {
      const code = /** @type {LevelChatError} */ (err).code;
      if (code === ErrorCode.UNKNOWN_TYPE) this.#log.debug('ignoring', err);
      else this.#log.warn('ignoring a malformed frame', err);
      return;
    }
    switch (frame.type) {
      case 'welcome':
        this.#welcome(frame);
        return;
      case 'ack':
        this.#settle(frame.ref)?.resolve(frame);
        return;
      case 'pong':
        if (typeof frame.ts === 'number') this.rttMs = Math.max(0, this.#clock.now() - frame.ts);
        if (frame.ref) this.#settle(frame.ref)?.resolve(frame);
        return;
      case 'error': {
        const request = frame.ref ? this.#settle(frame.ref) : undefined;
        if (request) request.reject(frameError(frame));
        else this.onFrame(frame);
        return;
      }
      case 'closing':
        this.#closing = { code: frame.code, reason: frame.reason, message: frame.message };
        return;
      case 'resync':
        this.lastSeq = frame.seq;
        this.#resyncPending = false;
        this.onFrame(frame);
        if (frame.ref) this.#settle(frame.ref)?.resolve(frame);
        return;
      default:
        break;
    }
    const seq = /** @type {{ seq?: number }} */ (frame).seq;
    if (typeof seq === 'number') {
      if (seq <= this.lastSeq) return; // a duplicate, or already in the snapshot
      const gap = seq > this.lastSeq + 1;
      this.lastSeq = seq;
      this.onFrame(frame);
      if (gap) {
        this.#log.info('seq gap; asking for a snapshot');
        this.requestResync();
      }
      return;
    }
    this.onFrame(frame);
  }

  /** @param {WelcomeFrame} welcome */
  #welcome(welcome) {
    if (this.#welcomed) {
      this.#log.warn('ignoring a second welcome');
      return;
    }
    const first = !this.#everWelcomed;
    const resumed = !first && welcome.you.id === this.participantId;
    this.#welcomed = true;
    this.#everWelcomed = true;
    this.#clock.clearTimeout(this.#attemptTimer);
    this.participantId = welcome.you.id;
    this.#resume = welcome.resume ? { session: welcome.resume.session, credential: welcome.resume.credential } : null;
    this.#pingIntervalMs = Math.max(1000, welcome.ping_interval * 1000);
    this.#pingTimeoutMs = Math.max(this.#pingIntervalMs + 1000, welcome.ping_timeout * 1000);
    this.lastSeq = welcome.seq;
    this.#resyncPending = false;
    this.#lostAt = null;
    this.#retryCount = 0;
    this.#lastFrameAt = this.#lastPingAt = this.#clock.now();
    this.#zombies.clear(); // the server closes them (4409 replaced) now that a newer socket holds the session
    this.#startWatchdog();
    this.#setState('connected', null);
    if (!first && !resumed) {
      // A new session (the old one expired): what was queued for the old peers is stale.
      this.#rejectQueue(createError(ErrorCode.INTERRUPTED, 'the session was replaced by a new one'));
    }
    this.onWelcome(welcome, { resumed, first });
    this.#flushQueue();
    if (first && this.#firstConnect) {
      this.#firstConnect.resolve(welcome);
      this.#firstConnect = null;
    }
  }

  #flushQueue() {
    const queue = this.#queue;
    this.#queue = [];
    for (const item of queue) {
      if (!this.isOpen) {
        this.#queue.push(item);
        continue;
      }
      item.arm?.();
      try {
        this.#write(item.message);
      } catch (err) {
        const id = /** @type {{ id?: string }} */ (item.message).id;
        if (id) this.#settle(id);
        item.reject?.(/** @type {LevelChatError} */ (err));
      }
    }
  }

  /** @param {LevelChatError} error */
  #rejectQueue(error) {
    const queue = this.#queue;
    this.#queue = [];
    for (const item of queue) item.reject?.(error);
  }

  /** @param {string} id */
  #settle(id) {
    const request = this.#pending.get(id);
    if (!request) return undefined;
    this.#pending.delete(id);
    this.#clock.clearTimeout(request.timer);
    return request;
  }

  /** @param {LevelChatError} error */
  #rejectPending(error) {
    for (const id of [...this.#pending.keys()]) this.#settle(id)?.reject(error);
  }

  #startWatchdog() {
    this.#clock.clearTimeout(this.#watchdog);
    const tick = () => {
      const now = this.#clock.now();
      if (now - this.#lastFrameAt > this.#pingTimeoutMs) {
        this.#log.info(`no frame for ${now - this.#lastFrameAt} ms; reconnecting`);
        this.#abandon(1006, 'ping_timeout');
        return;
      }
      if (now - this.#lastPingAt >= this.#pingIntervalMs && this.isOpen) {
        this.#lastPingAt = now;
        try {
          this.#write({ type: 'ping', ts: now });
        } catch (err) {
          this.#log.debug('ping failed', err);
        }
      }
      this.#watchdog = this.#clock.setTimeout(tick, WATCHDOG_MS);
    };
    this.#watchdog = this.#clock.setTimeout(tick, WATCHDOG_MS);
  }

  #stopTimers() {
    this.#clock.clearTimeout(this.#watchdog);
    this.#clock.clearTimeout(this.#attemptTimer);
    this.#clock.clearTimeout(this.#retryTimer);
    this.#watchdog = this.#attemptTimer = this.#retryTimer = null;
  }

  /**
   * Give up on the current socket without closing it (a close frame with 1000 or 4xxx would end the session
   * on the server, which we want to resume), then reconnect as after a 1006.
   * @param {number} code
   * @param {string} reason
   */
  #abandon(code, reason) {
    const ws = this.#ws;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onerror = null;
      ws.onclose = null;
      this.#zombies.add(ws);
    }
    this.#closed(code, reason);
  }

  /** The current socket closed (or was abandoned). @param {number} code @param {string} reason */
  #closed(code, reason) {
    const closing = this.#closing;
    this.#closing = null;
    if (closing) {
      // The `closing` frame carries what the close frame may have lost (its reason; its code on a 1005/1006).
      if (code === 1005 || code === 1006) code = closing.code;
      reason = closing.reason || reason;
    }
    this.#ws = null;
    this.#welcomed = false;
    this.#stopTimers();
    this.#rejectPending(createError(ErrorCode.INTERRUPTED, `the connection dropped (${code})`));
    this.#resyncPending = false;
    if (this.state === 'disconnected' || this.state === 'failed') return;
    if (!isRetryable(code)) {
      const error =
        code === 1000 && !reason
          ? createError(ErrorCode.CONNECTION_CLOSED, 'closed by the server', { closeCode: code })
          : closeError(code, reason, closing?.message);
      const final = code === 1000 || code === 4403 || code === 4409 ? 'disconnected' : 'failed';
      this.#finish(final, error);
      return;
    }
    this.#lost(code, reason);
  }

  /** Schedule the next attempt, or give up. @param {number} code @param {string} reason */
  #lost(code, reason) {
    const now = this.#clock.now();
    if (this.#lostAt === null) {
      this.#lostAt = now;
      this.#retryCount = 0;
    }
    const elapsedMs = now - this.#lostAt;
    if (this.#everWelcomed) this.#setState('reconnecting', closeError(code, reason));
    let delay = this.#policy.nextRetryDelayMs({ retryCount: this.#retryCount, elapsedMs, closeCode: code, reason });
    if (!this.#everWelcomed && delay !== null && elapsedMs + delay > this.#connectTimeoutMs) delay = null;
    if (delay === null) {
      this.#finish(
        'failed',
        createError(ErrorCode.CONNECTION_FAILED, `could not reach the signaling server (${code}${reason ? ` ${reason}` : ''})`, {
          closeCode: code,
        }),
      );
      return;
    }
    this.#log.info(`reconnect attempt ${this.#retryCount + 1} in ${delay} ms (${code} ${reason})`);
    this.#retryTimer = this.#clock.setTimeout(() => {
      this.#retryCount++;
      this.#open();
    }, delay);
  }

  #handleOnline() {
    // The network is back: retry now and restart the backoff instead of sleeping out a long delay.
    if (this.#retryTimer === null || this.#ws !== null) return;
    this.#log.info('online: retrying now');
    this.#clock.clearTimeout(this.#retryTimer);
    this.#retryCount = 0;
    this.#open();
  }

  /** @param {'disconnected' | 'failed'} state @param {LevelChatError} error */
  #finish(state, error) {
    this.#stopTimers();
    this.#onlineTarget?.removeEventListener('online', this.#onOnline);
    const ws = this.#ws;
    this.#ws = null;
    this.#welcomed = false;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
      if (state === 'failed' && ws.readyState === OPEN) ws.close(1000, 'failed');
    }
    this.#rejectPending(error);
    this.#rejectQueue(error);
    this.#setState(state, error);
    if (this.#firstConnect) {
      this.#firstConnect.reject(error);
      this.#firstConnect = null;
    }
  }
}
