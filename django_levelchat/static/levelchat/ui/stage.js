/**
 * The stage controller: which tiles exist (a camera tile per shown participant, a tile per screen share), which
 * one is pinned or shared, who holds the stage as the active speaker (with its hold time), the grid/speaker choice,
 * and what we receive (off-page video unsubscribed, small tiles at low quality). `grid.js` draws; this decides.
 * @module
 */

import { Stage, Tile } from './grid.js';
import { t } from './strings.js';

/** @import { Room, Participant } from '../levelchat.js' */
/** @import { ViewName, SortInfo } from './layout.js' */

/** The stage changes speaker at most once in this long (ms). */
const STAGE_HOLD_MS = 1500;

export class StageController {
  /** @type {Map<string, Tile>} */
  #tiles = new Map();
  /** @type {string | null} */
  #pinned = null;
  /** @type {string | null} */
  #pinBeforeShare = null;
  /** Screen share tile keys, oldest first. @type {string[]} */
  #shares = [];
  /** @type {string | null} */
  #stageSpeaker = null;
  #stageChangedAt = 0;
  /** @type {ReturnType<typeof setTimeout> | null} */
  #stageTimer = null;
  #renderQueued = false;
  /** @type {Map<string, 'high' | 'low'>} */
  #preferred = new Map();
  /** Participants whose video we stopped receiving because no tile of theirs is on screen. @type {Set<string>} */
  #videoOff = new Set();
  /** @type {'grid' | 'speaker'} */
  #choice;

  /**
   * @param {{ room: Room, isViewer: boolean, live: boolean, choice: 'grid' | 'speaker', onLayout: (view: ViewName) => void }} options
   */
  constructor({ room, isViewer, live, choice, onLayout }) {
    this.room = room;
    this.isViewer = isViewer;
    this.live = live;
    this.#choice = choice;
    this.stage = new Stage({ onLayout, onVisible: (visible) => this.#onVisible(visible) });
  }

  /** The user's grid/speaker choice. */
  get choice() {
    return this.#choice;
  }

  /** @param {'grid' | 'speaker'} choice */
  setChoice(choice) {
    this.#choice = choice;
    this.#pinned = null;
    this.scheduleRender();
  }

  /**
   * A participant's tile of a source, if it is on the stage.
   * @param {Participant} p
   * @param {'camera' | 'screen'} source
   */
  tile(p, source) {
    return this.#tiles.get(`${this.#base(p)}:${source}`);
  }

  /** Stop timers and remove every tile. */
  destroy() {
    for (const tile of this.#tiles.values()) tile.destroy();
    this.#tiles.clear();
    this.#shares = [];
    this.#pinned = null;
    this.#pinBeforeShare = null;
    this.#stageSpeaker = null;
    this.#preferred.clear();
    this.#videoOff.clear();
    if (this.#stageTimer) clearTimeout(this.#stageTimer);
    this.#stageTimer = null;
    this.stage.destroy();
  }

  /** @param {Participant} p */
  #base(p) {
    return p.isLocal ? 'local' : p.id;
  }

  /**
   * Whether this participant gets a camera tile. Live rooms show broadcasters (and anyone publishing), not the
   * audience; a viewer never sees a self tile.
   * @param {Participant} p
   */
  showsTile(p) {
    if (p.isLocal) return !this.isViewer;
    if (!this.live) return true;
    return p.role !== 'viewer' || p.tracks.size > 0;
  }

  /**
   * Bring a participant's tiles in line with the SDK's state (idempotent; called on every event).
   * @param {Participant} p
   */
  sync(p) {
    if (!this.room) return;
    const base = this.#base(p);
    const camKey = `${base}:camera`;
    let cam = this.#tiles.get(camKey);
    if (this.showsTile(p) && !cam) {
      cam = new Tile({ key: camKey, participant: p, source: 'camera', onPin: (tile) => this.#togglePin(tile.key) });
      cam.setQuality(p.connectionQuality);
      this.#tiles.set(camKey, cam);
    } else if (!this.showsTile(p) && cam) {
      cam.destroy();
      this.#tiles.delete(camKey);
      cam = undefined;
    }
    cam?.setVideoTrack(p.getTrack('camera') ?? null);
    const screenTrack = p.getTrack('screen');
    const screenKey = `${base}:screen`;
    let screen = this.#tiles.get(screenKey);
    if (screenTrack && !screen) {
      screen = new Tile({ key: screenKey, participant: p, source: 'screen', onPin: (tile) => this.#togglePin(tile.key) });
      screen.setQuality(p.connectionQuality);
      this.#tiles.set(screenKey, screen);
      this.#shareStarted(screenKey);
    } else if (!screenTrack && screen) {
      screen.destroy();
      this.#tiles.delete(screenKey);
      this.#shareEnded(screenKey);
      screen = undefined;
    }
    screen?.setVideoTrack(screenTrack ?? null);
    this.scheduleRender();
  }

  /** @param {Participant} p */
  removeParticipant(p) {
    const base = this.#base(p);
    for (const source of ['camera', 'screen']) {
      const key = `${base}:${source}`;
      const tile = this.#tiles.get(key);
      if (!tile) continue;
      tile.destroy();
      this.#tiles.delete(key);
      if (source === 'screen') this.#shareEnded(key);
      if (this.#pinned === key) this.#pinned = null;
    }
    if (this.#stageSpeaker === `${base}:camera`) this.#stageSpeaker = null;
    this.#preferred.delete(p.id);
    this.#videoOff.delete(p.id);
    this.scheduleRender();
  }

  /** @param {string} key */
  #shareStarted(key) {
    if (!this.#shares.includes(key)) this.#shares.push(key);
    if (this.#pinned && !this.#pinned.endsWith(':screen')) this.#pinBeforeShare = this.#pinned;
    this.#pinned = null;
  }

  /** @param {string} key */
  #shareEnded(key) {
    this.#shares = this.#shares.filter((k) => k !== key);
    if (this.#pinned === key) this.#pinned = null;
    if (!this.#shares.length && this.#pinBeforeShare && this.#tiles.has(this.#pinBeforeShare)) this.#pinned = this.#pinBeforeShare;
    if (!this.#shares.length) this.#pinBeforeShare = null;
  }

  /** @param {string} key */
  #togglePin(key) {
    this.#pinned = this.#pinned === key ? null : key;
    this.scheduleRender();
  }

  /** @param {Participant | null} p */
  onActiveSpeaker(p) {
    if (!p || p.isLocal) return; // you never take the stage as the active speaker
    const key = `${this.#base(p)}:camera`;
    const apply = () => {
      this.#stageTimer = null;
      const current = this.room?.activeSpeaker;
      if (!current || current.isLocal) return;
      const next = `${this.#base(current)}:camera`;
      if (next === this.#stageSpeaker) return;
      this.#stageSpeaker = next;
      this.#stageChangedAt = Date.now();
      this.scheduleRender();
    };
    if (key === this.#stageSpeaker) return;
    const wait = this.#stageChangedAt + STAGE_HOLD_MS - Date.now();
    if (wait <= 0) apply();
    else this.#stageTimer ??= setTimeout(apply, wait);
  }

  scheduleRender() {
    if (this.#renderQueued) return;
    this.#renderQueued = true;
    requestAnimationFrame(() => {
      this.#renderQueued = false;
      this.#render();
    });
  }

  #render() {
    if (!this.room) return;
    /** @type {SortInfo[]} */
    const sortInfo = [];
    for (const tile of this.#tiles.values()) {
      const p = tile.participant;
      sortInfo.push({
        key: tile.key,
        isLocal: p.isLocal && tile.source === 'camera',
        isScreen: tile.source === 'screen',
        speaking: p.isSpeaking,
        lastSpokeAt: p.lastSpokeAt ?? 0,
        videoOn: tile.videoOn,
        joinedAt: p.joinedAt ?? 0,
      });
    }
    const share = this.#shares[this.#shares.length - 1] ?? null;
    this.stage.update({
      tiles: this.#tiles,
      sortInfo,
      choice: this.#choice,
      pinned: this.#pinned && this.#tiles.has(this.#pinned) ? this.#pinned : null,
      share: share && this.#tiles.has(share) ? share : null,
      speaker: this.#stageSpeaker,
      localKey: this.#tiles.has('local:camera') ? 'local:camera' : null,
      waiting: this.isViewer ? this.#tiles.size === 0 : this.room.participants.size === 0,
      waitingText: this.isViewer ? t('waitingForBroadcast') : t('waitingForOthers'),
    });
  }

  /**
   * Off-screen people: stop receiving their video (audio stays); small tiles ask for low quality.
   * @param {Map<string, 'high' | 'low'>} visible  tile key → wanted quality
   */
  #onVisible(visible) {
    const room = this.room;
    if (!room) return;
    /** @type {Map<string, 'high' | 'low'>} */
    const byParticipant = new Map();
    for (const [key, quality] of visible) {
      const tile = this.#tiles.get(key);
      if (!tile || tile.participant.isLocal) continue;
      const id = tile.participant.id;
      if (byParticipant.get(id) !== 'high') byParticipant.set(id, quality);
    }
    for (const p of room.participants.values()) {
      const wanted = byParticipant.get(p.id);
      const hasVideo = [...p.tracks.values()].some((tr) => tr.kind === 'video');
      if (!wanted && hasVideo && !this.#videoOff.has(p.id) && this.#tiles.has(`${p.id}:camera`)) {
        this.#videoOff.add(p.id);
        room.unsubscribe(p.id, 'video').catch(() => this.#videoOff.delete(p.id));
      } else if (wanted && this.#videoOff.has(p.id)) {
        this.#videoOff.delete(p.id);
        room.subscribe(p.id, 'video').catch(() => {});
      }
      if (wanted && this.#preferred.get(p.id) !== wanted) {
        this.#preferred.set(p.id, wanted);
        room.setPreferredQuality(wanted === 'high' ? 'high' : 'low', { participant: p.id }).catch(() => {});
      }
    }
  }
}
