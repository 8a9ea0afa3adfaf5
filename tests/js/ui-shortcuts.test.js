import assert from 'node:assert/strict';
import test from 'node:test';

import { shortcutFor } from '../../django_levelchat/static/levelchat/ui/shortcuts.js';

test('single keys click their control, case-insensitive', () => {
  const table = { m: 'mic', V: 'camera', c: 'chat', p: 'people', d: 'share', H: 'hand' };
  for (const [key, id] of Object.entries(table)) assert.deepEqual(shortcutFor({ key }), { type: 'control', id }, key);
  assert.deepEqual(shortcutFor({ key: 'w' }), { type: 'layout' });
  assert.deepEqual(shortcutFor({ key: '?' }), { type: 'help' });
  for (const key of ['x', 'Enter', ' ', 'Escape', 'ArrowLeft']) assert.equal(shortcutFor({ key }), null, key);
});

test('Ctrl and Meta combinations stay the browser\'s', () => {
  assert.equal(shortcutFor({ key: 'm', ctrlKey: true }), null);
  assert.equal(shortcutFor({ key: 'c', metaKey: true }), null);
  assert.equal(shortcutFor({ key: '1', code: 'Digit1', altKey: true, ctrlKey: true }), null);
});

test('Alt+digit sends a reaction by the physical key, whatever the layout prints', () => {
  assert.deepEqual(shortcutFor({ key: '¡', code: 'Digit1', altKey: true }), { type: 'react', emoji: '👍' });
  assert.deepEqual(shortcutFor({ key: '&', code: 'Digit5', altKey: true }), { type: 'react', emoji: '🎉' });
  assert.equal(shortcutFor({ key: '9', code: 'Digit9', altKey: true }), null); // six reactions only
  assert.equal(shortcutFor({ key: 'm', code: 'KeyM', altKey: true }), null);
});
