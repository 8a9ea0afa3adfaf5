/**
 * Local speaking detection with WebAudio: an analyser on the local microphone gives a level (0 … 1), a local
 * `isSpeaking` flag with no server round trip, and `audio-level` reports for the server's active-speaker choice
 * (at most 10 per second, and only while the level is above the threshold, as docs/protocol.md asks).
 * @module
 */

import { realClock } from './clock.js';

/** @import { Clock } from './clock.js' */

/**
 * A level from an RMS amplitude: −60 dBFS and below → 0, 0 dBFS → 1, linear in dB in between.
 * @param {number} rms
 */
export function levelFromRms(rms) {
  if (!(rms > 0)) return 0;
  return Math.min(1, Math.max(0, (20 * Math.log10(rms) + 60) / 60));
}

/**
 * The speaking state machine, without audio: feed it levels with their times.
 * On at the first level at or above `threshold`; off after `holdMs` below it. Reports at most one level per
 * `reportIntervalMs`, and only levels at or above the threshold.
 */
export class SpeakingState {
  isSpeaking = false;
  level = 0;
  #lastLoudAt = -Infinity;
  #lastReportAt = -Infinity;

  /**
   * @param {{ threshold?: number, holdMs?: number, reportIntervalMs?: number }} [options]
   */
  constructor({ threshold = 0.3, holdMs = 500, reportIntervalMs = 100 } = {}) {
    this.threshold = threshold;
    this.holdMs = holdMs;
    this.reportIntervalMs = reportIntervalMs;
  }

  /**
   * @param {number} level 0 … 1
   * @param {number} now ms
   * @returns {{ speakingChanged: boolean, report: number | null }}
   */
  update(level, now) {
    this.level = level;
    const loud = level >= this.threshold;
    if (loud) this.#lastLoudAt = now;
    const speaking = loud || now - this.#lastLoudAt < this.holdMs;
    const speakingChanged = speaking !== this.isSpeaking;
    this.isSpeaking = speaking;
    let report = null;
    if (loud && now - this.#lastReportAt >= this.reportIntervalMs) {
      this.#lastReportAt = now;
      report = Math.round(level * 1000) / 1000;
    }
    return { speakingChanged, report };
  }
}

/**
 * @typedef {object} SpeakingDetectorOptions
 * @property {(speaking: boolean) => void} onSpeakingChanged
 * @property {(level: number) => void} onReport  send `audio-level` (already throttled)
 * @property {typeof AudioContext} [AudioContextImpl]
 * @property {number} [threshold]
 * @property {number} [intervalMs]  analysis period, default 50
 * @property {Clock} [clock]
 */

/** Runs an AnalyserNode over a microphone track. */
export class SpeakingDetector {
  state;
  #opts;
  #clock;
  /** @type {AudioContext | null} */
  #ctx = null;
  /** @type {AnalyserNode | null} */
  #analyser = null;
  /** @type {MediaStreamAudioSourceNode | null} */
  #source = null;
  /** @type {Float32Array<ArrayBuffer> | null} */
  #buffer = null;
  /** @type {any} */
  #timer = null;
  #resumeOnGesture = () => {
    void this.#ctx?.resume().catch(() => {});
  };

  /**
   * @param {MediaStreamTrack} track
   * @param {SpeakingDetectorOptions} options
   */
  constructor(track, options) {
    this.track = track;
    this.#opts = options;
    this.#clock = options.clock ?? realClock;
    this.state = new SpeakingState({ threshold: options.threshold });
  }

  /** Whether WebAudio is available. */
  static get supported() {
    return typeof globalThis.AudioContext === 'function';
  }

  start() {
    const Ctx = this.#opts.AudioContextImpl ?? globalThis.AudioContext;
    if (typeof Ctx !== 'function' || this.#ctx) return;
    const ctx = new Ctx();
    this.#ctx = ctx;
    this.#source = ctx.createMediaStreamSource(new MediaStream([this.track]));
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 512;
    this.#source.connect(analyser);
    this.#analyser = analyser;
    this.#buffer = new Float32Array(analyser.fftSize);
    if (ctx.state === 'suspended') {
      void ctx.resume().catch(() => {});
      // Autoplay policy: a context created without a user gesture may stay suspended until one happens.
      for (const type of ['pointerdown', 'keydown']) globalThis.addEventListener?.(type, this.#resumeOnGesture, { once: true });
    }
    const tick = () => {
      this.#analyse();
      this.#timer = this.#clock.setTimeout(tick, this.#opts.intervalMs ?? 50);
    };
    this.#timer = this.#clock.setTimeout(tick, this.#opts.intervalMs ?? 50);
  }

  stop() {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    for (const type of ['pointerdown', 'keydown']) globalThis.removeEventListener?.(type, this.#resumeOnGesture);
    try {
      this.#source?.disconnect();
    } catch {
      /* already disconnected */
    }
    void this.#ctx?.close().catch(() => {});
    this.#ctx = this.#analyser = this.#source = null;
    if (this.state.isSpeaking) {
      this.state.isSpeaking = false;
      this.#opts.onSpeakingChanged(false);
    }
    this.state.level = 0;
  }

  #analyse() {
    if (!this.#analyser || !this.#buffer) return;
    let level = 0;
    if (this.track.enabled && this.track.readyState === 'live') {
      this.#analyser.getFloatTimeDomainData(this.#buffer);
      let sum = 0;
      for (const v of this.#buffer) sum += v * v;
      level = levelFromRms(Math.sqrt(sum / this.#buffer.length));
    }
    const { speakingChanged, report } = this.state.update(level, this.#clock.now());
    if (speakingChanged) this.#opts.onSpeakingChanged(this.state.isSpeaking);
    if (report !== null) this.#opts.onReport(report);
  }
}
