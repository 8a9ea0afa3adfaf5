/**
 * The chat panel: a `role=log` of messages rendered as text (links auto-linked, `rel="noopener noreferrer"`),
 * grouped by sender with times after gaps, a composer (Enter sends, Shift+Enter new line, length limit) and an
 * optional private recipient.
 * @module
 */

import { avatar, h, srOnly, uid } from './dom.js';
import { icon } from './icons.js';
import { t } from './strings.js';

export const MAX_CHAT_LEN = 2000;
/** A new group (name + time) starts after this gap or a different sender. */
const GROUP_GAP_MS = 60_000;
const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;

/**
 * @typedef {object} ChatEntry
 * @property {string} id
 * @property {string} fromId  participant id ('' for system lines)
 * @property {string} fromKey  identity (avatar colour)
 * @property {string} fromName  the label ("You" for your own)
 * @property {string} [avatarName]  whose initials the avatar shows (your own name on your messages)
 * @property {string} text
 * @property {number} ts
 * @property {boolean} mine
 * @property {string | null} toName  set for a private message
 * @property {boolean} [system]  e.g. "Alice reacted 👍"
 * @property {Element} [picture]  a system line's picture (the reaction), after the text
 * @property {string} [pictureLabel]  what the picture says, for screen readers
 */

/**
 * Text with http(s) links turned into anchors: every piece is a text node or an `<a>` with textContent.
 * @param {string} text
 * @returns {Node[]}
 */
export function linkify(text) {
  /** @type {Node[]} */
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    let url = match[0];
    const trailing = /[.,;:!?)\]}]+$/.exec(url);
    if (trailing) url = url.slice(0, -trailing[0].length);
    const start = match.index ?? 0;
    let href = '';
    try {
      const parsed = new URL(url);
      if (parsed.protocol === 'http:' || parsed.protocol === 'https:') href = parsed.href;
    } catch {
      /* not a URL */
    }
    if (!href) continue;
    if (start > last) nodes.push(document.createTextNode(text.slice(last, start)));
    nodes.push(h('a', { href, target: '_blank', rel: 'noopener noreferrer', text: url }));
    last = start + url.length;
  }
  if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}

/** @param {number} ts */
function clock(ts) {
  try {
    return new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  } catch {
    return '';
  }
}

/** @param {string} text */
const codePoints = (text) => Array.from(text).length;

export class ChatPanel {
  /** @type {ChatEntry | null} */
  #last = null;
  #known = new Set();
  /** Messages waiting for their ack. */
  #sending = 0;

  /**
   * @param {{ canSend: boolean, onSend: (text: string, to: string | null) => Promise<void>, onClose: () => void }} options
   */
  constructor({ canSend, onSend, onClose }) {
    this.onSend = onSend;
    const titleId = uid('lc-chat-title');
    this.log = h('div', { class: 'lc-chat__log', role: 'log', 'aria-label': t('chatMessages'), 'aria-live': 'polite', tabindex: '0' });
    this.empty = h('p', { class: 'lc-chat__empty', text: t('chatEmpty') });
    const inputId = uid('lc-chat-input');
    this.input = h('textarea', {
      id: inputId,
      class: 'lc-chat__input',
      rows: '1',
      maxlength: String(MAX_CHAT_LEN * 2),
      placeholder: t('chatPlaceholder'),
      'aria-describedby': `${inputId}-count`,
      enterkeyhint: 'send',
    });
    this.to = h('select', { class: 'lc-select lc-chat__to', 'aria-label': t('chatTo'), on: { change: () => this.#onToChange() } });
    this.count = h('span', { class: 'lc-chat__count', id: `${inputId}-count`, 'aria-live': 'polite' });
    this.error = h('p', { class: 'lc-chat__error', role: 'alert' });
    this.sendButton = h('button', { type: 'submit', class: 'lc-iconbtn lc-chat__send', 'aria-label': t('chatSend'), title: t('chatSend') }, icon('send'));
    this.form = h(
      'form',
      { class: 'lc-chat__form', hidden: !canSend },
      h('label', { class: 'lc-sr-only', for: inputId, text: t('chatInput') }),
      h('div', { class: 'lc-chat__row' }, this.to),
      h('div', { class: 'lc-chat__row' }, this.input, this.sendButton),
      this.count,
      this.error,
    );
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.#send();
    });
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        void this.#send();
      }
    });
    this.input.addEventListener('input', () => this.#onInput());
    this.closeButton = h(
      'button',
      { type: 'button', class: 'lc-iconbtn', 'aria-label': t('close'), title: t('close'), on: { click: onClose } },
      icon('close'),
    );
    this.el = h(
      'section',
      { class: 'lc-panel lc-chat', role: 'region', 'aria-labelledby': titleId, 'data-lc-panel': 'chat' },
      h('div', { class: 'lc-panel__head' }, h('h2', { class: 'lc-panel__title', id: titleId, tabindex: '-1', text: t('chat') }), this.closeButton),
      this.empty,
      this.log,
      this.form,
    );
    this.el.setAttribute('aria-label', t('chat'));
    this.el.removeAttribute('aria-labelledby');
    this.setRecipients([]);
    this.#onInput();
  }

  /** What gets focus when the panel opens. */
  get initialFocus() {
    return this.form.hidden ? this.log : this.input;
  }

  /**
   * Who can get a private message.
   * @param {{ id: string, name: string }[]} people
   */
  setRecipients(people) {
    const current = this.to.value;
    const options = [h('option', { value: '', text: t('everyone') }), ...people.map((p) => h('option', { value: p.id, text: p.name }))];
    this.to.replaceChildren(...options);
    this.to.value = people.some((p) => p.id === current) ? current : '';
    this.to.hidden = people.length === 0;
    this.to.parentElement?.toggleAttribute('hidden', people.length === 0);
    this.#onToChange();
  }

  #onToChange() {
    const option = this.to.selectedOptions[0];
    this.input.placeholder = this.to.value && option ? t('chatPlaceholderTo', { name: option.text }) : t('chatPlaceholder');
  }

  #onInput() {
    const length = codePoints(this.input.value);
    const left = MAX_CHAT_LEN - length;
    this.count.textContent = left < 0 ? t('chatTooLong', { n: -left }) : left <= 200 ? t('chatCharsLeft', { n: left }) : '';
    this.count.dataset.lcOver = String(left < 0);
    this.sendButton.setAttribute('aria-disabled', String(left < 0 || !this.input.value.trim()));
    // Grow with the text, up to a few lines.
    this.input.style.height = 'auto';
    this.input.style.height = `${Math.min(this.input.scrollHeight, 140)}px`;
  }

  async #send() {
    const text = this.input.value;
    if (!text.trim() || codePoints(text) > MAX_CHAT_LEN) return;
    // No "one at a time" guard: the input clears at once, so quick successive messages all go out, in order.
    this.#sending++;
    this.error.textContent = '';
    const to = this.to.value || null;
    this.input.value = '';
    this.#onInput();
    try {
      await this.onSend(text, to);
    } catch (err) {
      const code = /** @type {{ code?: string }} */ (err)?.code;
      this.error.textContent = code === 'rate_limited' ? t('chatRateLimited') : code === 'forbidden' ? t('chatNotAllowed') : t('chatFailed');
      if (!this.input.value) this.input.value = text;
      this.#onInput();
    } finally {
      this.#sending--;
    }
  }

  /**
   * Add a message (or a system line). Duplicates (by id) are ignored.
   * @param {ChatEntry} entry
   */
  add(entry) {
    if (entry.id && this.#known.has(entry.id)) return;
    if (entry.id) this.#known.add(entry.id);
    const last = this.#last;
    const grouped =
      !entry.system && last && !last.system && last.fromId === entry.fromId && last.toName === entry.toName && entry.ts - last.ts < GROUP_GAP_MS;
    const nearBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 40;
    /** @type {HTMLDivElement} */
    let item;
    if (entry.system) {
      item = h(
        'div',
        { class: 'lc-msg lc-msg--system', 'data-lc-from': entry.fromKey },
        h('span', { class: 'lc-msg__text', text: entry.text }),
        entry.picture ?? null,
        entry.pictureLabel ? srOnly(` ${entry.pictureLabel}`) : null,
      );
    } else {
      const privateNote = entry.toName ? (entry.mine ? t('chatPrivateTo', { name: entry.toName }) : t('chatPrivate')) : '';
      item = h(
        'div',
        { class: `lc-msg${entry.mine ? ' lc-msg--mine' : ''}${grouped ? ' lc-msg--cont' : ''}${entry.toName ? ' lc-msg--private' : ''}`, 'data-lc-from': entry.fromKey },
        grouped
          ? null
          : h(
              'div',
              { class: 'lc-msg__head', 'aria-hidden': 'true' },
              avatar(entry.avatarName || entry.fromName, entry.fromKey, 'lc-avatar lc-avatar--small'),
              h('span', { class: 'lc-msg__name', text: entry.fromName }),
              privateNote ? h('span', { class: 'lc-msg__private', text: privateNote }) : null,
              h('time', { class: 'lc-msg__time', datetime: new Date(entry.ts).toISOString(), text: clock(entry.ts) }),
            ),
        srOnly(`${entry.fromName}${privateNote ? ` (${privateNote})` : ''}: `),
        h('p', { class: 'lc-msg__text' }, ...linkify(entry.text)),
      );
    }
    this.log.append(item);
    this.empty.hidden = true;
    if (!entry.system) this.#last = entry;
    if (nearBottom || entry.mine) this.log.scrollTop = this.log.scrollHeight;
  }

  /** Scroll to the newest message (when the panel opens). */
  scrollToEnd() {
    this.log.scrollTop = this.log.scrollHeight;
  }
}
