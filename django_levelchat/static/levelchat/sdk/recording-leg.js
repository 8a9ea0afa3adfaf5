/**
 * The recording leg: while a mesh room is recorded, our published tracks also go to the room's SFU worker on
 * one send-only peer connection, since recording happens there (docs/recording.md, protocol.md `publish`).
 *
 * For each track: a send-only transceiver (VP8 / Opus: the worker copies frames, it never transcodes), a
 * `publish` repeating the track's sid with that transceiver's mid (the worker answers it; no one else hears of
 * it), then an `sfu-signal` offer; the worker answers on `sfu-signal`. Candidates trickle both ways. The room
 * opens the leg on `recording` `started` (or a `welcome` with `room.recording`) and closes it on `stopped` /
 * `failed`; the worker closes its side too. Nothing comes back on a leg.
 * @module
 */

/** @import { LocalMedia } from './mesh.js' */
/** @import { Logger } from './logger.js' */

/** What the SFU forwards and records, per kind (mime types, lower case). */
const PINNED = { video: 'video/vp8', audio: 'audio/opus' };

/**
 * @typedef {object} RecordingLegOptions
 * @property {RTCIceServer[]} iceServers
 * @property {(message: Record<string, unknown>) => Promise<unknown>} request  a request answered by `ack`/`error`
 * @property {(message: Record<string, unknown>) => void} send  a frame with no answer wanted
 * @property {Logger} logger
 * @property {typeof RTCPeerConnection} [RTCPeerConnectionImpl]
 * @property {{ getCapabilities?: (kind: string) => { codecs: RTCRtpCodec[] } | null }} [RTCRtpSenderImpl]
 */

export class RecordingLeg {
  /** @type {RTCPeerConnection} */
  pc;
  closed = false;
  #opts;
  /** sid → transceiver. @type {Map<string, RTCRtpTransceiver>} */
  #transceivers = new Map();
  /** Negotiations run one at a time. @type {Promise<void>} */
  #chain = Promise.resolve();
  /** @type {((description: RTCSessionDescriptionInit) => void) | null} */
  #onAnswer = null;
  /** Candidates that arrived before the answer. @type {RTCIceCandidateInit[]} */
  #early = [];

  /** @param {RecordingLegOptions} options */
  constructor(options) {
    this.#opts = options;
    const PC = options.RTCPeerConnectionImpl ?? globalThis.RTCPeerConnection;
    this.pc = new PC({ iceServers: options.iceServers });
    this.pc.onicecandidate = (event) => {
      if (event.candidate && !this.closed) this.#opts.send({ type: 'sfu-signal', candidate: event.candidate.toJSON() });
    };
  }

  /**
   * Send these tracks too (those already on the leg are skipped) and negotiate.
   * @param {LocalMedia[]} media
   * @returns {Promise<void>}
   */
  publish(media) {
    const run = this.#chain.then(() => this.#publish(media));
    this.#chain = run.catch(() => {});
    return run;
  }

  /** @param {LocalMedia[]} media */
  async #publish(media) {
    const added = media.filter((m) => !this.#transceivers.has(m.sid));
    if (this.closed || !added.length) return;
    for (const item of added) {
      const transceiver = this.pc.addTransceiver(item.track, { direction: 'sendonly' });
      const codecs = (this.#opts.RTCRtpSenderImpl ?? globalThis.RTCRtpSender)?.getCapabilities?.(item.kind)?.codecs;
      if (codecs) {
        const keep = codecs.filter((c) => [PINNED[item.kind], `${item.kind}/rtx`].includes(c.mimeType.toLowerCase()));
        if (keep.length) transceiver.setCodecPreferences(keep);
      }
      this.#transceivers.set(item.sid, transceiver);
    }
    await this.pc.setLocalDescription();
    for (const item of added) {
      const mid = this.#transceivers.get(item.sid)?.mid;
      await this.#opts.request({ type: 'publish', track: { sid: item.sid, kind: item.kind, source: item.source, muted: false, mids: [mid] } });
    }
    const answer = new Promise((resolve) => {
      this.#onAnswer = resolve;
    });
    const offer = this.pc.localDescription;
    await this.#opts.request({ type: 'sfu-signal', description: { type: offer?.type, sdp: offer?.sdp } });
    const description = await answer;
    if (this.closed) return;
    await this.pc.setRemoteDescription(description);
    for (const candidate of this.#early.splice(0)) await this.pc.addIceCandidate(candidate);
  }

  /**
   * Stop sending a track (the worker closes its file on `track-unpublished` by itself).
   * @param {string} sid
   */
  async unpublish(sid) {
    const transceiver = this.#transceivers.get(sid);
    this.#transceivers.delete(sid);
    if (transceiver && !this.closed) await transceiver.sender.replaceTrack(null);
  }

  /**
   * A device switch: the leg sends the new capture too.
   * @param {string} sid
   * @param {MediaStreamTrack} track
   */
  async replaceTrack(sid, track) {
    await this.#transceivers.get(sid)?.sender.replaceTrack(track);
  }

  /**
   * An `sfu-signal` from the worker: the answer to our offer, or a trickled candidate.
   * @param {{ description?: RTCSessionDescriptionInit, candidate?: RTCIceCandidateInit }} frame
   */
  async handleSignal(frame) {
    if (this.closed) return;
    if (frame.description) {
      if (frame.description.type === 'answer' && this.#onAnswer) {
        const resolve = this.#onAnswer;
        this.#onAnswer = null;
        resolve(frame.description);
      } else this.#opts.logger.debug('ignoring an SFU', frame.description.type, 'on the recording leg');
    } else if (frame.candidate?.candidate) {
      if (!this.pc.remoteDescription) this.#early.push(frame.candidate);
      else await this.pc.addIceCandidate(frame.candidate).catch((err) => this.#opts.logger.debug('candidate refused', err));
    }
  }

  close() {
    this.closed = true;
    this.#onAnswer = null;
    this.pc.close();
  }
}
