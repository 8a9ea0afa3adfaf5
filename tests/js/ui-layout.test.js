// The call UI's pure layout decisions (django_levelchat/static/levelchat/ui/layout.js), as tables.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { chooseView, paginate, selectGridLayout, sortTiles, stableOrder, tileSize } from '../../django_levelchat/static/levelchat/ui/layout.js';
import { t } from '../../django_levelchat/static/levelchat/ui/strings.js';
import { endStateFor } from '../../django_levelchat/static/levelchat/ui/states.js';

test('grid page size follows the LiveKit table (wide container)', () => {
  const table = [
    [1, '1x1'],
    [2, '2x1'],
    [3, '2x2'],
    [4, '2x2'],
    [5, '3x3'],
    [9, '3x3'],
    [10, '4x4'],
    [16, '4x4'],
    [17, '5x5'],
    [25, '5x5'],
    [26, '5x5'],
    [60, '5x5'],
  ];
  for (const [count, name] of table) assert.equal(selectGridLayout(count, 1280, 720).name, name, `${count} tiles`);
});

test('two tiles stack in a portrait container; narrow containers step down and paginate', () => {
  assert.equal(selectGridLayout(2, 375, 600).name, '1x2');
  assert.equal(selectGridLayout(3, 375, 600).name, '1x2'); // a phone: 2 a page + swipe
  assert.equal(selectGridLayout(4, 559, 400).name, '2x1');
  assert.equal(selectGridLayout(4, 560, 400).name, '2x2');
  assert.equal(selectGridLayout(9, 699, 500).name, '2x2');
  assert.equal(selectGridLayout(16, 959, 700).name, '3x3');
  assert.equal(selectGridLayout(25, 1099, 700).name, '4x4');
  assert.equal(selectGridLayout(1, 320, 500).name, '1x1');
});

test('pagination: pages, clamping', () => {
  assert.deepEqual(paginate(26, 25, 0), { pages: 2, page: 0, start: 0, end: 25 });
  assert.deepEqual(paginate(26, 25, 1), { pages: 2, page: 1, start: 25, end: 26 });
  assert.deepEqual(paginate(3, 2, 5), { pages: 2, page: 1, start: 2, end: 3 }); // people left: clamp
  assert.deepEqual(paginate(0, 4, 3), { pages: 1, page: 0, start: 0, end: 0 });
  assert.equal(paginate(26, selectGridLayout(26, 1280, 720).maxTiles, 0).pages, 2);
});

test('view choice', () => {
  const base = { tiles: 3, pinned: false, sharing: false, choice: /** @type {'grid'} */ ('grid'), width: 1000 };
  assert.equal(chooseView({ ...base, tiles: 1 }), 'grid');
  assert.equal(chooseView({ ...base, tiles: 2 }), 'one-on-one');
  assert.equal(chooseView(base), 'grid');
  assert.equal(chooseView({ ...base, sharing: true }), 'presenter');
  assert.equal(chooseView({ ...base, pinned: true }), 'presenter');
  assert.equal(chooseView({ ...base, choice: 'speaker' }), 'speaker');
  assert.equal(chooseView({ ...base, tiles: 5, width: 500 }), 'speaker');
  assert.equal(chooseView({ ...base, tiles: 3, width: 500 }), 'grid');
});

test('sort: you, shares, speaking, recently spoke, camera on, joined earlier', () => {
  const info = (key, extra = {}) => ({ key, isLocal: false, isScreen: false, speaking: false, lastSpokeAt: 0, videoOn: false, joinedAt: 0, ...extra });
  const sorted = sortTiles([
    info('late', { joinedAt: 5 }),
    info('cam', { videoOn: true, joinedAt: 9 }),
    info('spoke', { lastSpokeAt: 100 }),
    info('talk', { speaking: true }),
    info('share', { isScreen: true }),
    info('me', { isLocal: true }),
    info('early', { joinedAt: 1 }),
  ]).map((s) => s.key);
  assert.deepEqual(sorted, ['me', 'share', 'talk', 'spoke', 'cam', 'early', 'late']);
});

test('stable order: only tiles that must change page swap', () => {
  const previous = ['me', 'a', 'b', 'c', 'd'];
  // d starts speaking and ranks second: it swaps with the lowest-ranked tile of page one, the rest stay put.
  const sorted = ['me', 'd', 'a', 'b', 'c'];
  assert.deepEqual(stableOrder(previous, sorted, 3, ['me']), ['me', 'a', 'd', 'c', 'b']);
  // Everything on one page: no reordering at all.
  assert.deepEqual(stableOrder(previous, sorted, 9, ['me']), previous);
  // Newcomers are appended, the gone dropped, you stay first.
  assert.deepEqual(stableOrder(['a', 'me', 'x'], ['me', 'n', 'a'], 9, ['me']), ['me', 'a', 'n']);
});

test('tile size keeps 4:3 … 17:9 and letterboxes', () => {
  assert.deepEqual(tileSize({ width: 1000, height: 1000, cols: 1, rows: 1, gap: 0 }), { tileWidth: 1000, tileHeight: 750 });
  assert.deepEqual(tileSize({ width: 1700, height: 500, cols: 1, rows: 1, gap: 0 }), { tileWidth: 944, tileHeight: 500 });
  const { tileWidth, tileHeight } = tileSize({ width: 1208, height: 600, cols: 2, rows: 2 });
  assert.ok(tileWidth / tileHeight >= 4 / 3 - 0.01 && tileWidth / tileHeight <= 17 / 9 + 0.01);
  assert.ok(tileWidth * 2 + 8 <= 1208 && tileHeight * 2 + 8 <= 600);
});

test('end states by disconnect code', () => {
  assert.equal(endStateFor('left', 'R').action, 'rejoin');
  assert.equal(endStateFor('room_ended', 'R').title, t('endedTitle'));
  assert.equal(endStateFor('removed', 'R').action, 'back');
  assert.equal(endStateFor('replaced', 'R').action, 'rejoin');
  assert.equal(endStateFor('token_expired', 'R').action, 'reload');
  assert.equal(endStateFor('connection_failed', 'R').state, 'lost');
  assert.equal(endStateFor('weird_code', 'R').state, 'error');
  assert.equal(t('pageOf', { page: 1, pages: 2 }), 'Page 1 of 2');
});
