/**
 * @internal
 * The mesh transport: one RTCPeerConnection per remote participant, perfect negotiation on each, and per-peer
 * sender control (subscribe/unsubscribe relays, preferred quality).
 *
 * The Room talks to a transport only through the `Transport` interface below, so an SFU transport (one peer
 * connection to the SFU worker, client always polite, three send-only layer transceivers) can replace or sit
 * beside it without touching the Room.
 *
 * Which remote transceiver carries which published track: each description we send is annotated with one
 * `a=x-levelchat-sid:<track sid>` line after the `a=mid:` of every section we send a track on. The receiver
 * reads and strips those lines before applying the description, and maps `ontrack`'s `transceiver.mid` to the
 * track sid. (Browsers do not preserve track ids across a connection, and the protocol's `mids` field is for the
 * SFU path only.)
 * @module
 */

import { applyCodecPreferences, preferredVideoCodecs } from './codecs.js';
import { Logger } from './logger.js';
import { MESH_QUALITY } from './media.js';
import { PerfectNegotiator } from './negotiation.js';

/** @import { SignalFrame, SignalMessage, SubscriptionRelayFrame, PreferredQualityRelayFrame, TrackKind, TrackSource, PreferredQuality, WireDescription } from './protocol.js' */

/**
 * A local published track, as a transport needs it.
 * @typedef {object} LocalMedia
 * @property {string} sid
 * @property {TrackKind} kind
 * @property {TrackSource} source
 * @property {MediaStreamTrack} track
 * @property {number} maxBitrate  bps at full quality
 */

/**
 * What a transport tells the Room.
 * @typedef {object} TransportCallbacks
 * @property {(message: SignalMessage) => void} sendSignal  send a `signal` frame
 * @property {(participantId: string, sid: string | null, track: MediaStreamTrack, receiver: RTCRtpReceiver) => void} onRemoteTrack
 *   remote media arrived; `sid` is null when the peer did not say which track it is
 * @property {(participantId: string, state: RTCPeerConnectionState) => void} [onPeerState]
 */

/**
 * The seam between the Room and the media path.
 * @typedef {object} Transport
 * @property {(participantId: string) => void} addParticipant  someone is in the room (roster or joined)
 * @property {(participantId: string) => void} removeParticipant
 * @property {(media: LocalMedia) => void} publish
 * @property {(sid: string) => void} unpublish
 * @property {(sid: string, track: MediaStreamTrack) => Promise<void>} replaceTrack  switch a device without renegotiating
 * @property {(frame: SignalFrame) => void} handleSignal
 * @property {(frame: SubscriptionRelayFrame) => void} handleSubscription  `subscribe`/`unsubscribe` relayed to us as publisher
 * @property {(frame: PreferredQualityRelayFrame) => void} handlePreferredQuality
 * @property {() => void} restartIce  after a signaling resume: new ICE on every existing connection
 * @property {(codec: string | null) => void} setVideoCodec  pin a video codec (null: the default preference) for
 *   the next negotiations
 * @property {() => Iterable<[string, RTCPeerConnection]>} peerConnections
 * @property {() => void} close
 */

export const SID_ATTRIBUTE = 'x-levelchat-sid';

/**
 * Add `a=x-levelchat-sid:<sid>` after the `a=mid:<mid>` line of each section in `midToSid`.
 * @param {string} sdp
 * @param {Map<string, string>} midToSid
 */
export function annotateSdp(sdp, midToSid) {
  if (midToSid.size === 0) return sdp;
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const out = [];
  for (const line of sdp.split(eol)) {
    out.push(line);
    if (line.startsWith('a=mid:')) {
      const sid = midToSid.get(line.slice(6).trim());
      if (sid) out.push(`a=${SID_ATTRIBUTE}:${sid}`);
    }
  }
  return out.join(eol);
}

/**
 * Read the annotations of a remote description: mid → track sid.
 * @param {string} sdp
 * @returns {Map<string, string>}
 */
export function readSdpAnnotations(sdp) {
  /** @type {Map<string, string>} */
  const map = new Map();
  let mid = null;
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith('m=')) mid = null;
    else if (line.startsWith('a=mid:')) mid = line.slice(6).trim();
    else if (line.startsWith(`a=${SID_ATTRIBUTE}:`) && mid !== null) map.set(mid, line.slice(SID_ATTRIBUTE.length + 3).trim());
  }
  return map;
}

/** @param {string} sdp */
export function stripSdpAnnotations(sdp) {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  return sdp
    .split(eol)
    .filter((line) => !line.startsWith(`a=${SID_ATTRIBUTE}:`))
    .join(eol);
}

/**
 * The mesh's initiator rule: the lower participant id makes the first offer (ids are `PA_` + ULID, compared
 * as strings, so the earlier joiner offers to the newcomer).
 * @param {string} localId
 * @param {string} remoteId
 */
export function isInitiator(localId, remoteId) {
  return localId < remoteId;
}

/**
 * Perfect negotiation's politeness: the higher id is polite (yields on glare).
 * @param {string} localId
 * @param {string} remoteId
 */
export function isPolite(localId, remoteId) {
  return localId > remoteId;
}

/**
 * @typedef {object} MeshOptions
 * @property {string} localId
 * @property {TransportCallbacks} callbacks
 * @property {RTCIceServer[]} [iceServers]
 * @property {typeof RTCPeerConnection} [RTCPeerConnectionImpl]
 * @property {{ getCapabilities?: (kind: string) => any } } [RTCRtpSenderImpl]  for codec probing
 * @property {string | null} [codec]  pinned video codec (`vp8`, `video/H264`, …)
 * @property {Logger} [logger]
 */

/** @internal @implements {Transport} */
export class MeshTransport {
  /** @type {Map<string, PeerSession>} */
  peers = new Map();
  /** @type {Map<string, LocalMedia>} */
  local = new Map();
  /** What each peer asked us not to send (their `unsubscribe`), also applied to tracks published later. */
  /** @type {Map<string, { kinds: Set<string>, sids: Set<string> }>} */
  paused = new Map();
  /** Each peer's preferred quality. @type {Map<string, PreferredQuality>} */
  quality = new Map();
  /** @type {ReturnType<typeof preferredVideoCodecs>} */
  videoCodecs;

  #opts;
  #log;
  #closed = false;
  /** One MediaStream per source group, so camera + mic share a stream (lip sync) and screen + its audio another. */
  /** @type {Map<string, MediaStream>} */
  #streams = new Map();

  /** @param {MeshOptions} options */
  constructor(options) {
    this.#opts = options;
    this.#log = options.logger ?? new Logger('levelchat:mesh');
    const Sender = options.RTCRtpSenderImpl ?? /** @type {any} */ (globalThis).RTCRtpSender;
    this.videoCodecs = preferredVideoCodecs(Sender, options.codec ?? null);
  }

  get localId() {
    return this.#opts.localId;
  }

  /** @param {string} participantId */
  addParticipant(participantId) {
    if (this.#closed || participantId === this.localId || this.peers.has(participantId)) return;
    // The initiator connects at once; the other side waits for the first offer (created lazily in handleSignal).
    if (isInitiator(this.localId, participantId)) this.#session(participantId);
  }

  /** @param {string} participantId */
  removeParticipant(participantId) {
    this.peers.get(participantId)?.close();
    this.peers.delete(participantId);
    this.paused.delete(participantId);
    this.quality.delete(participantId);
  }

  /** @param {LocalMedia} media */
  publish(media) {
    this.local.set(media.sid, media);
    for (const peer of this.peers.values()) peer.addLocal(media);
  }

  /** @param {string} sid */
  unpublish(sid) {
    this.local.delete(sid);
    for (const peer of this.peers.values()) peer.removeLocal(sid);
  }

  /** @param {string} sid @param {MediaStreamTrack} track */
  async replaceTrack(sid, track) {
    const media = this.local.get(sid);
    if (!media) return;
    media.track = track;
    await Promise.all([...this.peers.values()].map((peer) => peer.refreshSender(sid)));
  }

  /** @param {SignalFrame} frame */
  handleSignal(frame) {
    if (this.#closed || frame.from === this.localId) return;
    const peer = this.#session(frame.from);
    const done = frame.description ? peer.negotiator.handleDescription(frame.description) : frame.candidate ? peer.negotiator.handleCandidate(frame.candidate) : null;
    done?.catch((err) => this.#log.warn(`signal from ${frame.from} failed`, err));
  }

  /** @param {SubscriptionRelayFrame} frame */
  handleSubscription(frame) {
    let rules = this.paused.get(frame.from);
    if (!rules) this.paused.set(frame.from, (rules = { kinds: new Set(), sids: new Set() }));
    const media = frame.track ? this.local.get(frame.track) : undefined;
    if (frame.type === 'unsubscribe') {
      if (frame.track) rules.sids.add(frame.track);
      else for (const kind of frame.kind ? [frame.kind] : ['audio', 'video']) rules.kinds.add(kind);
    } else if (frame.track) {
      rules.sids.delete(frame.track);
      if (media && rules.kinds.delete(media.kind)) {
        // "none of this kind but this one": pin the others of the kind by sid.
        for (const m of this.local.values()) if (m.kind === media.kind && m.sid !== media.sid) rules.sids.add(m.sid);
      }
    } else {
      for (const kind of frame.kind ? [frame.kind] : ['audio', 'video']) {
        rules.kinds.delete(kind);
        for (const m of this.local.values()) if (m.kind === kind) rules.sids.delete(m.sid);
      }
    }
    const peer = this.peers.get(frame.from);
    if (peer) for (const sid of this.local.keys()) void peer.refreshSender(sid);
  }

  /** Whether `peerId` asked us not to send track `sid`. @param {string} peerId @param {string} sid */
  isPaused(peerId, sid) {
    const rules = this.paused.get(peerId);
    const media = this.local.get(sid);
    if (!rules || !media) return false;
    return rules.kinds.has(media.kind) || rules.sids.has(sid);
  }

  /** @param {PreferredQualityRelayFrame} frame */
  handlePreferredQuality(frame) {
    this.quality.set(frame.from, frame.quality);
    this.peers.get(frame.from)?.applyEncodings();
  }

  restartIce() {
    for (const peer of this.peers.values()) peer.restartIce();
  }

  /** @param {string | null} codec */
  setVideoCodec(codec) {
    const Sender = this.#opts.RTCRtpSenderImpl ?? /** @type {any} */ (globalThis).RTCRtpSender;
    this.videoCodecs = preferredVideoCodecs(Sender, codec);
    for (const peer of this.peers.values()) peer.preferCodecs();
  }

  /** @returns {Iterable<[string, RTCPeerConnection]>} */
  *peerConnections() {
    for (const [id, peer] of this.peers) yield [id, peer.pc];
  }

  close() {
    this.#closed = true;
    for (const peer of this.peers.values()) peer.close();
    this.peers.clear();
  }

  /** @internal @param {TrackSource} source */
  streamFor(source) {
    const group = source === 'screen' || source === 'screen_audio' ? 'screen' : 'media';
    let stream = this.#streams.get(group);
    if (!stream) this.#streams.set(group, (stream = new MediaStream()));
    return stream;
  }

  /** @internal */
  get options() {
    return this.#opts;
  }

  /** @internal */
  get logger() {
    return this.#log;
  }

  /** @param {string} remoteId */
  #session(remoteId) {
    let peer = this.peers.get(remoteId);
    if (!peer) {
      peer = new PeerSession(this, remoteId);
      this.peers.set(remoteId, peer);
    }
    return peer;
  }
}

/** @internal One remote participant's peer connection. */
export class PeerSession {
  /** @type {RTCPeerConnection} */
  pc;
  /** @type {PerfectNegotiator} */
  negotiator;
  /** Our senders by track sid. @type {Map<string, RTCRtpSender>} */
  senders = new Map();
  /** The remote's mid → track sid, from its annotated descriptions. @type {Map<string, string>} */
  remoteSids = new Map();

  #mesh;
  #log;
  #closed = false;
  #restartPending = false;

  /**
   * @param {MeshTransport} mesh
   * @param {string} remoteId
   */
  constructor(mesh, remoteId) {
    this.#mesh = mesh;
    this.remoteId = remoteId;
    this.#log = mesh.logger.child(remoteId.slice(-6));
    const opts = mesh.options;
    const PC = opts.RTCPeerConnectionImpl ?? globalThis.RTCPeerConnection;
    this.pc = new PC({ iceServers: opts.iceServers ?? [], bundlePolicy: 'max-bundle' });
    const initiator = isInitiator(opts.localId, remoteId);
    this.negotiator = new PerfectNegotiator(this.pc, {
      polite: isPolite(opts.localId, remoteId),
      initiator,
      logger: this.#log,
      send: (payload) => opts.callbacks.sendSignal({ type: 'signal', to: remoteId, ...payload }),
      outgoing: (description) => this.#annotate(description),
      incoming: (description) => this.#readAnnotations(description),
      onStable: () => this.applyEncodings(),
    });
    this.pc.ontrack = (ev) => {
      const mid = ev.transceiver?.mid ?? null;
      const sid = mid !== null ? (this.remoteSids.get(mid) ?? null) : null;
      opts.callbacks.onRemoteTrack(remoteId, sid, ev.track, ev.receiver);
    };
    this.pc.onconnectionstatechange = () => {
      const state = this.pc.connectionState;
      this.#log.debug('connection', state);
      opts.callbacks.onPeerState?.(remoteId, state);
      if (state === 'failed') this.restartIce();
    };
    for (const media of mesh.local.values()) this.addLocal(media);
    if (initiator) {
      // Make sure media can flow back even when we send nothing of a kind (viewers, audio-only publishers).
      for (const kind of /** @type {TrackKind[]} */ (['audio', 'video'])) {
        const has = this.pc.getTransceivers().some((t) => (t.receiver.track?.kind ?? null) === kind);
        if (!has) this.#prefer(this.pc.addTransceiver(kind, { direction: 'recvonly' }), kind);
      }
    }
  }

  /** @param {LocalMedia} media */
  addLocal(media) {
    if (this.#closed || this.senders.has(media.sid)) return;
    const sender = this.pc.addTrack(media.track, this.#mesh.streamFor(media.source));
    this.senders.set(media.sid, sender);
    const transceiver = this.pc.getTransceivers().find((t) => t.sender === sender);
    if (transceiver) this.#prefer(transceiver, media.kind);
    if (this.#isPaused(media.sid)) void sender.replaceTrack(null);
    this.#applyEncoding(media.sid);
  }

  /** @param {string} sid */
  removeLocal(sid) {
    const sender = this.senders.get(sid);
    if (!sender) return;
    this.senders.delete(sid);
    if (this.pc.signalingState !== 'closed') this.pc.removeTrack(sender);
  }

  /** Send the track again, or stop sending it, as the peer's subscription says. @param {string} sid */
  async refreshSender(sid) {
    const sender = this.senders.get(sid);
    const media = this.#mesh.local.get(sid);
    if (!sender || !media) return;
    const wanted = this.#isPaused(sid) ? null : media.track;
    if (sender.track !== wanted) {
      try {
        await sender.replaceTrack(wanted);
      } catch (err) {
        this.#log.warn('replaceTrack failed', err);
      }
    }
  }

  /** Re-apply the transport's codec preference to every video transceiver (used at the next negotiation). */
  preferCodecs() {
    for (const transceiver of this.pc.getTransceivers()) {
      if (transceiver.receiver.track?.kind === 'video' && transceiver.currentDirection !== 'stopped') this.#prefer(transceiver, 'video');
    }
  }

  /** Apply the peer's preferred quality to every video sender. */
  applyEncodings() {
    for (const sid of this.senders.keys()) this.#applyEncoding(sid);
  }

  restartIce() {
    if (this.#closed) return;
    if (!this.pc.remoteDescription) return; // never connected: the first offer is still to come
    if (this.#restartPending) return;
    this.#restartPending = true;
    queueMicrotask(() => {
      this.#restartPending = false;
      this.negotiator.restartIce();
    });
  }

  close() {
    this.#closed = true;
    this.negotiator.close();
    this.pc.ontrack = null;
    this.pc.onconnectionstatechange = null;
    try {
      this.pc.close();
    } catch {
      /* already closed */
    }
  }

  /** @param {string} sid */
  #isPaused(sid) {
    return this.#mesh.isPaused(this.remoteId, sid);
  }

  /** @param {RTCRtpTransceiver} transceiver @param {TrackKind} kind */
  #prefer(transceiver, kind) {
    if (kind === 'video') applyCodecPreferences(transceiver, this.#mesh.videoCodecs);
  }

  /** @param {string} sid */
  #applyEncoding(sid) {
    const media = this.#mesh.local.get(sid);
    const sender = this.senders.get(sid);
    if (!media || !sender || media.kind !== 'video' || typeof sender.getParameters !== 'function') return;
    const quality = this.#mesh.quality.get(this.remoteId) ?? 'auto';
    const preset = MESH_QUALITY[quality] ?? MESH_QUALITY.auto;
    const params = sender.getParameters();
    if (!params.encodings || params.encodings.length === 0) return; // not negotiated yet: onStable retries
    const encoding = params.encodings[0];
    const maxBitrate = Math.round(media.maxBitrate * preset.bitrateShare);
    const scale = media.source === 'camera' ? preset.scaleResolutionDownBy : 1;
    if (encoding.maxBitrate === maxBitrate && (encoding.scaleResolutionDownBy ?? 1) === scale) return;
    encoding.maxBitrate = maxBitrate;
    encoding.scaleResolutionDownBy = scale;
    sender.setParameters(params).catch((err) => this.#log.debug('setParameters failed', err));
  }

  /** @param {WireDescription} description */
  #annotate(description) {
    if (!description.sdp) return description;
    /** @type {Map<string, string>} */
    const midToSid = new Map();
    for (const transceiver of this.pc.getTransceivers()) {
      if (transceiver.mid === null) continue;
      for (const [sid, sender] of this.senders) if (transceiver.sender === sender) midToSid.set(transceiver.mid, sid);
    }
    return { ...description, sdp: annotateSdp(description.sdp, midToSid) };
  }

  /** @param {WireDescription} description */
  #readAnnotations(description) {
    if (!description.sdp) return description;
    for (const [mid, sid] of readSdpAnnotations(description.sdp)) this.remoteSids.set(mid, sid);
    return { ...description, sdp: stripSdpAnnotations(description.sdp) };
  }
}
