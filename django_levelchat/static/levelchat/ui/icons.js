/**
 * Inline SVG icons (24×24, stroked, `currentColor`), built with DOM calls: nothing is fetched at run time.
 * @module
 */

const SVG_NS = 'http://www.w3.org/2000/svg';

/** @typedef {[string, Record<string, string>]} Shape */

const slash = /** @type {Shape} */ (['path', { d: 'M3 3l18 18' }]);

/** @type {Record<string, Shape[]>} */
const ICONS = {
  mic: [
    ['rect', { x: '9', y: '2', width: '6', height: '12', rx: '3' }],
    ['path', { d: 'M5 10v1a7 7 0 0 0 14 0v-1M12 18v4M8 22h8' }],
  ],
  micOff: [
    ['path', { d: 'M15 9.3V5a3 3 0 0 0-5.7-1.3M9 9v2a3 3 0 0 0 5 2.2' }],
    ['path', { d: 'M19 10v1a7 7 0 0 1-1.1 3.8M5 10v1a7 7 0 0 0 11.3 5.5M12 18v4M8 22h8' }],
    slash,
  ],
  camera: [
    ['rect', { x: '2', y: '6', width: '14', height: '12', rx: '2' }],
    ['path', { d: 'M16 10.5l6-3.5v10l-6-3.5z' }],
  ],
  cameraOff: [['path', { d: 'M16 16v2H4a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2h2m4 0h4a2 2 0 0 1 2 2v3.5l6-3.5v10' }], slash],
  screen: [
    ['rect', { x: '2', y: '3', width: '20', height: '14', rx: '2' }],
    ['path', { d: 'M8 21h8M12 17v4M12 13V7M9 9.5L12 7l3 2.5' }],
  ],
  smile: [
    ['circle', { cx: '12', cy: '12', r: '10' }],
    ['path', { d: 'M8 14s1.5 2 4 2 4-2 4-2M9 9h.01M15 9h.01' }],
  ],
  chat: [['path', { d: 'M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z' }]],
  people: [
    ['circle', { cx: '9', cy: '7', r: '4' }],
    ['path', { d: 'M2 21v-2a4 4 0 0 1 4-4h6a4 4 0 0 1 4 4v2M16 3.1a4 4 0 0 1 0 7.8M22 21v-2a4 4 0 0 0-3-3.9' }],
  ],
  more: [
    ['circle', { cx: '5', cy: '12', r: '1.6', fill: 'currentColor' }],
    ['circle', { cx: '12', cy: '12', r: '1.6', fill: 'currentColor' }],
    ['circle', { cx: '19', cy: '12', r: '1.6', fill: 'currentColor' }],
  ],
  leave: [['path', { d: 'M2.5 14.5c5.2-5 13.8-5 19 0l-2.6 2.6-3.4-1.6v-3a12 12 0 0 0-7 0v3l-3.4 1.6z' }]],
  pin: [['path', { d: 'M12 16v6M9 3h6l-1 6 4 3v2H6v-2l4-3z' }]],
  fill: [['path', { d: 'M4 9V4h5M15 4h5v5M20 15v5h-5M9 20H4v-5' }]],
  hand: [['path', { d: 'M8 13V5.5a1.5 1.5 0 0 1 3 0V12M11 11V4a1.5 1.5 0 0 1 3 0v7M14 11V5.5a1.5 1.5 0 0 1 3 0V14M17 9.5a1.5 1.5 0 0 1 3 0V15a7 7 0 0 1-7 7h-1a7 7 0 0 1-5.6-2.8L3.3 15a1.5 1.5 0 0 1 2.4-1.8L8 15.5' }]],
  link: [['path', { d: 'M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1' }]],
  chevronUp: [['path', { d: 'M6 15l6-6 6 6' }]],
  chevronLeft: [['path', { d: 'M15 18l-6-6 6-6' }]],
  chevronRight: [['path', { d: 'M9 18l6-6-6-6' }]],
  settings: [['path', { d: 'M4 21v-7M4 10V3M12 21v-9M12 8V3M20 21v-5M20 12V3M1 14h6M9 8h6M17 16h6' }]],
  close: [['path', { d: 'M18 6L6 18M6 6l12 12' }]],
  grid: [
    ['rect', { x: '3', y: '3', width: '7', height: '7', rx: '1' }],
    ['rect', { x: '14', y: '3', width: '7', height: '7', rx: '1' }],
    ['rect', { x: '3', y: '14', width: '7', height: '7', rx: '1' }],
    ['rect', { x: '14', y: '14', width: '7', height: '7', rx: '1' }],
  ],
  speakerLayout: [
    ['rect', { x: '2', y: '3', width: '20', height: '13', rx: '2' }],
    ['rect', { x: '2', y: '18', width: '5', height: '3', rx: '1' }],
    ['rect', { x: '9.5', y: '18', width: '5', height: '3', rx: '1' }],
    ['rect', { x: '17', y: '18', width: '5', height: '3', rx: '1' }],
  ],
  record: [['circle', { cx: '12', cy: '12', r: '6', fill: 'currentColor' }]],
  stop: [['rect', { x: '6', y: '6', width: '12', height: '12', rx: '2', fill: 'currentColor' }]],
  send: [['path', { d: 'M22 2L11 13M22 2l-7 20-4-9-9-4z' }]],
  alert: [['path', { d: 'M10.3 3.9L1.8 18a2 2 0 0 0 1.7 3h17a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0zM12 9v4M12 17h.01' }]],
  keyboard: [
    ['rect', { x: '2', y: '5', width: '20', height: '14', rx: '2' }],
    ['path', { d: 'M6 9h.01M10 9h.01M14 9h.01M18 9h.01M6 13h.01M18 13h.01M8 16h8M10 13h4' }],
  ],
  volume: [['path', { d: 'M11 5L6 9H2v6h4l5 4zM15.5 8.5a5 5 0 0 1 0 7M19 5a10 10 0 0 1 0 14' }]],
  powerOff: [['path', { d: 'M18.4 6.6a9 9 0 1 1-12.8 0M12 2v10' }]],
  userRemove: [
    ['circle', { cx: '9', cy: '7', r: '4' }],
    ['path', { d: 'M2 21v-2a4 4 0 0 1 4-4h6a4 4 0 0 1 4 4v2M17 11h6' }],
  ],
  search: [
    ['circle', { cx: '11', cy: '11', r: '7' }],
    ['path', { d: 'M21 21l-4.3-4.3' }],
  ],
};

/** @typedef {keyof typeof ICONS} IconName */

/**
 * A fresh `<svg>` for `name`, hidden from assistive technology (the control carries the name).
 * @param {string} name
 * @param {string} [className]
 * @returns {SVGSVGElement}
 */
export function icon(name, className = 'lc-icon') {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', className);
  svg.setAttribute('fill', 'none');
  svg.setAttribute('stroke', 'currentColor');
  svg.setAttribute('stroke-width', '2');
  svg.setAttribute('stroke-linecap', 'round');
  svg.setAttribute('stroke-linejoin', 'round');
  for (const [tag, attrs] of ICONS[name] ?? []) {
    const shape = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attrs)) shape.setAttribute(key, value);
    svg.append(shape);
  }
  return svg;
}

/**
 * Signal bars for a connection-quality band (0–4 bars lit), hidden from assistive technology.
 * @param {string} band  `excellent` … `bad`, or `unknown`
 * @returns {SVGSVGElement}
 */
export function qualityBars(band) {
  const lit = { excellent: 4, good: 3, fair: 2, poor: 1, bad: 1 }[band] ?? 0;
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', 'lc-bars');
  for (let i = 0; i < 4; i++) {
    const bar = document.createElementNS(SVG_NS, 'rect');
    const height = 4 + i * 3.5;
    bar.setAttribute('x', String(1 + i * 4));
    bar.setAttribute('y', String(15 - height));
    bar.setAttribute('width', '2.6');
    bar.setAttribute('height', String(height));
    bar.setAttribute('rx', '0.8');
    bar.setAttribute('class', i < lit ? 'lc-bars__on' : 'lc-bars__off');
    svg.append(bar);
  }
  return svg;
}
