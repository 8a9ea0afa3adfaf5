/**
 * The control bar: an APG toolbar (one tab stop, Left/Right/Home/End, focus remembered), toggle buttons with fixed
 * names and `aria-pressed`, badges that are part of the accessible name, disabled controls that stay focusable.
 * @module
 */

import { h, srOnly } from './dom.js';
import { icon } from './icons.js';

/**
 * @typedef {object} ControlSpec
 * @property {string} id  `mic`, `camera`, `share`, `reactions`, `chat`, `people`, `more`, `leave`, …
 * @property {string} label  the fixed accessible name
 * @property {string} icon
 * @property {string} [iconOff]  shown when a toggle is off
 * @property {string} [shortcut]  e.g. `M` (`aria-keyshortcuts` and the tooltip)
 * @property {boolean} [toggle]  has `aria-pressed`
 * @property {boolean} [pressed]
 * @property {boolean} [small]  an icon-only companion (device chevron)
 * @property {'danger' | 'default'} [variant]
 * @property {(button: HTMLButtonElement) => void} onClick
 */

export class Toolbar {
  /** @type {Map<string, HTMLButtonElement>} */
  buttons = new Map();
  /** @type {Map<string, { badge: HTMLElement, sr: HTMLElement }>} */
  #badges = new Map();
  /** @type {HTMLButtonElement | null} */
  #current = null;

  /** @param {{ label: string }} options */
  constructor({ label }) {
    this.el = h('div', { class: 'lc-toolbar', role: 'toolbar', 'aria-label': label, 'aria-orientation': 'horizontal' });
    this.left = h('div', { class: 'lc-toolbar__group lc-toolbar__group--media' });
    this.center = h('div', { class: 'lc-toolbar__group lc-toolbar__group--social' });
    this.right = h('div', { class: 'lc-toolbar__group lc-toolbar__group--end' });
    this.el.append(this.left, this.center, this.right);
    this.el.addEventListener('keydown', (e) => this.#onKey(e));
    this.el.addEventListener('focusin', (e) => {
      const button = /** @type {HTMLElement} */ (e.target).closest?.('button');
      if (button && this.buttons.get(button.dataset.lcControl ?? '') === button) this.#setCurrent(/** @type {HTMLButtonElement} */ (button));
    });
  }

  /**
   * Add a control to a group. Returns the button.
   * @param {ControlSpec} spec
   * @param {'left' | 'center' | 'right'} [group]
   * @param {HTMLElement} [into]  a wrapper inside the group (split buttons)
   */
  add(spec, group = 'center', into) {
    const badge = h('span', { class: 'lc-ctl__badge', 'aria-hidden': 'true', hidden: true });
    const sr = srOnly();
    const tip = spec.shortcut ? `${spec.label} (${spec.shortcut})` : spec.label;
    const button = h(
      'button',
      {
        type: 'button',
        class: `lc-ctl${spec.small ? ' lc-ctl--small' : ''}${spec.variant === 'danger' ? ' lc-ctl--danger' : ''}`,
        'data-lc-control': spec.id,
        'aria-pressed': spec.toggle ? String(Boolean(spec.pressed)) : undefined,
        'aria-keyshortcuts': spec.shortcut,
        'data-lc-tip': tip,
        tabindex: this.buttons.size === 0 ? '0' : '-1',
      },
      h('span', { class: 'lc-ctl__icons' }, icon(spec.icon, 'lc-icon lc-icon--on'), spec.iconOff ? icon(spec.iconOff, 'lc-icon lc-icon--off') : null),
      h('span', { class: `lc-ctl__label${spec.small ? ' lc-sr-only' : ''}`, text: spec.label }),
      sr,
      badge,
    );
    button.addEventListener('click', () => {
      if (button.getAttribute('aria-disabled') === 'true') return;
      spec.onClick(button);
    });
    this.buttons.set(spec.id, button);
    this.#badges.set(spec.id, { badge, sr });
    (into ?? this[group]).append(button);
    if (!this.#current) this.#current = button;
    return button;
  }

  /**
   * A wrapper that keeps a control and its chevron together.
   * @param {'left' | 'center' | 'right'} group
   */
  split(group) {
    const wrapper = h('div', { class: 'lc-split' });
    this[group].append(wrapper);
    return wrapper;
  }

  /** @param {string} id */
  get(id) {
    return this.buttons.get(id) ?? null;
  }

  /** @param {string} id @param {boolean} pressed */
  setPressed(id, pressed) {
    this.buttons.get(id)?.setAttribute('aria-pressed', String(pressed));
  }

  /** @param {string} id */
  isPressed(id) {
    return this.buttons.get(id)?.getAttribute('aria-pressed') === 'true';
  }

  /**
   * Disabled controls stay focusable (APG): `aria-disabled`, and clicks are ignored.
   * @param {string} id @param {boolean} disabled
   */
  setDisabled(id, disabled) {
    const button = this.buttons.get(id);
    if (!button) return;
    if (disabled) button.setAttribute('aria-disabled', 'true');
    else button.removeAttribute('aria-disabled');
  }

  /**
   * A badge (visible `text`) and its spoken form (appended to the name, e.g. "Chat, 2 unread").
   * @param {string} id @param {string} text @param {string} spoken
   */
  setBadge(id, text, spoken) {
    const entry = this.#badges.get(id);
    if (!entry) return;
    entry.badge.textContent = text;
    entry.badge.hidden = !text;
    entry.sr.textContent = spoken ? `, ${spoken}` : '';
  }

  /** @param {string} id @param {boolean} hidden */
  setHidden(id, hidden) {
    const button = this.buttons.get(id);
    if (!button) return;
    button.hidden = hidden;
    if (hidden && button === this.#current) this.#setCurrent(this.#visible()[0] ?? null);
  }

  #visible() {
    // Not `hidden`, and laid out (a phone-sized bar hides some controls with CSS: they live in More there).
    return [...this.el.querySelectorAll('button[data-lc-control]')]
      .filter((b) => !(/** @type {HTMLElement} */ (b).hidden) && b.getClientRects().length > 0)
      .map((b) => /** @type {HTMLButtonElement} */ (b));
  }

  /** @param {HTMLButtonElement | null} button */
  #setCurrent(button) {
    this.#current = button;
    for (const b of this.buttons.values()) b.tabIndex = b === button ? 0 : -1;
  }

  /** @param {KeyboardEvent} e */
  #onKey(e) {
    if (!['ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(e.key)) return;
    const target = /** @type {HTMLElement} */ (e.target);
    if (!target.matches('button[data-lc-control]')) return;
    const items = this.#visible();
    const index = items.indexOf(/** @type {HTMLButtonElement} */ (target));
    if (index < 0) return;
    e.preventDefault();
    let next = index;
    if (e.key === 'ArrowRight') next = (index + 1) % items.length;
    else if (e.key === 'ArrowLeft') next = (index - 1 + items.length) % items.length;
    else if (e.key === 'Home') next = 0;
    else next = items.length - 1;
    this.#setCurrent(items[next]);
    items[next].focus();
  }
}
