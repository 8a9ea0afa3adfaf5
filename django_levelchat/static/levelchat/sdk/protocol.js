/**
 * The signaling wire protocol, version 1, for JavaScript: frame types (JSDoc), `encode` and `parse`. Every constant,
 * message-type list and required-field table comes from `protocol-defs.js`, which
 * `python -m django_levelchat.protocol_js` generates from `django_levelchat/protocol.py` (the one definition);
 * tests/test_protocol_js.py fails when the generated file is out of date.
 *
 * `encode(message)` checks a client message's required fields and the frame size and returns the JSON text;
 * `parse(text)` turns a server frame into a typed message, or throws a `LevelChatError`.
 * @module
 */

import { ErrorCode, createError } from './errors.js';

import {
  CLIENT_MESSAGE_TYPES,
  CLIENT_REQUIRED_FIELDS,
  MAX_FRAME_BYTES,
  ONE_OF_FIELDS,
  RETRYABLE_CLOSE_CODES_LIST,
  SERVER_MESSAGE_TYPES,
  SERVER_REQUIRED_FIELDS,
  SOURCE_KINDS as SOURCE_KIND_MAP,
} from './protocol-defs.js';

export {
  PROTOCOL_VERSION,
  SIGNAL_PATH,
  SUBPROTOCOL,
  TOKEN_SUBPROTOCOL_PREFIX,
  MAX_FRAME_BYTES,
  MAX_ID_LEN,
  MAX_CHAT_LEN,
  MAX_NAME_LEN,
  MAX_EMOJI_LEN,
  MAX_REASON_LEN,
  MAX_LAYERS,
  MAX_TRACKS,
  MAX_TOKEN_LEN,
  MAX_CANDIDATE_LEN,
  CloseCode,
  CLOSE_REASON_CODES,
  ERROR_CODES,
  LEAVE_REASONS,
  TRACK_KINDS,
  SIMULCAST_LAYERS,
  PREFERRED_QUALITIES,
  QUALITY_BANDS,
  CLIENT_MESSAGE_TYPES,
  SERVER_MESSAGE_TYPES,
  ROOM_EVENT_TYPES,
  SNAPSHOT_TYPES,
} from './protocol-defs.js';

/** The close codes after which the SDK reconnects and resumes. Everything else (44xx above all) is final. */
export const RETRYABLE_CLOSE_CODES = Object.freeze(new Set(RETRYABLE_CLOSE_CODES_LIST));

/** The kind each source must have. */
export const SOURCE_KINDS = /** @type {Readonly<Record<TrackSource, TrackKind>>} */ (SOURCE_KIND_MAP);

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
 * @property {number | null} [hand]  when their hand went up (ms); absent or null when it is down
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
/** @typedef {{ type: 'hand', id?: string, raised: boolean, participant?: string }} HandMessage */
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
 *   | SubscriptionMessage | PreferredQualityMessage | ChatMessage | ReactionMessage | HandMessage | AudioLevelMessage
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

/**
 * @param {unknown} value
 * @param {string} kind  a FieldKind of protocol-defs.js
 */
function hasKind(value, kind) {
  switch (kind) {
    case 'string':
      return typeof value === 'string';
    case 'string?':
      return value === null || typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'array':
      return Array.isArray(value);
    default:
      return value !== null && typeof value === 'object' && !Array.isArray(value);
  }
}

/**
 * The first required field of `frame` that is missing or mistyped, or null (the rules of protocol.py's
 * `missing_field`: a `string?` field must be present; a ONE_OF_FIELDS type carries exactly one of its fields).
 * @param {Record<string, unknown>} frame
 * @param {Record<string, string>} required
 */
function badField(frame, required) {
  for (const [name, kind] of Object.entries(required)) {
    if (!(name in frame) || !hasKind(frame[name], kind)) return name;
  }
  const oneOf = ONE_OF_FIELDS[/** @type {string} */ (frame.type)];
  if (oneOf && oneOf.filter((name) => frame[name] != null).length !== 1) return oneOf[0];
  return null;
}

const clientTypes = new Set(CLIENT_MESSAGE_TYPES);
const serverTypes = new Set(SERVER_MESSAGE_TYPES);

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
  if (typeof type !== 'string' || !clientTypes.has(type)) {
    throw createError(ErrorCode.UNKNOWN_TYPE, `unknown client message type ${String(type)}`, { field: 'type' });
  }
  const bad = badField(frame, CLIENT_REQUIRED_FIELDS[type]);
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
  if (typeof type !== 'string' || !serverTypes.has(type)) {
    throw createError(ErrorCode.UNKNOWN_TYPE, `unknown server message type ${String(type)}`, { field: 'type' });
  }
  let bad = badField(frame, SERVER_REQUIRED_FIELDS[type]);
  if (!bad && 'seq' in frame && frame.seq !== undefined && !hasKind(frame.seq, 'number')) bad = 'seq';
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
