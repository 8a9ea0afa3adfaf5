/**
 * State cards (connecting, left, ended, removed, replaced, full, expired, lost, error) and banners
 * (reconnecting, presenting, weak connection, blocked audio). Each card has a heading, one plain sentence and
 * at most one main action; terminal cards get focus on their heading.
 * @module
 */

import { h, uid } from './dom.js';
import { icon } from './icons.js';
import { t } from './strings.js';

/**
 * @typedef {object} CardAction
 * @property {string} label
 * @property {() => void} onClick
 * @property {boolean} [primary]
 * @property {string} [href]  render a link instead of a button
 */

/**
 * @typedef {object} CardSpec
 * @property {string} state  a machine name for `data-lc-end` (`left`, `room_ended`, …)
 * @property {string} title
 * @property {string} text
 * @property {CardAction[]} [actions]
 * @property {boolean} [spinner]
 * @property {'status' | 'alert'} [role]
 */

/**
 * A centred card.
 * @param {CardSpec} spec
 * @returns {{ el: HTMLElement, heading: HTMLHeadingElement }}
 */
export function card({ state, title, text, actions = [], spinner = false, role = 'status' }) {
  const titleId = uid('lc-card-title');
  const heading = h('h2', { class: 'lc-card__title', id: titleId, tabindex: '-1', text: title });
  const el = h(
    'section',
    { class: 'lc-card', role, 'aria-labelledby': titleId, 'data-lc-card': state },
    spinner ? h('span', { class: 'lc-spinner', 'aria-hidden': 'true' }) : null,
    heading,
    h('p', { class: 'lc-card__text', text }),
    actions.length
      ? h(
          'div',
          { class: 'lc-card__actions' },
          ...actions.map((a) =>
            a.href
              ? h('a', { class: `lc-button${a.primary ? ' lc-button--primary' : ''}`, href: a.href, text: a.label })
              : h('button', { type: 'button', class: `lc-button${a.primary ? ' lc-button--primary' : ''}`, text: a.label, on: { click: a.onClick } }),
          ),
        )
      : null,
  );
  return { el, heading };
}

/**
 * @typedef {object} EndState
 * @property {string} state  `left`, `room_ended`, `removed`, `replaced`, `room_full`, `expired`, `lost`, `error`
 * @property {string} title
 * @property {string} text
 * @property {'rejoin' | 'reload' | 'back' | null} action
 * @property {string} [actionLabel]
 * @property {boolean} alert  announce assertively
 */

const TOKEN_CODES = new Set([
  'token_missing', 'token_invalid', 'token_expired', 'token_not_yet_valid', 'token_ttl', 'wrong_room', 'unknown_key',
  'missing_claim', 'bad_capabilities', 'resume_invalid', 'resume_expired', 'hello_timeout',
]);

/**
 * What to show when the call is over, by the SDK's disconnect code.
 * @param {string} code
 * @param {string} room  the room name
 * @returns {EndState}
 */
export function endStateFor(code, room) {
  switch (code) {
    case 'left':
      return { state: 'left', title: t('leftTitle'), text: t('leftText'), action: 'rejoin', alert: false };
    case 'room_ended':
      return { state: 'room_ended', title: t('endedTitle'), text: t('endedText', { room }), action: 'back', alert: true };
    case 'removed':
      return { state: 'removed', title: t('removedTitle'), text: t('removedText', { room }), action: 'back', alert: true };
    case 'replaced':
      return { state: 'replaced', title: t('replacedTitle'), text: t('replacedText'), action: 'rejoin', actionLabel: t('replacedAction'), alert: true };
    case 'room_full':
      return { state: 'room_full', title: t('fullTitle'), text: t('fullText', { room }), action: 'back', alert: true };
    case 'connection_failed':
    case 'connection_closed':
    case 'ping_timeout':
    case 'unavailable':
    case 'overloaded':
    case 'shutdown':
    case 'restart':
    case 'slow_consumer':
      return { state: 'lost', title: t('lostTitle'), text: t('lostText'), action: 'rejoin', alert: true };
    default:
      if (TOKEN_CODES.has(code)) return { state: 'expired', title: t('expiredTitle'), text: t('expiredText'), action: 'reload', alert: true };
      return { state: 'error', title: t('errorTitle'), text: t('errorText', { code }), action: 'rejoin', alert: true };
  }
}

/** A slim banner over the stage (polite status unless `alert`). */
export class Banner {
  /**
   * @param {{ kind: string, text: string, role?: 'status' | 'alert' | null, action?: { label: string, onClick: () => void },
   *   secondary?: string, iconName?: string }} options
   */
  constructor({ kind, text, role = 'status', action, secondary, iconName }) {
    this.textEl = h('span', { class: 'lc-banner__text', text });
    this.el = h(
      'div',
      { class: `lc-banner lc-banner--${kind}`, role: role ?? undefined, 'data-lc-banner': kind, hidden: true },
      kind === 'reconnecting' ? h('span', { class: 'lc-spinner lc-spinner--small', 'aria-hidden': 'true' }) : iconName ? icon(iconName) : null,
      this.textEl,
      secondary ? h('span', { class: 'lc-banner__secondary', text: secondary }) : null,
      action ? h('button', { type: 'button', class: 'lc-button lc-button--small', text: action.label, on: { click: action.onClick } }) : null,
    );
  }

  /** @param {boolean} shown */
  show(shown) {
    this.el.hidden = !shown;
  }

  get shown() {
    return !this.el.hidden;
  }
}
