// Test doubles for node --test: a manual clock, a scriptable WebSocket and a strict RTCPeerConnection model.

/** A clock whose time only moves when the test says so. */
export class FakeClock {
  time = 1_000_000;
  /** @type {{ id: number, at: number, fn: () => void }[]} */
  timers = [];
  #next = 1;

  now = () => this.time;

  /** @param {() => void} fn @param {number} ms */
  setTimeout = (fn, ms) => {
    const id = this.#next++;
    this.timers.push({ id, at: this.time + Math.max(0, ms), fn });
    return id;
  };

  /** @param {any} id */
  clearTimeout = (id) => {
    this.timers = this.timers.filter((t) => t.id !== id);
  };

  /** Move time forward, running each timer that falls due (in order, including ones scheduled meanwhile). */
  async advance(ms) {
    const end = this.time + ms;
    for (;;) {
      await flush();
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.time = due.at;
      due.fn();
    }
    this.time = end;
    await flush();
  }

  /** The delay of the earliest pending timer. */
  nextDelay() {
    const times = this.timers.map((t) => t.at - this.time);
    return times.length ? Math.min(...times) : null;
  }
}

/** Let pending promise callbacks run. */
export async function flush() {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

/** A WebSocket the test drives: `open()`, `receive(frame)`, `serverClose(code, reason)`. */
export class FakeWebSocket {
  /** @type {FakeWebSocket[]} */
  static instances = [];
  readyState = 0;
  /** @type {any[]} */
  sent = [];
  /** @type {{ code?: number, reason?: string } | null} */
  closedWith = null;
  onopen = null;
  onmessage = null;
  onclose = null;
  onerror = null;

  constructor(url, protocols) {
    this.url = url;
    this.protocols = protocols;
    FakeWebSocket.instances.push(this);
  }

  static reset() {
    FakeWebSocket.instances = [];
  }

  static get last() {
    return FakeWebSocket.instances[FakeWebSocket.instances.length - 1];
  }

  send(text) {
    if (this.readyState !== 1) throw new Error('not open');
    this.sent.push(JSON.parse(text));
  }

  close(code, reason) {
    this.closedWith = { code, reason };
    this.readyState = 3;
  }

  open() {
    this.readyState = 1;
    this.onopen?.({});
  }

  receive(frame) {
    this.onmessage?.({ data: typeof frame === 'string' ? frame : JSON.stringify(frame) });
  }

  serverClose(code, reason = '') {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  /** The frames sent of one type. */
  sentOf(type) {
    return this.sent.filter((f) => f.type === type);
  }
}

/** A welcome frame. */
export function welcome(overrides = {}) {
  return {
    type: 'welcome',
    protocol: 1,
    you: { id: 'PA_01J9ZQ4V8M6Y7K2N3P4Q5R6S7T', identity: 'alice', name: 'Alice', role: 'participant', capabilities: ['publish:*', 'subscribe:all', 'chat:send', 'react:send'], tracks: [] },
    room: { id: 'RM_test', name: 'Test', room_type: 'meeting', status: 'active', metadata: {} },
    roster: [],
    chat: [],
    ice_servers: [],
    ping_interval: 5,
    ping_timeout: 12,
    resume: { session: 'PA_01J9ZQ4V8M6Y7K2N3P4Q5R6S7T', credential: 'cred-1', expires_in: 12 },
    seq: 10,
    ...overrides,
  };
}

/** A JWT-shaped token (unsigned: the SDK never verifies). */
export function makeToken(payload) {
  const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
  return `${b64({ alg: 'HS256', typ: 'JWT', kid: 'default' })}.${b64(payload)}.c2lnbmF0dXJl`;
}

let offerCounter = 0;

/**
 * A peer connection that enforces the JSEP signaling state machine strictly: unlike browsers it does NOT roll
 * back implicitly, so a polite peer that forgets the explicit rollback fails.
 */
export class FakePeerConnection {
  signalingState = 'stable';
  localDescription = null;
  remoteDescription = null;
  /** @type {any[]} */
  addedCandidates = [];
  /** @type {string[]} */
  log = [];
  onnegotiationneeded = null;
  onicecandidate = null;
  ontrack = null;
  onconnectionstatechange = null;
  connectionState = 'new';
  restarted = 0;
  /** @type {any[]} */
  transceivers = [];

  constructor(name = 'pc') {
    this.name = name;
  }

  async setLocalDescription(desc) {
    await Promise.resolve();
    if (desc?.type === 'rollback') {
      if (this.signalingState !== 'have-local-offer') throw new Error(`InvalidStateError: rollback in ${this.signalingState}`);
      this.log.push('rollback');
      this.signalingState = 'stable';
      this.localDescription = null;
      return;
    }
    if (this.signalingState === 'stable' || this.signalingState === 'have-local-offer') {
      this.localDescription = { type: 'offer', sdp: `v=0\r\no=${this.name} ${++offerCounter}\r\n` };
      this.signalingState = 'have-local-offer';
      this.log.push('local-offer');
      for (const t of this.transceivers) if (t.mid === null) t.mid = String(this.transceivers.indexOf(t));
    } else if (this.signalingState === 'have-remote-offer') {
      this.localDescription = { type: 'answer', sdp: `v=0\r\no=${this.name}-answer\r\n` };
      this.signalingState = 'stable';
      this.log.push('local-answer');
    } else throw new Error(`InvalidStateError: setLocalDescription in ${this.signalingState}`);
  }

  async setRemoteDescription(desc) {
    await Promise.resolve();
    if (desc.type === 'offer') {
      if (this.signalingState !== 'stable') throw new Error(`InvalidStateError: remote offer in ${this.signalingState}`);
      this.signalingState = 'have-remote-offer';
      this.log.push('remote-offer');
    } else if (desc.type === 'answer') {
      if (this.signalingState !== 'have-local-offer') throw new Error(`InvalidStateError: remote answer in ${this.signalingState}`);
      this.signalingState = 'stable';
      this.log.push('remote-answer');
    }
    this.remoteDescription = desc;
  }

  async addIceCandidate(candidate) {
    await Promise.resolve();
    if (!this.remoteDescription) throw new Error('InvalidStateError: no remote description');
    this.addedCandidates.push(candidate);
  }

  getTransceivers() {
    return this.transceivers;
  }

  restartIce() {
    this.restarted++;
    this.onnegotiationneeded?.({});
  }

  /** The browser decides negotiation is needed (a track was added). */
  needNegotiation() {
    this.onnegotiationneeded?.({});
  }

  /** Emit a local ICE candidate. */
  emitCandidate(candidate) {
    this.onicecandidate?.({ candidate });
  }

  close() {
    this.signalingState = 'closed';
  }
}

/** An RTCRtpSender with parameters. */
export class FakeSender {
  constructor(track) {
    this.track = track;
    this.params = { encodings: [{ active: true }] };
  }
  async replaceTrack(track) {
    this.track = track;
  }
  getParameters() {
    return structuredClone(this.params);
  }
  async setParameters(params) {
    this.params = params;
  }
}

/** A peer connection with transceivers, for the mesh. */
export class MeshPC extends FakePeerConnection {
  static instances = [];
  constructor(config) {
    super('mesh');
    this.config = config;
    MeshPC.instances.push(this);
  }
  #transceiver(kind, track, direction) {
    const t = {
      mid: null,
      direction,
      sender: new FakeSender(track),
      receiver: { track: { kind } },
      setCodecPreferences(codecs) {
        this.codecs = codecs;
      },
    };
    this.transceivers.push(t);
    return t;
  }
  addTrack(track) {
    return this.#transceiver(track.kind, track, 'sendrecv').sender;
  }
  addTransceiver(kind, { direction }) {
    return this.#transceiver(kind, null, direction);
  }
  removeTrack(sender) {
    const t = this.transceivers.find((x) => x.sender === sender);
    t.direction = 'recvonly';
    sender.track = null;
  }
}

