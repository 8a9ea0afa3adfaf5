/**
 * The signaling wire protocol, version 1: the ONE JavaScript definition of every frame, constant and close code.
 * It mirrors docs/protocol.md (the contract) and `django_levelchat/protocol.py` (the server's
 * enforcement); tests/js/protocol.test.js fails when the names drift apart.
 *
 * `encode(message)` checks a client message's required fields and the frame size and returns the JSON text;
 * `parse(text)` turns a server frame into a typed message, or throws a `LevelChatError`.
 * @module
 */

import { ErrorCode, createError } from './errors.js';

export const PROTOCOL_VERSION = 1;
export const SIGNAL_PATH = '/levelchat/v1/signal';
export const SUBPROTOCOL = 'levelchat.v1';
export const TOKEN_SUBPROTOCOL_PREFIX = 'token.';

export const MAX_FRAME_BYTES = 65536;
export const MAX_ID_LEN = 64;
export const MAX_CHAT_LEN = 2000;
export const MAX_NAME_LEN = 128;
export const MAX_EMOJI_LEN = 16;
export const MAX_REASON_LEN = 64;
export const MAX_LAYERS = 3;
export const MAX_TRACKS = 8;
export const MAX_TOKEN_LEN = 8192;
export const MAX_CANDIDATE_LEN = 256;

/**
 * WebSocket close codes (docs/protocol.md §11). The server's retryable closes are 4001/4012/4013, mirrors of
 * 1001/1012/1013 (daphne can only send 1000 and 3000–4999); proxies may still send 1001/1012/1013.
 */
export const CloseCode = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 4001,
  /** Never sent by a server: the TCP connection died without a close frame. */
  ABNORMAL_CLOSURE: 1006,
  SERVICE_RESTART: 4012,
  TRY_AGAIN_LATER: 4013,
  PROTOCOL_ERROR: 4400,
  TOKEN: 4401,
  FORBIDDEN: 4403,
  REPLACED: 4409,
  RATE_LIMITED: 4429,
});

/** The close codes after which the SDK reconnects and resumes. Everything else (44xx above all) is final. */
export const RETRYABLE_CLOSE_CODES = Object.freeze(new Set([1001, 1006, 1012, 1013, 4001, 4012, 4013]));

/** Which close code carries each close reason. */
export const CLOSE_REASON_CODES = Object.freeze(
  /** @type {Record<string, number>} */ ({
    left: 1000,
    shutdown: 4001,
    ping_timeout: 4001,
    restart: 4012,
    unavailable: 4013,
    overloaded: 4013,
    slow_consumer: 4013,
    frame_too_large: 4400,
    binary_frame: 4400,
    too_many_errors: 4400,
    unsupported_protocol: 4400,
    bad_hello: 4400,
    token_missing: 4401,
    token_invalid: 4401,
    token_expired: 4401,
    token_not_yet_valid: 4401,
    token_ttl: 4401,
    wrong_room: 4401,
    unknown_key: 4401,
    missing_claim: 4401,
    bad_capabilities: 4401,
    resume_invalid: 4401,
    resume_expired: 4401,
    hello_timeout: 4401,
    room_ended: 4403,
    room_full: 4403,
    removed: 4403,
    replaced: 4409,
    rate_limited: 4429,
  }),
);

/** `error.code` values (docs/protocol.md §10). */
export const ERROR_CODES = Object.freeze([
  'bad_json', 'bad_request', 'bad_sdp', 'unknown_type', 'bad_state', 'forbidden', 'unknown_participant',
  'unknown_track', 'too_large', 'rate_limited', 'sfu_unavailable', 'unavailable', 'internal',
]);

/** `participant-left.reason` values (§8). */
export const LEAVE_REASONS = Object.freeze([
  'client_initiated', 'connection_lost', 'replaced', 'removed', 'room_ended', 'capability_revoked',
]);

export const TRACK_KINDS = Object.freeze(['audio', 'video']);
/** The kind each source must have. */
export const SOURCE_KINDS = Object.freeze(
  /** @type {Record<TrackSource, TrackKind>} */ ({ camera: 'video', microphone: 'audio', screen: 'video', screen_audio: 'audio' }),
);
/** Simulcast layers, lowest first: quarter, half and full resolution. */
export const SIMULCAST_LAYERS = Object.freeze(['q', 'h', 'f']);
export const PREFERRED_QUALITIES = Object.freeze(['low', 'medium', 'high', 'auto']);
/** Connection-quality bands, best first. The server may also announce `unknown`. */
export const QUALITY_BANDS = Object.freeze(['excellent', 'good', 'fair', 'poor', 'bad']);

// ---------------------------------------------------------------------------------------------------------------
// Shared objects
// ---------------------------------------------------------------------------------------------------------------

/** @typedef {'audio' | 'video'} TrackKind */
/** @typedef {'camera' | 'microphone' | 'screen' | 'screen_audio'} TrackSource */
/** @typedef {'q' | 'h' | 'f'} Layer */
/** @typedef {'low' | 'medium' | 'high' | 'auto'} PreferredQuality */
/** @typedef {'excellent' | 'good' | 'fair' | 'poor' | 'bad'} QualityBand */

/**
 * A published track as the wire describes it.
 * @typedef {object} TrackInfo
 * @property {string} sid  `TR_…`, chosen by the publisher
 * @property {TrackKind} kind
 * @property {TrackSource} source
 * @property {boolean} [muted]
 * @property {Layer[]} [layers]
 * @property {string[]} [mids]  SFU path only; never relayed
 * @property {string} [name]
 */

/**
 * A participant in a roster or event.
 * @typedef {object} ParticipantInfo
 * @property {string} id  `PA_` + ULID: sortable by join time
 * @property {string} identity
 * @property {string} [name]
 * @property {string} [role]
 * @property {TrackInfo[]} [tracks]
 * @property {Record<string, unknown>} [metadata]
 * @property {string[]} [capabilities]  only in `welcome.you` and in `participant-updated` about yourself
 * @property {string} [state]  `reconnecting` while their socket is away
 * @property {string} [quality]
 */

/** @typedef {{ id: string, identity: string, name?: string }} Sender */
/** @typedef {{ type: 'offer' | 'answer' | 'pranswer' | 'rollback', sdp?: string }} WireDescription */
/** @typedef {{ candidate: string, sdpMid?: string | null, sdpMLineIndex?: number | null, usernameFragment?: string | null }} WireCandidate */
/**
 * @typedef {object} RoomInfo
 * @property {string} id
 * @property {string} [name]
 * @property {string} [room_type]
 * @property {string} [status]
 * @property {Record<string, unknown>} [metadata]
 * @property {string | null} [recording]
 * @property {string | null} [sfu]
 * @property {number} [max_participants]
 */
/**
 * @typedef {object} ChatMessageInfo
 * @property {string} id  `CM_…`
 * @property {Sender} from
 * @property {string} text
 * @property {string | null} [to]  null when public
 * @property {number} ts  ms since the epoch
 */

// ---------------------------------------------------------------------------------------------------------------
// Client → server (§5). `id` (optional on all) asks for exactly one `ack`/`error` answer with `ref` = id.
// ---------------------------------------------------------------------------------------------------------------

/** @typedef {{ type: 'hello', id?: string, protocol: number, sdk?: { name: string, version: string }, resume?: { session: string, credential: string }, token?: string }} HelloMessage */
/** @typedef {{ type: 'signal', id?: string, to: string, description?: WireDescription, candidate?: WireCandidate }} SignalMessage */
/** @typedef {{ type: 'sfu-signal', id?: string, description?: WireDescription, candidate?: WireCandidate }} SfuSignalMessage */
/** @typedef {{ type: 'publish', id?: string, track: TrackInfo }} PublishMessage */
/** @typedef {{ type: 'unpublish', id?: string, track: string }} UnpublishMessage */
/** @typedef {{ type: 'mute', id?: string, track: string, muted: boolean }} MuteMessage */
/** @typedef {{ type: 'subscribe' | 'unsubscribe', id?: string, participant: string, kind?: TrackKind, track?: string }} SubscriptionMessage */
/** @typedef {{ type: 'set-preferred-quality', id?: string, quality: PreferredQuality, participant?: string }} PreferredQualityMessage */
/** @typedef {{ type: 'chat', id?: string, text: string, to?: string }} ChatMessage */
/** @typedef {{ type: 'reaction', id?: string, emoji: string }} ReactionMessage */
/** @typedef {{ type: 'audio-level', id?: string, level: number }} AudioLevelMessage */
/** @typedef {{ type: 'quality-report', id?: string, quality: QualityBand, score?: number }} QualityReportMessage */
/** @typedef {{ type: 'record-start' | 'record-stop' | 'resync', id?: string }} BareMessage */
/** @typedef {{ type: 'ping', id?: string, ts?: number }} PingMessage */
/** @typedef {{ type: 'leave' | 'end-room', id?: string, reason?: string }} ReasonMessage */
/** @typedef {{ type: 'mute-participant', id?: string, participant: string, track?: string, kind?: TrackKind }} MuteParticipantMessage */
/** @typedef {{ type: 'remove-participant', id?: string, participant: string, reason?: string }} RemoveParticipantMessage */

/**
 * Every message a client may send.
 * @typedef {HelloMessage | SignalMessage | SfuSignalMessage | PublishMessage | UnpublishMessage | MuteMessage
 *   | SubscriptionMessage | PreferredQualityMessage | ChatMessage | ReactionMessage | AudioLevelMessage
 *   | QualityReportMessage | BareMessage | PingMessage | ReasonMessage | MuteParticipantMessage
 *   | RemoveParticipantMessage} ClientMessage
 */

// ---------------------------------------------------------------------------------------------------------------
// Server → client (§6). Room events carry `seq` (§7).
// ---------------------------------------------------------------------------------------------------------------

/**
 * @typedef {object} WelcomeFrame
 * @property {'welcome'} type
 * @property {number} protocol
 * @property {ParticipantInfo & { capabilities: string[] }} you
 * @property {RoomInfo} room
 * @property {ParticipantInfo[]} roster  everyone else
 * @property {ChatMessageInfo[]} [chat]  recent public history
 * @property {RTCIceServer[]} ice_servers
 * @property {number} ping_interval  seconds
 * @property {number} ping_timeout  seconds
 * @property {{ session: string, credential: string, expires_in: number } | null} [resume]
 * @property {number} seq
 */
/** @typedef {{ type: 'resync', room: RoomInfo, roster: ParticipantInfo[], chat?: ChatMessageInfo[], seq: number, ref?: string }} ResyncFrame */
/** @typedef {{ type: 'participant-joined', participant: ParticipantInfo, seq?: number }} ParticipantJoinedFrame */
/** @typedef {{ type: 'participant-left', participant: { id: string, identity?: string }, reason: string, seq?: number }} ParticipantLeftFrame */
/** @typedef {{ type: 'participant-updated', participant: Partial<ParticipantInfo> & { id: string }, seq?: number }} ParticipantUpdatedFrame */
/** @typedef {{ type: 'participant-reconnecting' | 'participant-reconnected', participant: { id: string }, seq?: number }} ParticipantPresenceFrame */
/** @typedef {{ type: 'track-published', participant: string, track: TrackInfo, seq?: number }} TrackPublishedFrame */
/** @typedef {{ type: 'track-unpublished', participant: string, track: string, reason?: string, seq?: number }} TrackUnpublishedFrame */
/** @typedef {{ type: 'track-muted', participant: string, track: string, muted: boolean, by?: string, seq?: number }} TrackMutedFrame */
/** @typedef {ChatMessageInfo & { type: 'chat-message', seq?: number }} ChatMessageFrame */
/** @typedef {{ type: 'reaction', from: Sender, emoji: string, seq?: number }} ReactionFrame */
/** @typedef {{ type: 'active-speaker', participant: string | null, seq?: number }} ActiveSpeakerFrame */
/** @typedef {{ type: 'connection-quality', participant: string, quality: QualityBand | 'unknown', seq?: number }} ConnectionQualityFrame */
/** @typedef {{ type: 'recording', state: 'started' | 'stopped' | 'failed', recording?: string, reason?: string, seq?: number }} RecordingFrame */
/** @typedef {{ type: 'sfu-state', state: 'ready' | 'unavailable', reason?: string, seq?: number }} SfuStateFrame */
/** @typedef {{ type: 'room-ended', reason: string, seq?: number }} RoomEndedFrame */
/** @typedef {{ type: 'signal', from: string, description?: WireDescription, candidate?: WireCandidate }} SignalFrame */
/** @typedef {{ type: 'sfu-signal', description?: WireDescription, candidate?: WireCandidate }} SfuSignalFrame */
/** @typedef {{ type: 'layer-demand', track: string, layers: Layer[] }} LayerDemandFrame */
/** @typedef {{ type: 'subscribe' | 'unsubscribe', from: string, kind?: TrackKind, track?: string }} SubscriptionRelayFrame */
/** @typedef {{ type: 'set-preferred-quality', from: string, quality: PreferredQuality }} PreferredQualityRelayFrame */
/** @typedef {{ type: 'ack', ref: string, [result: string]: unknown }} AckFrame */
/** @typedef {{ type: 'error', code: string, message: string, ref?: string, field?: string, retry_after?: number }} ErrorFrame */
/** @typedef {{ type: 'pong', ts?: number, ref?: string }} PongFrame */
/** @typedef {{ type: 'closing', code: number, reason: string, message?: string }} ClosingFrame  the last frame before a server-initiated close (daphne drops close reasons) */

/**
 * Every frame a server may send.
 * @typedef {WelcomeFrame | ResyncFrame | ParticipantJoinedFrame | ParticipantLeftFrame | ParticipantUpdatedFrame
 *   | ParticipantPresenceFrame | TrackPublishedFrame | TrackUnpublishedFrame | TrackMutedFrame | ChatMessageFrame
 *   | ReactionFrame | ActiveSpeakerFrame | ConnectionQualityFrame | RecordingFrame | SfuStateFrame | RoomEndedFrame
 *   | SignalFrame | SfuSignalFrame | LayerDemandFrame | SubscriptionRelayFrame | PreferredQualityRelayFrame
 *   | AckFrame | ErrorFrame | PongFrame | ClosingFrame} ServerFrame
 */

// Required fields per type, as `name:t` with t = s(tring) n(umber) b(oolean) o(bject) a(rray) S (string or null).
// Optional fields are not listed: unknown and optional fields are accepted as the protocol says (§2).
/** @type {Record<string, string>} */
const CLIENT_FIELDS = {
  hello: 'protocol:n',
  signal: 'to:s',
  'sfu-signal': '',
  publish: 'track:o',
  unpublish: 'track:s',
  mute: 'track:s muted:b',
  subscribe: 'participant:s',
  unsubscribe: 'participant:s',
  'set-preferred-quality': 'quality:s',
  chat: 'text:s',
  reaction: 'emoji:s',
  'audio-level': 'level:n',
  'quality-report': 'quality:s',
  'record-start': '',
  'record-stop': '',
  resync: '',
  ping: '',
  leave: '',
  'mute-participant': 'participant:s',
  'remove-participant': 'participant:s',
  'end-room': '',
};

/** @type {Record<string, string>} */
const SERVER_FIELDS = {
  welcome: 'protocol:n you:o room:o roster:a ice_servers:a ping_interval:n ping_timeout:n seq:n',
  resync: 'room:o roster:a seq:n',
  'participant-joined': 'participant:o',
  'participant-left': 'participant:o reason:s',
  'participant-updated': 'participant:o',
  'participant-reconnecting': 'participant:o',
  'participant-reconnected': 'participant:o',
  'track-published': 'participant:s track:o',
  'track-unpublished': 'participant:s track:s',
  'track-muted': 'participant:s track:s muted:b',
  'chat-message': 'id:s from:o text:s ts:n',
  reaction: 'from:o emoji:s',
  'active-speaker': 'participant:S',
  'connection-quality': 'participant:s quality:s',
  recording: 'state:s',
  'sfu-state': 'state:s',
  'room-ended': 'reason:s',
  signal: 'from:s',
  'sfu-signal': '',
  'layer-demand': 'track:s layers:a',
  subscribe: 'from:s',
  unsubscribe: 'from:s',
  'set-preferred-quality': 'from:s quality:s',
  ack: 'ref:s',
  error: 'code:s message:s',
  pong: '',
  closing: 'code:n reason:s',
};

/** Client message types. */
export const CLIENT_MESSAGE_TYPES = Object.freeze(Object.keys(CLIENT_FIELDS));
/** Server message types. */
export const SERVER_MESSAGE_TYPES = Object.freeze(Object.keys(SERVER_FIELDS));
/** Room events: broadcast to the room and stamped with the room's `seq`. */
export const ROOM_EVENT_TYPES = Object.freeze([
  'participant-joined', 'participant-left', 'participant-updated', 'participant-reconnecting',
  'participant-reconnected', 'track-published', 'track-unpublished', 'track-muted', 'chat-message', 'reaction',
  'active-speaker', 'connection-quality', 'recording', 'room-ended', 'sfu-state',
]);
/** Snapshots: carry the `seq` of the last event they include. */
export const SNAPSHOT_TYPES = Object.freeze(['welcome', 'resync']);

/** @param {unknown} value @param {string} t */
function hasType(value, t) {
  switch (t) {
    case 's':
      return typeof value === 'string';
    case 'S':
      return value === null || typeof value === 'string';
    case 'n':
      return typeof value === 'number' && Number.isFinite(value);
    case 'b':
      return typeof value === 'boolean';
    case 'a':
      return Array.isArray(value);
    default:
      return value !== null && typeof value === 'object' && !Array.isArray(value);
  }
}

/**
 * The first required field of `frame` that is missing or mistyped, or null.
 * @param {Record<string, unknown>} frame
 * @param {string} spec
 */
function badField(frame, spec) {
  for (const item of spec ? spec.split(' ') : []) {
    const [name, t] = item.split(':');
    if (!hasType(frame[name], t)) return name;
  }
  return null;
}

/** @param {Record<string, unknown>} frame */
function checkSignalPayload(frame) {
  if (('description' in frame && frame.description != null) === ('candidate' in frame && frame.candidate != null)) {
    return 'description';
  }
  return null;
}

const utf8 = new TextEncoder();

/**
 * The JSON text of a client message. Checks its type, required fields and the frame size.
 * @param {ClientMessage} message
 * @returns {string}
 * @throws {LevelChatError} `unknown_type`, `bad_request` (with `field`) or `too_large`
 */
export function encode(message) {
  const frame = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (message));
  const type = frame?.type;
  if (typeof type !== 'string' || !(type in CLIENT_FIELDS)) {
    throw createError(ErrorCode.UNKNOWN_TYPE, `unknown client message type ${String(type)}`, { field: 'type' });
  }
  const bad =
    badField(frame, CLIENT_FIELDS[type]) ?? (type === 'signal' || type === 'sfu-signal' ? checkSignalPayload(frame) : null);
  if (bad) throw createError(ErrorCode.BAD_REQUEST, `${type}: ${bad} is missing or invalid`, { field: bad });
  const text = JSON.stringify(frame);
  if (text.length > MAX_FRAME_BYTES / 3 && utf8.encode(text).length > MAX_FRAME_BYTES) {
    throw createError(ErrorCode.TOO_LARGE, `${type} frame is larger than ${MAX_FRAME_BYTES} bytes`);
  }
  return text;
}

/**
 * Parse a server frame.
 * @param {string} text
 * @returns {ServerFrame}
 * @throws {LevelChatError} `bad_json` (not one JSON object), `unknown_type` (a type this SDK does not know:
 *   callers should ignore it, a newer server may send it) or `protocol_error` (a required field is wrong)
 */
export function parse(text) {
  let frame;
  try {
    frame = JSON.parse(text);
  } catch (cause) {
    throw createError(ErrorCode.BAD_JSON, 'server frame is not JSON', { cause });
  }
  if (frame === null || typeof frame !== 'object' || Array.isArray(frame)) {
    throw createError(ErrorCode.BAD_JSON, 'server frame is not a JSON object');
  }
  const type = frame.type;
  if (typeof type !== 'string' || !(type in SERVER_FIELDS)) {
    throw createError(ErrorCode.UNKNOWN_TYPE, `unknown server message type ${String(type)}`, { field: 'type' });
  }
  let bad = badField(frame, SERVER_FIELDS[type]);
  if (!bad && (type === 'signal' || type === 'sfu-signal')) bad = checkSignalPayload(frame);
  if (!bad && 'seq' in frame && frame.seq !== undefined && !hasType(frame.seq, 'n')) bad = 'seq';
  if (bad) throw createError(ErrorCode.PROTOCOL_ERROR, `${type}: ${bad} is missing or invalid`, { field: bad });
  return /** @type {ServerFrame} */ (frame);
}

/**
 * Number of Unicode code points in a string (the unit of the protocol's length limits).
 * @param {string} text
 */
export function codePointLength(text) {
  let n = 0;
  for (const _ of text) n++;
  return n;
}
