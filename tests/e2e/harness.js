// Injected into every test page (Playwright add_init_script): drives the SDK and records what it emits, so the
// Python tests can ask with page.evaluate. Only the public API of /static/levelchat/levelchat.js is used.
(() => {
  const summarize = (value) => {
    if (value === null || value === undefined) return value ?? null;
    if (typeof value !== 'object') return value;
    if ('sid' in value && 'kind' in value) return { sid: value.sid, kind: value.kind, source: value.source, participant: value.participantId, muted: value.muted };
    if ('identity' in value && 'tracks' in value) return { participant: value.id, identity: value.identity };
    if (value instanceof Error) return { code: value.code, message: value.message };
    try {
      return JSON.parse(JSON.stringify(value));
    } catch {
      return String(value);
    }
  };

  const sdk = () =>
    new Promise((resolve) => {
      if (window.levelchat) resolve(window.levelchat);
      else window.addEventListener('levelchat-ready', () => resolve(window.levelchat), { once: true });
    });

  window.lcTest = {
    events: [],
    room: null,
    errors: [],

    /** Join with `token`; returns the local participant id (or throws the ready error as {code}). */
    async join(token, { publish = true, live = null, codec = undefined, resolution = '360p' } = {}) {
      const { LevelChat, RoomEvent } = await sdk();
      const lc = new LevelChat({ logLevel: 'warn', codec });
      this.t0 = performance.now();
      const room = live ? lc.joinLive({ token, role: live }) : lc.joinRoom({ token });
      this.room = room;
      for (const name of Object.values(RoomEvent)) {
        room.on(name, (...args) => this.events.push({ name, t: performance.now(), args: args.map(summarize) }));
      }
      room.on(RoomEvent.TrackSubscribed, (track, participant) => {
        const el = track.attach();
        el.dataset.participant = participant.id;
        el.dataset.source = track.source;
        if (track.kind === 'video' && !this.firstFrameMs && el.requestVideoFrameCallback) {
          el.requestVideoFrameCallback(() => {
            this.firstFrameMs ??= performance.now() - this.t0;
          });
        }
        document.getElementById('media').append(el);
      });
      room.on(RoomEvent.TrackUnsubscribed, (track) => track.detach().forEach((el) => el.remove()));
      try {
        await room.ready;
      } catch (err) {
        return { error: { code: err.code, message: err.message } };
      }
      if (publish) {
        await room.publishCamera({ resolution });
        await room.publishMic();
      }
      return { id: room.localParticipant.id };
    },

    /** Names (and first args) of the events so far. */
    names() {
      return this.events.map((e) => e.name);
    },

    /** Sources of the remote tracks subscribed from `participantId`. */
    subscribedFrom(participantId) {
      return this.events
        .filter((e) => e.name === 'track-subscribed' && e.args[1]?.participant === participantId)
        .map((e) => e.args[0].source)
        .sort();
    },

    /** Whether the video of `participantId` plays: a decoded size and time moving forward. */
    async videoPlays(participantId, waitMs = 600) {
      const el = document.querySelector(`video[data-participant="${participantId}"][data-source="camera"]`);
      if (!el) return { ok: false, why: 'no video element' };
      const t1 = el.currentTime;
      const frames1 = el.getVideoPlaybackQuality?.().totalVideoFrames ?? 0;
      await new Promise((r) => setTimeout(r, waitMs));
      const t2 = el.currentTime;
      const frames2 = el.getVideoPlaybackQuality?.().totalVideoFrames ?? 0;
      return { ok: el.videoWidth > 0 && t2 > t1, width: el.videoWidth, height: el.videoHeight, t1, t2, frames: frames2 - frames1, paused: el.paused };
    },

    /** Whether the camera video of `participantId` on this page comes from the SFU connection's receivers. */
    cameraViaSfu(participantId) {
      const el = document.querySelector(`video[data-participant="${participantId}"][data-source="camera"]`);
      const track = el?.srcObject?.getVideoTracks?.()[0];
      const pc = this.room.peerConnections.get('sfu');
      return Boolean(track && pc && pc.getReceivers().some((r) => r.track === track));
    },

    /** The negotiated video codecs (mime types) of the inbound streams, per peer. */
    async inboundVideoCodecs() {
      const out = {};
      for (const [id, pc] of this.room.peerConnections) {
        const stats = await pc.getStats();
        const codecs = new Map();
        stats.forEach((s) => s.type === 'codec' && codecs.set(s.id, s.mimeType));
        stats.forEach((s) => {
          if (s.type === 'inbound-rtp' && s.kind === 'video' && s.codecId) out[id] = codecs.get(s.codecId);
        });
      }
      return out;
    },

    /** The ICE username fragment of each peer connection's local description. */
    iceUfrags() {
      const out = {};
      for (const [id, pc] of this.room.peerConnections) out[id] = (pc.localDescription?.sdp.match(/a=ice-ufrag:(\S+)/) ?? [])[1] ?? null;
      return out;
    },
  };
})();
