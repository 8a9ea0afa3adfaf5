/**
 * Participants: the local one (you) and the remote ones, with their tracks.
 * @module
 */

import { Emitter } from './emitter.js';

/** @import { Track } from './track.js' */
/** @import { ParticipantEventMap } from './events.js' */
/** @import { ParticipantInfo, QualityBand, TrackSource } from './protocol.js' */

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * The join time encoded in a participant id (`PA_` + ULID: the first 10 characters are ms since the epoch).
 * @param {string} id
 * @returns {number | null}
 */
export function joinedAtFromId(id) {
  const ulid = id.startsWith('PA_') ? id.slice(3) : id;
  if (ulid.length < 10) return null;
  let ms = 0;
  for (const ch of ulid.slice(0, 10)) {
    const v = CROCKFORD.indexOf(ch);
    if (v < 0) return null;
    ms = ms * 32 + v;
  }
  return ms;
}

/** @extends {Emitter<ParticipantEventMap>} */
export class Participant extends Emitter {
  /** @type {string} */
  id;
  /** @type {string} */
  identity;
  /** @type {string} */
  name;
  /** @type {string} */
  role;
  /** @type {Record<string, unknown>} */
  metadata;
  /** @type {boolean} */
  isLocal;
  /** Published tracks by sid. @type {Map<string, Track>} */
  tracks = new Map();
  /** @type {QualityBand | 'unknown'} */
  connectionQuality = 'unknown';
  /** Local: from the microphone analyser, with no server round trip. Remote: whether they are the active speaker. */
  isSpeaking = false;
  /** When they last started speaking (ms), or null. @type {number | null} */
  lastSpokeAt = null;
  /** When they joined (ms, from the id). @type {number | null} */
  joinedAt;
  /** When they raised their hand (ms), or null while it is down. @type {number | null} */
  handRaisedAt = null;
  /** Whether their signaling connection is away (they may come back within the resume window). */
  reconnecting = false;
  /** @type {() => number} */
  #levelSource = () => 0;

  /**
   * @param {ParticipantInfo} info
   * @param {boolean} isLocal
   */
  constructor(info, isLocal) {
    super();
    this.id = info.id;
    this.identity = info.identity;
    this.name = info.name || info.identity;
    this.role = info.role ?? '';
    this.metadata = info.metadata ?? {};
    this.isLocal = isLocal;
    this.joinedAt = joinedAtFromId(info.id);
    this.reconnecting = info.state === 'reconnecting';
    this.handRaisedAt = typeof info.hand === 'number' ? info.hand : null;
    if (info.quality) this.connectionQuality = /** @type {QualityBand} */ (info.quality);
  }

  /** The current audio level, 0 … 1 (local: the mic analyser; remote: the received audio). */
  get audioLevel() {
    return this.#levelSource();
  }

  /**
   * The track of a source (`camera`, `microphone`, `screen`, `screen_audio`).
   * @param {TrackSource} source
   */
  getTrack(source) {
    for (const track of this.tracks.values()) if (track.source === source) return track;
    return undefined;
  }

  get cameraTrack() {
    return this.getTrack('camera');
  }

  get micTrack() {
    return this.getTrack('microphone');
  }

  get screenTrack() {
    return this.getTrack('screen');
  }

  /** @internal @param {() => number} source */
  setLevelSource(source) {
    this.#levelSource = source;
  }

  /**
   * @internal
   * @template {keyof ParticipantEventMap & string} K
   * @param {K} event
   * @param {ParticipantEventMap[K]} args
   */
  fire(event, ...args) {
    return this.emit(event, ...args);
  }
}

export class RemoteParticipant extends Participant {
  /** @param {ParticipantInfo} info */
  constructor(info) {
    super(info, false);
    this.setLevelSource(() => {
      const receiver = this.micTrack?.receiver;
      const sources = receiver?.getSynchronizationSources?.() ?? [];
      return sources[0]?.audioLevel ?? 0;
    });
  }
}

export class LocalParticipant extends Participant {
  /** The capabilities of this session (from the verified token, intersected with server policy). @type {string[]} */
  capabilities;

  /** @param {ParticipantInfo & { capabilities?: string[] }} info */
  constructor(info) {
    super(info, true);
    this.capabilities = info.capabilities ?? [];
  }

  /**
   * Whether this session holds a capability (`publish:*` grants every `publish:` one).
   * @param {string} capability e.g. `publish:camera`, `chat:send`, `room:admin`
   */
  can(capability) {
    if (this.capabilities.includes(capability)) return true;
    const prefix = capability.split(':')[0];
    return this.capabilities.includes(`${prefix}:*`);
  }
}
