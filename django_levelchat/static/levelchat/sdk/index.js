/**
 * The public API of the levelchat browser SDK (re-exported by `levelchat.js`). Everything else under `sdk/` is
 * internal.
 * @module
 */

export { LevelChat } from './client.js';
export { Room } from './room.js';
export { Participant, LocalParticipant, RemoteParticipant } from './participant.js';
export { Track } from './track.js';
export { RoomEvent, ParticipantEvent, ConnectionState } from './events.js';
export { LevelChatError, ErrorCode, TokenError, ForbiddenError, DeviceError, RoomAccessError, ConnectionFailedError } from './errors.js';
export { DefaultReconnectPolicy, isRetryable } from './reconnect.js';
export { decodeJwt, readToken } from './jwt.js';
export { Logger } from './logger.js';
export { PROTOCOL_VERSION, QUALITY_BANDS, RETRYABLE_CLOSE_CODES, CloseCode } from './protocol.js';
export { SDK_VERSION } from './signaling.js';
export { RESOLUTIONS } from './media.js';

/** @typedef {import('./events.js').ChatMessageEvent} ChatMessageEvent */
/** @typedef {import('./events.js').ReactionEvent} ReactionEvent */
/** @typedef {import('./events.js').RecordingDetails} RecordingDetails */
