/**
 * Keyboard shortcuts: which key does what (a pure function, unit-tested), and the help table that lists them.
 * `call.js` decides whether shortcuts apply at all (focus not in a field, a call on screen, the setting on).
 * @module
 */

import { h } from './dom.js';
import { Modal } from './dialogs.js';
import { REACTIONS, t } from './strings.js';

/**
 * What a shortcut asks for: a control to click (its toolbar id), the layout switch, the help dialog, or a reaction.
 * @typedef {{ type: 'control', id: string } | { type: 'layout' } | { type: 'help' } | { type: 'react', emoji: string }} ShortcutAction
 */

/** Single keys (case-insensitive) → the toolbar control they click. */
const CONTROL_KEYS = Object.freeze(/** @type {Record<string, string>} */ ({ m: 'mic', v: 'camera', c: 'chat', p: 'people', d: 'share', h: 'hand' }));

/**
 * The action for a key press, or null. Ctrl/Meta combinations are the browser's; Alt+digit (matched on `code`, so
 * it works on every keyboard layout) sends the reaction of that number.
 * @param {{ key: string, code?: string, altKey?: boolean, ctrlKey?: boolean, metaKey?: boolean }} e
 * @returns {ShortcutAction | null}
 */
export function shortcutFor(e) {
  if (e.ctrlKey || e.metaKey) return null;
  if (e.altKey) {
    const digit = /^Digit([1-9])$/.exec(e.code ?? '');
    const reaction = digit ? REACTIONS[Number(digit[1]) - 1] : undefined;
    return reaction ? { type: 'react', emoji: reaction.emoji } : null;
  }
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  if (Object.hasOwn(CONTROL_KEYS, key)) return { type: 'control', id: CONTROL_KEYS[key] };
  if (key === 'w') return { type: 'layout' };
  if (key === '?') return { type: 'help' };
  return null;
}

/** The "Keyboard shortcuts" dialog: a two-column table of keys and what they do. */
export function shortcutsDialog() {
  const rows = [
    ['M', t('shortcutToggleMic')],
    ['V', t('shortcutToggleCamera')],
    ['C', t('shortcutToggleChat')],
    ['P', t('shortcutTogglePeople')],
    ['D', t('shortcutShare')],
    ['W', t('shortcutLayout')],
    ['H', t('shortcutHand')],
    [`Alt+1…${REACTIONS.length}`, t('shortcutReact')],
    ['PageUp / PageDown', t('shortcutPages')],
    ['?', t('shortcutHelp')],
  ];
  return new Modal({
    title: t('shortcutsTitle'),
    className: 'lc-dialog--help',
    body: [
      h(
        'table',
        { class: 'lc-shortcuts' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: t('shortcutKeys') }), h('th', { scope: 'col', text: t('shortcutAction') }))),
        h('tbody', {}, ...rows.map(([key, text]) => h('tr', {}, h('td', {}, h('kbd', { text: key })), h('td', { text })))),
      ),
    ],
  });
}
