/**
 * A media track of a participant: local (captured here) or remote (received from a peer).
 * @module
 */

/** @import { TrackKind, TrackSource, Layer } from './protocol.js' */

/**
 * @internal
 * What a Track asks of its Room.
 * @typedef {object} TrackControl
 * @property {(track: Track, muted: boolean) => Promise<void>} setMuted
 */

export class Track {
  /** @type {string} `TR_…`, unique among its participant's tracks */
  sid;
  /** @type {TrackKind} */
  kind;
  /** @type {TrackSource} */
  source;
  /** @type {string} the id of the participant who publishes it */
  participantId;
  /** @type {boolean} */
  isLocal;
  /** The publisher's mute state (a muted camera sends black, a muted mic silence). @type {boolean} */
  muted = false;
  /** @type {string | undefined} */
  name;
  /** @type {Layer[] | undefined} simulcast layers (SFU path) */
  layers;
  /**
   * The browser track: the capture for local tracks; for remote tracks the received media, null until
   * `track-subscribed`.
   * @type {MediaStreamTrack | null}
   */
  mediaStreamTrack = null;
  /** Remote: whether media is being received now (`track-subscribed` … `track-unsubscribed`). */
  subscribed = false;
  /** Remote: this page's playback switch (`mute()`/`unmute()` on a remote track); not the publisher's state. */
  playbackMuted = false;
  /** @internal @type {RTCRtpReceiver | null} */
  receiver = null;
  /** @internal Called when an attached element refuses to play (autoplay policy). @type {((el: HTMLMediaElement) => void) | null} */
  onPlaybackBlocked = null;

  /** @type {Set<HTMLMediaElement>} */
  #elements = new Set();
  /** @type {TrackControl | null} */
  #control;

  /**
   * @param {{ sid: string, kind: TrackKind, source: TrackSource, participantId: string, isLocal?: boolean,
   *   muted?: boolean, name?: string, layers?: Layer[], mediaStreamTrack?: MediaStreamTrack | null }} info
   * @param {TrackControl | null} [control]
   */
  constructor(info, control = null) {
    this.sid = info.sid;
    this.kind = info.kind;
    this.source = info.source;
    this.participantId = info.participantId;
    this.isLocal = info.isLocal ?? false;
    this.muted = info.muted ?? false;
    this.name = info.name;
    this.layers = info.layers;
    this.mediaStreamTrack = info.mediaStreamTrack ?? null;
    this.#control = control;
  }

  /** The elements this track is attached to. */
  get attachedElements() {
    return [...this.#elements];
  }

  /**
   * Play the track in a `<video>`/`<audio>` element (created when omitted) and return it. Local video is
   * muted (no echo); every element gets `autoplay` and `playsInline`. Attaching before media arrives is fine:
   * the element starts playing at `track-subscribed`.
   * @param {HTMLMediaElement} [element]
   * @returns {HTMLMediaElement}
   */
  attach(element) {
    const el = element ?? document.createElement(this.kind === 'video' ? 'video' : 'audio');
    el.autoplay = true;
    if ('playsInline' in el) /** @type {HTMLVideoElement} */ (el).playsInline = true;
    if (this.isLocal) el.muted = true;
    this.#elements.add(el);
    this.#bind(el);
    return el;
  }

  /**
   * Stop playing in `element` (or in every attached element). Returns the detached elements.
   * @param {HTMLMediaElement} [element]
   * @returns {HTMLMediaElement[]}
   */
  detach(element) {
    const targets = element ? (this.#elements.has(element) ? [element] : []) : [...this.#elements];
    for (const el of targets) {
      this.#elements.delete(el);
      el.srcObject = null;
    }
    return targets;
  }

  /**
   * Local: stop sending (a muted mic sends silence, a muted camera black) and tell the room (`track-muted`).
   * Remote: stop playing it on this page only.
   */
  async mute() {
    await this.#setMuted(true);
  }

  /** Undo `mute()`. */
  async unmute() {
    await this.#setMuted(false);
  }

  /** @param {boolean} muted */
  async #setMuted(muted) {
    if (!this.isLocal) {
      this.playbackMuted = muted;
      if (this.mediaStreamTrack) this.mediaStreamTrack.enabled = !muted;
      return;
    }
    if (this.mediaStreamTrack) this.mediaStreamTrack.enabled = !muted;
    if (this.#control) await this.#control.setMuted(this, muted);
    else this.muted = muted;
  }

  /**
   * @internal
   * Set (or clear) the received/captured browser track and rebind the attached elements.
   * @param {MediaStreamTrack | null} mediaStreamTrack
   */
  setMediaStreamTrack(mediaStreamTrack) {
    this.mediaStreamTrack = mediaStreamTrack;
    if (mediaStreamTrack && !this.isLocal && this.playbackMuted) mediaStreamTrack.enabled = false;
    for (const el of this.#elements) this.#bind(el);
  }

  /** @param {HTMLMediaElement} el */
  #bind(el) {
    const mst = this.mediaStreamTrack;
    const current = /** @type {MediaStream | null} */ (el.srcObject);
    if (mst && current && current.getTracks().length === 1 && current.getTracks()[0] === mst) return;
    el.srcObject = mst ? new MediaStream([mst]) : null;
    // Autoplay may need a user gesture (audio above all): the Room offers startAudio() for that case.
    if (mst) el.play?.()?.catch(() => this.onPlaybackBlocked?.(el));
  }
}
