/**
 * The reaction palette as small inline SVG pictures, so reactions look the same on machines without an emoji font
 * (Debian containers, many Linux desktops). The wire still carries the emoji; an emoji outside the palette (sent
 * through the SDK) is shown as text.
 * @module
 */

const NS = 'http://www.w3.org/2000/svg';
const FACE = '#ffcc4d';
const FACE_EDGE = '#e0a526';
const DARK = '#664500';

/** @typedef {[string, Record<string, string>]} Shape */

/** @type {Record<string, Shape[]>} keyed by emoji; a 36×36 view box */
const PICTURES = {
  '👍': [
    ['path', { d: 'M6 16h6v16H6z', fill: '#ffa000' }],
    ['path', { d: 'M12 17l6-11c1.5-2.5 5-1.5 4.5 1.5L21 14h8.5c2 0 3.5 2 3 4l-2.5 10.5c-.5 2-2 3.5-4 3.5H12z', fill: FACE, stroke: FACE_EDGE, 'stroke-width': '1.2', 'stroke-linejoin': 'round' }],
    ['path', { d: 'M22 20h8M21.5 25h7.5', stroke: FACE_EDGE, 'stroke-width': '1.2', 'stroke-linecap': 'round' }],
  ],
  '👏': [
    ['path', { d: 'M9 30c-4-4-4-9-1-12l8-8c1.5-1.5 3.5 0 2.5 1.5L14 17l9-9c1.5-1.5 3.5.5 2 2l-7 7 8-7c1.5-1.5 3.5.5 2 2l-7 7 5.5-4.5c1.5-1 3 .8 1.8 2L20 29c-3 3-8 4-11 1z', fill: FACE, stroke: FACE_EDGE, 'stroke-width': '1.2', 'stroke-linejoin': 'round' }],
    ['path', { d: 'M4 8l3 3M8 3.5l1 4M2.5 14l4-.5M29 27l3 2M26.5 31.5l1.5 3', stroke: '#5dadec', 'stroke-width': '1.6', 'stroke-linecap': 'round' }],
  ],
  '😂': [
    ['circle', { cx: '18', cy: '18', r: '15', fill: FACE }],
    ['path', { d: 'M9 14q3-3 6 0M21 14q3-3 6 0', stroke: DARK, 'stroke-width': '1.8', fill: 'none', 'stroke-linecap': 'round' }],
    ['path', { d: 'M9 20h18c0 5-4 9-9 9s-9-4-9-9z', fill: DARK }],
    ['path', { d: 'M12 24h12c-1 2.5-3.5 3.5-6 3.5s-5-1-6-3.5z', fill: '#fff' }],
    ['path', { d: 'M6 15c-3 2-4 6-2.5 8 1.5 1.5 4 0 4.5-3zM30 15c3 2 4 6 2.5 8-1.5 1.5-4 0-4.5-3z', fill: '#5dadec' }],
  ],
  '❤️': [['path', { d: 'M18 32S3 23 3 13c0-5 3.5-8.5 8-8.5 3 0 5.5 1.7 7 4.3 1.5-2.6 4-4.3 7-4.3 4.5 0 8 3.5 8 8.5 0 10-15 19-15 19z', fill: '#dd2e44' }]],
  '🎉': [
    ['path', { d: 'M4 33l7-21 14 14z', fill: '#ffac33' }],
    ['path', { d: 'M8 21l7 7M6 27l3 3', stroke: '#dd2e44', 'stroke-width': '2' }],
    ['circle', { cx: '23', cy: '7', r: '2', fill: '#dd2e44' }],
    ['circle', { cx: '30', cy: '14', r: '2', fill: '#5dadec' }],
    ['circle', { cx: '16', cy: '4', r: '1.5', fill: '#77b255' }],
    ['path', { d: 'M19 13c2-3 5-3 6-6M23 17c3-1 6 1 8-1', stroke: '#aa8dd8', 'stroke-width': '1.8', fill: 'none', 'stroke-linecap': 'round' }],
  ],
  '😮': [
    ['circle', { cx: '18', cy: '18', r: '15', fill: FACE }],
    ['ellipse', { cx: '12.5', cy: '14', rx: '2', ry: '3', fill: DARK }],
    ['ellipse', { cx: '23.5', cy: '14', rx: '2', ry: '3', fill: DARK }],
    ['ellipse', { cx: '18', cy: '25', rx: '4', ry: '5', fill: DARK }],
  ],
};

/** Whether `emoji` has a picture. @param {string} emoji */
export function hasPicture(emoji) {
  return Object.hasOwn(PICTURES, emoji);
}

/**
 * The picture of a palette emoji (decorative: the caller names it), or the emoji as text when it has none.
 * @param {string} emoji
 * @param {string} [className]
 * @returns {Element}
 */
export function reactionPicture(emoji, className = 'lc-reaction') {
  const shapes = PICTURES[emoji];
  if (!shapes) {
    const span = document.createElement('span');
    span.className = `${className} ${className}--text`;
    span.setAttribute('aria-hidden', 'true');
    span.textContent = emoji;
    return span;
  }
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('class', className);
  svg.setAttribute('viewBox', '0 0 36 36');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.dataset.lcEmoji = emoji;
  for (const [tag, attrs] of shapes) {
    const el = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    svg.append(el);
  }
  return svg;
}
