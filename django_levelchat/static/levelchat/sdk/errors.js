/**
 * Errors. Every rejection and every `error` event carries a `LevelChatError` with a stable snake_case `code`.
 *
 * The codes are, 1:1, the server's close reasons (`CloseReason` in `protocol.py`, docs/protocol.md §11)
 * and error-frame codes (`ErrorCode`, §10), plus a few that only the client can produce (devices, network, API).
 * @module
 */

export const ErrorCode = Object.freeze({
  // --- close reasons (the `reason` of the server's close frame) -----------------------------------------
  /** 1000: we left. */
  LEFT: 'left',
  /** 4001: the server is shutting down (retried). */
  SHUTDOWN: 'shutdown',
  /** 4001: the server heard nothing from us for `ping_timeout` (retried). */
  PING_TIMEOUT: 'ping_timeout',
  /** 4012: the server restarts (retried). */
  RESTART: 'restart',
  /** 4013 (retried), or an `error` frame: a backend (Redis, DB) is down. */
  UNAVAILABLE: 'unavailable',
  /** 4013: admission control (retried). */
  OVERLOADED: 'overloaded',
  /** 4013: we fell behind (retried, resumes from a fresh snapshot). */
  SLOW_CONSUMER: 'slow_consumer',
  /** 4400 */
  FRAME_TOO_LARGE: 'frame_too_large',
  /** 4400 */
  BINARY_FRAME: 'binary_frame',
  /** 4400 */
  TOO_MANY_ERRORS: 'too_many_errors',
  /** 4400 */
  UNSUPPORTED_PROTOCOL: 'unsupported_protocol',
  /** 4400 */
  BAD_HELLO: 'bad_hello',
  /** 4401: no token was given. */
  TOKEN_MISSING: 'token_missing',
  /** 4401, or client side: the token is not a JWT the server (or the SDK) can read. */
  TOKEN_INVALID: 'token_invalid',
  /** 4401: the token expired (and no resumable session was left): ask the app for a new one. */
  TOKEN_EXPIRED: 'token_expired',
  /** 4401 */
  TOKEN_NOT_YET_VALID: 'token_not_yet_valid',
  /** 4401 */
  TOKEN_TTL: 'token_ttl',
  /** 4401: the token's room does not exist here. */
  WRONG_ROOM: 'wrong_room',
  /** 4401 */
  UNKNOWN_KEY: 'unknown_key',
  /** 4401 */
  MISSING_CLAIM: 'missing_claim',
  /** 4401 */
  BAD_CAPABILITIES: 'bad_capabilities',
  /** 4401 */
  RESUME_INVALID: 'resume_invalid',
  /** 4401 */
  RESUME_EXPIRED: 'resume_expired',
  /** 4401 */
  HELLO_TIMEOUT: 'hello_timeout',
  /** 4403: the room ended. */
  ROOM_ENDED: 'room_ended',
  /** 4403: the room is full. */
  ROOM_FULL: 'room_full',
  /** 4403: an admin removed us. */
  REMOVED: 'removed',
  /** 4409: another tab or device with the same identity took over. */
  REPLACED: 'replaced',
  /** 4429, or an `error` frame (`retryAfter` set). */
  RATE_LIMITED: 'rate_limited',

  // --- error-frame codes (`error.code`; the socket stays open) -------------------------------------------
  BAD_JSON: 'bad_json',
  BAD_REQUEST: 'bad_request',
  BAD_SDP: 'bad_sdp',
  UNKNOWN_TYPE: 'unknown_type',
  BAD_STATE: 'bad_state',
  /** A capability is missing (also raised client side, e.g. a `joinLive` viewer calling `publishCamera`). */
  FORBIDDEN: 'forbidden',
  UNKNOWN_PARTICIPANT: 'unknown_participant',
  UNKNOWN_TRACK: 'unknown_track',
  TOO_LARGE: 'too_large',
  SFU_UNAVAILABLE: 'sfu_unavailable',
  INTERNAL: 'internal',

  // --- client side only ----------------------------------------------------------------------------------
  /** The user or the browser refused camera/mic/screen access (`NotAllowedError`). */
  PERMISSION_DENIED: 'permission_denied',
  /** No such camera/mic (`NotFoundError`, `OverconstrainedError`). */
  DEVICE_NOT_FOUND: 'device_not_found',
  /** The device is busy in another program (`NotReadableError`). */
  DEVICE_IN_USE: 'device_in_use',
  /** Another getUserMedia/getDisplayMedia failure. */
  MEDIA_ERROR: 'media_error',
  /** The browser lacks WebSocket, WebRTC or getUserMedia. */
  NOT_SUPPORTED: 'not_supported',
  /** The room is not connected (before `ready`, or after it ended). */
  NOT_CONNECTED: 'not_connected',
  /** The socket dropped before the server answered this request; it may or may not have been applied. */
  INTERRUPTED: 'interrupted',
  /** No answer within the request timeout. */
  TIMEOUT: 'timeout',
  /** The server could not be reached, or reconnecting gave up after the give-up window. */
  CONNECTION_FAILED: 'connection_failed',
  /** The server closed the socket with a code and reason this SDK does not know. */
  CONNECTION_CLOSED: 'connection_closed',
  /** A frame from the server is not valid protocol. */
  PROTOCOL_ERROR: 'protocol_error',
  /** `issueToken()` was called without `apiKey`. */
  API_KEY_MISSING: 'api_key_missing',
  /** The REST token endpoint refused (`status` and `serverCode` say why) or could not be reached. */
  TOKEN_REQUEST_FAILED: 'token_request_failed',
  /** A bad argument to an SDK method. */
  INVALID_ARGUMENT: 'invalid_argument',
});

/** @typedef {typeof ErrorCode[keyof typeof ErrorCode]} ErrorCodeValue */

const KNOWN_CODES = new Set(Object.values(ErrorCode));

export class LevelChatError extends Error {
  /**
   * @param {string} code one of `ErrorCode`
   * @param {string} [message]
   * @param {{ cause?: unknown, closeCode?: number, field?: string, retryAfter?: number, status?: number,
   *   serverCode?: string }} [details]
   */
  constructor(code, message, details = {}) {
    super(message || code, details.cause !== undefined ? { cause: details.cause } : undefined);
    this.name = 'LevelChatError';
    /** @type {string} stable machine-readable code (`ErrorCode`) */
    this.code = code;
    /** @type {number | undefined} the WebSocket close code, when the error is a close */
    this.closeCode = details.closeCode;
    /** @type {string | undefined} the dotted field an `error` frame named */
    this.field = details.field;
    /** @type {number | undefined} seconds to wait, for `rate_limited` */
    this.retryAfter = details.retryAfter;
    /** @type {number | undefined} HTTP status, for REST calls */
    this.status = details.status;
    /** @type {string | undefined} the REST API's own error code */
    this.serverCode = details.serverCode;
  }

  /** Whether `code` is one of `ErrorCode` (the server may add codes in a later protocol version). @param {string} code */
  static isKnownCode(code) {
    return KNOWN_CODES.has(/** @type {any} */ (code));
  }
}

/** 4401 family: the token (or resume credential) cannot open a session: ask the application for a new token. */
export class TokenError extends LevelChatError {}
/** A capability is missing (`forbidden`): the server or the SDK refused the action for this token. */
export class ForbiddenError extends LevelChatError {}
/** Camera, microphone or screen capture failed (`permission_denied`, `device_not_found`, `device_in_use`, …). */
export class DeviceError extends LevelChatError {}
/** This session may not be in the room any more (`room_ended`, `room_full`, `removed`, `replaced`): final. */
export class RoomAccessError extends LevelChatError {}
/** The connection failed, timed out or was interrupted (retrying may help). */
export class ConnectionFailedError extends LevelChatError {}

/** @type {Array<[typeof LevelChatError, string, string[]]>} */
const FAMILIES = [
  [
    TokenError,
    'TokenError',
    ['token_missing', 'token_invalid', 'token_expired', 'token_not_yet_valid', 'token_ttl', 'wrong_room', 'unknown_key',
      'missing_claim', 'bad_capabilities', 'resume_invalid', 'resume_expired', 'hello_timeout'],
  ],
  [ForbiddenError, 'ForbiddenError', ['forbidden']],
  [DeviceError, 'DeviceError', ['permission_denied', 'device_not_found', 'device_in_use', 'media_error']],
  [RoomAccessError, 'RoomAccessError', ['room_ended', 'room_full', 'removed', 'replaced']],
  [ConnectionFailedError, 'ConnectionFailedError', ['connection_failed', 'connection_closed', 'timeout', 'interrupted', 'not_connected']],
];
/** @type {Map<string, [typeof LevelChatError, string]>} */
const FAMILY_OF = new Map(FAMILIES.flatMap(([cls, name, codes]) => codes.map((code) => /** @type {[string, [typeof LevelChatError, string]]} */ ([code, [cls, name]]))));

/**
 * A `LevelChatError` of the subclass its code belongs to (`TokenError`, `ForbiddenError`, `DeviceError`,
 * `RoomAccessError`, `ConnectionFailedError`; `LevelChatError` itself for the rest). Same arguments as the constructor.
 * @param {string} code
 * @param {string} [message]
 * @param {ConstructorParameters<typeof LevelChatError>[2]} [details]
 * @returns {LevelChatError}
 */
export function createError(code, message, details) {
  const [Cls, name] = FAMILY_OF.get(code) ?? [LevelChatError, 'LevelChatError'];
  const error = new Cls(code, message, details);
  error.name = name;
  return error;
}

/**
 * The error for a server close: the reason is the code when it is a known one.
 * @param {number} closeCode
 * @param {string} reason
 * @param {string} [message]  the server's explanation (from its `closing` frame)
 */
export function closeError(closeCode, reason, message) {
  const code = reason && LevelChatError.isKnownCode(reason) ? reason : ErrorCode.CONNECTION_CLOSED;
  const text = message || `connection closed ${closeCode}${reason ? ` (${reason})` : ''}`;
  return createError(code, text, { closeCode });
}

/**
 * The error for a server `error` frame.
 * @param {{ code?: unknown, message?: unknown, field?: unknown, retry_after?: unknown }} frame
 */
export function frameError(frame) {
  const code = typeof frame.code === 'string' && frame.code ? frame.code : ErrorCode.INTERNAL;
  return createError(code, typeof frame.message === 'string' ? frame.message : code, {
    field: typeof frame.field === 'string' ? frame.field : undefined,
    retryAfter: typeof frame.retry_after === 'number' ? frame.retry_after : undefined,
  });
}
