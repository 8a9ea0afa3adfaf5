/**
 * The pre-join screen: mirrored camera preview, mic level meter, mic/camera toggles with device pickers, a
 * speaker picker where the browser can route audio, a device status line and Join. The preview tracks are handed
 * to the call on Join (no second camera prompt).
 * @module
 */

import { avatar, focus, h, prefs, uid } from './dom.js';
import { icon } from './icons.js';
import { t } from './strings.js';

/** @import { LevelChat } from '../levelchat.js' */

/**
 * @typedef {object} JoinChoice
 * @property {MediaStreamTrack | null} camTrack  the preview capture to publish (the call owns it from now on)
 * @property {MediaStreamTrack | null} micTrack
 * @property {boolean} camOn
 * @property {boolean} micOn
 */

/**
 * @typedef {object} UserInfo
 * @property {string} name
 * @property {string} identity
 */

/** @typedef {'ok' | 'blocked' | 'notfound' | 'inuse' | 'error'} DeviceProblem */

/**
 * A level meter on a mic track (WebAudio), read with `level()` (0…1).
 */
export class LevelMeter {
  /** @type {AudioContext | null} */
  #ctx = null;
  /** @type {AnalyserNode | null} */
  #analyser = null;
  /** @type {Float32Array<ArrayBuffer> | null} */
  #buffer = null;
  #resume = () => void this.#ctx?.resume().catch(() => {});

  /** @param {MediaStreamTrack} track */
  constructor(track) {
    const Ctx = globalThis.AudioContext ?? /** @type {any} */ (globalThis).webkitAudioContext;
    if (!Ctx) return;
    try {
      this.#ctx = /** @type {AudioContext} */ (new Ctx());
      const source = this.#ctx.createMediaStreamSource(new MediaStream([track]));
      this.#analyser = this.#ctx.createAnalyser();
      this.#analyser.fftSize = 512;
      source.connect(this.#analyser);
      this.#buffer = new Float32Array(this.#analyser.fftSize);
      if (this.#ctx.state === 'suspended') {
        document.addEventListener('pointerdown', this.#resume, { once: true, capture: true });
        document.addEventListener('keydown', this.#resume, { once: true, capture: true });
        this.#resume();
      }
    } catch {
      this.stop();
    }
  }

  /** The current level, 0…1 (RMS scaled so normal speech fills most of the bar). */
  level() {
    if (!this.#analyser || !this.#buffer) return 0;
    this.#analyser.getFloatTimeDomainData(this.#buffer);
    let sum = 0;
    for (const v of this.#buffer) sum += v * v;
    return Math.min(1, Math.sqrt(sum / this.#buffer.length) * 4);
  }

  stop() {
    document.removeEventListener('pointerdown', this.#resume, { capture: true });
    document.removeEventListener('keydown', this.#resume, { capture: true });
    this.#ctx?.close().catch(() => {});
    this.#ctx = null;
    this.#analyser = null;
  }
}

/**
 * A `<select>` of devices of one kind, with the current one selected.
 * @param {HTMLSelectElement} select
 * @param {MediaDeviceInfo[]} devices
 * @param {string} current
 * @param {string} kindLabel
 */
export function fillDeviceSelect(select, devices, current, kindLabel) {
  const options = devices.map((d, i) =>
    h('option', { value: d.deviceId, text: d.label || t('deviceLabel', { kind: kindLabel, n: i + 1 }), selected: d.deviceId === current }),
  );
  if (!options.length) options.push(h('option', { value: '', text: t('defaultDevice') }));
  select.replaceChildren(...options);
  if (current && devices.some((d) => d.deviceId === current)) select.value = current;
  select.disabled = devices.length === 0;
}

/** Whether the browser can send audio to a chosen speaker. */
export const canPickSpeaker = () => typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;

export class PreJoin {
  /** @type {MediaStreamTrack | null} */
  camTrack = null;
  /** @type {MediaStreamTrack | null} */
  micTrack = null;
  /** @type {LevelMeter | null} */
  #meter = null;
  /** @type {ReturnType<typeof setInterval> | null} */
  #meterTimer = null;
  /** @type {Record<'camera' | 'microphone', DeviceProblem>} */
  #problems = { camera: 'ok', microphone: 'ok' };
  #joining = false;
  #disposed = false;
  #onDeviceChange = () => void this.#refreshDevices();

  /**
   * @param {{ lc: LevelChat, roomName: string, user: UserInfo, startAudioOff: boolean, startVideoOff: boolean,
   *   onJoin: (choice: JoinChoice) => void }} options
   */
  constructor({ lc, roomName, user, startAudioOff, startVideoOff, onJoin }) {
    this.lc = lc;
    this.onJoin = onJoin;
    this.camOn = startVideoOff ? false : prefs.get('camOn', true);
    this.micOn = startAudioOff ? false : prefs.get('micOn', true);
    this.camId = prefs.get('camId', '');
    this.micId = prefs.get('micId', '');
    this.speakerId = prefs.get('speakerId', '');

    this.video = h('video', { class: 'lc-prejoin__video', 'aria-hidden': 'true', playsinline: true, muted: true, autoplay: true });
    this.placeholder = h(
      'div',
      { class: 'lc-prejoin__placeholder' },
      avatar(user.name, user.identity, 'lc-avatar lc-avatar--large'),
      h('span', { class: 'lc-prejoin__camoff', text: t('prejoinCameraOff') }),
    );
    this.meterFill = h('span', { class: 'lc-meter__fill' });
    this.meter = h(
      'div',
      { class: 'lc-meter', role: 'meter', 'aria-label': t('micLevel'), 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': '0' },
      this.meterFill,
    );
    this.micButton = this.#toggle('microphone', t('microphone'), () => this.#setMic(!(this.micOn && this.micTrack)));
    this.camButton = this.#toggle('camera', t('camera'), () => this.#setCam(!(this.camOn && this.camTrack)));
    this.camSelect = h('select', { class: 'lc-select', id: uid('lc-cam'), on: { change: () => this.#pick('camera') } });
    this.micSelect = h('select', { class: 'lc-select', id: uid('lc-mic'), on: { change: () => this.#pick('microphone') } });
    this.speakerSelect = h('select', { class: 'lc-select', id: uid('lc-spk'), on: { change: () => this.#pickSpeaker() } });
    this.statusOk = h('p', { class: 'lc-devstatus lc-devstatus--ok', role: 'status' });
    this.statusProblem = h('p', { class: 'lc-devstatus lc-devstatus--problem', role: 'alert' });
    this.joinButton = h('button', { type: 'button', class: 'lc-button lc-button--primary lc-prejoin__join', text: t('join'), on: { click: () => this.#join(false) } });
    this.withoutButton = h('button', { type: 'button', class: 'lc-button', hidden: true, text: t('joinWithoutDevices'), on: { click: () => this.#join(true) } });
    this.retryButton = h('button', { type: 'button', class: 'lc-button', hidden: true, text: t('retry'), on: { click: () => this.#retry() } });
    const titleId = uid('lc-prejoin-title');
    const field = (/** @type {HTMLSelectElement} */ select, /** @type {string} */ label, /** @type {string} */ iconName) =>
      h('div', { class: 'lc-field' }, h('label', { for: select.id, class: 'lc-field__label' }, icon(iconName), label), select);
    this.speakerField = field(this.speakerSelect, t('speakerSelect'), 'volume');
    this.speakerField.hidden = !canPickSpeaker();
    for (const select of [this.camSelect, this.micSelect, this.speakerSelect]) fillDeviceSelect(select, [], '', '');

    this.el = h(
      'section',
      { class: 'lc-prejoin', 'aria-labelledby': titleId },
      h(
        'div',
        { class: 'lc-prejoin__preview' },
        h('div', { class: 'lc-prejoin__frame', 'data-lc-video-muted': 'true' }, this.video, this.placeholder),
        h('div', { class: 'lc-prejoin__bar' }, this.micButton, this.meter, this.camButton),
      ),
      h(
        'div',
        { class: 'lc-prejoin__side' },
        h('h2', { class: 'lc-prejoin__title', id: titleId, tabindex: '-1', text: t('prejoinTitle') }),
        h('p', { class: 'lc-prejoin__room', text: roomName }),
        h('p', { class: 'lc-prejoin__who', text: t('prejoinJoiningAs', { name: user.name }) }),
        this.statusOk,
        this.statusProblem,
        field(this.camSelect, t('cameraSelect'), 'camera'),
        field(this.micSelect, t('micSelect'), 'mic'),
        this.speakerField,
        h('div', { class: 'lc-prejoin__actions' }, this.joinButton, this.retryButton, this.withoutButton),
      ),
    );
    this.frame = /** @type {HTMLElement} */ (this.el.querySelector('.lc-prejoin__frame'));
    navigator.mediaDevices?.addEventListener?.('devicechange', this.#onDeviceChange);
  }

  /** Open the devices the user had on last time and focus Join. */
  async start() {
    this.#renderToggles();
    this.statusOk.textContent = t('deviceStatusChecking');
    focus(this.joinButton);
    await Promise.all([this.camOn ? this.#openCam() : null, this.micOn ? this.#openMic() : null]);
    await this.#refreshDevices();
    this.#renderStatus();
  }

  /**
   * Turn Join into "Joining…" (disabled) or back.
   * @param {boolean} joining
   */
  setJoining(joining) {
    this.#joining = joining;
    this.joinButton.textContent = joining ? t('joining') : t('join');
    this.joinButton.disabled = joining;
    this.joinButton.setAttribute('aria-busy', String(joining));
    this.withoutButton.disabled = joining;
    if (!joining) focus(this.joinButton);
  }

  /** @param {'microphone' | 'camera'} kind @param {string} label @param {() => void} onClick */
  #toggle(kind, label, onClick) {
    return h(
      'button',
      { type: 'button', class: 'lc-iconbtn lc-iconbtn--round', 'aria-pressed': 'true', 'aria-label': label, title: label, 'data-lc-control': kind, on: { click: onClick } },
      icon(kind === 'microphone' ? 'mic' : 'camera', 'lc-icon lc-icon--on'),
      icon(kind === 'microphone' ? 'micOff' : 'cameraOff', 'lc-icon lc-icon--off'),
    );
  }

  #renderToggles() {
    // The real state: asked for and working.
    this.micButton.setAttribute('aria-pressed', String(this.micOn && Boolean(this.micTrack)));
    this.camButton.setAttribute('aria-pressed', String(this.camOn && Boolean(this.camTrack)));
    this.frame.dataset.lcVideoMuted = String(!(this.camOn && this.camTrack));
    this.meter.hidden = !(this.micOn && this.micTrack);
  }

  async #openCam() {
    try {
      this.camTrack = await this.#capture('camera', this.camId);
      if (this.#disposed) return this.#drop('camera');
      this.camId = this.camTrack.getSettings?.().deviceId ?? this.camId;
      this.video.srcObject = new MediaStream([this.camTrack]);
      this.video.play().catch(() => {});
      this.#problems.camera = 'ok';
    } catch (err) {
      this.camTrack = null;
      this.#problems.camera = problemOf(err);
    }
    this.#renderToggles();
  }

  async #openMic() {
    try {
      this.micTrack = await this.#capture('microphone', this.micId);
      if (this.#disposed) return this.#drop('microphone');
      this.micId = this.micTrack.getSettings?.().deviceId ?? this.micId;
      this.#meter?.stop();
      this.#meter = new LevelMeter(this.micTrack);
      this.#meterTimer ??= setInterval(() => this.#tickMeter(), 100);
      this.#problems.microphone = 'ok';
    } catch (err) {
      this.micTrack = null;
      this.#problems.microphone = problemOf(err);
    }
    this.#renderToggles();
  }

  /**
   * Capture with the remembered device; a device that is gone falls back to the default.
   * @param {'camera' | 'microphone'} kind @param {string} deviceId
   * @returns {Promise<MediaStreamTrack>}
   */
  async #capture(kind, deviceId) {
    const open = (/** @type {string | undefined} */ id) =>
      kind === 'camera' ? this.lc.createCameraTrack({ deviceId: id, resolution: '720p' }) : this.lc.createMicTrack({ deviceId: id });
    try {
      return await open(deviceId || undefined);
    } catch (err) {
      if (deviceId && /** @type {{ code?: string }} */ (err).code === 'device_not_found') return open(undefined);
      throw err;
    }
  }

  #tickMeter() {
    const level = this.micOn && this.#meter ? this.#meter.level() : 0;
    const pct = Math.round(level * 100);
    this.meterFill.style.transform = `scaleX(${level.toFixed(3)})`;
    this.meter.setAttribute('aria-valuenow', String(pct));
  }

  /** @param {boolean} on */
  async #setMic(on) {
    this.micOn = on;
    prefs.set('micOn', on);
    if (on && !this.micTrack) await this.#openMic();
    else if (!on) this.#drop('microphone');
    this.#renderToggles();
    this.#renderStatus();
  }

  /** @param {boolean} on */
  async #setCam(on) {
    this.camOn = on;
    prefs.set('camOn', on);
    if (on && !this.camTrack) await this.#openCam();
    else if (!on) this.#drop('camera'); // the camera light goes off
    this.#renderToggles();
    this.#renderStatus();
  }

  /** @param {'camera' | 'microphone'} kind */
  #drop(kind) {
    if (kind === 'camera') {
      this.camTrack?.stop();
      this.camTrack = null;
      this.video.srcObject = null;
    } else {
      this.micTrack?.stop();
      this.micTrack = null;
      this.#meter?.stop();
      this.#meter = null;
      this.#tickMeter();
    }
  }

  /** @param {'camera' | 'microphone'} kind */
  async #pick(kind) {
    const select = kind === 'camera' ? this.camSelect : this.micSelect;
    if (kind === 'camera') {
      this.camId = select.value;
      prefs.set('camId', this.camId);
      if (this.camOn) {
        this.#drop('camera');
        await this.#openCam();
      }
    } else {
      this.micId = select.value;
      prefs.set('micId', this.micId);
      if (this.micOn) {
        this.#drop('microphone');
        await this.#openMic();
      }
    }
    this.#renderStatus();
  }

  #pickSpeaker() {
    this.speakerId = this.speakerSelect.value;
    prefs.set('speakerId', this.speakerId);
  }

  async #refreshDevices() {
    let devices = /** @type {MediaDeviceInfo[]} */ ([]);
    try {
      devices = await this.lc.listDevices();
    } catch {
      /* no mediaDevices */
    }
    if (this.#disposed) return;
    fillDeviceSelect(this.camSelect, devices.filter((d) => d.kind === 'videoinput'), this.camId, t('cameraSelect'));
    fillDeviceSelect(this.micSelect, devices.filter((d) => d.kind === 'audioinput'), this.micId, t('micSelect'));
    fillDeviceSelect(this.speakerSelect, devices.filter((d) => d.kind === 'audiooutput'), this.speakerId, t('speakerSelect'));
    this.devices = devices;
  }

  async #retry() {
    this.#problems = { camera: 'ok', microphone: 'ok' };
    this.camOn = true;
    this.micOn = true;
    this.statusProblem.textContent = '';
    this.statusOk.textContent = t('deviceStatusChecking');
    await Promise.all([this.camTrack ? null : this.#openCam(), this.micTrack ? null : this.#openMic()]);
    await this.#refreshDevices();
    this.#renderStatus();
  }

  #renderStatus() {
    const cam = this.camOn ? this.#problems.camera : 'ok';
    const mic = this.micOn ? this.#problems.microphone : 'ok';
    /** @type {import('./strings.js').StringKey | null} */
    let problem = null;
    /** @type {import('./strings.js').StringKey | null} */
    let ok = null;
    if (cam === 'blocked' || mic === 'blocked') problem = 'deviceStatusBlocked';
    else if (cam === 'notfound' && mic === 'notfound') problem = 'deviceStatusNotFound';
    else if (cam === 'inuse' || mic === 'inuse') problem = 'deviceStatusInUse';
    else if (cam === 'error' || mic === 'error') problem = 'deviceStatusError';
    else if (cam === 'notfound') ok = 'deviceStatusMicOnly';
    else if (mic === 'notfound') ok = 'deviceStatusCamOnly';
    else if (this.camTrack || this.micTrack) ok = 'deviceStatusOk';
    this.statusProblem.textContent = problem ? t(problem) : '';
    this.statusOk.textContent = ok ? t(ok) : '';
    this.el.dataset.lcDeviceProblem = problem ? (cam !== 'ok' ? cam : mic) : 'none';
    this.withoutButton.hidden = !problem;
    this.retryButton.hidden = problem !== 'deviceStatusBlocked';
  }

  /** @param {boolean} withoutDevices */
  #join(withoutDevices) {
    if (this.#joining) return;
    if (withoutDevices) {
      this.#drop('camera');
      this.#drop('microphone');
    }
    // A device whose preview is still opening counts as on: the call opens its own capture instead.
    const choice = {
      camTrack: this.camOn ? this.camTrack : null,
      micTrack: this.micOn ? this.micTrack : null,
      camOn: !withoutDevices && this.camOn && (Boolean(this.camTrack) || this.#problems.camera === 'ok'),
      micOn: !withoutDevices && this.micOn && (Boolean(this.micTrack) || this.#problems.microphone === 'ok'),
    };
    this.setJoining(true);
    this.onJoin(choice);
  }

  /** Give up the preview tracks (the call took them, or the user went away). @param {boolean} stopTracks */
  dispose(stopTracks) {
    this.#disposed = true;
    navigator.mediaDevices?.removeEventListener?.('devicechange', this.#onDeviceChange);
    if (this.#meterTimer) clearInterval(this.#meterTimer);
    this.#meterTimer = null;
    this.#meter?.stop();
    this.#meter = null;
    this.video.srcObject = null;
    if (stopTracks) {
      this.camTrack?.stop();
      this.micTrack?.stop();
    }
    this.camTrack = null;
    this.micTrack = null;
  }
}

/** @param {unknown} err @returns {DeviceProblem} */
function problemOf(err) {
  const code = /** @type {{ code?: string }} */ (err)?.code;
  if (code === 'permission_denied') return 'blocked';
  if (code === 'device_not_found' || code === 'not_supported') return 'notfound';
  if (code === 'device_in_use') return 'inuse';
  return 'error';
}
