/**
 * Decode (never verify) a room JWT, to read the room and region and choose the signaling URL.
 * Verification is the server's job; the SDK only needs the claims to route the connection.
 * @module
 */

import { ErrorCode, createError } from './errors.js';

/**
 * @typedef {object} TokenClaims
 * @property {string} room        the room's public id (`room`, else `aud`)
 * @property {string} region      the region claim, `""` when absent
 * @property {string} identity    `sub`
 * @property {string} name
 * @property {string} role
 * @property {string[]} capabilities  `caps`
 * @property {number | null} expiresAt  `exp` in ms since the epoch
 * @property {Record<string, unknown>} payload  every claim, as decoded
 */

/** @param {string} segment */
function base64UrlDecode(segment) {
  if (!/^[A-Za-z0-9_-]*$/.test(segment)) throw new Error('not base64url');
  const b64 = segment.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((segment.length + 3) % 4);
  const binary = atob(b64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}

/**
 * The JWT's payload, decoded without checking the signature.
 * @param {string} token
 * @returns {Record<string, unknown>}
 * @throws {LevelChatError} `token_invalid` when it is not a JWT with a JSON object payload
 */
export function decodeJwt(token) {
  const parts = typeof token === 'string' ? token.split('.') : [];
  if (parts.length !== 3 || !parts[1]) throw createError(ErrorCode.TOKEN_INVALID, 'the token is not a JWT');
  let payload;
  try {
    payload = JSON.parse(base64UrlDecode(parts[1]));
  } catch (cause) {
    throw createError(ErrorCode.TOKEN_INVALID, 'the token payload is not base64url JSON', { cause });
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    throw createError(ErrorCode.TOKEN_INVALID, 'the token payload is not a JSON object');
  }
  return payload;
}

/**
 * The claims the SDK uses, with defaults. Throws `token_invalid` when the token names no room.
 * @param {string} token
 * @returns {TokenClaims}
 */
export function readToken(token) {
  const payload = decodeJwt(token);
  /** @param {unknown} v */
  const str = (v) => (typeof v === 'string' ? v : '');
  const aud = Array.isArray(payload.aud) ? payload.aud[0] : payload.aud;
  const room = str(payload.room) || str(aud);
  if (!room) throw createError(ErrorCode.TOKEN_INVALID, 'the token names no room');
  return {
    room,
    region: str(payload.region),
    identity: str(payload.sub),
    name: str(payload.name),
    role: str(payload.role),
    capabilities: Array.isArray(payload.caps) ? payload.caps.filter((c) => typeof c === 'string') : [],
    expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : null,
    payload,
  };
}
