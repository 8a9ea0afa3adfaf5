import assert from 'node:assert/strict';
import { test } from 'node:test';

import { applyCodecPreferences, normalizeCodec, preferredVideoCodecs, sortCodecs } from '../../django_levelchat/static/levelchat/sdk/codecs.js';
import { BAND_THRESHOLDS, bandForMos, mos, peerMetrics, QualityMonitor, QualityScorer, scoreForMos } from '../../django_levelchat/static/levelchat/sdk/quality.js';
import { levelFromRms, SpeakingState } from '../../django_levelchat/static/levelchat/sdk/speaker.js';
import { FakeClock } from './fakes.js';

// What Chromium's RTCRtpSender.getCapabilities('video') lists (order as the browser gives it).
const CHROME_CODECS = [
  { mimeType: 'video/VP8', clockRate: 90000 },
  { mimeType: 'video/rtx', clockRate: 90000 },
  { mimeType: 'video/VP9', clockRate: 90000, sdpFmtpLine: 'profile-id=0' },
  { mimeType: 'video/VP9', clockRate: 90000, sdpFmtpLine: 'profile-id=2' },
  { mimeType: 'video/H264', clockRate: 90000, sdpFmtpLine: 'profile-level-id=42001f' },
  { mimeType: 'video/H264', clockRate: 90000, sdpFmtpLine: 'profile-level-id=42e01f' },
  { mimeType: 'video/AV1', clockRate: 90000 },
  { mimeType: 'video/H265', clockRate: 90000 },
  { mimeType: 'video/red', clockRate: 90000 },
  { mimeType: 'video/ulpfec', clockRate: 90000 },
];
const names = (list) => list.map((c) => c.mimeType + (c.sdpFmtpLine ? `;${c.sdpFmtpLine}` : ''));

test('codecs: AV1 ▸ VP9 ▸ H.264 ▸ VP8, then other codecs, then rtx/red/ulpfec; stable within a codec', () => {
  assert.deepEqual(names(sortCodecs(CHROME_CODECS)), [
    'video/AV1',
    'video/VP9;profile-id=0',
    'video/VP9;profile-id=2',
    'video/H264;profile-level-id=42001f',
    'video/H264;profile-level-id=42e01f',
    'video/VP8',
    'video/H265',
    'video/rtx',
    'video/red',
    'video/ulpfec',
  ]);
});

test('codecs: a pinned codec goes first, the rest follow as a fallback', () => {
  const sorted = names(sortCodecs(CHROME_CODECS, 'vp8'));
  assert.equal(sorted[0], 'video/VP8');
  assert.equal(sorted[1], 'video/AV1');
  assert.equal(names(sortCodecs(CHROME_CODECS, 'video/H264'))[0], 'video/H264;profile-level-id=42001f');
  assert.equal(normalizeCodec('h264'), 'video/H264');
  assert.equal(normalizeCodec('video/av1'), 'video/AV1');
  // Without AV1 (e.g. an older browser) VP9 leads.
  assert.equal(names(sortCodecs(CHROME_CODECS.filter((c) => c.mimeType !== 'video/AV1')))[0], 'video/VP9;profile-id=0');
});

test('codecs: probing and applying tolerate browsers without the APIs', () => {
  assert.equal(preferredVideoCodecs(undefined), null);
  assert.equal(preferredVideoCodecs({ getCapabilities: () => null }), null);
  assert.equal(preferredVideoCodecs({ getCapabilities: () => ({ codecs: CHROME_CODECS }) })[0].mimeType, 'video/AV1');
  const applied = [];
  assert.equal(applyCodecPreferences({ setCodecPreferences: (c) => applied.push(c) }, CHROME_CODECS), true);
  assert.equal(applied.length, 1);
  assert.equal(applyCodecPreferences({}, CHROME_CODECS), false);
  assert.equal(applyCodecPreferences({ setCodecPreferences: () => { throw new Error('InvalidModificationError'); } }, CHROME_CODECS), false);
  assert.equal(applyCodecPreferences({ setCodecPreferences: () => {} }, null), false);
});

test('quality: the documented examples land in their bands', () => {
  const band = (rttMs, jitterMs, lossPercent) => bandForMos(mos({ rttMs, jitterMs, lossPercent }));
  assert.equal(band(50, 5, 0), 'excellent');
  assert.equal(band(20, 2, 0), 'excellent');
  assert.equal(band(50, 5, 5), 'good');
  assert.equal(band(50, 5, 10), 'fair');
  assert.equal(band(300, 30, 3), 'poor');
  assert.equal(band(50, 5, 20), 'bad');
  assert.equal(band(1000, 100, 0), 'bad');
  assert.deepEqual(BAND_THRESHOLDS.map(([b]) => b), ['excellent', 'good', 'fair', 'poor', 'bad']);
});

test('quality: MOS falls monotonically with RTT, jitter and loss; score is 0..100', () => {
  let previous = Infinity;
  for (const rtt of [0, 50, 100, 150, 200, 400, 800]) {
    const value = mos({ rttMs: rtt, jitterMs: 0, lossPercent: 0 });
    assert.ok(value < previous);
    previous = value;
  }
  previous = Infinity;
  for (const loss of [0, 1, 2, 5, 10, 20, 40]) {
    const value = mos({ rttMs: 50, jitterMs: 5, lossPercent: loss });
    assert.ok(value < previous);
    previous = value;
  }
  assert.ok(mos({ rttMs: 50, jitterMs: 30, lossPercent: 0 }) < mos({ rttMs: 50, jitterMs: 0, lossPercent: 0 }));
  assert.equal(scoreForMos(1), 0);
  assert.equal(scoreForMos(4.5), 100);
  assert.equal(scoreForMos(9), 100);
  assert.ok(mos({ rttMs: 0, jitterMs: 0, lossPercent: 0 }) < 4.5);
  assert.ok(mos({ rttMs: 5000, jitterMs: 500, lossPercent: 100 }) >= 1);
});

test('quality: the scorer reports band transitions only, smoothed', () => {
  const scorer = new QualityScorer();
  const excellent = mos({ rttMs: 30, jitterMs: 2, lossPercent: 0 });
  const bad = mos({ rttMs: 50, jitterMs: 5, lossPercent: 30 });
  assert.equal(scorer.push(excellent), 'excellent');
  assert.equal(scorer.push(excellent), null);
  assert.equal(scorer.push(excellent), null);
  const first = scorer.push(bad); // halfway there: not yet bad
  assert.notEqual(first, 'bad');
  let last = first;
  for (let i = 0; i < 6; i++) last = scorer.push(bad) ?? last;
  assert.equal(scorer.band, 'bad');
  assert.equal(last, 'bad');
  assert.equal(scorer.push(bad), null);
  assert.ok(scorer.score >= 0 && scorer.score <= 100);
});

test('quality: metrics from a stats report (selected pair RTT, audio jitter, inbound and outbound loss)', () => {
  const report = [
    { id: 'T', type: 'transport', selectedCandidatePairId: 'CP1' },
    { id: 'CP1', type: 'candidate-pair', currentRoundTripTime: 0.08, nominated: true, state: 'succeeded' },
    { id: 'CP2', type: 'candidate-pair', currentRoundTripTime: 0.5 },
    { id: 'IA', type: 'inbound-rtp', kind: 'audio', jitter: 0.012, packetsLost: 10, packetsReceived: 990 },
    { id: 'IV', type: 'inbound-rtp', kind: 'video', jitter: 0.2, packetsLost: 0, packetsReceived: 1000 },
    { id: 'RI', type: 'remote-inbound-rtp', kind: 'video', fractionLost: 0.02, roundTripTime: 0.09, jitter: 0.005 },
  ];
  const first = peerMetrics(report, null);
  assert.equal(first.sample.rttMs, 80);
  assert.equal(first.sample.jitterMs, 12); // audio jitter wins over video's
  assert.equal(first.sample.lossPercent, 2); // outbound 2 % > inbound 10/2000 = 0.5 %
  const later = peerMetrics(
    [
      ...report.slice(0, 3),
      { id: 'IA', type: 'inbound-rtp', kind: 'audio', jitter: 0.012, packetsLost: 60, packetsReceived: 1440 },
      { id: 'IV', type: 'inbound-rtp', kind: 'video', jitter: 0.2, packetsLost: 0, packetsReceived: 1500 },
    ],
    first.counters,
  );
  assert.equal(later.sample.lossPercent, 5); // 50 lost of 1000 since the last sample
  assert.equal(peerMetrics([], null).sample, null);
  // A Map-like report (RTCStatsReport) works too.
  assert.equal(peerMetrics(new Map(report.map((s) => [s.id, s])), null).sample.rttMs, 80);
});

test('quality: the monitor samples every interval and calls onChange on transitions', async () => {
  const clock = new FakeClock();
  const changes = [];
  let loss = 0;
  const pc = { getStats: async () => [{ id: 'CP', type: 'candidate-pair', nominated: true, state: 'succeeded', currentRoundTripTime: 0.03 }, { id: 'RI', type: 'remote-inbound-rtp', fractionLost: loss }] };
  const monitor = new QualityMonitor({ getPeers: () => [['PA_x', pc]], getSignalingRtt: () => null, onChange: (band, score) => changes.push([band, score]), clock });
  monitor.start();
  await clock.advance(2000);
  assert.deepEqual(changes.map((c) => c[0]), ['excellent']);
  await clock.advance(4000);
  assert.equal(changes.length, 1);
  loss = 0.3;
  await clock.advance(20000);
  assert.equal(changes.at(-1)[0], 'bad');
  monitor.stop();
  assert.equal(clock.timers.length, 0);
  // Alone in the room: the signaling RTT decides.
  const alone = [];
  const solo = new QualityMonitor({ getPeers: () => [], getSignalingRtt: () => 20, onChange: (band) => alone.push(band), clock });
  await solo.sample();
  assert.deepEqual(alone, ['excellent']);
});

test('speaker: levels in dB, speaking on at once and off after the hold, reports ≤ 10/s only while loud', () => {
  assert.equal(levelFromRms(0), 0);
  assert.equal(levelFromRms(1), 1);
  assert.ok(Math.abs(levelFromRms(0.001) - 0) < 1e-9);
  assert.ok(Math.abs(levelFromRms(0.0316) - 0.5) < 0.01);
  const s = new SpeakingState({ threshold: 0.3, holdMs: 500, reportIntervalMs: 100 });
  const reports = [];
  const changes = [];
  for (let t = 0; t <= 1000; t += 20) {
    const level = t < 400 ? 0.6 : 0.05;
    const { speakingChanged, report } = s.update(level, t);
    if (speakingChanged) changes.push([t, s.isSpeaking]);
    if (report !== null) reports.push(t);
  }
  assert.deepEqual(changes, [[0, true], [880, false]]); // last loud sample at 380, off 500 ms later
  assert.deepEqual(reports, [0, 100, 200, 300]); // 10/s at most, none while quiet
});
