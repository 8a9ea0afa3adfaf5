/**
 * Small DOM helpers. User data only ever reaches the page through `textContent` and attribute values: nothing in
 * the UI uses `innerHTML`.
 * @module
 */

/**
 * @typedef {Record<string, unknown> & {
 *   class?: string,
 *   text?: string,
 *   on?: Record<string, EventListener>,
 * }} Props
 */

/** @typedef {Node | string | number | null | undefined | false} Child */

/**
 * Create an element. `text` sets textContent, `on` adds listeners, `class` the class list; a `true` value sets a
 * boolean attribute, `false`/null/undefined skips it, anything else becomes an attribute (e.g. `aria-pressed:
 * 'false'`). `value`, `checked`, `selected`, `muted` and `hidden` are set as properties.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Props} [props]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = String(value);
    else if (key === 'text') el.textContent = String(value);
    else if (key === 'on') {
      for (const [name, fn] of Object.entries(/** @type {Record<string, EventListener>} */ (value))) el.addEventListener(name, fn);
    } else if (key === 'value' || key === 'checked' || key === 'selected' || key === 'muted' || key === 'hidden') {
      /** @type {any} */ (el)[key] = value;
    } else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/**
 * Append children, skipping empty ones; strings become text nodes.
 * @param {Element | DocumentFragment} parent
 * @param {Child[]} children
 */
export function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(typeof child === 'number' ? String(child) : child);
  }
}

/**
 * Text only visible to assistive technology.
 * @param {string} [text]
 */
export function srOnly(text = '') {
  return h('span', { class: 'lc-sr-only', text });
}

/**
 * Up to two initials for an avatar placeholder.
 * @param {string} name
 */
export function initials(name) {
  const words = String(name || '?')
    .trim()
    .split(/[\s._@-]+/)
    .filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[words.length - 1]] : [words[0] ?? '?'];
  return letters.map((w) => Array.from(w)[0] ?? '').join('').toUpperCase() || '?';
}

/**
 * A stable hue (0–359) for a name, so avatar colours do not flicker between renders.
 * @param {string} name
 */
export function hueOf(name) {
  // FNV-1a, then golden-angle steps: identities that differ in one character ("1", "2") land far apart.
  let hash = 0x811c9dc5;
  for (const ch of String(name)) hash = Math.imul(hash ^ (ch.codePointAt(0) ?? 0), 0x01000193) >>> 0;
  return Math.round(((hash % 64) * 137.508) % 360);
}

/**
 * An initials avatar with a stable colour per person.
 * @param {string} name
 * @param {string} key  what the colour derives from (identity)
 * @param {string} [className]
 */
export function avatar(name, key, className = 'lc-avatar') {
  const el = h('span', { class: className, 'aria-hidden': 'true', text: initials(name) });
  el.style.setProperty('--lc-hue', String(hueOf(key || name)));
  return el;
}

let counter = 0;
/** A unique id for label/aria wiring. @param {string} prefix */
export function uid(prefix) {
  return `${prefix}-${++counter}-${Math.random().toString(36).slice(2, 6)}`;
}

/**
 * Put `nodes` into `parent` in this order with as few moves as possible (moving a playing `<video>` is harmless
 * within one task, but fewer moves means fewer layout passes). Other children are removed.
 * @param {Element} parent
 * @param {Element[]} nodes
 */
export function syncChildren(parent, nodes) {
  const wanted = new Set(nodes);
  for (const child of [...parent.children]) if (!wanted.has(child)) child.remove();
  nodes.forEach((node, i) => {
    if (parent.children[i] !== node) parent.insertBefore(node, parent.children[i] ?? null);
  });
}

/**
 * Whether a key event comes from a place where the user types (shortcuts must stay silent there).
 * @param {Event} event
 */
export function isTypingTarget(event) {
  const target = /** @type {HTMLElement | null} */ (event.composedPath?.()[0] ?? event.target);
  if (!target || !(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName;
  if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
  if (tag === 'INPUT') {
    const type = /** @type {HTMLInputElement} */ (target).type;
    return !['button', 'checkbox', 'radio', 'range', 'submit', 'reset', 'color', 'file', 'image'].includes(type);
  }
  return false;
}

/**
 * Focus an element without scrolling the host page around; make it focusable first when it is not.
 * @param {HTMLElement | null | undefined} el
 */
export function focus(el) {
  if (!el) return;
  if (!el.hasAttribute('tabindex') && el.tabIndex < 0) el.setAttribute('tabindex', '-1');
  el.focus({ preventScroll: true });
}

/**
 * Polite and assertive live regions with batching for join/leave noise.
 */
export class Announcer {
  /** @param {HTMLElement} polite  `role=status` @param {HTMLElement} assertive  `role=alert` */
  constructor(polite, assertive) {
    this.polite = polite;
    this.assertive = assertive;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.timer = null;
    /** @type {string[]} */
    this.queue = [];
  }

  /**
   * Say `text` politely. Repeating the same text re-announces it (the region is cleared first).
   * @param {string} text
   */
  say(text) {
    this.queue.push(text);
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const message = this.queue.join('. ');
      this.queue = [];
      this.polite.textContent = '';
      // A fresh text node in the next frame: screen readers notice a change even for a repeated message.
      requestAnimationFrame(() => {
        this.polite.textContent = message;
      });
    }, 120);
  }

  /**
   * Say `text` at once (device problems, connection lost, removed, ended).
   * @param {string} text
   */
  alert(text) {
    this.assertive.textContent = '';
    requestAnimationFrame(() => {
      this.assertive.textContent = text;
    });
  }

  dispose() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/**
 * Collects names over a short window and reports them once: "Alice joined", "Alice and 2 others joined".
 */
export class NameBatcher {
  /**
   * @param {(names: string[]) => void} flush
   * @param {number} [windowMs]
   */
  constructor(flush, windowMs = 1000) {
    this.flush = flush;
    this.windowMs = windowMs;
    /** @type {string[]} */
    this.names = [];
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.timer = null;
  }

  /** @param {string} name */
  add(name) {
    this.names.push(name);
    this.timer ??= setTimeout(() => {
      this.timer = null;
      const names = this.names;
      this.names = [];
      this.flush(names);
    }, this.windowMs);
  }

  dispose() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.names = [];
  }
}

/**
 * Remembered choices (devices, on/off, layout, shortcuts) in localStorage, shared by every call on the origin.
 * Storage failures (private mode, quotas) are ignored.
 */
export const prefs = {
  key: 'levelchat:prefs',
  /** @returns {Record<string, unknown>} */
  all() {
    try {
      const value = JSON.parse(globalThis.localStorage?.getItem(this.key) ?? '{}');
      return value && typeof value === 'object' && !Array.isArray(value) ? value : {};
    } catch {
      return {};
    }
  },
  /**
   * @template T
   * @param {string} name
   * @param {T} fallback
   * @returns {T}
   */
  get(name, fallback) {
    const value = this.all()[name];
    return value === undefined || (fallback !== null && typeof value !== typeof fallback) ? fallback : /** @type {T} */ (value);
  },
  /** @param {string} name @param {unknown} value */
  set(name, value) {
    try {
      globalThis.localStorage?.setItem(this.key, JSON.stringify({ ...this.all(), [name]: value }));
    } catch {
      /* storage unavailable */
    }
  },
};

/**
 * Whether the user asked for less motion.
 */
export function prefersReducedMotion() {
  return globalThis.matchMedia?.('(prefers-reduced-motion: reduce)').matches ?? false;
}
