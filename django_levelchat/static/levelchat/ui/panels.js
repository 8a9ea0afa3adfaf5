/**
 * Where the chat and participants panels live: one open at a time, beside the stage, or in a full-screen modal
 * sheet (`<dialog>`, Tab kept inside, Esc closes) when the call is narrow. Closing returns focus to the panel's
 * toolbar button.
 * @module
 */

import { focus, h } from './dom.js';
import { t } from './strings.js';

/** @import { Toolbar } from './controls.js' */

/** @typedef {'chat' | 'people'} PanelName */
/** @typedef {{ el: HTMLElement, initialFocus: HTMLElement }} PanelView */

export class Panels {
  /** @type {PanelName | null} */
  current = null;
  narrow = false;
  /** @type {HTMLDialogElement | null} */
  #sheet = null;

  /**
   * @param {{ root: HTMLElement, app: HTMLElement, views: Record<PanelName, PanelView>, toolbar: () => Toolbar | null,
   *   onOpen: (name: PanelName) => void, onChange: () => void }} options
   *   `onOpen` runs once the panel is in place, before it takes focus (the chat clears its unread count and
   *   scrolls to the end); `onChange` after any open or close (the bar's labels depend on it).
   */
  constructor({ root, app, views, toolbar, onOpen, onChange }) {
    this.root = root;
    this.app = app;
    this.views = views;
    this.toolbar = toolbar;
    this.onOpen = onOpen;
    this.onChange = onChange;
    this.side = h('aside', { class: 'lc-side', hidden: true });
    for (const view of Object.values(views)) {
      view.el.addEventListener('keydown', (e) => {
        if (e.key === 'Escape' && !this.narrow) {
          e.preventDefault();
          this.close();
        }
      });
    }
  }

  /** @param {PanelName} name */
  toggle(name) {
    if (this.current === name) this.close();
    else this.open(name);
  }

  /** @param {PanelName} name */
  open(name) {
    if (this.current && this.current !== name) this.close(false);
    this.current = name;
    this.root.dataset.lcPanel = name;
    this.toolbar()?.setPressed(name, true);
    this.place();
    this.onOpen(name);
    focus(this.views[name].initialFocus);
    this.onChange();
  }

  /** @param {boolean} [returnFocus] */
  close(returnFocus = true) {
    const name = this.current;
    if (!name) return;
    this.current = null;
    delete this.root.dataset.lcPanel;
    this.toolbar()?.setPressed(name, false);
    this.side.hidden = true;
    this.#closeSheet();
    if (returnFocus) focus(this.toolbar()?.get(name));
    this.onChange();
  }

  /**
   * The call got narrower or wider: move an open panel between the side and the sheet.
   * @param {boolean} narrow
   */
  setNarrow(narrow) {
    if (narrow === this.narrow) return;
    this.narrow = narrow;
    this.place();
  }

  /** Put the open panel beside the stage, or in the modal sheet when narrow. */
  place() {
    if (!this.current) return;
    const panel = this.views[this.current].el;
    if (this.narrow) {
      const sheet = this.#sheet ?? this.#makeSheet();
      this.side.hidden = true;
      if (panel.parentElement !== sheet) sheet.replaceChildren(panel);
      sheet.setAttribute('aria-label', this.current === 'chat' ? t('chat') : t('participants'));
      if (!sheet.open) sheet.showModal();
    } else {
      this.#closeSheet();
      if (panel.parentElement !== this.side) this.side.replaceChildren(panel);
      this.side.hidden = false;
    }
  }

  /** Forget the open panel (the call view is gone). */
  reset() {
    this.#sheet?.close();
    this.current = null;
    delete this.root.dataset.lcPanel;
  }

  /** Close the sheet without closing the panel (it is moving, or closing by other means). */
  #closeSheet() {
    if (!this.#sheet?.open) return;
    this.#sheet.dataset.lcMoving = 'true';
    this.#sheet.close();
  }

  #makeSheet() {
    const sheet = h('dialog', { class: 'lc-sheet', 'aria-label': t('chat') });
    sheet.addEventListener('close', () => {
      if (sheet.dataset.lcMoving === 'true') {
        delete sheet.dataset.lcMoving;
        return;
      }
      if (this.current) this.close();
    });
    sheet.addEventListener('keydown', (e) => {
      if (e.key !== 'Tab') return;
      // Keep Tab inside the sheet.
      const items = [...sheet.querySelectorAll('button, textarea, input, select, [tabindex="0"]')].filter((el) => !el.closest('[hidden]'));
      if (!items.length) return;
      const first = /** @type {HTMLElement} */ (items[0]);
      const last = /** @type {HTMLElement} */ (items[items.length - 1]);
      if (e.shiftKey && document.activeElement === first) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && document.activeElement === last) {
        e.preventDefault();
        first.focus();
      }
    });
    this.app.append(sheet);
    this.#sheet = sheet;
    return sheet;
  }
}
