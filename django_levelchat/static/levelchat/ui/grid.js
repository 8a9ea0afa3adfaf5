/**
 * Video tiles and the stage that lays them out: the adaptive grid with pagination, the one-on-one view with a
 * movable self view, and the speaker/presenter views (stage + strip).
 * @module
 */

import { h, hueOf, initials, srOnly, syncChildren } from './dom.js';
import { icon, qualityBars } from './icons.js';
import { chooseView, paginate, selectGridLayout, stableOrder, tileSize } from './layout.js';
import { t } from './strings.js';

/** @import { Participant, Track } from '../levelchat.js' */
/** @import { ViewName, SortInfo } from './layout.js' */

/** Speaking outline: on at once (0.2 s CSS fade), off after 0.5 s of silence (0.4 s CSS fade). */
const SPEAKING_OFF_DELAY_MS = 500;
/** Camera video fills (crops) its tile only when the two aspect ratios are within this factor (≤ 1/11 cut off). */
const CROP_WITHIN = 1.1;

/** One observer for every tile's size (the fit/fill choice depends on it). */
const tileSizes = new ResizeObserver((entries) => {
  for (const entry of entries) tileOf.get(entry.target)?.applyFit();
});
/** @type {WeakMap<Element, Tile>} */
const tileOf = new WeakMap();

/**
 * `cover` (crop to fill) or `contain` (show it whole) for a video in a box. Screen shares are never cropped;
 * camera video is cropped only when the aspect ratios are close, unless the user chose for this tile.
 * @param {{ source: 'camera' | 'screen', choice: 'fit' | 'fill' | null, video: { w: number, h: number }, box: { w: number, h: number } }} a
 * @returns {'cover' | 'contain'}
 */
export function objectFit({ source, choice, video, box }) {
  if (source === 'screen') return 'contain';
  if (choice) return choice === 'fill' ? 'cover' : 'contain';
  if (!video.w || !video.h || !box.w || !box.h) return 'cover';
  const ratio = video.w / video.h / (box.w / box.h);
  return ratio <= CROP_WITHIN && ratio >= 1 / CROP_WITHIN ? 'cover' : 'contain';
}

/** One tile: a participant's camera (or placeholder), or a screen share. */
export class Tile {
  /** @type {Track | null} */
  videoTrack = null;
  speaking = false;
  /** @type {ReturnType<typeof setTimeout> | null} */
  #speakingTimer = null;
  quality = 'unknown';
  /** The user's own fit/fill choice for this tile (null: automatic). @type {'fit' | 'fill' | null} */
  fitChoice = null;

  /**
   * @param {{ key: string, participant: Participant, source: 'camera' | 'screen', onPin: (tile: Tile) => void }} options
   */
  constructor({ key, participant, source, onPin }) {
    this.key = key;
    this.participant = participant;
    this.source = source;
    this.isLocal = participant.isLocal;
    this.video = h('video', { class: 'lc-tile__video', 'aria-hidden': 'true', playsinline: true, muted: true, autoplay: true });
    this.video.addEventListener('resize', () => this.#onVideoSize());
    this.avatar = h('span', { class: 'lc-avatar', 'aria-hidden': 'true' });
    this.nameEl = h('span', { class: 'lc-tile__name' });
    this.micIcon = h('span', { class: 'lc-tile__mic', 'aria-hidden': 'true' }, icon('micOff'));
    this.qualityEl = h('span', { class: 'lc-tile__quality', 'aria-hidden': 'true' });
    this.stateEl = srOnly();
    this.pinButton = h(
      'button',
      { type: 'button', class: 'lc-tile__pin lc-iconbtn', 'aria-pressed': 'false', on: { click: () => onPin(this) } },
      icon('pin'),
    );
    this.fitButton = h(
      'button',
      { type: 'button', class: 'lc-tile__pin lc-tile__fit lc-iconbtn', 'aria-pressed': 'false', hidden: source === 'screen', on: { click: () => this.toggleFit() } },
      icon('fill'),
    );
    this.handEl = h('span', { class: 'lc-tile__hand', 'aria-hidden': 'true', hidden: true }, icon('hand'));
    this.el = h(
      'div',
      {
        class: `lc-tile lc-tile--${source}`,
        role: 'group',
        'data-lc-key': key,
        'data-lc-source': source,
        'data-lc-local': this.isLocal ? 'true' : 'false',
      },
      this.video,
      h('div', { class: 'lc-tile__placeholder', 'aria-hidden': 'true' }, this.avatar),
      h('div', { class: 'lc-tile__top' }, this.qualityEl, this.fitButton, this.pinButton),
      h('div', { class: 'lc-tile__chip' }, source === 'camera' ? this.handEl : null, source === 'camera' ? this.micIcon : icon('screen'), this.nameEl),
      this.stateEl,
    );
    tileOf.set(this.el, this);
    tileSizes.observe(this.el);
    this.refresh();
    this.applyFit();
  }

  /** Switch this tile between showing the whole picture and filling the tile (cropping). */
  toggleFit() {
    this.fitChoice = this.el.dataset.lcFit === 'cover' ? 'fit' : 'fill';
    this.applyFit();
  }

  applyFit() {
    const fit = objectFit({
      source: this.source,
      choice: this.fitChoice,
      video: { w: this.video.videoWidth, h: this.video.videoHeight },
      box: { w: this.el.clientWidth, h: this.el.clientHeight },
    });
    this.el.dataset.lcFit = fit;
    this.fitButton.setAttribute('aria-pressed', String(fit === 'cover'));
  }

  /** The name people see on this tile. */
  get label() {
    const name = this.participant.name || this.participant.identity;
    if (this.source === 'screen') return this.isLocal ? t('yourScreen') : t('screenOf', { name });
    return this.isLocal ? t('you') : name;
  }

  /**
   * Show this track's video (or the placeholder for null).
   * @param {Track | null} track
   */
  setVideoTrack(track) {
    if (this.videoTrack === track) {
      this.refresh();
      return;
    }
    this.videoTrack?.detach(this.video);
    this.videoTrack = track;
    if (track) {
      track.attach(this.video);
      this.video.muted = true; // sound plays from the audio renderer, never from tiles
      this.video.play().catch(() => {});
    }
    this.refresh();
  }

  /** Whether video is showing (a published, unmuted track with media). */
  get videoOn() {
    const track = this.videoTrack;
    return Boolean(track && track.mediaStreamTrack && !track.muted && (track.isLocal || track.subscribed));
  }

  /** Re-read the participant's state into attributes and hidden text. */
  refresh() {
    const p = this.participant;
    const mic = p.getTrack('microphone');
    const audioMuted = !mic || mic.muted;
    const videoOn = this.videoOn;
    const label = this.label;
    this.el.setAttribute('aria-label', label);
    this.el.dataset.lcParticipant = p.identity;
    this.el.dataset.lcParticipantId = p.id;
    this.el.dataset.lcVideoMuted = String(!videoOn);
    if (this.source === 'camera') this.el.dataset.lcAudioMuted = String(audioMuted);
    this.el.dataset.lcReconnecting = String(p.reconnecting);
    this.nameEl.textContent = label;
    this.avatar.textContent = initials(p.name || p.identity);
    this.avatar.style.setProperty('--lc-hue', String(hueOf(p.identity || p.name)));
    this.pinButton.setAttribute('aria-label', t('pin', { name: label }));
    this.fitButton.setAttribute('aria-label', t('fillTile', { name: label }));
    const hand = this.source === 'camera' && p.handRaisedAt !== null;
    this.handEl.hidden = !hand;
    this.el.dataset.lcHand = String(hand);
    const mirror = this.isLocal && this.source === 'camera' && this.videoTrack?.mediaStreamTrack?.getSettings?.().facingMode !== 'environment';
    this.el.classList.toggle('lc-tile--mirror', Boolean(mirror));
    this.#describe(audioMuted, videoOn);
  }

  /** @param {boolean} [audioMuted] @param {boolean} [videoOn] */
  #describe(audioMuted, videoOn) {
    const mic = this.participant.getTrack('microphone');
    const parts = [];
    if (this.source === 'camera' && (audioMuted ?? (!mic || mic.muted))) parts.push(t('micOff'));
    if (this.source === 'camera' && !(videoOn ?? this.videoOn)) parts.push(t('cameraOff'));
    if (this.source === 'camera' && this.participant.handRaisedAt !== null) parts.push(t('raisedHand'));
    if (this.speaking) parts.push(t('speaking'));
    if (this.quality === 'poor' || this.quality === 'bad') parts.push(t(`quality_${this.quality}`));
    if (this.participant.reconnecting) parts.push(t('reconnectingTile'));
    this.stateEl.textContent = parts.length ? `, ${parts.join(', ')}` : '';
  }

  /**
   * The speaking outline, with LiveKit's timing: on at once, off after a short silence.
   * @param {boolean} speaking
   */
  setSpeaking(speaking) {
    if (this.#speakingTimer) clearTimeout(this.#speakingTimer);
    this.#speakingTimer = null;
    if (speaking) this.#applySpeaking(true);
    else if (this.speaking) this.#speakingTimer = setTimeout(() => this.#applySpeaking(false), SPEAKING_OFF_DELAY_MS);
  }

  /** @param {boolean} speaking */
  #applySpeaking(speaking) {
    this.speaking = speaking;
    this.el.dataset.lcSpeaking = String(speaking);
    this.#describe();
  }

  /** @param {string} band */
  setQuality(band) {
    this.quality = band;
    this.el.dataset.lcQuality = band;
    this.qualityEl.replaceChildren(qualityBars(band));
    this.qualityEl.title = t(/** @type {any} */ (`quality_${band}`));
    this.#describe();
  }

  /** @param {boolean} pinned */
  setPinned(pinned) {
    this.pinButton.setAttribute('aria-pressed', String(pinned));
    this.el.dataset.lcPinned = String(pinned);
  }

  #onVideoSize() {
    const { videoWidth, videoHeight } = this.video;
    this.el.dataset.lcPortrait = String(videoHeight > videoWidth);
    this.applyFit();
  }

  destroy() {
    tileSizes.unobserve(this.el);
    if (this.#speakingTimer) clearTimeout(this.#speakingTimer);
    this.videoTrack?.detach(this.video);
    this.videoTrack = null;
    this.el.remove();
  }
}

/**
 * @typedef {object} StageModel
 * @property {Map<string, Tile>} tiles
 * @property {SortInfo[]} sortInfo  one per tile
 * @property {'grid' | 'speaker'} choice  the user's layout choice
 * @property {string | null} pinned  a pinned tile key
 * @property {string | null} share  the newest screen share tile key
 * @property {string | null} speaker  the stage speaker's camera tile key (speaker view)
 * @property {string | null} localKey
 * @property {boolean} waiting  alone in the room (or, for a viewer, nobody broadcasting)
 * @property {string} waitingText
 */

/** The area that shows the tiles. */
export class Stage {
  /** @type {string[]} */
  #order = [];
  #page = 0;
  /** @type {StageModel | null} */
  #model = null;
  /** @type {ViewName} */
  view = 'grid';
  #width = 0;
  #height = 0;
  /** @type {'br' | 'bl' | 'tr' | 'tl'} */
  #pipCorner = 'br';

  /**
   * @param {{ onLayout: (view: ViewName) => void, onVisible: (visible: Map<string, 'high' | 'low'>) => void }} options
   */
  constructor({ onLayout, onVisible }) {
    this.onLayout = onLayout;
    this.onVisible = onVisible;
    this.grid = h('div', { class: 'lc-stage__grid' });
    this.main = h('div', { class: 'lc-stage__main' });
    this.strip = h('div', { class: 'lc-stage__strip', tabindex: '-1' });
    this.pip = h('div', { class: 'lc-stage__pip', 'data-lc-corner': this.#pipCorner, title: t('moveSelfView') });
    this.waiting = h('p', { class: 'lc-stage__waiting', hidden: true, text: t('waitingForOthers') });
    this.pageLabel = h('span', { class: 'lc-pager__label', 'aria-live': 'polite' });
    this.dots = h('span', { class: 'lc-pager__dots', 'aria-hidden': 'true' });
    this.prev = h(
      'button',
      { type: 'button', class: 'lc-iconbtn', 'aria-label': t('previousPage'), title: t('previousPage'), on: { click: () => this.turn(-1) } },
      icon('chevronLeft'),
    );
    this.next = h(
      'button',
      { type: 'button', class: 'lc-iconbtn', 'aria-label': t('nextPage'), title: t('nextPage'), on: { click: () => this.turn(1) } },
      icon('chevronRight'),
    );
    this.pager = h('nav', { class: 'lc-pager', 'aria-label': t('pageOf', { page: 1, pages: 1 }), hidden: true }, this.prev, this.pageLabel, this.dots, this.next);
    this.body = h('div', { class: 'lc-stage__body' }, this.grid, this.main, this.strip, this.pip, this.waiting);
    this.el = h('section', { class: 'lc-stage', 'aria-label': t('stage'), 'data-lc-layout': 'grid' }, this.body, this.pager);
    this.#wireGestures();
    this.#wirePip();
    this.resizeObserver = new ResizeObserver(() => this.#measure());
    this.resizeObserver.observe(this.body);
  }

  /** @param {StageModel} model */
  update(model) {
    this.#model = model;
    this.#render();
  }

  /** @param {number} delta */
  turn(delta) {
    this.#page += delta;
    this.#render();
  }

  #measure() {
    const rect = this.body.getBoundingClientRect();
    if (Math.abs(rect.width - this.#width) < 1 && Math.abs(rect.height - this.#height) < 1) return;
    this.#width = rect.width;
    this.#height = rect.height;
    this.#render();
  }

  #render() {
    const model = this.#model;
    if (!model) return;
    if (!this.#width) {
      const rect = this.body.getBoundingClientRect();
      this.#width = rect.width;
      this.#height = rect.height;
    }
    const width = this.#width || 640;
    const height = this.#height || 360;
    const keys = model.sortInfo.map((s) => s.key);
    const focusKey = model.pinned && model.tiles.has(model.pinned) ? model.pinned : model.share && model.tiles.has(model.share) ? model.share : null;
    const view = chooseView({ tiles: keys.length, pinned: Boolean(focusKey && model.pinned), sharing: Boolean(focusKey), choice: model.choice, width });
    this.view = view;
    this.el.dataset.lcLayout = view;
    this.waiting.hidden = !model.waiting;
    this.waiting.textContent = model.waitingText;
    /** @type {Map<string, 'high' | 'low'>} */
    const visible = new Map();
    /** @param {string} key */
    const tile = (key) => /** @type {Tile} */ (model.tiles.get(key));

    if (view === 'grid') {
      const layout = selectGridLayout(keys.length, width, height);
      this.#order = stableOrder(this.#order, keys, layout.maxTiles, model.localKey ? [model.localKey] : []);
      const page = paginate(this.#order.length, layout.maxTiles, this.#page);
      this.#page = page.page;
      const onPage = this.#order.slice(page.start, page.end);
      const cols = Math.min(layout.cols, Math.max(1, onPage.length));
      const rows = Math.min(layout.rows, Math.max(1, Math.ceil(onPage.length / cols)));
      const pagerSpace = page.pages > 1 ? 44 : 0;
      const { tileWidth, tileHeight } = tileSize({ width, height: height - pagerSpace, cols, rows });
      // Fixed-size tiles in centred rows: an incomplete last row is centred too.
      this.grid.style.setProperty('--lc-tile-w', `${tileWidth}px`);
      this.grid.style.setProperty('--lc-tile-h', `${tileHeight}px`);
      this.grid.style.width = `${cols * tileWidth + (cols - 1) * 8}px`;
      this.grid.dataset.lcCols = String(cols);
      this.grid.dataset.lcRows = String(rows);
      syncChildren(this.grid, onPage.map((key) => tile(key).el));
      syncChildren(this.main, []);
      syncChildren(this.strip, []);
      syncChildren(this.pip, []);
      for (const key of onPage) visible.set(key, tileHeight >= 360 ? 'high' : 'low');
      this.#renderPager(page.page, page.pages);
    } else {
      this.#renderPager(0, 1);
      syncChildren(this.grid, []);
      let mainKey = focusKey;
      if (view === 'one-on-one') mainKey = keys.find((k) => k !== model.localKey) ?? keys[0];
      else if (view === 'speaker') mainKey = model.speaker && model.tiles.has(model.speaker) ? model.speaker : (keys.find((k) => k !== model.localKey) ?? keys[0]);
      mainKey ??= keys[0];
      syncChildren(this.main, [tile(mainKey).el]);
      visible.set(mainKey, 'high');
      if (view === 'one-on-one') {
        const self = keys.find((k) => k !== mainKey);
        syncChildren(this.strip, []);
        syncChildren(this.pip, self ? [tile(self).el] : []);
        if (self) visible.set(self, 'low');
      } else {
        syncChildren(this.pip, []);
        // The sharer's camera first, then the usual order.
        const sharer = model.tiles.get(mainKey)?.participant;
        const rest = keys.filter((k) => k !== mainKey);
        rest.sort((a, b) => Number(tile(b).participant === sharer) - Number(tile(a).participant === sharer));
        this.#order = rest;
        syncChildren(this.strip, rest.map((key) => tile(key).el));
        for (const key of rest) visible.set(key, 'low');
      }
    }
    for (const each of model.tiles.values()) {
      each.setPinned(each.key === model.pinned);
      if (each.videoTrack && each.video.paused && each.video.srcObject && each.el.isConnected) each.video.play().catch(() => {});
    }
    this.onLayout(view);
    this.onVisible(visible);
  }

  /** @param {number} page @param {number} pages */
  #renderPager(page, pages) {
    this.pager.hidden = pages <= 1;
    this.el.dataset.lcPages = String(pages);
    if (pages <= 1) return;
    const label = t('pageOf', { page: page + 1, pages });
    this.pageLabel.textContent = label;
    this.pager.setAttribute('aria-label', label);
    this.prev.setAttribute('aria-disabled', String(page === 0));
    this.next.setAttribute('aria-disabled', String(page === pages - 1));
    const dots = [];
    for (let i = 0; i < pages; i++) dots.push(h('span', { class: `lc-pager__dot${i === page ? ' lc-pager__dot--on' : ''}` }));
    this.dots.replaceChildren(...dots);
  }

  /** Swipe between pages on touch screens; PageUp/PageDown when focus is in the stage. */
  #wireGestures() {
    /** @type {{ x: number, y: number, id: number } | null} */
    let start = null;
    this.grid.addEventListener('pointerdown', (e) => {
      if (e.pointerType !== 'mouse') start = { x: e.clientX, y: e.clientY, id: e.pointerId };
    });
    const finish = (/** @type {PointerEvent} */ e) => {
      if (!start || e.pointerId !== start.id) return;
      const dx = e.clientX - start.x;
      const dy = e.clientY - start.y;
      start = null;
      if (Math.abs(dx) > 40 && Math.abs(dx) > Math.abs(dy) * 1.5) this.turn(dx < 0 ? 1 : -1);
    };
    this.grid.addEventListener('pointerup', finish);
    this.grid.addEventListener('pointercancel', () => (start = null));
    this.el.addEventListener('keydown', (e) => {
      if (e.key === 'PageDown' || e.key === 'PageUp') {
        if (this.pager.hidden) return;
        e.preventDefault();
        this.turn(e.key === 'PageDown' ? 1 : -1);
      }
    });
  }

  /** Drag the self view in one-on-one to another corner. */
  #wirePip() {
    /** @type {{ x: number, y: number, id: number, moved: boolean } | null} */
    let drag = null;
    this.pip.addEventListener('pointerdown', (e) => {
      if (/** @type {HTMLElement} */ (e.target).closest('button')) return;
      drag = { x: e.clientX, y: e.clientY, id: e.pointerId, moved: false };
      this.pip.setPointerCapture?.(e.pointerId);
    });
    this.pip.addEventListener('pointermove', (e) => {
      if (!drag || e.pointerId !== drag.id) return;
      const dx = e.clientX - drag.x;
      const dy = e.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 4) drag.moved = true;
      this.pip.style.translate = `${dx}px ${dy}px`;
    });
    const end = (/** @type {PointerEvent} */ e) => {
      if (!drag || e.pointerId !== drag.id) return;
      const moved = drag.moved;
      drag = null;
      this.pip.style.translate = '';
      if (!moved) return;
      const body = this.body.getBoundingClientRect();
      const right = e.clientX > body.left + body.width / 2;
      const bottom = e.clientY > body.top + body.height / 2;
      this.#pipCorner = /** @type {'br' | 'bl' | 'tr' | 'tl'} */ (`${bottom ? 'b' : 't'}${right ? 'r' : 'l'}`);
      this.pip.dataset.lcCorner = this.#pipCorner;
    };
    this.pip.addEventListener('pointerup', end);
    this.pip.addEventListener('pointercancel', end);
  }

  destroy() {
    this.resizeObserver.disconnect();
  }
}
