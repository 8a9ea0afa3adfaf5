/**
 * The participants panel: everyone with "(You)", role, microphone/camera state, speaking and connection quality
 * (as text, never colour alone), a search box, live viewers as a count, and host actions (mute, remove).
 * @module
 */

import { avatar, h, srOnly, syncChildren, uid } from './dom.js';
import { icon, qualityBars } from './icons.js';
import { t } from './strings.js';

/** @import { Participant } from '../levelchat.js' */

/**
 * @typedef {object} PersonView
 * @property {Participant} participant
 * @property {boolean} speaking
 * @property {boolean} micOn
 * @property {boolean} camOn
 * @property {boolean} sharing
 * @property {number | null} hand  when their hand went up (ms), or null
 */

export class PeoplePanel {
  /** @type {Map<string, { row: HTMLLIElement, info: HTMLElement, mute: HTMLButtonElement, remove: HTMLButtonElement, lower: HTMLButtonElement }>} */
  #rows = new Map();
  /** @type {PersonView[]} */
  #people = [];
  #viewers = 0;

  /**
   * @param {{ isAdmin: boolean, onMute: (id: string) => void, onRemove: (id: string, name: string) => void,
   *   onLowerHand: (id: string) => void, onClose: () => void }} options
   */
  constructor({ isAdmin, onMute, onRemove, onLowerHand, onClose }) {
    this.isAdmin = isAdmin;
    this.onMute = onMute;
    this.onLowerHand = onLowerHand;
    this.onRemove = onRemove;
    const titleId = uid('lc-people-title');
    const searchId = uid('lc-people-search');
    this.title = h('h2', { class: 'lc-panel__title', id: titleId, tabindex: '-1', text: t('participants') });
    this.search = h('input', { type: 'search', id: searchId, class: 'lc-input', placeholder: t('searchParticipants'), autocomplete: 'off' });
    this.search.addEventListener('input', () => this.#render());
    this.list = h('ul', { class: 'lc-people__list', 'aria-labelledby': titleId });
    this.noMatch = h('p', { class: 'lc-people__empty', hidden: true });
    this.viewersEl = h('p', { class: 'lc-people__viewers', hidden: true });
    this.el = h(
      'section',
      { class: 'lc-panel lc-people', role: 'region', 'aria-label': t('participants'), 'data-lc-panel': 'people' },
      h(
        'div',
        { class: 'lc-panel__head' },
        this.title,
        h('button', { type: 'button', class: 'lc-iconbtn', 'aria-label': t('close'), title: t('close'), on: { click: onClose } }, icon('close')),
      ),
      h('div', { class: 'lc-people__search' }, h('label', { class: 'lc-sr-only', for: searchId, text: t('searchParticipants') }), icon('search'), this.search),
      this.list,
      this.noMatch,
      this.viewersEl,
    );
  }

  get initialFocus() {
    return this.search;
  }

  /**
   * @param {PersonView[]} people  you first
   * @param {number} viewers  live viewers not listed
   */
  update(people, viewers) {
    // You first, then raised hands in the order they went up, then everyone else as given.
    const [you, others] = [people.filter((p) => p.participant.isLocal), people.filter((p) => !p.participant.isLocal)];
    const hands = others.filter((p) => p.hand !== null).sort((a, b) => /** @type {number} */ (a.hand) - /** @type {number} */ (b.hand));
    this.#people = [...you, ...hands, ...others.filter((p) => p.hand === null)];
    this.#viewers = viewers;
    this.#render();
  }

  #render() {
    const query = this.search.value.trim().toLowerCase();
    const shown = this.#people.filter((p) => !query || (p.participant.name || p.participant.identity).toLowerCase().includes(query));
    const alive = new Set(this.#people.map((p) => p.participant.id || 'local'));
    for (const [id, entry] of this.#rows) if (!alive.has(id)) (entry.row.remove(), this.#rows.delete(id));
    syncChildren(this.list, shown.map((p) => this.#row(p)));
    this.noMatch.hidden = !(query && shown.length === 0);
    this.noMatch.textContent = t('noMatches', { query: this.search.value.trim() });
    this.viewersEl.hidden = this.#viewers === 0;
    this.viewersEl.textContent = t('viewersCount', { n: this.#viewers });
  }

  /** @param {PersonView} view */
  #row(view) {
    const p = view.participant;
    const id = p.id || 'local';
    let entry = this.#rows.get(id);
    if (!entry) {
      const name = () => p.name || p.identity;
      const mute = h('button', { type: 'button', class: 'lc-iconbtn', on: { click: () => mute.getAttribute('aria-disabled') !== 'true' && this.onMute(p.id) } }, icon('micOff'));
      const remove = h('button', { type: 'button', class: 'lc-iconbtn lc-iconbtn--danger', on: { click: () => this.onRemove(p.id, name()) } }, icon('userRemove'));
      const lower = h('button', { type: 'button', class: 'lc-iconbtn', on: { click: () => this.onLowerHand(p.id) } }, icon('hand'));
      const info = h('div', { class: 'lc-person__info' });
      const actions = h('div', { class: 'lc-person__actions' }, lower, mute, remove);
      const row = h('li', { class: 'lc-person', 'data-lc-participant': p.identity }, info, actions);
      entry = { row, info, mute, remove, lower };
      this.#rows.set(id, entry);
    }
    const name = p.name || p.identity;
    const role = p.role ? t(/** @type {any} */ (`role_${p.role}`)) : '';
    const roleText = role.startsWith('role_') ? p.role : role;
    const quality = p.connectionQuality || 'unknown';
    const states = [
      view.hand !== null ? t('raisedHand') : '',
      view.micOn ? '' : t('micOff'),
      view.camOn ? '' : t('cameraOff'),
      view.speaking ? t('speaking') : '',
      quality === 'unknown' ? '' : t(/** @type {any} */ (`quality_${quality}`)),
    ].filter(Boolean);
    entry.row.dataset.lcSpeaking = String(view.speaking);
    entry.row.dataset.lcAudioMuted = String(!view.micOn);
    entry.row.dataset.lcHand = String(view.hand !== null);
    entry.info.replaceChildren(
      avatar(name, p.identity || name, 'lc-avatar lc-avatar--small'),
      h(
        'div',
        { class: 'lc-person__text' },
        h('span', { class: 'lc-person__name' }, name, p.isLocal ? h('span', { class: 'lc-person__you', text: ` ${t('youSuffix')}` }) : null),
        roleText ? h('span', { class: 'lc-person__role', text: roleText }) : null,
      ),
      h(
        'span',
        { class: 'lc-person__icons', 'aria-hidden': 'true' },
        view.hand !== null ? h('span', { class: 'lc-person__hand' }, icon('hand')) : null,
        view.speaking ? h('span', { class: 'lc-person__speaking' }) : null,
        icon(view.micOn ? 'mic' : 'micOff', `lc-icon${view.micOn ? '' : ' lc-icon--muted'}`),
        icon(view.camOn ? 'camera' : 'cameraOff', `lc-icon${view.camOn ? '' : ' lc-icon--muted'}`),
        quality === 'unknown' ? null : qualityBars(quality),
      ),
      srOnly(states.length ? `, ${states.join(', ')}` : ''),
    );
    const canAct = this.isAdmin && !p.isLocal;
    // Muted already: the button stays (focus must not drop to the page) but does nothing.
    entry.mute.hidden = !canAct;
    entry.mute.setAttribute('aria-disabled', String(!view.micOn));
    entry.remove.hidden = !canAct;
    entry.lower.hidden = !(this.isAdmin && !p.isLocal && view.hand !== null);
    entry.lower.setAttribute('aria-label', t('lowerHandOf', { name }));
    entry.lower.title = t('lowerHandOf', { name });
    entry.mute.setAttribute('aria-label', t('muteParticipant', { name }));
    entry.mute.title = t('muteParticipant', { name });
    entry.remove.setAttribute('aria-label', t('removeParticipant', { name }));
    entry.remove.title = t('removeParticipant', { name });
    return entry.row;
  }
}
