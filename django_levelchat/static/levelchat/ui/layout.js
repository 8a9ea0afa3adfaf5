/**
 * Pure layout decisions (no DOM): grid page size, which view to show, pagination, stable tile order and tile
 * geometry. Unit-tested with `node --test` (tests/js/ui-layout.test.js).
 * @module
 */

/**
 * @typedef {object} GridLayout
 * @property {string} name  `cols x rows`
 * @property {number} cols
 * @property {number} rows
 * @property {number} maxTiles
 * @property {number} minWidth  the container width this layout needs (px)
 * @property {'landscape' | 'portrait' | 'any'} orientation
 */

/**
 * LiveKit's GRID_LAYOUTS: the smallest layout with enough cells for the container's orientation; a container
 * narrower than a layout's min width steps down to a smaller layout and paginates.
 * @type {readonly GridLayout[]}
 */
export const GRID_LAYOUTS = Object.freeze([
  { name: '1x1', cols: 1, rows: 1, maxTiles: 1, minWidth: 0, orientation: 'any' },
  { name: '1x2', cols: 1, rows: 2, maxTiles: 2, minWidth: 0, orientation: 'portrait' },
  { name: '2x1', cols: 2, rows: 1, maxTiles: 2, minWidth: 0, orientation: 'landscape' },
  { name: '2x2', cols: 2, rows: 2, maxTiles: 4, minWidth: 560, orientation: 'any' },
  { name: '3x3', cols: 3, rows: 3, maxTiles: 9, minWidth: 700, orientation: 'any' },
  { name: '4x4', cols: 4, rows: 4, maxTiles: 16, minWidth: 960, orientation: 'any' },
  { name: '5x5', cols: 5, rows: 5, maxTiles: 25, minWidth: 1100, orientation: 'any' },
]);

/**
 * The grid layout for `count` tiles in a `width`×`height` container.
 * @param {number} count
 * @param {number} width
 * @param {number} height
 * @returns {GridLayout}
 */
export function selectGridLayout(count, width, height) {
  const orientation = width <= height ? 'portrait' : 'landscape';
  const layouts = GRID_LAYOUTS.filter((l) => l.orientation === 'any' || l.orientation === orientation);
  let index = layouts.findIndex((l) => l.maxTiles >= count);
  if (index < 0) index = layouts.length - 1;
  while (index > 0 && width < layouts[index].minWidth) index--;
  // Never step below two tiles a page when there are two or more people (a phone shows 2 a page + swipe).
  if (index === 0 && count > 1 && layouts.length > 1) index = 1;
  return layouts[index];
}

/**
 * @typedef {object} Page
 * @property {number} pages  at least 1
 * @property {number} page  0-based, clamped
 * @property {number} start  index of the first tile on the page
 * @property {number} end  one past the last
 */

/**
 * Pagination: `pages = ceil(count / perPage)`, the current page clamped (people leave).
 * @param {number} count
 * @param {number} perPage
 * @param {number} page
 * @returns {Page}
 */
export function paginate(count, perPage, page) {
  const size = Math.max(1, perPage);
  const pages = Math.max(1, Math.ceil(count / size));
  const current = Math.min(Math.max(0, Math.floor(page) || 0), pages - 1);
  return { pages, page: current, start: current * size, end: Math.min(count, (current + 1) * size) };
}

/** @typedef {'grid' | 'speaker' | 'presenter' | 'one-on-one'} ViewName */

/**
 * Which view to show.
 * - a pinned tile or a screen share → `presenter` (stage + strip)
 * - the user chose `speaker` (and there are 2+ tiles) → `speaker`
 * - exactly two camera tiles → `one-on-one` (remote fills the stage, self view in a corner)
 * - narrow (≤ 600 px) with more than 3 tiles → `speaker` with the strip below
 * - else `grid` (one tile: your self view and "Waiting for others")
 * @param {{ tiles: number, pinned: boolean, sharing: boolean, choice: 'grid' | 'speaker', width: number }} input
 * @returns {ViewName}
 */
export function chooseView({ tiles, pinned, sharing, choice, width }) {
  if ((pinned || sharing) && tiles > 1) return 'presenter';
  if (tiles < 2) return 'grid';
  if (choice === 'speaker') return 'speaker';
  if (tiles === 2) return 'one-on-one';
  if (width <= 600 && tiles > 3) return 'speaker';
  return 'grid';
}

/**
 * @typedef {object} SortInfo
 * @property {string} key
 * @property {boolean} isLocal
 * @property {boolean} isScreen
 * @property {boolean} speaking
 * @property {number} lastSpokeAt  0 when never
 * @property {boolean} videoOn
 * @property {number} joinedAt
 */

/**
 * LiveKit's sort: you first, then screen shares, then speaking, recently spoke, camera on, joined earlier.
 * @param {SortInfo[]} items
 * @returns {SortInfo[]}
 */
export function sortTiles(items) {
  return [...items].sort((a, b) => {
    if (a.isLocal !== b.isLocal) return a.isLocal ? -1 : 1;
    if (a.isScreen !== b.isScreen) return a.isScreen ? -1 : 1;
    if (a.speaking !== b.speaking) return a.speaking ? -1 : 1;
    if (a.lastSpokeAt !== b.lastSpokeAt) return b.lastSpokeAt - a.lastSpokeAt;
    if (a.videoOn !== b.videoOn) return a.videoOn ? -1 : 1;
    if (a.joinedAt !== b.joinedAt) return a.joinedAt - b.joinedAt;
    return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
  });
}

/**
 * A visually stable order: keep the previous order, drop the gone, append newcomers in sorted order, and only
 * swap tiles that must change page: a tile that belongs on the first page (by `sorted`) but sits on a later one
 * swaps with the lowest-ranked tile of the first page that does not belong there (LiveKit's
 * `useVisualStableUpdate`). `heads` (your own tile) always lead, in that order.
 * @param {string[]} previous  the order shown last time
 * @param {string[]} sorted  the ideal order (`sortTiles`)
 * @param {number} perPage
 * @param {string[]} [heads]
 * @returns {string[]}
 */
export function stableOrder(previous, sorted, perPage, heads = []) {
  const present = new Set(sorted);
  const lead = heads.filter((key) => present.has(key));
  const skip = new Set(lead);
  const order = previous.filter((key) => present.has(key) && !skip.has(key));
  const known = new Set(order);
  for (const key of sorted) if (!known.has(key) && !skip.has(key)) order.push(key);
  const ranked = sorted.filter((key) => !skip.has(key));
  const size = Math.max(1, perPage - lead.length);
  if (order.length > size) {
    const rank = new Map(ranked.map((key, i) => [key, i]));
    const ideal = new Set(ranked.slice(0, size));
    for (const key of ranked.slice(0, size)) {
      const at = order.indexOf(key);
      if (at < size) continue;
      let victim = -1;
      for (let i = 0; i < size; i++) {
        if (ideal.has(order[i])) continue;
        if (victim < 0 || (rank.get(order[i]) ?? 0) > (rank.get(order[victim]) ?? 0)) victim = i;
      }
      if (victim < 0) break;
      [order[at], order[victim]] = [order[victim], order[at]];
    }
  }
  return [...lead, ...order];
}

/**
 * Cell geometry for a grid page: tiles keep an aspect ratio between 4:3 and 17:9 and the grid is letterboxed in
 * the container instead of stretching them.
 * @param {{ width: number, height: number, cols: number, rows: number, gap?: number }} input
 * @returns {{ tileWidth: number, tileHeight: number }}
 */
export function tileSize({ width, height, cols, rows, gap = 8 }) {
  const cellW = Math.max(0, (width - gap * (cols - 1)) / cols);
  const cellH = Math.max(0, (height - gap * (rows - 1)) / rows);
  if (!cellW || !cellH) return { tileWidth: 0, tileHeight: 0 };
  const ratio = Math.min(17 / 9, Math.max(4 / 3, cellW / cellH));
  const tileWidth = Math.min(cellW, cellH * ratio);
  return { tileWidth: Math.floor(tileWidth), tileHeight: Math.floor(tileWidth / ratio) };
}
