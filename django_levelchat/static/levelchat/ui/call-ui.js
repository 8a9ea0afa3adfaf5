/**
 * The prebuilt call UI: mounts a call in every `[data-levelchat-call]` element on the page, reading the
 * configuration the `{% levelchat_call %}` tag put in a `json_script` block (`data-config-id`). Built only on the
 * public SDK (`../levelchat.js`). See docs/ui.md.
 *
 *   {% load levelchat %}
 *   {% levelchat_call room %}
 *
 * Roots added later (e.g. by a host page's own script) can be mounted with `mount(element)`.
 * @module
 */

import { CallUI } from './call.js';
import { card } from './states.js';
import { t } from './strings.js';

/** @import { CallConfig } from './call.js' */

export { CallUI } from './call.js';
export { setStrings, STRINGS } from './strings.js';

/** @type {WeakMap<Element, CallUI>} */
const mounted = new WeakMap();

/**
 * Read and check a root's configuration.
 * @param {HTMLElement} root
 * @returns {CallConfig | null}
 */
export function readConfig(root) {
  const id = root.dataset.configId;
  const script = id ? document.getElementById(id) : root.querySelector('script[type="application/json"]');
  if (!script?.textContent) return null;
  try {
    const config = JSON.parse(script.textContent);
    if (!config || typeof config.token !== 'string' || !config.room || !config.user) return null;
    return /** @type {CallConfig} */ (config);
  } catch {
    return null;
  }
}

/**
 * Mount the call UI in one root (idempotent). Returns the instance, or null when the root has no usable config
 * (server-rendered states such as "ended" or "sign in" have none and are left alone).
 * @param {HTMLElement} root
 * @returns {CallUI | null}
 */
export function mount(root) {
  const existing = mounted.get(root);
  if (existing) return existing;
  if (root.dataset.state && root.dataset.state !== 'ready') return null;
  const config = readConfig(root);
  if (!config) {
    root.querySelector('[data-lc-boot]')?.remove();
    const { el } = card({ state: 'bad_config', title: t('badConfigTitle'), text: t('badConfigText'), role: 'alert' });
    root.append(el);
    root.dataset.lcState = 'error';
    root.dispatchEvent(new CustomEvent('levelchat:error', { detail: { code: 'bad_config', message: t('badConfigText') }, bubbles: true }));
    return null;
  }
  const ui = new CallUI(root, config);
  mounted.set(root, ui);
  ui.mount();
  return ui;
}

/** Mount every call root on the page. */
export function mountAll() {
  for (const root of document.querySelectorAll('[data-levelchat-call]')) mount(/** @type {HTMLElement} */ (root));
}

if (typeof document !== 'undefined') {
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', mountAll, { once: true });
  else mountAll();
}
