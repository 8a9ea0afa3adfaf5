/**
 * The call's top bar: room name (the call heading), live and recording badges, the elapsed time, the invite
 * (copy link) action and the own connection-quality indicator.
 * @module
 */

import { h } from './dom.js';
import { icon, qualityBars } from './icons.js';
import { t } from './strings.js';

/**
 * `m:ss` under an hour, `h:mm:ss` after.
 * @param {number} ms
 */
export function formatElapsed(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, '0');
  return hours ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
}

export class TopBar {
  /** @type {ReturnType<typeof setInterval> | null} */
  #timer = null;

  /**
   * @param {{ titleId: string, roomName: string, live: boolean, inviteUrl: string | null,
   *   onCopied: (ok: boolean) => void, now?: () => number }} options
   *   `inviteUrl` null: no invite action.
   */
  constructor({ titleId, roomName, live, inviteUrl, onCopied, now = Date.now }) {
    this.now = now;
    this.onCopied = onCopied;
    this.title = h('h2', { class: 'lc-topbar__title', id: titleId, tabindex: '-1', text: roomName });
    this.liveBadge = h('span', { class: 'lc-badge lc-badge--live', hidden: !live, text: t('live') });
    // Live rooms: how many people watch (viewers, who have no tile).
    this.audience = h('span', { class: 'lc-badge lc-badge--audience', hidden: !live, 'data-lc-audience': '0', text: t('viewersCount', { n: 0 }) });
    // The recording indicator's slot: hidden until a recording runs.
    this.recBadge = h('span', { class: 'lc-badge lc-badge--rec', hidden: true, 'data-lc-slot': 'recording' }, h('span', { class: 'lc-badge__dot', 'aria-hidden': 'true' }), t('recordingLabel'));
    this.elapsed = h('time', { class: 'lc-topbar__elapsed', 'aria-label': t('elapsedTime'), 'data-lc-elapsed': '' });
    this.quality = h('span', { class: 'lc-topbar__quality', role: 'img' });
    this.invite = inviteUrl
      ? h(
          'button',
          {
            type: 'button',
            class: 'lc-topbar__invite',
            'data-lc-invite': inviteUrl,
            on: { click: () => void this.#copy(inviteUrl) },
          },
          icon('link'),
          h('span', { class: 'lc-topbar__invite-label', text: t('copyInvite') }),
        )
      : null;
    this.el = h(
      'header',
      { class: 'lc-topbar' },
      this.title,
      this.liveBadge,
      this.audience,
      this.recBadge,
      h('span', { class: 'lc-topbar__spacer' }),
      this.elapsed,
      this.invite,
      this.quality,
    );
  }

  /** @param {number} since  when the call started for us (ms) */
  startClock(since) {
    this.stopClock();
    const tick = () => {
      const ms = this.now() - since;
      this.elapsed.textContent = formatElapsed(ms);
      this.elapsed.dateTime = `PT${Math.floor(Math.max(0, ms) / 1000)}S`;
    };
    tick();
    this.#timer = setInterval(tick, 1000);
  }

  stopClock() {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** @param {number} n  viewers in a live room */
  setAudience(n) {
    if (this.audience.dataset.lcAudience === String(n)) return;
    this.audience.dataset.lcAudience = String(n);
    this.audience.textContent = t('viewersCount', { n });
  }

  /** @param {string} band @param {string} label */
  setQuality(band, label) {
    this.quality.replaceChildren(qualityBars(band));
    this.quality.setAttribute('aria-label', label);
    this.quality.title = label;
    this.quality.dataset.lcQuality = band;
  }

  /** @param {string} url */
  async #copy(url) {
    let ok = true;
    try {
      await navigator.clipboard.writeText(url);
    } catch {
      ok = false; // no clipboard permission (or an insecure page): the toast shows the link to copy by hand
    }
    if (this.invite) this.invite.dataset.lcCopied = String(ok);
    this.onCopied(ok);
  }
}
