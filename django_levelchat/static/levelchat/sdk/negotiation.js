/**
 * @internal
 * Perfect negotiation (W3C webrtc-pc §10.7; MDN "The WebRTC perfect negotiation pattern") for one peer
 * connection.
 *
 * - The initiator (the lower participant id in the mesh) makes the first offer. The other side waits for it:
 *   its own `negotiationneeded` is deferred until the first remote description is applied, then replayed.
 * - After that, either side offers whenever its tracks change. On glare (an offer arrives while we are making
 *   or holding our own), the impolite side ignores the incoming offer, and the polite side rolls its own offer
 *   back and answers. polite = (local id > remote id), so the initiator is the impolite one.
 * - Remote ICE candidates are buffered until a remote description is set, and all incoming signals are applied
 *   strictly in order (one promise chain), so a candidate never overtakes the description it belongs to.
 * @module
 */

import { realClock } from './clock.js';
import { Logger } from './logger.js';

/** @import { WireDescription, WireCandidate } from './protocol.js' */
/** @import { Clock } from './clock.js' */

/**
 * The subset of RTCPeerConnection the negotiator uses (tests inject a fake).
 * @typedef {object} NegotiablePeerConnection
 * @property {RTCSignalingState} signalingState
 * @property {RTCSessionDescription | RTCSessionDescriptionInit | null} localDescription
 * @property {RTCSessionDescription | RTCSessionDescriptionInit | null} remoteDescription
 * @property {(description?: RTCSessionDescriptionInit) => Promise<void>} setLocalDescription
 * @property {(description: RTCSessionDescriptionInit) => Promise<void>} setRemoteDescription
 * @property {(candidate?: RTCIceCandidateInit) => Promise<void>} addIceCandidate
 * @property {(() => void) | undefined} [restartIce]
 * @property {(() => { mid: string | null, stopped?: boolean, currentDirection?: string | null }[]) | undefined} [getTransceivers]
 * @property {((ev: any) => any) | null} onnegotiationneeded
 * @property {((ev: any) => any) | null} onicecandidate
 */

/**
 * @typedef {object} NegotiatorOptions
 * @property {boolean} polite
 * @property {boolean} initiator  makes the first offer
 * @property {(payload: { description?: WireDescription, candidate?: WireCandidate }) => void} send
 * @property {(description: WireDescription) => WireDescription} [outgoing]  rewrite a description before it is sent
 * @property {(description: WireDescription) => WireDescription} [incoming]  read/rewrite a remote description before it is applied
 * @property {() => void} [onStable]  after each completed negotiation (signaling state back to stable)
 * @property {Clock} [clock]  timers (tests pass a fake)
 * @property {number} [offerRetryMs]  re-send an offer still unanswered after this long (default 3000)
 * @property {number} [maxOfferRetries]  at most this many re-sends of one offer (default 5)
 * @property {Logger} [logger]
 */

/** @internal */
export class PerfectNegotiator {
  makingOffer = false;
  ignoreOffer = false;
  isSettingRemoteAnswerPending = false;
  /** Whether this side may offer yet (the initiator at once; the other side after the first remote offer). */
  canOffer;
  /** Number of offers sent (for tests and logs). */
  offersSent = 0;

  #pc;
  #opts;
  #log;
  /** @type {RTCIceCandidateInit[]} */
  #pendingCandidates = [];
  #deferred = false;
  #closed = false;
  /** @type {Promise<void>} */
  #chain = Promise.resolve();
  /** @type {any} */
  #retryTimer = null;
  #retries = 0;
  /** How many times an unanswered offer was sent again (the peer's signaling was away when it went out). */
  offersResent = 0;

  /**
   * @param {NegotiablePeerConnection} pc
   * @param {NegotiatorOptions} options
   */
  constructor(pc, options) {
    this.#pc = pc;
    this.#opts = options;
    this.#log = options.logger ?? new Logger('levelchat:negotiation');
    this.polite = options.polite;
    this.canOffer = options.initiator;
    pc.onnegotiationneeded = () => {
      void this.negotiate();
    };
    pc.onicecandidate = ({ candidate }) => {
      if (!candidate || !candidate.candidate) return; // end-of-candidates: nothing to send in trickle
      options.send({ candidate: toWireCandidate(candidate) });
    };
  }

  /** Buffered remote candidates (waiting for a remote description). */
  get pendingCandidates() {
    return this.#pendingCandidates.length;
  }

  /** Make and send an offer now (what `negotiationneeded` does). Resolves when it was sent (or skipped). */
  async negotiate() {
    if (this.#closed) return;
    if (!this.canOffer) {
      this.#deferred = true;
      return;
    }
    try {
      this.makingOffer = true;
      await this.#pc.setLocalDescription();
      const local = this.#pc.localDescription;
      if (!local || local.type !== 'offer' || this.#pc.signalingState !== 'have-local-offer') return;
      this.offersSent++;
      this.#sendDescription(local);
      this.#retries = 0;
      this.#armRetry(local.sdp ?? '');
    } catch (err) {
      this.#log.warn('could not make an offer', err);
    } finally {
      this.makingOffer = false;
    }
  }

  /**
   * Apply a remote description (in order with the other incoming signals).
   * @param {WireDescription} description
   */
  handleDescription(description) {
    return this.#enqueue(() => this.#applyDescription(description));
  }

  /**
   * Apply a remote ICE candidate, or buffer it until a remote description is set.
   * @param {WireCandidate} candidate
   */
  handleCandidate(candidate) {
    return this.#enqueue(() => this.#applyCandidate(candidate));
  }

  /** Restart ICE (new credentials, new candidates) with a fresh offer: after a signaling resume, or on failure. */
  restartIce() {
    if (this.#closed) return;
    if (typeof this.#pc.restartIce === 'function') this.#pc.restartIce(); // fires negotiationneeded
    else void this.negotiate();
  }

  /**
   * An offer can be lost when the peer's signaling socket was gone as it went out (both peers reconnecting at once:
   * each waits in `have-local-offer` for the other for good, and the impolite one ignores the polite one's offer).
   * So an offer still unanswered after `offerRetryMs` is sent again, a few times; the server holds signals for a
   * peer in its resume window, and the polite side rolls back for the impolite one's offer, so both converge.
   * @param {string} sdp
   */
  #armRetry(sdp) {
    const clock = this.#opts.clock ?? realClock;
    if (this.#retryTimer !== null) clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = clock.setTimeout(() => {
      this.#retryTimer = null;
      const local = this.#pc.localDescription;
      if (this.#closed || this.#pc.signalingState !== 'have-local-offer' || !local || local.sdp !== sdp) return;
      if (this.#retries >= (this.#opts.maxOfferRetries ?? 5)) return;
      this.#retries++;
      this.offersResent++;
      this.#log.info('no answer to our offer yet: sending it again');
      this.#sendDescription(local);
      this.#armRetry(sdp);
    }, this.#opts.offerRetryMs ?? 3000);
  }

  close() {
    this.#closed = true;
    if (this.#retryTimer !== null) (this.#opts.clock ?? realClock).clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#pc.onnegotiationneeded = null;
    this.#pc.onicecandidate = null;
    this.#pendingCandidates = [];
  }

  /** @param {() => Promise<void>} task */
  #enqueue(task) {
    const run = this.#chain.then(task, task);
    this.#chain = run.catch(() => {});
    return run;
  }

  /** @param {WireDescription} received */
  async #applyDescription(received) {
    if (this.#closed || received.type === 'rollback' || received.type === 'pranswer') return;
    const description = this.#opts.incoming ? this.#opts.incoming(received) : received;
    const pc = this.#pc;
    const readyForOffer = !this.makingOffer && (pc.signalingState === 'stable' || this.isSettingRemoteAnswerPending);
    const offerCollision = description.type === 'offer' && !readyForOffer;
    this.ignoreOffer = !this.polite && offerCollision;
    if (this.ignoreOffer) {
      this.#log.debug('glare: ignoring the remote offer (impolite)');
      return;
    }
    if (description.type === 'answer' && pc.signalingState !== 'have-local-offer') {
      this.#log.debug('ignoring an answer in state', pc.signalingState);
      return;
    }
    this.isSettingRemoteAnswerPending = description.type === 'answer';
    try {
      if (offerCollision) {
        this.#log.debug('glare: rolling back our offer (polite)');
        await pc.setLocalDescription({ type: 'rollback' });
      }
      await pc.setRemoteDescription(/** @type {RTCSessionDescriptionInit} */ (description));
    } finally {
      this.isSettingRemoteAnswerPending = false;
    }
    await this.#flushCandidates();
    if (description.type === 'offer') {
      await pc.setLocalDescription();
      const local = pc.localDescription;
      if (local) this.#sendDescription(local);
    }
    if (!this.canOffer) {
      this.canOffer = true;
      if (this.#deferred) {
        this.#deferred = false;
        // Our own changes waited for the initiator's offer. The browser will not fire negotiationneeded again
        // for them, so offer now if the answer did not cover them (a transceiver still has no mid).
        if (needsOffer(pc)) queueMicrotask(() => void this.negotiate());
      }
    }
    if (pc.signalingState === 'stable') this.#opts.onStable?.();
  }

  /** @param {WireCandidate} candidate */
  async #applyCandidate(candidate) {
    if (this.#closed) return;
    const init = /** @type {RTCIceCandidateInit} */ (candidate);
    if (!this.#pc.remoteDescription) {
      this.#pendingCandidates.push(init);
      return;
    }
    await this.#addCandidate(init);
  }

  async #flushCandidates() {
    const pending = this.#pendingCandidates;
    this.#pendingCandidates = [];
    for (const candidate of pending) await this.#addCandidate(candidate);
  }

  /** @param {RTCIceCandidateInit} candidate */
  async #addCandidate(candidate) {
    try {
      await this.#pc.addIceCandidate(candidate);
    } catch (err) {
      // Candidates of an offer we ignored (glare) are expected to fail.
      if (!this.ignoreOffer) this.#log.info('could not add a remote candidate', err);
    }
  }

  /** @param {RTCSessionDescription | RTCSessionDescriptionInit} local */
  #sendDescription(local) {
    /** @type {WireDescription} */
    let description = { type: /** @type {WireDescription['type']} */ (local.type), sdp: local.sdp ?? '' };
    if (this.#opts.outgoing) description = this.#opts.outgoing(description);
    this.#opts.send({ description });
  }
}

/**
 * Whether a connection has transceivers no description has negotiated yet (what a deferred `negotiationneeded`
 * was about). Without `getTransceivers` (a minimal fake), assume it does.
 * @param {NegotiablePeerConnection} pc
 */
export function needsOffer(pc) {
  if (typeof pc.getTransceivers !== 'function') return true;
  return pc.getTransceivers().some((t) => t.mid === null && !t.stopped && t.currentDirection !== 'stopped');
}

/**
 * The wire form of a local candidate (only the fields the protocol carries, nulls dropped).
 * @param {RTCIceCandidate | RTCIceCandidateInit} candidate
 * @returns {WireCandidate}
 */
export function toWireCandidate(candidate) {
  /** @type {WireCandidate} */
  const wire = { candidate: candidate.candidate ?? '' };
  if (candidate.sdpMid != null) wire.sdpMid = candidate.sdpMid;
  if (candidate.sdpMLineIndex != null) wire.sdpMLineIndex = candidate.sdpMLineIndex;
  if (candidate.usernameFragment) wire.usernameFragment = candidate.usernameFragment;
  return wire;
}
