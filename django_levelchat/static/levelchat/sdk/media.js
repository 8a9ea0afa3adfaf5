/**
 * Capture helpers: getUserMedia/getDisplayMedia with our constraint defaults, device lists, and the mapping of
 * DOMExceptions to LevelChatError codes. Also the encoding presets used by the mesh and (later) the SFU path.
 * @module
 */

import { ErrorCode, LevelChatError, createError } from './errors.js';

/** @typedef {'180p' | '360p' | '720p' | '1080p'} Resolution */

/** Capture size, frame rate and top bitrate (bps) per camera resolution. */
export const RESOLUTIONS = Object.freeze(
  /** @type {Record<Resolution, { width: number, height: number, frameRate: number, maxBitrate: number }>} */ ({
    '180p': { width: 320, height: 180, frameRate: 15, maxBitrate: 150_000 },
    '360p': { width: 640, height: 360, frameRate: 30, maxBitrate: 600_000 },
    '720p': { width: 1280, height: 720, frameRate: 30, maxBitrate: 1_700_000 },
    '1080p': { width: 1920, height: 1080, frameRate: 30, maxBitrate: 3_000_000 },
  }),
);
export const SCREEN_MAX_BITRATE = 2_500_000;

/**
 * Per-peer sender adjustment in the mesh for a subscriber's preferred quality: resolution divisor and share of
 * the track's top bitrate. `auto` is `high` (the browser's congestion control adapts within it).
 */
export const MESH_QUALITY = Object.freeze({
  low: { scaleResolutionDownBy: 4, bitrateShare: 0.15 },
  medium: { scaleResolutionDownBy: 2, bitrateShare: 0.4 },
  high: { scaleResolutionDownBy: 1, bitrateShare: 1 },
  auto: { scaleResolutionDownBy: 1, bitrateShare: 1 },
});

/**
 * Simulcast layers for the SFU path (quarter, half, full), each its own send-only transceiver (aiortc cannot
 * receive RID simulcast). The mesh does not use them.
 */
export const SFU_LAYERS = Object.freeze([
  { layer: 'q', scaleResolutionDownBy: 4, bitrateShare: 0.15 },
  { layer: 'h', scaleResolutionDownBy: 2, bitrateShare: 0.4 },
  { layer: 'f', scaleResolutionDownBy: 1, bitrateShare: 1 },
]);

/**
 * The LevelChatError for a getUserMedia/getDisplayMedia failure.
 * @param {unknown} err
 */
export function mediaError(err) {
  const name = /** @type {{ name?: string }} */ (err)?.name ?? '';
  const message = /** @type {{ message?: string }} */ (err)?.message ?? String(err);
  const code =
    name === 'NotAllowedError' || name === 'SecurityError'
      ? ErrorCode.PERMISSION_DENIED
      : name === 'NotFoundError' || name === 'OverconstrainedError'
        ? ErrorCode.DEVICE_NOT_FOUND
        : name === 'NotReadableError' || name === 'AbortError'
          ? ErrorCode.DEVICE_IN_USE
          : ErrorCode.MEDIA_ERROR;
  return createError(code, `${name || 'media error'}: ${message}`, { cause: err });
}

/** @returns {MediaDevices} */
function devices() {
  const md = globalThis.navigator?.mediaDevices;
  if (!md) {
    throw createError(ErrorCode.NOT_SUPPORTED, 'no navigator.mediaDevices (the page must be a secure context)');
  }
  return md;
}

/**
 * Open the camera.
 * @param {{ resolution?: Resolution, deviceId?: string, facingMode?: string }} [options]
 * @returns {Promise<MediaStreamTrack>}
 */
export async function captureCamera({ resolution = '720p', deviceId, facingMode } = {}) {
  const preset = RESOLUTIONS[resolution] ?? RESOLUTIONS['720p'];
  /** @type {MediaTrackConstraints} */
  const video = {
    width: { ideal: preset.width },
    height: { ideal: preset.height },
    frameRate: { ideal: preset.frameRate },
  };
  if (deviceId) video.deviceId = { exact: deviceId };
  else if (facingMode) video.facingMode = facingMode;
  try {
    const stream = await devices().getUserMedia({ video });
    return stream.getVideoTracks()[0];
  } catch (err) {
    throw err instanceof LevelChatError ? err : mediaError(err);
  }
}

/**
 * Open the microphone (echo cancellation, noise suppression and auto gain on).
 * @param {{ deviceId?: string }} [options]
 * @returns {Promise<MediaStreamTrack>}
 */
export async function captureMic({ deviceId } = {}) {
  /** @type {MediaTrackConstraints} */
  const audio = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
  if (deviceId) audio.deviceId = { exact: deviceId };
  try {
    const stream = await devices().getUserMedia({ audio });
    return stream.getAudioTracks()[0];
  } catch (err) {
    throw err instanceof LevelChatError ? err : mediaError(err);
  }
}

/**
 * Ask the user for a screen, window or tab; with `withAudio`, tab/system audio too where the browser offers it.
 * @param {{ withAudio?: boolean }} [options]
 * @returns {Promise<{ video: MediaStreamTrack, audio: MediaStreamTrack | null }>}
 */
export async function captureScreen({ withAudio = false } = {}) {
  const md = devices();
  if (typeof md.getDisplayMedia !== 'function') {
    throw createError(ErrorCode.NOT_SUPPORTED, 'this browser cannot share the screen');
  }
  try {
    const stream = await md.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: withAudio });
    return { video: stream.getVideoTracks()[0], audio: stream.getAudioTracks()[0] ?? null };
  } catch (err) {
    throw mediaError(err);
  }
}

/**
 * Cameras, microphones or speakers (labels are empty until the page was granted access once).
 * @param {MediaDeviceKind} [kind]
 */
export async function listDevices(kind) {
  const all = await devices().enumerateDevices();
  return kind ? all.filter((d) => d.kind === kind) : all;
}
