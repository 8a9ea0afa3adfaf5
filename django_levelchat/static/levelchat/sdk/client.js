/**
 * The SDK's front door: configuration, `joinRoom`/`joinLive`, and the dev-only `issueToken`.
 * @module
 */

import { ErrorCode, createError } from './errors.js';
import { readToken } from './jwt.js';
import { Logger } from './logger.js';
import { captureCamera, captureMic, listDevices } from './media.js';
import { SIGNAL_PATH } from './protocol.js';
import { DefaultReconnectPolicy } from './reconnect.js';
import { Room } from './room.js';

/** @import { LogLevel, LogSink } from './logger.js' */
/** @import { ReconnectPolicy, ReconnectOptions } from './reconnect.js' */
/** @import { WebSocketConstructor } from './signaling.js' */
/** @import { Clock } from './clock.js' */
/** @import { TokenClaims } from './jwt.js' */
/** @import { Resolution } from './media.js' */

/**
 * @typedef {object} LevelChatOptions
 * @property {LogLevel} [logLevel]  default `warn` (silent in normal operation)
 * @property {LogSink} [logSink]  where log lines go (default: the console)
 * @property {string} [region]  the region to use when the token names none
 * @property {string | Record<string, string>} [signalingUrl]  the signaling WebSocket URL; a `{region}` placeholder
 *   is replaced by the token's region, and a map picks the URL by region (key `default` as fallback). Default:
 *   `ws(s)://<this page's host>/levelchat/v1/signal`.
 * @property {RTCIceServer[]} [iceServers]  override the server's `welcome.ice_servers`
 * @property {string} [apiKey]  `lc_pk_…`: only for `issueToken()`, a development convenience. Never ship an API
 *   key to browsers in production: mint tokens on your server.
 * @property {string} [apiUrl]  the REST API origin for `issueToken()` (default: this page's origin)
 * @property {string} [codec]  pin a video codec for mesh connections (`av1`, `vp9`, `h264`, `vp8`)
 * @property {ReconnectOptions | ReconnectPolicy} [reconnect]  backoff options, or your own policy object
 * @property {number} [connectTimeoutMs]  how long joining may take, retries included (default 15000)
 * @property {WebSocketConstructor} [WebSocketImpl]
 * @property {typeof RTCPeerConnection} [RTCPeerConnectionImpl]
 * @property {typeof fetch} [fetchImpl]
 * @property {Clock} [clock]
 * @property {boolean} [speakingDetection]  analyse the local mic with WebAudio (default true)
 */

/**
 * @typedef {object} IssueTokenOptions
 * @property {string} room  the room's public id
 * @property {string} identity
 * @property {string} [name]
 * @property {string} [role]
 * @property {string[]} [capabilities]
 * @property {number} [ttl]  seconds
 * @property {Record<string, unknown>} [metadata]
 * @property {string} [region]
 */

/**
 * @typedef {object} IssuedToken
 * @property {string} token
 * @property {string} expiresAt  ISO 8601
 * @property {string} signalingUrl
 * @property {RTCIceServer[]} iceServers
 * @property {string} room
 * @property {string} identity
 */

/**
 * @typedef {object} JoinOptions
 * @property {string} token  the room JWT (from your server, or `issueToken()` in development)
 * @property {string} [signalingUrl]  overrides the client's URL choice for this room
 */

export class LevelChat {
  /** @type {LevelChatOptions} */
  options;
  /** @type {Logger} */
  logger;

  /** @param {LevelChatOptions} [options] */
  constructor(options = {}) {
    this.options = { ...options };
    this.logger = new Logger('levelchat', { level: options.logLevel ?? 'warn', sink: options.logSink });
  }

  /** Whether this browser has what a call needs (WebSocket, RTCPeerConnection, getUserMedia). */
  static isSupported() {
    return (
      typeof globalThis.WebSocket === 'function' &&
      typeof globalThis.RTCPeerConnection === 'function' &&
      typeof globalThis.navigator?.mediaDevices?.getUserMedia === 'function'
    );
  }

  /**
   * Development convenience: mint a room token through the REST API (`POST /levelchat/v1/rooms/{room}/tokens`)
   * with the `apiKey` given to the constructor. Throws `api_key_missing` without one, `token_request_failed`
   * (with `status` and `serverCode`) when the API refuses.
   * @param {IssueTokenOptions} options
   * @returns {Promise<IssuedToken>}
   */
  async issueToken({ room, identity, ...rest }) {
    const { apiKey } = this.options;
    if (!apiKey) {
      throw createError(
        ErrorCode.API_KEY_MISSING,
        'issueToken() needs `apiKey` in the LevelChat options (development only: in production your server mints tokens)',
      );
    }
    if (!room || !identity) throw createError(ErrorCode.INVALID_ARGUMENT, 'issueToken() needs `room` and `identity`');
    const base = (this.options.apiUrl ?? globalThis.location?.origin ?? '').replace(/\/$/, '');
    const url = `${base}/levelchat/v1/rooms/${encodeURIComponent(room)}/tokens`;
    const fetchImpl = this.options.fetchImpl ?? globalThis.fetch;
    /** @type {Response} */
    let response;
    try {
      response = await fetchImpl(url, {
        method: 'POST',
        headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ identity, ...rest }),
      });
    } catch (cause) {
      throw createError(ErrorCode.TOKEN_REQUEST_FAILED, `could not reach ${url}`, { cause });
    }
    /** @type {any} */
    let body = null;
    try {
      body = await response.json();
    } catch {
      /* not JSON */
    }
    if (!response.ok || !body || typeof body.token !== 'string') {
      const detail = body && typeof body.detail === 'string' ? body.detail : `HTTP ${response.status}`;
      throw createError(ErrorCode.TOKEN_REQUEST_FAILED, `the token request was refused: ${detail}`, {
        status: response.status,
        serverCode: body && typeof body.code === 'string' ? body.code : undefined,
      });
    }
    return {
      token: body.token,
      expiresAt: body.expires_at,
      signalingUrl: body.signaling_url,
      iceServers: body.ice_servers ?? [],
      room: body.room ?? room,
      identity: body.identity ?? identity,
    };
  }

  /**
   * Join a room. Returns the Room at once (attach listeners now); `await room.ready` for the roster.
   * Throws `token_invalid` synchronously when the token is not a JWT naming a room.
   * @param {JoinOptions} options
   * @returns {Room}
   */
  joinRoom({ token, signalingUrl }) {
    return this.#join(token, signalingUrl, {});
  }

  /**
   * Join a live room as a `viewer` (receive only: every publish call rejects with `forbidden`, client side) or a
   * `broadcaster`. The token must carry matching capabilities; `roomType` is informational until the SFU path
   * exists (live rooms run on the mesh for now).
   * @param {JoinOptions & { role: 'viewer' | 'broadcaster', roomType?: '1to1' | 'meeting' | 'live' | 'webinar' }} options
   * @returns {Room}
   */
  joinLive({ token, signalingUrl, role, roomType = 'live' }) {
    if (role !== 'viewer' && role !== 'broadcaster') {
      throw createError(ErrorCode.INVALID_ARGUMENT, "joinLive role must be 'viewer' or 'broadcaster'");
    }
    return this.#join(token, signalingUrl, { viewer: role === 'viewer', roomType });
  }

  /**
   * Open the camera for a preview before joining; publish it later with `room.publishCamera({ track })`.
   * @param {{ resolution?: Resolution, deviceId?: string }} [options]
   */
  createCameraTrack(options) {
    return captureCamera(options);
  }

  /**
   * Open the microphone before joining; publish it later with `room.publishMic({ track })`.
   * @param {{ deviceId?: string }} [options]
   */
  createMicTrack(options) {
    return captureMic(options);
  }

  /**
   * Cameras (`videoinput`), microphones (`audioinput`) or speakers (`audiooutput`).
   * @param {MediaDeviceKind} [kind]
   */
  listDevices(kind) {
    return listDevices(kind);
  }

  /**
   * The signaling URL for a token: explicit > configured (by region) > this page's host.
   * @param {TokenClaims} claims
   * @param {string} [override]
   */
  signalingUrlFor(claims, override) {
    const region = claims.region || this.options.region || '';
    let url = override;
    const configured = this.options.signalingUrl;
    if (!url && typeof configured === 'string') url = configured;
    else if (!url && configured && typeof configured === 'object') url = configured[region] ?? configured.default;
    const location = globalThis.location;
    if (!url) {
      if (!location?.host) throw createError(ErrorCode.INVALID_ARGUMENT, 'no signalingUrl and no page location to derive it from');
      url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${SIGNAL_PATH}`;
    }
    url = url.replace('{region}', encodeURIComponent(region));
    if (url.startsWith('/') && location?.host) url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${url}`;
    else if (url.startsWith('http')) url = url.replace(/^http/, 'ws');
    return url;
  }

  /**
   * @param {string} token
   * @param {string | undefined} signalingUrl
   * @param {{ viewer?: boolean, roomType?: string }} extra
   */
  #join(token, signalingUrl, extra) {
    const claims = readToken(token);
    const opts = this.options;
    const reconnect = opts.reconnect;
    const policy =
      reconnect && typeof (/** @type {ReconnectPolicy} */ (reconnect).nextRetryDelayMs) === 'function'
        ? /** @type {ReconnectPolicy} */ (reconnect)
        : new DefaultReconnectPolicy(/** @type {ReconnectOptions | undefined} */ (reconnect));
    const logger = this.logger.child(claims.room);
    const room = new Room({
      claims,
      logger,
      iceServers: opts.iceServers ?? null,
      codec: opts.codec ?? null,
      viewer: extra.viewer,
      roomType: extra.roomType,
      RTCPeerConnectionImpl: opts.RTCPeerConnectionImpl,
      speakingDetection: opts.speakingDetection,
      signaling: {
        url: this.signalingUrlFor(claims, signalingUrl),
        token,
        WebSocketImpl: opts.WebSocketImpl,
        policy,
        clock: opts.clock,
        connectTimeoutMs: opts.connectTimeoutMs,
      },
    });
    return room.connect();
  }
}
