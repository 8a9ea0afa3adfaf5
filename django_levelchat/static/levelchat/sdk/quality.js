/**
 * Connection-quality scoring over `getStats`, in five bands.
 *
 * The score is a simplified ITU-T G.107 E-model estimate of a call's mean opinion score (MOS), the same family of
 * formula as LiveKit's connection-quality scorer:
 *
 * ```
 * effectiveLatency = rtt + 2 · jitter + 10                       (ms)
 * R   = 93.2 − (effectiveLatency < 160 ? effectiveLatency / 40 : (effectiveLatency − 120) / 10)
 * R   = clamp(R − 2.5 · loss%, 0, 100)
 * MOS = 1 + 0.035 · R + 0.000007 · R · (R − 60) · (100 − R)      (1 … 4.5)
 * score = round(100 · (MOS − 1) / 3.5)                            (0 … 100, sent as quality-report.score)
 * ```
 *
 * - `rtt`: the selected ICE candidate pair's `currentRoundTripTime` (else `remote-inbound-rtp.roundTripTime`);
 *   with no peer connection, the signaling ping's round trip.
 * - `jitter`: the largest `inbound-rtp.jitter` of the audio streams (video if there is no audio), and
 *   `remote-inbound-rtp.jitter` (what the far end measures on our stream).
 * - `loss%`: the larger of the inbound loss over the last interval (Δ packetsLost / Δ(packetsLost +
 *   packetsReceived)) and the far end's `fractionLost` on our outbound streams.
 * - Each peer connection is scored on its own and the room score is the mean MOS of the peers, smoothed with an
 *   exponential moving average (α = 0.5, one sample every 2 s).
 *
 * Bands by smoothed MOS: excellent ≥ 4.2 > good ≥ 3.8 > fair ≥ 3.4 > poor ≥ 2.6 > bad. For example, 50 ms RTT
 * with no loss is excellent, 5 % loss good, 10 % loss fair, 300 ms RTT + 30 ms jitter + 3 % loss poor, and 20 %
 * loss bad. `connection-quality` fires only when the band changes.
 * @module
 */

import { realClock } from './clock.js';

/** @import { QualityBand } from './protocol.js' */
/** @import { Clock } from './clock.js' */

/** MOS thresholds, best band first. */
export const BAND_THRESHOLDS = Object.freeze(
  /** @type {[QualityBand, number][]} */ ([
    ['excellent', 4.2],
    ['good', 3.8],
    ['fair', 3.4],
    ['poor', 2.6],
    ['bad', -Infinity],
  ]),
);

/**
 * @typedef {object} QualitySample
 * @property {number} rttMs
 * @property {number} jitterMs
 * @property {number} lossPercent  0 … 100
 */

/**
 * Estimated mean opinion score (1 … ~4.41) of a sample.
 * @param {QualitySample} sample
 */
export function mos({ rttMs, jitterMs, lossPercent }) {
  const latency = Math.max(0, rttMs) + 2 * Math.max(0, jitterMs) + 10;
  let r = 93.2 - (latency < 160 ? latency / 40 : (latency - 120) / 10);
  r = Math.min(100, Math.max(0, r - 2.5 * Math.min(100, Math.max(0, lossPercent))));
  return 1 + 0.035 * r + 0.000007 * r * (r - 60) * (100 - r);
}

/** @param {number} value a MOS @returns {QualityBand} */
export function bandForMos(value) {
  return /** @type {[QualityBand, number]} */ (BAND_THRESHOLDS.find(([, min]) => value >= min))[0];
}

/** A MOS as a 0 … 100 score. @param {number} value */
export function scoreForMos(value) {
  return Math.min(100, Math.max(0, Math.round((100 * (value - 1)) / 3.5)));
}

/** Smooths MOS samples and reports band transitions only. */
export class QualityScorer {
  /** @type {number | null} */
  mos = null;
  /** @type {QualityBand | null} */
  band = null;

  /** @param {{ alpha?: number }} [options] */
  constructor({ alpha = 0.5 } = {}) {
    this.alpha = alpha;
  }

  /** The current score (0 … 100), or null before the first sample. */
  get score() {
    return this.mos === null ? null : scoreForMos(this.mos);
  }

  /**
   * Add one MOS sample. Returns the new band when it changed, else null.
   * @param {number} sample
   * @returns {QualityBand | null}
   */
  push(sample) {
    this.mos = this.mos === null ? sample : this.alpha * sample + (1 - this.alpha) * this.mos;
    const band = bandForMos(this.mos);
    if (band === this.band) return null;
    this.band = band;
    return band;
  }
}

/**
 * @typedef {object} PeerCounters  cumulative inbound counters from the previous sample of one peer connection
 * @property {number} lost
 * @property {number} received
 */

/**
 * The quality metrics of one peer connection's stats report.
 * @param {Iterable<any> | { forEach: (fn: (value: any) => void) => void }} report  an RTCStatsReport (or an array of stats)
 * @param {PeerCounters | null} previous
 * @returns {{ sample: QualitySample | null, counters: PeerCounters }}
 */
export function peerMetrics(report, previous) {
  /** @type {any[]} */
  const stats = [];
  if (typeof (/** @type {any} */ (report).forEach) === 'function') /** @type {any} */ (report).forEach((/** @type {any} */ s) => stats.push(s));
  else for (const s of /** @type {Iterable<any>} */ (report)) stats.push(s);
  const byId = new Map(stats.map((s) => [s.id, s]));

  let rtt = null;
  const transport = stats.find((s) => s.type === 'transport' && s.selectedCandidatePairId);
  const pair = transport
    ? byId.get(transport.selectedCandidatePairId)
    : stats.find((s) => s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded');
  if (pair && typeof pair.currentRoundTripTime === 'number') rtt = pair.currentRoundTripTime * 1000;

  let jitter = 0;
  let outboundLoss = 0;
  let lost = 0;
  let received = 0;
  let haveAudio = false;
  for (const s of stats) {
    if (s.type === 'remote-inbound-rtp') {
      if (rtt === null && typeof s.roundTripTime === 'number') rtt = s.roundTripTime * 1000;
      if (typeof s.fractionLost === 'number') outboundLoss = Math.max(outboundLoss, s.fractionLost * 100);
      if (typeof s.jitter === 'number') jitter = Math.max(jitter, s.jitter * 1000);
    } else if (s.type === 'inbound-rtp') {
      lost += Math.max(0, s.packetsLost ?? 0);
      received += s.packetsReceived ?? 0;
      if (typeof s.jitter === 'number') {
        const isAudio = s.kind === 'audio';
        if (isAudio && !haveAudio) {
          haveAudio = true;
          jitter = 0;
        }
        if (isAudio || !haveAudio) jitter = Math.max(jitter, s.jitter * 1000);
      }
    }
  }
  const counters = { lost, received };
  if (rtt === null && received === 0) return { sample: null, counters };
  let inboundLoss = 0;
  const dLost = lost - (previous?.lost ?? 0);
  const dReceived = received - (previous?.received ?? 0);
  if (dLost > 0 && dLost + dReceived > 0) inboundLoss = (100 * dLost) / (dLost + dReceived);
  return { sample: { rttMs: rtt ?? 0, jitterMs: jitter, lossPercent: Math.max(inboundLoss, outboundLoss) }, counters };
}

/**
 * @typedef {object} QualityMonitorOptions
 * @property {() => Iterable<[string, { getStats: () => Promise<any> }]>} getPeers  peer id → peer connection
 * @property {() => number | null} getSignalingRtt  used when there is no peer connection
 * @property {(band: QualityBand, score: number) => void} onChange
 * @property {number} [intervalMs]  default 2000
 * @property {Clock} [clock]
 */

/** Samples the peer connections every `intervalMs` and calls `onChange` on band transitions. */
export class QualityMonitor {
  scorer = new QualityScorer();
  #opts;
  #clock;
  /** @type {Map<string, PeerCounters>} */
  #counters = new Map();
  /** @type {any} */
  #timer = null;
  #running = false;

  /** @param {QualityMonitorOptions} options */
  constructor(options) {
    this.#opts = options;
    this.#clock = options.clock ?? realClock;
  }

  start() {
    if (this.#running) return;
    this.#running = true;
    const tick = async () => {
      if (!this.#running) return;
      await this.sample();
      if (this.#running) this.#timer = this.#clock.setTimeout(tick, this.#opts.intervalMs ?? 2000);
    };
    this.#timer = this.#clock.setTimeout(tick, this.#opts.intervalMs ?? 2000);
  }

  stop() {
    this.#running = false;
    this.#clock.clearTimeout(this.#timer);
  }

  /** Take one sample now. */
  async sample() {
    /** @type {number[]} */
    const scores = [];
    const seen = new Set();
    for (const [id, pc] of this.#opts.getPeers()) {
      seen.add(id);
      try {
        const { sample, counters } = peerMetrics(await pc.getStats(), this.#counters.get(id) ?? null);
        this.#counters.set(id, counters);
        if (sample) scores.push(mos(sample));
      } catch {
        /* a closed peer connection */
      }
    }
    for (const id of this.#counters.keys()) if (!seen.has(id)) this.#counters.delete(id);
    if (scores.length === 0) {
      const rtt = this.#opts.getSignalingRtt();
      if (rtt === null) return;
      scores.push(mos({ rttMs: rtt, jitterMs: 0, lossPercent: 0 }));
    }
    const band = this.scorer.push(scores.reduce((a, b) => a + b, 0) / scores.length);
    if (band) this.#opts.onChange(band, this.scorer.score ?? 0);
  }
}
