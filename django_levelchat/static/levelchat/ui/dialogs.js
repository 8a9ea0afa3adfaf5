/**
 * Modal dialogs (`<dialog>` + showModal: focus in, Tab wraps, Esc closes, focus back to the opener) and popup
 * menus (APG menu button: arrow keys, Home/End, Esc returns focus to the button).
 * @module
 */

import { focus, h, uid } from './dom.js';
import { icon } from './icons.js';
import { t } from './strings.js';

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/**
 * The focusable elements inside `container`, in tab order (visible ones only).
 * @param {Element} container
 * @returns {HTMLElement[]}
 */
export function focusables(container) {
  return /** @type {HTMLElement[]} */ ([...container.querySelectorAll(FOCUSABLE)]).filter((el) => !el.closest('[hidden]') && el.getClientRects().length > 0);
}

/**
 * Keep Tab inside `container` (wrap from the last control to the first and back).
 * @param {HTMLElement} container
 */
export function trapTab(container) {
  container.addEventListener('keydown', (event) => {
    if (event.key !== 'Tab') return;
    const items = focusables(container);
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    const active = /** @type {HTMLElement | null} */ (container.ownerDocument.activeElement);
    if (event.shiftKey && (active === first || !container.contains(active))) {
      event.preventDefault();
      focus(last);
    } else if (!event.shiftKey && (active === last || !container.contains(active))) {
      event.preventDefault();
      focus(first);
    }
  });
}

/** A modal dialog with a heading, a body and a close button. */
export class Modal {
  /** @type {HTMLElement | null} */
  #opener = null;

  /**
   * @param {{ title: string, body: Node[], className?: string, onClose?: () => void, labelledBy?: boolean }} options
   */
  constructor({ title, body, className = '', onClose }) {
    const titleId = uid('lc-dialog-title');
    this.heading = h('h2', { class: 'lc-dialog__title', id: titleId, tabindex: '-1', text: title });
    this.closeButton = h(
      'button',
      { type: 'button', class: 'lc-iconbtn', 'aria-label': t('close'), title: t('close'), on: { click: () => this.close() } },
      icon('close'),
    );
    this.body = h('div', { class: 'lc-dialog__body' }, ...body);
    this.el = h(
      'dialog',
      { class: `lc-dialog ${className}`.trim(), 'aria-labelledby': titleId },
      h('div', { class: 'lc-dialog__head' }, this.heading, this.closeButton),
      this.body,
    );
    this.el.addEventListener('close', () => {
      onClose?.();
      const opener = this.#opener;
      this.#opener = null;
      if (opener?.isConnected) focus(opener);
    });
    // A click on the backdrop (outside the box) closes, like Esc.
    this.el.addEventListener('click', (event) => {
      if (event.target === this.el) {
        const r = this.el.getBoundingClientRect();
        const inside = event.clientX >= r.left && event.clientX <= r.right && event.clientY >= r.top && event.clientY <= r.bottom;
        if (!inside) this.close();
      }
    });
    trapTab(this.el);
  }

  get isOpen() {
    return this.el.open;
  }

  /**
   * Show it (inside `host`, so the UI's scoped styles and variables apply) and focus `initial` or the first
   * control.
   * @param {HTMLElement} host
   * @param {HTMLElement | null} [opener]
   * @param {HTMLElement | null} [initial]
   */
  open(host, opener, initial) {
    if (!this.el.isConnected) host.append(this.el);
    this.#opener = opener ?? /** @type {HTMLElement | null} */ (document.activeElement);
    if (!this.el.open) this.el.showModal();
    focus(initial ?? focusables(this.body)[0] ?? this.heading);
  }

  close() {
    if (this.el.open) this.el.close();
  }
}

/**
 * Ask a yes/no question in a modal dialog.
 * @param {HTMLElement} host
 * @param {{ title: string, text: string, confirm: string, danger?: boolean }} options
 * @returns {Promise<boolean>}
 */
export function confirmDialog(host, { title, text, confirm, danger = false }) {
  return new Promise((resolve) => {
    let answer = false;
    const cancelButton = h('button', { type: 'button', class: 'lc-button', text: t('cancel'), on: { click: () => modal.close() } });
    const okButton = h('button', {
      type: 'button',
      class: `lc-button ${danger ? 'lc-button--danger' : 'lc-button--primary'}`,
      text: confirm,
      on: {
        click: () => {
          answer = true;
          modal.close();
        },
      },
    });
    const modal = new Modal({
      title,
      className: 'lc-dialog--confirm',
      body: [h('p', { class: 'lc-dialog__text', text }), h('div', { class: 'lc-dialog__actions' }, cancelButton, okButton)],
      onClose: () => {
        queueMicrotask(() => modal.el.remove());
        resolve(answer);
      },
    });
    modal.open(host, null, cancelButton);
  });
}

/**
 * @typedef {object} MenuItem
 * @property {string} label
 * @property {string} [icon]
 * @property {string} [text]  visible text when it differs from the label (emoji)
 * @property {Element} [picture]  shown instead of text (a reaction's picture); the label names it
 * @property {string} [shortcut]  shown on the right, also `aria-keyshortcuts`
 * @property {boolean} [checked]  a menuitemradio
 * @property {boolean} [danger]
 * @property {string} [id]
 * @property {() => void} onSelect
 */

/** A popup menu owned by a menu button. */
export class Menu {
  /** @type {HTMLElement[]} */
  #items = [];
  /** Where the menu opened from when not its own button (e.g. the More button on a phone). @type {HTMLElement | null} */
  #anchor = null;
  #onDocPointer = (/** @type {PointerEvent} */ e) => {
    const target = /** @type {Node} */ (e.target);
    if (!this.el.contains(target) && !this.button.contains(target) && !this.#anchor?.contains(target)) this.close(false);
  };

  /**
   * @param {{ button: HTMLButtonElement, label: string, items: () => MenuItem[], layer: HTMLElement,
   *   className?: string, horizontal?: boolean }} options
   */
  constructor({ button, label, items, layer, className = '', horizontal = false }) {
    this.button = button;
    this.items = items;
    this.layer = layer;
    this.horizontal = horizontal;
    this.el = h('div', { class: `lc-menu ${className}`.trim(), role: 'menu', 'aria-label': label, id: uid('lc-menu'), hidden: true });
    if (horizontal) this.el.setAttribute('aria-orientation', 'horizontal');
    button.setAttribute('aria-haspopup', 'menu');
    button.setAttribute('aria-expanded', 'false');
    button.setAttribute('aria-controls', this.el.id);
    button.addEventListener('click', () => (this.isOpen ? this.close(true) : this.open(true)));
    button.addEventListener('keydown', (e) => {
      if (e.key === 'ArrowUp' || (e.key === 'ArrowDown' && !this.isOpen)) {
        e.preventDefault();
        e.stopPropagation();
        this.open(true, e.key === 'ArrowUp' ? 'last' : 'first');
      }
    });
    this.el.addEventListener('keydown', (e) => this.#onKey(e));
    layer.append(this.el);
  }

  get isOpen() {
    return !this.el.hidden;
  }

  /**
   * @param {boolean} focusItem
   * @param {'first' | 'last'} [which]
   */
  open(focusItem, which = 'first') {
    this.#build();
    this.el.hidden = false;
    this.button.setAttribute('aria-expanded', 'true');
    this.#position();
    document.addEventListener('pointerdown', this.#onDocPointer, true);
    if (focusItem && this.#items.length) focus(which === 'first' ? this.#items[0] : this.#items[this.#items.length - 1]);
  }

  /**
   * Open next to another control (the menu's own button is hidden, e.g. moved into an overflow menu).
   * @param {HTMLElement} anchor
   */
  openFrom(anchor) {
    this.#anchor = anchor;
    this.open(true);
  }

  /** @param {boolean} returnFocus */
  close(returnFocus) {
    if (!this.isOpen) return;
    this.el.hidden = true;
    this.button.setAttribute('aria-expanded', 'false');
    document.removeEventListener('pointerdown', this.#onDocPointer, true);
    const back = this.#anchor ?? this.button;
    this.#anchor = null;
    if (returnFocus) focus(back);
  }

  #build() {
    this.#items = this.items().map((item) => {
      const el = h(
        'button',
        {
          type: 'button',
          class: `lc-menu__item${item.danger ? ' lc-menu__item--danger' : ''}`,
          role: item.checked === undefined ? 'menuitem' : 'menuitemradio',
          'aria-checked': item.checked === undefined ? undefined : String(item.checked),
          'aria-label': item.text || item.picture ? item.label : undefined,
          'aria-keyshortcuts': item.shortcut,
          title: item.text || item.picture ? item.label : undefined,
          tabindex: '-1',
          'data-lc-item': item.id,
          on: {
            click: () => {
              this.close(true);
              item.onSelect();
            },
          },
        },
        item.icon ? icon(item.icon) : null,
        item.picture ?? h('span', { class: 'lc-menu__label', text: item.text ?? item.label }),
        item.shortcut && !this.horizontal ? h('kbd', { class: 'lc-menu__kbd', 'aria-hidden': 'true', text: item.shortcut }) : null,
      );
      return el;
    });
    this.el.replaceChildren(...this.#items);
  }

  #position() {
    const host = this.layer.getBoundingClientRect();
    const b = (this.#anchor ?? this.button).getBoundingClientRect();
    this.el.style.left = '';
    this.el.style.right = '';
    const menuWidth = this.el.offsetWidth;
    let left = b.left - host.left + b.width / 2 - menuWidth / 2;
    left = Math.max(8, Math.min(left, host.width - menuWidth - 8));
    this.el.style.left = `${Math.round(left)}px`;
    this.el.style.bottom = `${Math.round(host.bottom - b.top + 8)}px`;
  }

  /** @param {KeyboardEvent} e */
  #onKey(e) {
    const items = this.#items;
    const index = items.indexOf(/** @type {HTMLElement} */ (document.activeElement));
    const nextKeys = this.horizontal ? ['ArrowRight', 'ArrowDown'] : ['ArrowDown'];
    const prevKeys = this.horizontal ? ['ArrowLeft', 'ArrowUp'] : ['ArrowUp'];
    let target = -1;
    if (nextKeys.includes(e.key)) target = (index + 1) % items.length;
    else if (prevKeys.includes(e.key)) target = (index - 1 + items.length) % items.length;
    else if (e.key === 'Home') target = 0;
    else if (e.key === 'End') target = items.length - 1;
    else if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      this.close(true);
      return;
    } else if (e.key === 'Tab') {
      this.close(false);
      return;
    }
    if (target >= 0) {
      e.preventDefault();
      e.stopPropagation();
      focus(items[target]);
    }
  }
}
