/**
 * @internal
 * The SFU transport: one RTCPeerConnection to the room's SFU worker (docs/sfu.md), beside or instead of the mesh.
 *
 * - We are always the **polite** peer (aiortc cannot roll back): on glare we roll our offer back, answer the SFU's
 *   and offer again afterwards. We offer to publish; the SFU offers whenever the tracks it forwards to us change.
 * - aiortc cannot receive RID simulcast, so a simulcast camera is **three send-only transceivers** carrying clones
 *   of the track scaled ¼, ½ and full (layers `q`, `h`, `f`), one encoding each, VP8 pinned. Mic: one Opus
 *   transceiver. Screen share: one layer. `publish()` resolves with the transceivers' mids once they are
 *   negotiated; the Room puts them in its `publish` frame.
 * - `layer-demand` pauses the layers nobody watches (`encodings[0].active = false`) and resumes them on demand.
 * - Forwarded m-lines carry `a=msid:<publisher participant id> <track sid>`: that is how an incoming track is mapped
 *   to its publisher and published track.
 * - `receive: false` (a mesh room being recorded) publishes only: whatever the SFU offers is answered `inactive`.
 * @module
 */

import { Logger } from './logger.js';
import { SFU_LAYERS } from './media.js';
import { toWireCandidate } from './negotiation.js';

/** @import { LocalMedia } from './mesh.js' */
/** @import { SfuSignalFrame, SfuSignalMessage, LayerDemandFrame, Layer, WireDescription } from './protocol.js' */

/**
 * @typedef {object} SfuCallbacks
 * @property {(message: SfuSignalMessage) => Promise<unknown>} request  send an `sfu-signal` and wait for its `ack`
 * @property {(participantId: string, sid: string | null, track: MediaStreamTrack, receiver: RTCRtpReceiver) => void} onRemoteTrack
 * @property {(state: RTCPeerConnectionState) => void} [onState]
 */

/**
 * @typedef {object} SfuOptions
 * @property {string} localId
 * @property {SfuCallbacks} callbacks
 * @property {boolean} [receive]  take the tracks the SFU forwards (default true); false answers them `inactive`
 * @property {RTCIceServer[]} [iceServers]
 * @property {typeof RTCPeerConnection} [RTCPeerConnectionImpl]
 * @property {{ getCapabilities?: (kind: string) => any }} [RTCRtpSenderImpl]  for codec pinning
 * @property {Logger} [logger]
 */

/**
 * One published track on the SFU connection.
 * @typedef {object} Publication
 * @property {LocalMedia} media
 * @property {RTCRtpTransceiver[]} transceivers  one per layer
 * @property {Layer[]} layers  empty for a single layer
 * @property {MediaStreamTrack[]} clones  what the layer transceivers send (stopped with the publication)
 * @property {Layer[] | null} demand  the last `layer-demand` (null: all layers on)
 */

/**
 * The `a=msid` of each m-section of a description: mid → { stream, track }.
 * @param {string} sdp
 * @returns {Map<string, { stream: string, track: string }>}
 */
export function readMsids(sdp) {
  /** @type {Map<string, { stream: string, track: string }>} */
  const out = new Map();
  /** @type {string | null} */
  let mid = null;
  /** @type {{ stream: string, track: string } | null} */
  let msid = null;
  const flush = () => {
    if (mid !== null && msid) out.set(mid, msid);
  };
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith('m=')) {
      flush();
      mid = null;
      msid = null;
    } else if (line.startsWith('a=mid:')) mid = line.slice(6).trim();
    else if (line.startsWith('a=msid:')) {
      const [stream, track] = line.slice(7).trim().split(/\s+/);
      msid = { stream, track: track ?? '' };
    }
  }
  flush();
  return out;
}

const EXTMAP = /^a=extmap:(\d+)(\/\S+)? (\S+)(.*)$/;

/**
 * aiortc's fixed header-extension ids (aiortc/codecs/__init__.py). It numbers every offer it makes from them and
 * reads all bundled RTP through one transport-wide id map that only ever adds ids, so a connection to it must use
 * exactly these ids for these extensions and keep every other extension off them.
 */
export const AIORTC_EXTMAPS = ['a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid', 'a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level', 'a=extmap:3 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time', ''].join('\n');

/**
 * Give every RTP header extension of `sdp` one id across the whole (bundled) connection: the id it has in
 * `reference` (the description already applied on our side), else its first id in `sdp` if no other extension
 * has it, else a free one. Needed both ways with aiortc: its offers number extensions from its own defaults
 * (1 mid, 2 audio level, 3 abs-send-time) on every section, even ones negotiated with other ids, which Chrome
 * refuses ("RTP extension ID reassignment not supported"); and Chrome numbers the extensions of its new sections
 * from its defaults even when the SFU's earlier offer used those ids for others ("BUNDLE group contains a codec
 * collision for header extension id=…"). aiortc adopts whatever ids the other side's description carries.
 * @param {string} sdp
 * @param {string} [reference]
 */
export function alignExtmaps(sdp, reference = '') {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const lines = sdp.split(eol);
  /** @type {Map<string, number>} */
  const byUri = new Map();
  /** @type {Set<number>} */
  const used = new Set();
  /** @param {string} uri @param {number} id */
  const claim = (uri, id) => {
    if (byUri.has(uri) || used.has(id)) return;
    byUri.set(uri, id);
    used.add(id);
  };
  for (const line of reference.split(/\r?\n/)) {
    const m = EXTMAP.exec(line);
    if (m) claim(m[3], Number(m[1]));
  }
  const parsed = lines.map((line) => EXTMAP.exec(line));
  for (const m of parsed) if (m) claim(m[3], Number(m[1]));
  for (const m of parsed) {
    if (!m || byUri.has(m[3])) continue;
    let id = 1;
    while (used.has(id)) id++;
    claim(m[3], id);
  }
  return lines
    .map((line, i) => {
      const m = parsed[i];
      return m ? `a=extmap:${byUri.get(m[3])}${m[2] ?? ''} ${m[3]}${m[4]}` : line;
    })
    .join(eol);
}

/**
 * The codecs an SFU leg may use for `kind`, in the browser's capability form: VP8 (+RTX) for video, Opus for
 * audio (what aiortc forwards without decoding). Null when the browser cannot tell.
 * @param {{ getCapabilities?: (kind: string) => any } | undefined} Sender
 * @param {'audio' | 'video'} kind
 */
export function sfuCodecs(Sender, kind) {
  const caps = Sender?.getCapabilities?.(kind);
  if (!caps?.codecs?.length) return null;
  const wanted = kind === 'video' ? /^video\/(vp8|rtx)$/i : /^audio\/opus$/i;
  const codecs = caps.codecs.filter((/** @type {{ mimeType: string }} */ c) => wanted.test(c.mimeType));
  return codecs.some((/** @type {{ mimeType: string }} */ c) => !/rtx/i.test(c.mimeType)) ? codecs : null;
}

/** @internal */
export class SfuTransport {
  /** @type {RTCPeerConnection} */
  pc;
  /** @type {Map<string, Publication>} */
  publications = new Map();
  /** Offers sent (tests, logs). */
  offersSent = 0;

  #opts;
  #log;
  #closed = false;
  /** Every signaling step on the connection, strictly in order. @type {Promise<void>} */
  #chain = Promise.resolve();
  #offerQueued = false;
  /** @type {RTCIceCandidateInit[]} */
  #pendingCandidates = [];
  /** Waiters for "every transceiver negotiated, signaling stable"; called with an error when an offer failed. */
  /** @type {Set<(error?: unknown) => void>} */
  #settled = new Set();
  /** The SFU's mid → (publisher, sid), from its offers. @type {Map<string, { stream: string, track: string }>} */
  #msids = new Map();
  /**
   * The `a=extmap` lines of every description we applied on this connection, first use first: Chrome keeps an
   * extension id bound to its first meaning for the whole connection, even across a rolled-back offer.
   */
  #extmaps = AIORTC_EXTMAPS;

  /** @param {SfuOptions} options */
  constructor(options) {
    this.#opts = options;
    this.#log = options.logger ?? new Logger('levelchat:sfu');
    const PC = options.RTCPeerConnectionImpl ?? globalThis.RTCPeerConnection;
    this.pc = new PC({ iceServers: options.iceServers ?? [], bundlePolicy: 'max-bundle' });
    this.pc.onicecandidate = ({ candidate }) => {
      if (!candidate || !candidate.candidate || this.#closed) return;
      this.#send({ type: 'sfu-signal', candidate: toWireCandidate(candidate) });
    };
    this.pc.onnegotiationneeded = () => this.#queueOffer();
    this.pc.onsignalingstatechange = () => this.#checkSettled();
    this.pc.ontrack = (ev) => this.#onTrack(ev);
    this.pc.onconnectionstatechange = () => {
      const state = this.pc.connectionState;
      this.#log.debug('connection', state);
      options.callbacks.onState?.(state);
    };
  }

  /** Whether forwarded tracks are taken (false: publish only). */
  get receiving() {
    return this.#opts.receive !== false;
  }

  /**
   * Publish a local track: transceivers (three layers for a camera unless `simulcast` is false), negotiated with
   * the SFU. Resolves with the mids and layer names for the `publish` frame.
   * @param {LocalMedia} media
   * @param {{ simulcast?: boolean }} [options]
   * @returns {Promise<{ mids: string[], layers: Layer[] }>}
   */
  async publish(media, { simulcast = true } = {}) {
    if (this.#closed) throw new Error('the SFU connection is closed');
    this.#drop(media.sid);
    const layered = media.kind === 'video' && media.source === 'camera' && simulcast;
    const plan = layered ? SFU_LAYERS : [{ layer: /** @type {Layer | ''} */ (''), scaleResolutionDownBy: 1, bitrateShare: 1 }];
    const Sender = this.#opts.RTCRtpSenderImpl ?? /** @type {any} */ (globalThis).RTCRtpSender;
    const codecs = sfuCodecs(Sender, media.kind);
    /** @type {MediaStreamTrack[]} */
    const clones = [];
    const transceivers = plan.map(({ scaleResolutionDownBy, bitrateShare }) => {
      // Clones, not the same track: with one shared source Chrome shrinks every layer to the most constrained one.
      const track = layered ? media.track.clone() : media.track;
      if (layered) clones.push(track);
      /** @type {RTCRtpEncodingParameters} */
      const encoding = { maxBitrate: Math.round(media.maxBitrate * bitrateShare) };
      if (media.kind === 'video') encoding.scaleResolutionDownBy = scaleResolutionDownBy;
      const transceiver = this.pc.addTransceiver(track, { direction: 'sendonly', sendEncodings: [encoding] });
      if (codecs && typeof transceiver.setCodecPreferences === 'function') {
        try {
          transceiver.setCodecPreferences(codecs);
        } catch (err) {
          this.#log.info('could not pin the SFU codec', err);
        }
      }
      return transceiver;
    });
    /** @type {Publication} */
    const publication = {
      media,
      transceivers,
      layers: layered ? SFU_LAYERS.map((l) => /** @type {Layer} */ (l.layer)) : [],
      clones,
      demand: null,
    };
    this.publications.set(media.sid, publication);
    this.#queueOffer();
    await this.#negotiated(transceivers);
    if (this.publications.get(media.sid) !== publication) throw new Error('unpublished while negotiating');
    return { mids: transceivers.map((t) => /** @type {string} */ (t.mid)), layers: publication.layers };
  }

  /** @param {string} sid */
  unpublish(sid) {
    if (this.#drop(sid)) this.#queueOffer();
  }

  /**
   * Switch a published track's capture (another device) without renegotiating.
   * @param {string} sid @param {MediaStreamTrack} track
   */
  async replaceTrack(sid, track) {
    const publication = this.publications.get(sid);
    if (!publication) return;
    const layered = publication.clones.length > 0;
    const old = publication.clones;
    publication.clones = [];
    publication.media = { ...publication.media, track };
    await Promise.all(
      publication.transceivers.map((t) => {
        const next = layered ? track.clone() : track;
        if (layered) {
          next.enabled = track.enabled;
          publication.clones.push(next);
        }
        return t.sender.replaceTrack(next);
      }),
    );
    for (const clone of old) clone.stop();
  }

  /**
   * Mute or unmute what a publication sends (the layer clones do not follow the original's `enabled`).
   * @param {string} sid @param {boolean} muted
   */
  setMuted(sid, muted) {
    for (const clone of this.publications.get(sid)?.clones ?? []) clone.enabled = !muted;
  }

  /**
   * Dynacast: keep the watched layers of a simulcast track sending and pause the rest.
   * @param {LayerDemandFrame} frame
   */
  async handleLayerDemand(frame) {
    const publication = this.publications.get(frame.track);
    if (!publication || publication.layers.length === 0) return;
    publication.demand = [...frame.layers];
    await Promise.all(publication.transceivers.map((t, i) => this.#setActive(t, frame.layers.includes(publication.layers[i]))));
  }

  /**
   * The layers of a published track that are sending now (tests, diagnostics).
   * @param {string} sid
   * @returns {Layer[]}
   */
  activeLayers(sid) {
    const publication = this.publications.get(sid);
    if (!publication) return [];
    return publication.layers.filter((_, i) => publication.transceivers[i].sender.getParameters().encodings?.[0]?.active !== false);
  }

  /**
   * An `sfu-signal` from the worker: its offer or answer, or a candidate.
   * @param {SfuSignalFrame} frame
   */
  handleSignal(frame) {
    if (frame.description) {
      const description = frame.description;
      return this.#enqueue(() => this.#applyDescription(description));
    }
    if (frame.candidate) {
      const candidate = /** @type {RTCIceCandidateInit} */ (frame.candidate);
      return this.#enqueue(() => this.#applyCandidate(candidate));
    }
    return Promise.resolve();
  }

  /** @returns {Iterable<[string, RTCPeerConnection]>} */
  *peerConnections() {
    if (!this.#closed) yield ['sfu', this.pc];
  }

  close() {
    if (this.#closed) return;
    this.#closed = true;
    for (const publication of this.publications.values()) for (const clone of publication.clones) clone.stop();
    this.publications.clear();
    for (const wake of this.#settled) wake();
    this.#settled.clear();
    this.pc.onicecandidate = null;
    this.pc.onnegotiationneeded = null;
    this.pc.ontrack = null;
    this.pc.onconnectionstatechange = null;
    this.pc.onsignalingstatechange = null;
    try {
      this.pc.close();
    } catch {
      /* already closed */
    }
  }

  get closed() {
    return this.#closed;
  }

  // ------------------------------------------------------------------------------------------- internals

  /** @param {string} sid */
  #drop(sid) {
    const publication = this.publications.get(sid);
    if (!publication) return false;
    this.publications.delete(sid);
    for (const transceiver of publication.transceivers) {
      // Inactive, not stopped: the worker then keeps the m-line (its mid never comes back to another track).
      if (this.pc.signalingState !== 'closed') {
        transceiver.direction = 'inactive';
        void transceiver.sender.replaceTrack(null).catch(() => {});
      }
    }
    for (const clone of publication.clones) clone.stop();
    return true;
  }

  /** @param {RTCRtpTransceiver} transceiver @param {boolean} active */
  async #setActive(transceiver, active) {
    const params = transceiver.sender.getParameters();
    const encoding = params.encodings?.[0];
    if (!encoding || encoding.active === active) return;
    encoding.active = active;
    try {
      await transceiver.sender.setParameters(params);
    } catch (err) {
      this.#log.debug('setParameters failed', err);
    }
  }

  /** @param {SfuSignalMessage} message */
  #send(message) {
    this.#opts.callbacks.request(message).catch((err) => {
      if (!this.#closed) this.#log.info('the SFU refused a signal', err);
    });
  }

  /** @param {() => Promise<void>} task */
  #enqueue(task) {
    const run = this.#chain.then(task, task);
    this.#chain = run.catch((err) => {
      if (!this.#closed) this.#log.warn('SFU negotiation step failed', err);
    });
    return this.#chain;
  }

  #queueOffer() {
    if (this.#closed || this.#offerQueued) return;
    this.#offerQueued = true;
    void this.#enqueue(async () => {
      this.#offerQueued = false;
      await this.#offer();
    });
  }

  async #offer() {
    const pc = this.pc;
    if (this.#closed || pc.signalingState !== 'stable' || !this.#needsNegotiation()) return;
    const offer = await pc.createOffer();
    await pc.setLocalDescription({ type: 'offer', sdp: this.#aligned(offer.sdp ?? '') });
    const local = pc.localDescription;
    if (!local || local.type !== 'offer') return;
    this.offersSent++;
    this.#opts.callbacks.request({ type: 'sfu-signal', description: { type: 'offer', sdp: local.sdp } }).catch((err) => this.#offerFailed(err));
  }

  /**
   * The worker refused our offer (`bad_sdp`, `sfu_unavailable`) or never answered: roll it back and fail the
   * publications waiting for it (an offer the worker ignored on glare is acked, and its own offer follows).
   * @param {unknown} err
   */
  #offerFailed(err) {
    if (this.#closed) return;
    this.#log.info('the SFU refused our offer', err);
    void this.#enqueue(async () => {
      if (this.pc.signalingState === 'have-local-offer') await this.pc.setLocalDescription({ type: 'rollback' });
    });
    for (const wake of [...this.#settled]) wake(err);
  }

  /** Whether a transceiver waits for an offer/answer (new, or its direction changed). */
  #needsNegotiation() {
    return this.pc.getTransceivers().some((t) => {
      if (t.currentDirection === 'stopped' || /** @type {any} */ (t).stopped) return false;
      return t.mid === null || (t.currentDirection !== t.direction && !(t.direction === 'inactive' && t.currentDirection === null));
    });
  }

  /** @param {WireDescription} description */
  async #applyDescription(description) {
    const pc = this.pc;
    if (this.#closed) return;
    if (description.type === 'offer') {
      if (pc.signalingState === 'have-local-offer') {
        this.#log.debug('glare: rolling back our offer');
        await pc.setLocalDescription({ type: 'rollback' });
      }
      const sdp = this.#aligned(description.sdp ?? '');
      for (const [mid, msid] of readMsids(sdp)) this.#msids.set(mid, msid);
      await pc.setRemoteDescription({ type: 'offer', sdp });
      await this.#flushCandidates();
      await pc.setLocalDescription();
      const local = pc.localDescription;
      if (local) this.#send({ type: 'sfu-signal', description: { type: 'answer', sdp: local.sdp } });
    } else if (description.type === 'answer') {
      if (pc.signalingState !== 'have-local-offer') {
        this.#log.debug('ignoring an SFU answer in state', pc.signalingState);
        return;
      }
      await pc.setRemoteDescription(/** @type {RTCSessionDescriptionInit} */ (description));
      await this.#flushCandidates();
    }
    // Whatever our rolled-back or ignored offer carried is still to be negotiated.
    if (pc.signalingState === 'stable' && this.#needsNegotiation()) this.#queueOffer();
    this.#checkSettled();
  }

  /** A description with the extension ids of this connection, which then remembers them. @param {string} sdp */
  #aligned(sdp) {
    const aligned = alignExtmaps(sdp, this.#extmaps);
    for (const line of aligned.split(/\r?\n/)) {
      const m = EXTMAP.exec(line);
      if (m && !this.#extmaps.includes(` ${m[3]}\n`)) this.#extmaps += `a=extmap:${m[1]} ${m[3]}\n`;
    }
    return aligned;
  }

  /** @param {RTCIceCandidateInit} candidate */
  async #applyCandidate(candidate) {
    if (this.#closed) return;
    if (!this.pc.remoteDescription) {
      this.#pendingCandidates.push(candidate);
      return;
    }
    try {
      await this.pc.addIceCandidate(candidate);
    } catch (err) {
      this.#log.info('could not add an SFU candidate', err);
    }
  }

  async #flushCandidates() {
    const pending = this.#pendingCandidates;
    this.#pendingCandidates = [];
    for (const candidate of pending) {
      try {
        await this.pc.addIceCandidate(candidate);
      } catch (err) {
        this.#log.info('could not add an SFU candidate', err);
      }
    }
  }

  /** @param {RTCTrackEvent} ev */
  #onTrack(ev) {
    const transceiver = ev.transceiver;
    if (!this.receiving) {
      transceiver.direction = 'inactive'; // publish only: the answer declines what the SFU forwards
      return;
    }
    const msid = transceiver.mid !== null ? this.#msids.get(transceiver.mid) : undefined;
    const publisher = msid?.stream ?? ev.streams[0]?.id;
    if (!publisher) {
      this.#log.info('a forwarded track without a publisher id');
      return;
    }
    this.#opts.callbacks.onRemoteTrack(publisher, msid?.track || null, ev.track, ev.receiver);
  }

  /** @param {RTCRtpTransceiver[]} transceivers */
  #negotiated(transceivers) {
    const done = () => this.#closed || (this.pc.signalingState === 'stable' && transceivers.every((t) => t.mid !== null && t.currentDirection !== null));
    if (done()) return Promise.resolve();
    return /** @type {Promise<void>} */ (
      new Promise((resolve, reject) => {
      /** @param {unknown} [error] */
      const check = (error) => {
        if (error === undefined && !done()) return;
        this.#settled.delete(check);
        if (error === undefined) resolve(undefined);
        else reject(error);
      };
      this.#settled.add(check);
    })
    );
  }

  #checkSettled() {
    for (const check of [...this.#settled]) check();
  }
}
