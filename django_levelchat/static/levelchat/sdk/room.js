/**
 * The Room: what an application codes against. It owns the signaling client and the media transports, and turns
 * their callbacks into public events. Media goes over the mesh (mesh.js: one connection per peer) or the SFU
 * (sfu.js: one connection to the room's worker), as the server's `welcome`/`resync` say (`room.sfu` is present in
 * SFU rooms: live, webinar, meetings past `SFU_MESH_LIMIT`). A mesh room being recorded also publishes to the SFU.
 * @module
 */

import { Emitter } from './emitter.js';
import { ErrorCode, LevelChatError, createError } from './errors.js';
import { ConnectionState, ParticipantEvent, RoomEvent } from './events.js';
import { Logger } from './logger.js';
import { captureCamera, captureMic, captureScreen, RESOLUTIONS, SCREEN_MAX_BITRATE } from './media.js';
import { MeshTransport } from './mesh.js';
import { SfuTransport } from './sfu.js';
import { LocalParticipant, RemoteParticipant } from './participant.js';
import { codePointLength, MAX_CHAT_LEN, MAX_EMOJI_LEN, PREFERRED_QUALITIES, SOURCE_KINDS } from './protocol.js';
import { QualityMonitor } from './quality.js';
import { EMPTY_ROSTER, reduceRoster } from './roster.js';
import { SignalingClient } from './signaling.js';
import { SpeakingDetector } from './speaker.js';
import { Track } from './track.js';

/** @import { RoomEventMap, ChatMessageEvent, ConnectionStateValue } from './events.js' */
/** @import { Participant } from './participant.js' */
/** @import { Transport, LocalMedia, MeshOptions } from './mesh.js' */
/** @import { SfuOptions } from './sfu.js' */
/** @import { ServerFrame, WelcomeFrame, ParticipantInfo, RoomInfo, ChatMessageInfo, TrackInfo, TrackSource, TrackKind, PreferredQuality, ClientMessage, QualityBand } from './protocol.js' */
/** @import { Resolution } from './media.js' */
/** @import { Roster, RosterChange, RosterFrame } from './roster.js' */
/** @import { SignalingOptions } from './signaling.js' */
/** @import { TokenClaims } from './jwt.js' */

/**
 * @internal
 * @typedef {object} RoomOptions
 * @property {TokenClaims} claims
 * @property {SignalingOptions} signaling
 * @property {Logger} logger
 * @property {RTCIceServer[] | null} [iceServers]  overrides `welcome.ice_servers`
 * @property {string | null} [codec]  pinned video codec
 * @property {boolean} [viewer]  a `joinLive` viewer: every publish call is refused client side
 * @property {string} [roomType]  what `joinLive` asked for
 * @property {typeof RTCPeerConnection} [RTCPeerConnectionImpl]
 * @property {(options: MeshOptions) => Transport} [createTransport]  the mesh transport (tests inject one)
 * @property {(options: SfuOptions) => SfuTransport} [createSfuTransport]  the SFU transport (tests inject one)
 * @property {boolean} [speakingDetection]  WebAudio on the local mic (default true where available)
 * @property {number} [qualityIntervalMs]
 */

/**
 * @typedef {object} CameraOptions
 * @property {Resolution} [resolution]  default `720p`
 * @property {boolean} [simulcast]  three layers on the SFU path; the mesh adapts per peer instead
 * @property {string} [codec]  pin a video codec for this room's mesh connections (`vp8`, `vp9`, `h264`, `av1`)
 * @property {string} [deviceId]
 * @property {MediaStreamTrack} [track]  publish this capture (e.g. a pre-join preview) instead of opening the camera
 */

/** @typedef {{ track: Track, media: LocalMedia, ownsCapture: boolean, simulcast: boolean, detector?: SpeakingDetector, onEnded: () => void }} LocalEntry */

/** @typedef {'mesh' | 'sfu'} MediaRoute */

let sidCounter = 0;

/** A fresh track sid. @param {TrackSource} source */
function newSid(source) {
  const random = Math.random().toString(36).slice(2, 10);
  return `TR_${source}-${(++sidCounter).toString(36)}${random}`;
}

const FINAL_STATES = new Set(['disconnected', 'failed']);

/**
 * The SFU fields of a `publish` frame: the transceivers' mids, and the layer names of a simulcast camera.
 * @param {{ mids: string[], layers: import('./protocol.js').Layer[] } | null} onSfu
 */
function sfuFields(onSfu) {
  if (!onSfu) return {};
  return onSfu.layers.length ? { mids: onSfu.mids, layers: onSfu.layers } : { mids: onSfu.mids };
}

/** @extends {Emitter<RoomEventMap>} */
export class Room extends Emitter {
  /** Resolves with the room once the roster is in (after `welcome`); rejects with a LevelChatError. @type {Promise<Room>} */
  ready;
  /** @type {ConnectionStateValue} */
  state = ConnectionState.Connecting;
  /** Why the room is disconnected or failed (its `code`: `left`, `removed`, `room_ended`, `replaced`, `token_expired`, `connection_failed`, …). @type {LevelChatError | null} */
  disconnectError = null;
  /** The room's public id. @type {string} */
  id;
  /** @type {string} */
  name = '';
  /** `1to1`, `meeting`, `live`, `webinar`… @type {string} */
  roomType = '';
  /** @type {Record<string, unknown>} */
  metadata = {};
  /** The current recording id (`RC_…`) or null. @type {string | null} */
  recording = null;
  /** Remote participants by id. @type {Map<string, RemoteParticipant>} */
  participants = new Map();
  /** You. Its `id` is set when `ready` resolves. @type {LocalParticipant} */
  localParticipant;
  /** The server's current dominant speaker. @type {Participant | null} */
  activeSpeaker = null;
  /** Public chat, oldest first: the history from `welcome`, then every message since. @type {ChatMessageEvent[]} */
  chatHistory = [];
  /** Whether this is a `joinLive` viewer (publishing is refused client side). */
  isViewer;
  /** False once the browser refused to autoplay an attached element: call `startAudio()` from a user gesture. */
  canPlaybackAudio = true;

  #opts;
  #log;
  #signaling;
  /** The mesh (null in SFU rooms). @type {Transport | null} */
  #transport = null;
  /** The connection to the SFU worker: in SFU rooms, and publish-only while a mesh room is recorded. */
  /** @type {SfuTransport | null} */
  #sfu = null;
  /** @type {MediaRoute} */
  #route = 'mesh';
  /** `room.sfu` of the last snapshot, then `sfu-state`: null in a mesh room. @type {string | null} */
  #sfuState = null;
  /** @type {RTCIceServer[]} */
  #iceServers = [];
  /** @type {Map<string, LocalEntry>} */
  #local = new Map();
  /** Sources being published right now (guards against two concurrent publishCamera calls). @type {Set<TrackSource>} */
  #publishing = new Set();
  /** Remote media that arrived before its track-published: participant id → arrivals. */
  /** @type {Map<string, { sid: string | null, track: MediaStreamTrack, receiver: RTCRtpReceiver }[]>} */
  #pendingMedia = new Map();
  /** The remote roster as data (roster.js); `participants` holds its objects. @type {Roster} */
  #roster = EMPTY_ROSTER;
  /** What we unsubscribed from: `${participantId}:${kind}`. @type {Set<string>} */
  #unsubscribed = new Set();
  /** Attached elements the browser refused to play (autoplay policy). @type {Set<HTMLMediaElement>} */
  #blocked = new Set();
  /** @type {QualityMonitor} */
  #quality;
  /** @type {QualityBand | null} */
  #reportedQuality = null;
  /** @type {(room: Room) => void} */
  #resolveReady = () => {};
  /** @type {(error: LevelChatError) => void} */
  #rejectReady = () => {};

  /**
   * @internal Rooms are made by `LevelChat.joinRoom` / `joinLive`.
   * @param {RoomOptions} options
   */
  constructor(options) {
    super();
    this.#opts = options;
    this.#log = options.logger;
    this.id = options.claims.room;
    this.roomType = options.roomType ?? '';
    this.isViewer = options.viewer ?? false;
    this.localParticipant = new LocalParticipant({
      id: '',
      identity: options.claims.identity,
      name: options.claims.name,
      role: options.claims.role,
      capabilities: options.claims.capabilities,
    });
    this.ready = new Promise((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    this.ready.catch(() => {}); // also reported as `error` and `connection-state`: not an unhandled rejection
    this.#signaling = new SignalingClient({ ...options.signaling, logger: this.#log.child('signal') });
    this.#signaling.onWelcome = (welcome, info) => this.#onWelcome(welcome, info);
    this.#signaling.onFrame = (frame) => this.#onFrame(frame);
    this.#signaling.onStateChange = (state, error) => this.#onSignalingState(state, error);
    this.#quality = new QualityMonitor({
      getPeers: () => this.#peerConnections(),
      getSignalingRtt: () => this.#signaling.rttMs,
      onChange: (band, score) => this.#onLocalQuality(band, score),
      intervalMs: options.qualityIntervalMs,
      clock: options.signaling.clock,
    });
  }

  /** @internal Start connecting (called once by LevelChat). */
  connect() {
    this.#signaling.connect().catch(() => {}); // failures arrive through onStateChange
    return this;
  }

  /**
   * Where your media goes: `mesh` (a connection per peer) or `sfu` (one connection to the room's SFU worker: live
   * and webinar rooms, and meetings past the server's `SFU_MESH_LIMIT`, which move without leaving).
   * @returns {MediaRoute}
   */
  get mediaRoute() {
    return this.#route;
  }

  /**
   * Whether your published tracks also go to the SFU right now: always in an SFU room (while a worker is
   * available), and in a mesh room while it is recorded (the recorder takes them from the SFU).
   */
  get sfuPublishing() {
    return this.#sfu !== null;
  }

  /** The signaling round-trip time in ms (from pings), or null. */
  get signalingRttMs() {
    return this.#signaling.rttMs;
  }

  /**
   * Every participant, you first.
   * @returns {Participant[]}
   */
  get allParticipants() {
    return [this.localParticipant, ...this.participants.values()];
  }

  // ============================================================================================== publishing

  /**
   * Open the camera (or use `track`) and publish it. Rejects with `forbidden` for viewers and without
   * `publish:camera`, or with a device error (`permission_denied`, `device_not_found`, `device_in_use`).
   * @param {CameraOptions} [options]
   * @returns {Promise<Track>}
   */
  async publishCamera({ resolution = '720p', simulcast = true, codec, deviceId, track } = {}) {
    await this.#readyToPublish('camera');
    if (codec) {
      this.#opts.codec = codec;
      this.#transport?.setVideoCodec(codec);
    }
    return this.#publishSource('camera', async () => track ?? (await captureCamera({ resolution, deviceId })), {
      maxBitrate: (RESOLUTIONS[resolution] ?? RESOLUTIONS['720p']).maxBitrate,
      ownsCapture: !track,
      simulcast,
    });
  }

  /**
   * Open the microphone (or use `track`) and publish it.
   * @param {{ deviceId?: string, track?: MediaStreamTrack }} [options]
   * @returns {Promise<Track>}
   */
  async publishMic({ deviceId, track } = {}) {
    await this.#readyToPublish('microphone');
    return this.#publishSource('microphone', async () => track ?? (await captureMic({ deviceId })), {
      maxBitrate: 64_000,
      ownsCapture: !track,
    });
  }

  /**
   * Share a screen, window or tab (with its audio when `withAudio` and the browser offers it).
   * Returns the published tracks: the video, then the audio if any.
   * @param {{ withAudio?: boolean }} [options]
   * @returns {Promise<Track[]>}
   */
  async publishScreen({ withAudio = false } = {}) {
    await this.#readyToPublish('screen');
    if (this.#publishing.has('screen') || this.localParticipant.getTrack('screen')) {
      throw createError(ErrorCode.BAD_STATE, 'the screen is already shared');
    }
    this.#publishing.add('screen');
    let captured;
    try {
      captured = await captureScreen({ withAudio });
    } finally {
      this.#publishing.delete('screen');
    }
    const { video, audio } = captured;
    try {
      const tracks = [await this.#publishSource('screen', async () => video, { maxBitrate: SCREEN_MAX_BITRATE, ownsCapture: true })];
      if (audio) tracks.push(await this.#publishSource('screen_audio', async () => audio, { maxBitrate: 96_000, ownsCapture: true }));
      return tracks;
    } catch (err) {
      video.stop();
      audio?.stop();
      throw err;
    }
  }

  /**
   * Withdraw one of your tracks. The capture is stopped (camera light off) unless `{ stop: false }`.
   * @param {Track} track
   * @param {{ stop?: boolean }} [options]
   */
  async unpublish(track, { stop = true } = {}) {
    const entry = this.#local.get(track?.sid);
    if (!entry) throw createError(ErrorCode.UNKNOWN_TRACK, 'not one of your published tracks');
    this.#dropLocal(entry, stop);
    this.#emitLocalUnpublished(entry.track, null);
    if (this.#signaling.state === 'connected' || this.#signaling.state === 'reconnecting') {
      await this.#signaling.request({ type: 'unpublish', track: entry.track.sid });
    }
  }

  /**
   * Switch the camera or microphone to another device without renegotiating.
   * @param {'camera' | 'microphone'} source
   * @param {string} deviceId
   */
  async switchDevice(source, deviceId) {
    const entry = [...this.#local.values()].find((e) => e.track.source === source);
    if (!entry) throw createError(ErrorCode.BAD_STATE, `no ${source} is published`);
    const old = entry.media.track;
    const next = source === 'camera' ? await captureCamera({ deviceId }) : await captureMic({ deviceId });
    next.enabled = !entry.track.muted;
    old.removeEventListener('ended', entry.onEnded);
    next.addEventListener('ended', entry.onEnded);
    await this.#transport?.replaceTrack(entry.track.sid, next);
    await this.#sfu?.replaceTrack(entry.track.sid, next);
    entry.media.track = next;
    entry.track.setMediaStreamTrack(next);
    if (entry.ownsCapture) old.stop();
    entry.ownsCapture = true;
    if (source === 'microphone') this.#startDetector(entry);
  }

  // ============================================================================================= subscribing

  /**
   * Receive a participant's tracks again (all, or one kind). Needs `subscribe:all`.
   * @param {string} participantId
   * @param {TrackKind} [kind]
   */
  async subscribe(participantId, kind) {
    const participant = this.#remote(participantId);
    for (const k of kind ? [kind] : /** @type {TrackKind[]} */ (['audio', 'video'])) this.#unsubscribed.delete(`${participantId}:${k}`);
    await this.#signaling.request(kind ? { type: 'subscribe', participant: participantId, kind } : { type: 'subscribe', participant: participantId });
    for (const track of participant.tracks.values()) {
      if ((!kind || track.kind === kind) && track.mediaStreamTrack && !track.subscribed) this.#markSubscribed(track, participant);
    }
  }

  /**
   * Stop receiving a participant's tracks (all, or one kind): the publisher stops sending them to you.
   * @param {string} participantId
   * @param {TrackKind} [kind]
   */
  async unsubscribe(participantId, kind) {
    const participant = this.#remote(participantId);
    for (const k of kind ? [kind] : /** @type {TrackKind[]} */ (['audio', 'video'])) this.#unsubscribed.add(`${participantId}:${k}`);
    for (const track of participant.tracks.values()) {
      if ((!kind || track.kind === kind) && track.subscribed) this.#markUnsubscribed(track, participant);
    }
    await this.#signaling.request(kind ? { type: 'unsubscribe', participant: participantId, kind } : { type: 'unsubscribe', participant: participantId });
  }

  /**
   * The video quality you want to receive, from everyone or from one participant. In the mesh each publisher
   * adapts its sender toward you (resolution and bitrate); on the SFU path the worker picks a simulcast layer.
   * @param {PreferredQuality} quality  `low`, `medium`, `high` or `auto`
   * @param {{ participant?: string }} [options]
   */
  async setPreferredQuality(quality, { participant } = {}) {
    if (!PREFERRED_QUALITIES.includes(quality)) {
      throw createError(ErrorCode.INVALID_ARGUMENT, `quality must be one of ${PREFERRED_QUALITIES.join(', ')}`);
    }
    /** @type {ClientMessage} */
    const message = participant ? { type: 'set-preferred-quality', quality, participant } : { type: 'set-preferred-quality', quality };
    await this.#signaling.request(message);
  }

  // ==================================================================================== chat and reactions

  /**
   * Send a chat message to everyone, or privately `to` one participant id. Resolves with its id.
   * @param {string} text  1 to 2000 characters, not only whitespace
   * @param {{ to?: string }} [options]
   * @returns {Promise<{ id: string | null }>}
   */
  async sendChat(text, { to } = {}) {
    if (typeof text !== 'string' || !text.trim() || codePointLength(text) > MAX_CHAT_LEN) {
      throw createError(ErrorCode.INVALID_ARGUMENT, `a chat message is 1 to ${MAX_CHAT_LEN} characters, not only whitespace`);
    }
    this.#assertCan('chat:send');
    const ack = /** @type {Record<string, unknown>} */ (await this.#signaling.request(to ? { type: 'chat', text, to } : { type: 'chat', text }));
    const id = typeof ack.id === 'string' ? ack.id : null;
    return { id };
  }

  /**
   * Send an ephemeral reaction (an emoji) to everyone.
   * @param {string} emoji
   */
  async react(emoji) {
    if (typeof emoji !== 'string' || !emoji.trim() || codePointLength(emoji) > MAX_EMOJI_LEN) {
      throw createError(ErrorCode.INVALID_ARGUMENT, `a reaction is 1 to ${MAX_EMOJI_LEN} characters`);
    }
    this.#assertCan('react:send');
    await this.#signaling.request({ type: 'reaction', emoji });
  }

  /** Raise your hand (needs `hand:raise`); everyone sees `participant-updated` with your `handRaisedAt`. */
  async raiseHand() {
    this.#assertCan('hand:raise');
    await this.#signaling.request({ type: 'hand', raised: true });
  }

  /**
   * Lower your own hand, or (a host, `room:admin`) someone else's.
   * @param {string} [participantId]
   */
  async lowerHand(participantId) {
    if (participantId && participantId !== this.localParticipant.id) {
      await this.#signaling.request({ type: 'hand', raised: false, participant: participantId });
      return;
    }
    await this.#signaling.request({ type: 'hand', raised: false });
  }

  // ================================================================================================ admin

  /** Start recording the room (needs `record:control` and an SFU worker: else `sfu_unavailable`). */
  async record() {
    await this.#signaling.request({ type: 'record-start' });
  }

  /** Stop recording. */
  async stopRecording() {
    await this.#signaling.request({ type: 'record-stop' });
  }

  /**
   * Admin: mute someone's tracks (all, one kind, or one track sid). Only they can unmute.
   * @param {string} participantId
   * @param {{ kind?: TrackKind, track?: string }} [options]
   */
  async muteParticipant(participantId, { kind, track } = {}) {
    /** @type {ClientMessage} */
    const message = { type: 'mute-participant', participant: participantId };
    if (track) message.track = track;
    else if (kind) message.kind = kind;
    await this.#signaling.request(message);
  }

  /**
   * Admin: remove someone; their current tokens stop working.
   * @param {string} participantId
   * @param {{ reason?: string }} [options]
   */
  async removeParticipant(participantId, { reason } = {}) {
    await this.#signaling.request(reason ? { type: 'remove-participant', participant: participantId, reason } : { type: 'remove-participant', participant: participantId });
  }

  /**
   * Admin: end the room for everyone.
   * @param {string} [reason]
   */
  async endRoom(reason) {
    await this.#signaling.request(reason ? { type: 'end-room', reason } : { type: 'end-room' });
  }

  /**
   * Start playback the browser blocked (autoplay policy). Call it from a user gesture (a click) after
   * `audio-playback-changed` reported false.
   */
  async startAudio() {
    const blocked = [...this.#blocked];
    this.#blocked.clear();
    const results = await Promise.allSettled(blocked.map((el) => el.play()));
    const failed = blocked.filter((_, i) => results[i].status === 'rejected');
    for (const el of failed) this.#blocked.add(el);
    this.#setPlayback(failed.length === 0);
  }

  /** @param {boolean} can */
  #setPlayback(can) {
    if (this.canPlaybackAudio === can) return;
    this.canPlaybackAudio = can;
    this.emit(RoomEvent.AudioPlaybackChanged, can);
  }

  // ================================================================================================= leave

  /** Leave the room: tell the server, close every peer connection and stop every local capture. */
  async leave() {
    if (FINAL_STATES.has(this.state)) return;
    await this.#signaling.leave();
  }

  // ======================================================================================== internals

  /** @param {TrackSource} source */
  async #readyToPublish(source) {
    if (this.isViewer) throw createError(ErrorCode.FORBIDDEN, 'a joinLive viewer cannot publish');
    await this.ready;
    if (FINAL_STATES.has(this.state)) throw createError(ErrorCode.NOT_CONNECTED, 'the room is over');
    const cap = source === 'camera' ? 'publish:camera' : source === 'microphone' ? 'publish:mic' : 'publish:screen';
    this.#assertCan(cap);
  }

  /** @param {string} capability */
  #assertCan(capability) {
    if (this.localParticipant.id && !this.localParticipant.can(capability)) {
      throw createError(ErrorCode.FORBIDDEN, `${capability} is not in your capabilities`);
    }
  }

  /**
   * @param {TrackSource} source
   * @param {() => Promise<MediaStreamTrack>} capture
   * @param {{ maxBitrate: number, ownsCapture: boolean, simulcast?: boolean }} options
   */
  async #publishSource(source, capture, { maxBitrate, ownsCapture, simulcast = false }) {
    if (this.#publishing.has(source) || this.localParticipant.getTrack(source)) {
      throw createError(ErrorCode.BAD_STATE, `a ${source} track is already published`);
    }
    this.#publishing.add(source);
    /** @type {MediaStreamTrack | null} */
    let mst = null;
    try {
      mst = await capture();
      const kind = SOURCE_KINDS[source];
      const sid = newSid(source);
      const track = new Track(
        { sid, kind, source, participantId: this.localParticipant.id, isLocal: true, mediaStreamTrack: mst },
        { setMuted: (t, muted) => this.#setLocalMuted(t, muted) },
      );
      /** @type {LocalEntry} */
      const entry = {
        track,
        media: { sid, kind, source, track: mst, maxBitrate },
        ownsCapture,
        simulcast,
        onEnded: () => this.#onLocalEnded(entry),
      };
      // On the SFU the transceivers are negotiated first: their mids go in the publish frame.
      const sfu = this.#sfu;
      /** @type {{ mids: string[], layers: import('./protocol.js').Layer[] } | null} */
      let onSfu = null;
      if (sfu) {
        try {
          onSfu = await sfu.publish(entry.media, { simulcast: simulcast && sfu.receiving });
        } catch (err) {
          if (this.#route === 'sfu' && this.#sfu === sfu) throw err;
          this.#log.info('not published to the SFU', err);
        }
      }
      try {
        await this.#signaling.request({ type: 'publish', track: { sid, kind, source, muted: false, ...sfuFields(onSfu) } });
      } catch (err) {
        sfu?.unpublish(sid);
        throw err;
      }
      this.#local.set(sid, entry);
      this.localParticipant.tracks.set(sid, track);
      mst.addEventListener('ended', entry.onEnded);
      this.#transport?.publish(entry.media);
      if (this.#sfu && (this.#sfu !== sfu || !onSfu)) this.#announceOnSfu(this.#sfu, entry); // it opened meanwhile
      if (source === 'microphone') this.#startDetector(entry);
      this.emit(RoomEvent.LocalTrackPublished, track);
      this.localParticipant.fire(ParticipantEvent.TrackPublished, track);
      return track;
    } catch (err) {
      if (ownsCapture) mst?.stop();
      throw err;
    } finally {
      this.#publishing.delete(source);
    }
  }

  /** @param {LocalEntry} entry */
  #startDetector(entry) {
    entry.detector?.stop();
    entry.detector = undefined;
    if (this.#opts.speakingDetection === false || !SpeakingDetector.supported) return;
    const local = this.localParticipant;
    const detector = new SpeakingDetector(entry.media.track, {
      clock: this.#opts.signaling.clock,
      onSpeakingChanged: (speaking) => {
        local.isSpeaking = speaking;
        if (speaking) local.lastSpokeAt = Date.now();
        this.emit(RoomEvent.SpeakingChanged, local, speaking);
        local.fire(ParticipantEvent.SpeakingChanged, speaking);
      },
      onReport: (level) => {
        if (this.#signaling.isOpen && !entry.track.muted) this.#signaling.send({ type: 'audio-level', level });
      },
    });
    try {
      detector.start();
      entry.detector = detector;
      local.setLevelSource(() => detector.state.level);
    } catch (err) {
      this.#log.info('no speaking detection', err);
    }
  }

  /** @param {Track} track @param {boolean} muted */
  async #setLocalMuted(track, muted) {
    if (track.muted === muted) return;
    track.muted = muted;
    this.#sfu?.setMuted(track.sid, muted);
    this.emit(RoomEvent.TrackMuted, track, this.localParticipant, null);
    this.localParticipant.fire(ParticipantEvent.TrackMuted, track);
    if (this.#local.has(track.sid) && !FINAL_STATES.has(this.state)) {
      await this.#signaling.request({ type: 'mute', track: track.sid, muted });
    }
  }

  /** A local capture ended outside the SDK (browser "Stop sharing", device unplugged). @param {LocalEntry} entry */
  #onLocalEnded(entry) {
    if (!this.#local.has(entry.track.sid)) return;
    this.emit(RoomEvent.LocalTrackEnded, entry.track);
    this.unpublish(entry.track).catch((err) => this.#log.info('unpublish after ended failed', err));
  }

  /** @param {LocalEntry} entry @param {boolean} stop */
  #dropLocal(entry, stop) {
    this.#local.delete(entry.track.sid);
    this.localParticipant.tracks.delete(entry.track.sid);
    entry.media.track.removeEventListener('ended', entry.onEnded);
    entry.detector?.stop();
    if (entry.track.source === 'microphone') this.localParticipant.setLevelSource(() => 0);
    this.#transport?.unpublish(entry.track.sid);
    this.#sfu?.unpublish(entry.track.sid);
    if (stop && entry.ownsCapture) entry.media.track.stop();
  }

  /** @param {Track} track @param {string | null} reason */
  #emitLocalUnpublished(track, reason) {
    this.emit(RoomEvent.LocalTrackUnpublished, track, reason);
    this.localParticipant.fire(ParticipantEvent.TrackUnpublished, track);
  }

  /** @param {string} id */
  #remote(id) {
    const participant = this.participants.get(id);
    if (!participant) throw createError(ErrorCode.UNKNOWN_PARTICIPANT, `no participant ${id} in this room`);
    return participant;
  }

  /** @param {string | null | undefined} id @returns {Participant | undefined} */
  #participant(id) {
    if (!id) return undefined;
    return id === this.localParticipant.id ? this.localParticipant : this.participants.get(id);
  }

  // ------------------------------------------------------------------------------------- signaling events

  /** @param {string} state @param {LevelChatError | null} error */
  #onSignalingState(state, error) {
    if (state === 'connected' || state === 'idle') return; // 'connected' is emitted once the welcome is applied
    if (state === 'connecting' && this.state === 'connecting') {
      this.emit(RoomEvent.ConnectionState, ConnectionState.Connecting, null);
      return;
    }
    if (state === 'reconnecting') {
      this.#setState(ConnectionState.Reconnecting, error);
      return;
    }
    if (state === 'disconnected' || state === 'failed') this.#end(/** @type {'disconnected' | 'failed'} */ (state), error);
  }

  /** @param {ConnectionStateValue} state @param {LevelChatError | null} error */
  #setState(state, error) {
    if (this.state === state) return;
    this.state = state;
    this.emit(RoomEvent.ConnectionState, state, error);
  }

  /** @param {'disconnected' | 'failed'} state @param {LevelChatError | null} error */
  #end(state, error) {
    if (FINAL_STATES.has(this.state)) return;
    const reason = error ?? createError(ErrorCode.CONNECTION_CLOSED, 'the connection closed');
    this.disconnectError = reason;
    this.#quality.stop();
    this.#transport?.close();
    this.#transport = null;
    this.#sfu?.close();
    this.#sfu = null;
    for (const entry of [...this.#local.values()]) this.#dropLocal(entry, true);
    for (const participant of this.participants.values()) {
      for (const track of participant.tracks.values()) {
        track.subscribed = false;
        track.setMediaStreamTrack(null);
      }
    }
    this.#setState(state, reason);
    if (state === 'failed') this.emit(RoomEvent.Error, reason);
    this.#rejectReady(reason);
  }

  /**
   * @param {WelcomeFrame} welcome
   * @param {{ resumed: boolean, first: boolean }} info
   */
  #onWelcome(welcome, { resumed, first }) {
    this.#applyRoom(welcome.room);
    const you = welcome.you;
    const local = this.localParticipant;
    const newSession = local.id !== you.id;
    local.id = you.id;
    local.identity = you.identity;
    local.name = you.name || you.identity;
    local.role = you.role ?? local.role;
    local.metadata = you.metadata ?? {};
    local.capabilities = you.capabilities ?? [];
    local.joinedAt = null;
    if (first || newSession) {
      if (!first) this.#log.info('the session could not be resumed; joined as a new participant');
      this.#transport?.close();
      this.#sfu?.close();
      this.#sfu = null;
      this.#iceServers = this.#opts.iceServers ?? welcome.ice_servers ?? [];
      this.#route = welcome.room.sfu ? 'sfu' : 'mesh';
      this.#transport = this.#route === 'mesh' ? this.#createTransport(welcome.you.id) : null;
      for (const track of local.tracks.values()) track.participantId = you.id;
    }
    this.#applyRoster(welcome.roster, { announce: !first, newSession: newSession && !first });
    this.#mergeChat(welcome.chat ?? [], true);
    if (!first && newSession) this.#republish();
    // Media survives the blip: fresh ICE on the mesh connections. Not toward the SFU (aiortc cannot restart ICE),
    // whose connection does not depend on the signaling socket.
    else if (resumed) this.#transport?.restartIce();
    this.#syncSfu();
    this.#setState(ConnectionState.Connected, null);
    if (first) {
      this.#quality.start();
      this.#resolveReady(this);
    }
    if (this.#reportedQuality) this.#signaling.send({ type: 'quality-report', quality: this.#reportedQuality });
  }

  /** @param {string} localId */
  #createTransport(localId) {
    /** @type {MeshOptions} */
    const options = {
      localId,
      iceServers: this.#iceServers,
      codec: this.#opts.codec ?? null,
      RTCPeerConnectionImpl: this.#opts.RTCPeerConnectionImpl,
      logger: this.#log.child('mesh'),
      callbacks: {
        sendSignal: (message) => {
          if (this.#signaling.state === 'connected' || this.#signaling.state === 'reconnecting') this.#signaling.send(message);
        },
        onRemoteTrack: (pid, sid, track, receiver) => this.#onRemoteMedia(pid, sid, track, receiver),
      },
    };
    const transport = this.#opts.createTransport ? this.#opts.createTransport(options) : new MeshTransport(options);
    for (const entry of this.#local.values()) transport.publish(entry.media);
    return transport;
  }

  /** After a fresh (non-resumed) session: announce our tracks again (the SFU ones once the SFU connection is up). */
  #republish() {
    if (this.#route === 'sfu') return; // #syncSfu opens a new SFU connection, which announces them
    for (const entry of this.#local.values()) {
      const { sid, kind, source } = entry.media;
      this.#signaling
        .request({ type: 'publish', track: { sid, kind, source, muted: entry.track.muted } })
        .catch((err) => this.emit(RoomEvent.Error, err));
    }
  }

  /** @param {RoomInfo} room */
  #applyRoom(room) {
    this.#sfuState = room.sfu ?? null;
    if (room.sfu && this.#route === 'mesh' && this.localParticipant.id) this.#route = 'sfu'; // the meeting moved
    this.id = room.id || this.id;
    this.name = room.name ?? this.name;
    this.roomType = room.room_type ?? this.roomType;
    this.metadata = room.metadata ?? {};
    const recording = room.recording ?? null;
    if (recording !== this.recording) {
      const was = this.recording;
      this.recording = recording;
      if (was !== null || recording !== null) {
        this.emit(RoomEvent.Recording, recording ? 'started' : 'stopped', recording ? { recording } : {});
      }
    }
  }

  /**
   * Make the participant map equal to a snapshot, emitting what changed.
   * @param {ParticipantInfo[]} roster
   * @param {{ announce: boolean, newSession?: boolean }} options  announce = emit events for differences
   */
  #applyRoster(roster, { announce, newSession = false }) {
    if (newSession) {
      // Our old peer connections are gone: the media of those who stay comes again on new ones.
      const ids = new Set(roster.map((p) => p.id));
      for (const participant of this.participants.values()) {
        if (!ids.has(participant.id)) continue;
        for (const track of participant.tracks.values()) if (track.subscribed) this.#markUnsubscribed(track, participant);
      }
    }
    this.#applyChanges(this.#reduce({ type: 'snapshot', roster }), announce);
    for (const info of roster) if (info.id !== this.localParticipant.id) this.#transport?.addParticipant(info.id);
  }

  /**
   * Run a roster frame through the reducer (roster.js) and keep its result; returns what changed.
   * @param {RosterFrame} frame
   */
  #reduce(frame) {
    const { roster, changes } = reduceRoster(this.#roster, frame, this.localParticipant.id);
    this.#roster = roster;
    return changes;
  }

  /**
   * Bring the Participant and Track objects in line with the reducer's changes, and announce them (joins, updates
   * and reconnecting states only when `announce`; track removals and mutes always, as the objects change).
   * @param {RosterChange[]} changes
   * @param {boolean} announce
   */
  #applyChanges(changes, announce) {
    for (const change of changes) {
      const person = this.#roster.get(change.id);
      const participant = this.participants.get(change.id);
      switch (change.type) {
        case 'joined': {
          if (!person) break;
          const joined = new RemoteParticipant({ id: person.id, identity: person.identity, name: person.name, role: person.role, metadata: person.metadata, hand: person.hand, quality: person.quality, state: person.reconnecting ? 'reconnecting' : undefined });
          this.participants.set(person.id, joined);
          if (announce) this.emit(RoomEvent.ParticipantJoined, joined);
          break;
        }
        case 'left':
          if (participant) this.#removeParticipant(participant, change.reason);
          break;
        case 'updated':
          if (!participant || !person) break;
          participant.name = person.name;
          participant.role = person.role;
          participant.metadata = person.metadata;
          participant.handRaisedAt = person.hand;
          if (announce) {
            this.emit(RoomEvent.ParticipantUpdated, participant);
            participant.fire(ParticipantEvent.Updated);
          }
          break;
        case 'reconnecting':
          if (!participant) break;
          participant.reconnecting = change.reconnecting;
          if (announce) this.emit(change.reconnecting ? RoomEvent.ParticipantReconnecting : RoomEvent.ParticipantReconnected, participant);
          break;
        case 'track-published': {
          const info = person?.tracks.get(change.sid);
          if (participant && info) this.#addRemoteTrack(participant, info, announce);
          break;
        }
        case 'track-unpublished': {
          const track = participant?.tracks.get(change.sid);
          if (participant && track) this.#removeRemoteTrack(participant, track);
          break;
        }
        case 'track-muted': {
          const track = participant?.tracks.get(change.sid);
          if (!participant || !track) break;
          track.muted = change.muted;
          this.emit(RoomEvent.TrackMuted, track, participant, change.by);
          participant.fire(ParticipantEvent.TrackMuted, track);
          break;
        }
        case 'quality':
          if (!participant) break;
          participant.connectionQuality = /** @type {QualityBand} */ (change.quality);
          this.emit(RoomEvent.ConnectionQuality, participant.connectionQuality, participant);
          participant.fire(ParticipantEvent.ConnectionQuality, participant.connectionQuality);
          break;
      }
    }
  }

  /** @param {ChatMessageInfo[]} messages @param {boolean} history */
  #mergeChat(messages, history) {
    const known = new Set(this.chatHistory.map((m) => m.id));
    for (const message of messages) {
      if (known.has(message.id)) continue;
      const event = this.#chatEvent(message, history);
      this.chatHistory.push(event);
      if (!history) this.emit(RoomEvent.ChatMessage, event);
    }
    this.chatHistory.sort((a, b) => a.ts - b.ts);
    if (this.chatHistory.length > 500) this.chatHistory.splice(0, this.chatHistory.length - 500);
  }

  /** @param {ChatMessageInfo} m @param {boolean} history @returns {ChatMessageEvent} */
  #chatEvent(m, history) {
    return { id: m.id, from: m.from, participant: this.#participant(m.from?.id), text: m.text, to: m.to ?? null, ts: m.ts, history };
  }

  /** @param {RemoteParticipant} participant @param {string} reason */
  #removeParticipant(participant, reason) {
    for (const track of [...participant.tracks.values()]) {
      if (track.subscribed) this.#markUnsubscribed(track, participant);
      track.setMediaStreamTrack(null);
    }
    this.participants.delete(participant.id);
    this.#pendingMedia.delete(participant.id);
    for (const key of [...this.#unsubscribed]) if (key.startsWith(`${participant.id}:`)) this.#unsubscribed.delete(key);
    this.#transport?.removeParticipant(participant.id);
    if (this.activeSpeaker === participant) this.activeSpeaker = null;
    this.emit(RoomEvent.ParticipantLeft, participant, reason);
  }

  /** @param {RemoteParticipant} participant @param {TrackInfo} info @param {boolean} announce */
  #addRemoteTrack(participant, info, announce) {
    const track = new Track({
      sid: info.sid,
      kind: info.kind,
      source: info.source,
      participantId: participant.id,
      muted: info.muted ?? false,
      name: info.name,
      layers: info.layers,
    });
    track.onPlaybackBlocked = (el) => {
      this.#blocked.add(el);
      this.#setPlayback(false);
    };
    participant.tracks.set(track.sid, track);
    if (announce) {
      this.emit(RoomEvent.TrackPublished, track, participant);
      participant.fire(ParticipantEvent.TrackPublished, track);
    }
    this.#matchPendingMedia(participant);
  }

  /** @param {RemoteParticipant} participant @param {Track} track */
  #removeRemoteTrack(participant, track) {
    if (track.subscribed) this.#markUnsubscribed(track, participant);
    participant.tracks.delete(track.sid);
    track.setMediaStreamTrack(null);
    this.emit(RoomEvent.TrackUnpublished, track, participant);
    participant.fire(ParticipantEvent.TrackUnpublished, track);
  }

  /**
   * Remote media arrived on a peer connection.
   * @param {string} pid @param {string | null} sid @param {MediaStreamTrack} mst @param {RTCRtpReceiver} receiver
   */
  #onRemoteMedia(pid, sid, mst, receiver) {
    const participant = this.participants.get(pid);
    const track = participant ? this.#trackForMedia(participant, sid, mst.kind) : undefined;
    if (!participant || !track) {
      let list = this.#pendingMedia.get(pid);
      if (!list) this.#pendingMedia.set(pid, (list = []));
      list.push({ sid, track: mst, receiver });
      return;
    }
    this.#attachMedia(participant, track, mst, receiver);
  }

  /** @param {RemoteParticipant} participant @param {string | null} sid @param {string} kind */
  #trackForMedia(participant, sid, kind) {
    if (sid) return participant.tracks.get(sid);
    // An unannotated peer: the first published track of that kind without media (camera/mic before screen).
    const candidates = [...participant.tracks.values()].filter((t) => t.kind === kind && !t.mediaStreamTrack);
    return candidates.find((t) => t.source === 'camera' || t.source === 'microphone') ?? candidates[0];
  }

  /** @param {RemoteParticipant} participant */
  #matchPendingMedia(participant) {
    const list = this.#pendingMedia.get(participant.id);
    if (!list) return;
    for (const item of [...list]) {
      const track = this.#trackForMedia(participant, item.sid, item.track.kind);
      if (!track) continue;
      list.splice(list.indexOf(item), 1);
      this.#attachMedia(participant, track, item.track, item.receiver);
    }
    if (list.length === 0) this.#pendingMedia.delete(participant.id);
  }

  /** @param {RemoteParticipant} participant @param {Track} track @param {MediaStreamTrack} mst @param {RTCRtpReceiver} receiver */
  #attachMedia(participant, track, mst, receiver) {
    track.receiver = receiver;
    if (track.mediaStreamTrack !== mst) track.setMediaStreamTrack(mst);
    if (!track.subscribed && !this.#unsubscribed.has(`${participant.id}:${track.kind}`)) this.#markSubscribed(track, participant);
  }

  /** @param {Track} track @param {RemoteParticipant} participant */
  #markSubscribed(track, participant) {
    track.subscribed = true;
    this.emit(RoomEvent.TrackSubscribed, track, participant);
    participant.fire(ParticipantEvent.TrackSubscribed, track);
  }

  /** @param {Track} track @param {RemoteParticipant} participant */
  #markUnsubscribed(track, participant) {
    track.subscribed = false;
    this.emit(RoomEvent.TrackUnsubscribed, track, participant);
    participant.fire(ParticipantEvent.TrackUnsubscribed, track);
  }

  /** @param {QualityBand} band @param {number} score */
  #onLocalQuality(band, score) {
    const local = this.localParticipant;
    local.connectionQuality = band;
    this.#reportedQuality = band;
    this.emit(RoomEvent.ConnectionQuality, band, local);
    local.fire(ParticipantEvent.ConnectionQuality, band);
    if (this.#signaling.isOpen) this.#signaling.send({ type: 'quality-report', quality: band, score });
  }

  /** @param {ServerFrame} frame */
  #onFrame(frame) {
    switch (frame.type) {
      case 'signal':
        this.#transport?.handleSignal(frame);
        return;
      case 'subscribe':
      case 'unsubscribe':
        this.#transport?.handleSubscription(frame);
        return;
      case 'set-preferred-quality':
        this.#transport?.handlePreferredQuality(frame);
        return;
      case 'resync':
        this.#applyRoom(frame.room);
        this.#applyRoster(frame.roster, { announce: true });
        this.#mergeChat(frame.chat ?? [], false);
        this.#syncSfu();
        return;
      case 'sfu-signal':
        void this.#sfu?.handleSignal(frame);
        return;
      case 'layer-demand':
        void this.#sfu?.handleLayerDemand(frame);
        return;
      case 'sfu-state':
        this.#onSfuState(frame.state);
        return;
      case 'participant-joined':
      case 'participant-left':
      case 'participant-updated':
      case 'participant-reconnecting':
      case 'participant-reconnected':
      case 'track-published':
      case 'track-unpublished':
      case 'track-muted':
      case 'connection-quality':
        this.#onRosterFrame(frame);
        return;
      case 'chat-message':
        if (frame.to) {
          const event = this.#chatEvent(frame, false);
          this.emit(RoomEvent.ChatMessage, event);
        } else this.#mergeChat([frame], false);
        return;
      case 'reaction':
        this.emit(RoomEvent.Reaction, { emoji: frame.emoji, from: frame.from, participant: this.#participant(frame.from?.id) });
        return;
      case 'active-speaker':
        this.#onActiveSpeaker(frame.participant);
        return;
      case 'recording':
        this.recording = frame.state === 'started' ? (frame.recording ?? this.recording ?? '') : null;
        this.emit(RoomEvent.Recording, frame.state, { recording: frame.recording, reason: frame.reason });
        this.#syncSfu();
        return;
      case 'room-ended':
        this.#log.info('the room ended', frame.reason);
        return;
      case 'error':
        this.emit(RoomEvent.Error, createError(frame.code, frame.message, { field: frame.field, retryAfter: frame.retry_after }));
        return;
      default:
        this.#log.debug('ignoring', frame.type);
    }
  }

  /**
   * `unavailable`: the worker is gone; close the SFU connection (mesh media goes on). `ready`: a worker serves the
   * room (again): connect to it. In a mesh room `ready` may also mean the meeting moved to the SFU: the snapshot
   * (`resync`) says so with `room.sfu`.
   * @param {'ready' | 'unavailable'} state
   */
  #onSfuState(state) {
    this.#sfuState = state;
    if (state === 'unavailable') {
      this.#sfu?.close();
      this.#sfu = null;
      return;
    }
    if (this.#route === 'mesh') this.#signaling.requestResync();
    this.#syncSfu();
  }

  /**
   * Have an SFU connection exactly when one is needed: in an SFU room (receiving and publishing) or in a recorded
   * mesh room (publishing only), unless the worker is unavailable.
   */
  #syncSfu() {
    if (FINAL_STATES.has(this.state) || !this.localParticipant.id) return;
    const receive = this.#route === 'sfu';
    const wanted = (receive || this.recording !== null) && this.#sfuState !== 'unavailable';
    if (this.#sfu && (!wanted || this.#sfu.receiving !== receive)) {
      this.#sfu.close();
      this.#sfu = null;
    }
    if (wanted && !this.#sfu) this.#openSfu(receive);
  }

  /** @param {boolean} receive */
  #openSfu(receive) {
    /** @type {SfuOptions} */
    const options = {
      localId: this.localParticipant.id,
      iceServers: this.#iceServers,
      receive,
      RTCPeerConnectionImpl: this.#opts.RTCPeerConnectionImpl,
      logger: this.#log.child('sfu'),
      callbacks: {
        request: (message) => this.#signaling.request(message, { timeoutMs: 60_000 }),
        onRemoteTrack: (pid, sid, track, receiver) => this.#onRemoteMedia(pid, sid, track, receiver),
        onState: (state) => {
          // A meeting that moved to the SFU: the mesh goes once the SFU connection carries the media.
          if (state === 'connected' && this.#route === 'sfu' && this.#sfu === sfu && this.#transport) {
            this.#transport.close();
            this.#transport = null;
          }
        },
      },
    };
    const sfu = this.#opts.createSfuTransport ? this.#opts.createSfuTransport(options) : new SfuTransport(options);
    this.#sfu = sfu;
    for (const entry of this.#local.values()) this.#announceOnSfu(sfu, entry);
  }

  /**
   * Publish an already announced track on a (new) SFU connection, then give the worker its mids: `publish` again
   * with the same sid (docs/protocol.md: a re-announce, not relayed).
   * @param {SfuTransport} sfu @param {LocalEntry} entry
   */
  #announceOnSfu(sfu, entry) {
    const { sid, kind, source } = entry.media;
    sfu
      .publish(entry.media, { simulcast: entry.simulcast && sfu.receiving }) // a recording leg: one layer each
      .then((onSfu) => {
        if (this.#sfu !== sfu || this.#local.get(sid) !== entry) return;
        sfu.setMuted(sid, entry.track.muted);
        return this.#signaling.request({ type: 'publish', track: { sid, kind, source, muted: entry.track.muted, ...sfuFields(onSfu) } });
      })
      .catch((err) => {
        if (this.#sfu === sfu) this.#log.info(`${sid} not on the SFU`, err);
      });
  }

  /** @returns {Iterable<[string, RTCPeerConnection]>} */
  *#peerConnections() {
    if (this.#transport) yield* this.#transport.peerConnections();
    if (this.#sfu) yield* this.#sfu.peerConnections();
  }

  /**
   * A roster frame: our own state is the room's to handle (we are not in the roster); the rest goes through the
   * reducer.
   * @param {RosterFrame} frame
   */
  #onRosterFrame(frame) {
    const local = this.localParticipant;
    if (frame.type === 'participant-updated' && frame.participant.id === local.id) {
      this.#onLocalUpdated(frame.participant);
      return;
    }
    if (frame.type === 'track-unpublished' && frame.participant === local.id) {
      const entry = this.#local.get(frame.track);
      if (!entry) return; // we unpublished it ourselves
      this.#dropLocal(entry, true); // e.g. capability_revoked
      this.#emitLocalUnpublished(entry.track, frame.reason ?? null);
      return;
    }
    if (frame.type === 'track-muted' && frame.participant === local.id) {
      const track = local.tracks.get(frame.track);
      if (!track || track.muted === frame.muted) return; // the echo of our own mute
      // An admin muted us: stop sending. Only we can unmute.
      if (track.mediaStreamTrack) track.mediaStreamTrack.enabled = !frame.muted;
      track.muted = frame.muted;
      this.emit(RoomEvent.TrackMuted, track, local, frame.by ?? null);
      local.fire(ParticipantEvent.TrackMuted, track);
      return;
    }
    this.#applyChanges(this.#reduce(frame), true);
    if (frame.type === 'participant-joined' && frame.participant.id !== local.id) this.#transport?.addParticipant(frame.participant.id);
  }

  /** @param {Partial<ParticipantInfo> & { id: string }} info */
  #onLocalUpdated(info) {
    const local = this.localParticipant;
    if (info.name !== undefined) local.name = info.name || local.identity;
    if (info.role !== undefined) local.role = info.role;
    if (info.metadata !== undefined) local.metadata = info.metadata;
    if (info.hand !== undefined) local.handRaisedAt = typeof info.hand === 'number' ? info.hand : null;
    if (info.capabilities) local.capabilities = info.capabilities;
    this.emit(RoomEvent.ParticipantUpdated, local);
    local.fire(ParticipantEvent.Updated);
  }

  /** @param {string | null} pid */
  #onActiveSpeaker(pid) {
    const next = this.#participant(pid) ?? null;
    const previous = this.activeSpeaker;
    if (previous === next) return;
    this.activeSpeaker = next;
    if (previous && !previous.isLocal && previous.isSpeaking) {
      previous.isSpeaking = false;
      this.emit(RoomEvent.SpeakingChanged, previous, false);
      previous.fire(ParticipantEvent.SpeakingChanged, false);
    }
    if (next && !next.isLocal) {
      next.isSpeaking = true;
      next.lastSpokeAt = Date.now();
      this.emit(RoomEvent.SpeakingChanged, next, true);
      next.fire(ParticipantEvent.SpeakingChanged, true);
    }
    this.emit(RoomEvent.ActiveSpeaker, next);
  }

  /** @internal For tests and diagnostics: the transport's peer connections. */
  get peerConnections() {
    return new Map(this.#peerConnections());
  }

  /** @internal For tests and diagnostics: the SFU connection, if any. */
  get sfuTransport() {
    return this.#sfu;
  }

  /** @internal For tests: drop the signaling socket as if the network died; the room reconnects. */
  simulateSignalingDrop() {
    this.#signaling.simulateDrop();
  }
}
