/**
 * Video codec preference for mesh peer connections: AV1 ▸ VP9 ▸ H.264 ▸ VP8, probed with
 * `RTCRtpSender.getCapabilities('video')` and applied per transceiver with `setCodecPreferences`, unless a codec
 * is pinned (then it goes first, and the rest follow in the default order as a fallback). The SFU path uses VP8
 * only (what aiortc can forward), which is a pin.
 * @module
 */

/** Preferred video codecs, best first (mime types). */
export const VIDEO_CODEC_ORDER = Object.freeze(['video/AV1', 'video/VP9', 'video/H264', 'video/VP8']);
/** Not media codecs: retransmission and FEC entries; they must stay in the list, after the media codecs. */
const AUXILIARY = new Set(['video/rtx', 'video/red', 'video/ulpfec', 'video/flexfec-03']);

/** @typedef {{ mimeType: string, clockRate?: number, channels?: number, sdpFmtpLine?: string }} CodecCapability */

/**
 * A codec name as a mime type: `vp9`, `VP9` and `video/VP9` are the same codec.
 * @param {string} codec
 */
export function normalizeCodec(codec) {
  const name = codec.includes('/') ? codec.split('/')[1] : codec;
  const known = VIDEO_CODEC_ORDER.find((mime) => mime.slice(6).toLowerCase() === name.toLowerCase());
  return known ?? `video/${name}`;
}

/**
 * Sort codec capabilities by preference: the pinned codec (if any), then AV1, VP9, H.264, VP8, then other media
 * codecs, then the auxiliary entries. The sort is stable, so e.g. H.264 profiles keep the browser's order.
 * @template {CodecCapability} C
 * @param {readonly C[]} codecs
 * @param {string | null} [pinned]
 * @returns {C[]}
 */
export function sortCodecs(codecs, pinned = null) {
  const order = pinned ? [normalizeCodec(pinned), ...VIDEO_CODEC_ORDER] : [...VIDEO_CODEC_ORDER];
  const lowered = order.map((m) => m.toLowerCase());
  /** @param {C} codec */
  const rank = (codec) => {
    const mime = codec.mimeType.toLowerCase();
    if (AUXILIARY.has(codec.mimeType) || [...AUXILIARY].some((a) => a.toLowerCase() === mime)) return 1000;
    const i = lowered.indexOf(mime);
    return i === -1 ? 500 : i;
  };
  return codecs
    .map((codec, index) => ({ codec, index, rank: rank(codec) }))
    .sort((a, b) => a.rank - b.rank || a.index - b.index)
    .map((x) => x.codec);
}

/**
 * The video codecs this browser can send, sorted; null when it cannot tell (no getCapabilities).
 * @param {{ getCapabilities?: (kind: string) => { codecs: CodecCapability[] } | null } | undefined} Sender
 *   `RTCRtpSender` (injectable for tests)
 * @param {string | null} [pinned]
 */
export function preferredVideoCodecs(Sender, pinned = null) {
  const caps = Sender?.getCapabilities?.('video');
  return caps?.codecs?.length ? sortCodecs(caps.codecs, pinned) : null;
}

/**
 * Apply the preference to one video transceiver (before the offer/answer that negotiates it). Returns whether
 * it was applied; browsers without `setCodecPreferences` keep their default order.
 * @param {{ setCodecPreferences?: (codecs: any[]) => void, receiver?: { track?: { kind: string } | null } }} transceiver
 * @param {CodecCapability[] | null} codecs  from `preferredVideoCodecs`
 */
export function applyCodecPreferences(transceiver, codecs) {
  if (!codecs || typeof transceiver.setCodecPreferences !== 'function') return false;
  if (transceiver.receiver?.track && transceiver.receiver.track.kind !== 'video') return false;
  try {
    transceiver.setCodecPreferences(codecs);
    return true;
  } catch {
    return false; // e.g. a codec the receiver side cannot decode: keep the browser's order
  }
}
