/**
 * The device settings dialog: camera, microphone (with a level meter) and speaker pickers that switch devices
 * mid-call (`room.switchDevice`), and the keyboard-shortcuts switch. The lists follow devices plugged in or out.
 * Choices are remembered in `prefs`.
 * @module
 */

import { h, prefs, uid } from './dom.js';
import { Modal } from './dialogs.js';
import { icon } from './icons.js';
import { canPickSpeaker, fillDeviceSelect } from './prejoin.js';
import { t } from './strings.js';

/** @import { Room, LevelChat, LevelChatError } from '../levelchat.js' */

/**
 * @typedef {object} SettingsOptions
 * @property {Room} room
 * @property {LevelChat} lc
 * @property {HTMLElement} host  where the dialog goes (the UI's scoped styles apply there)
 * @property {HTMLElement} opener  gets focus back on close
 * @property {'mic' | 'camera' | null} focusOn  the picker to focus first
 * @property {(previous: MediaStreamTrack | null, label: string) => void} onSwitched  a device switch went through
 * @property {(source: 'camera' | 'microphone', code: string | undefined) => void} onProblem  a switch failed
 * @property {() => void} onSpeaker  the speaker choice changed: re-route the call's audio
 */

/**
 * Open the dialog; returns it (already open).
 * @param {SettingsOptions} options
 */
export function openSettingsDialog({ room, lc, host, opener, focusOn, onSwitched, onProblem, onSpeaker }) {
  const camSelect = h('select', { class: 'lc-select', id: uid('lc-set-cam') });
  const micSelect = h('select', { class: 'lc-select', id: uid('lc-set-mic') });
  const spkSelect = h('select', { class: 'lc-select', id: uid('lc-set-spk') });
  const meterFill = h('span', { class: 'lc-meter__fill' });
  const meter = h('div', { class: 'lc-meter', 'aria-hidden': 'true' }, meterFill);
  const shortcuts = h('input', { type: 'checkbox', id: uid('lc-set-keys'), checked: prefs.get('shortcuts', true) });
  const refresh = async () => {
    const devices = await lc.listDevices().catch(() => /** @type {MediaDeviceInfo[]} */ ([]));
    const camId = room.localParticipant.getTrack('camera')?.mediaStreamTrack?.getSettings?.().deviceId ?? prefs.get('camId', '');
    const micId = room.localParticipant.getTrack('microphone')?.mediaStreamTrack?.getSettings?.().deviceId ?? prefs.get('micId', '');
    fillDeviceSelect(camSelect, devices.filter((d) => d.kind === 'videoinput'), camId, t('cameraSelect'));
    fillDeviceSelect(micSelect, devices.filter((d) => d.kind === 'audioinput'), micId, t('micSelect'));
    fillDeviceSelect(spkSelect, devices.filter((d) => d.kind === 'audiooutput'), prefs.get('speakerId', ''), t('speakerSelect'));
  };
  /** @param {'camera' | 'microphone'} source @param {HTMLSelectElement} select */
  const pick = async (source, select) => {
    const deviceId = select.value;
    prefs.set(source === 'camera' ? 'camId' : 'micId', deviceId);
    const current = room.localParticipant.getTrack(source);
    if (!current || !deviceId) return;
    const previous = current.mediaStreamTrack;
    try {
      await room.switchDevice(source, deviceId);
      onSwitched(previous, select.selectedOptions[0]?.text ?? '');
    } catch (err) {
      onProblem(source, /** @type {LevelChatError} */ (err)?.code);
    }
  };
  camSelect.addEventListener('change', () => void pick('camera', camSelect));
  micSelect.addEventListener('change', () => void pick('microphone', micSelect));
  spkSelect.addEventListener('change', () => {
    prefs.set('speakerId', spkSelect.value);
    onSpeaker();
  });
  shortcuts.addEventListener('change', () => prefs.set('shortcuts', shortcuts.checked));
  const field = (/** @type {HTMLSelectElement} */ select, /** @type {string} */ label, /** @type {string} */ iconName, /** @type {Node | null} */ extra = null) =>
    h('div', { class: 'lc-field' }, h('label', { class: 'lc-field__label', for: select.id }, icon(iconName), label), select, extra);
  const speakerField = field(spkSelect, t('speakerSelect'), 'volume');
  speakerField.hidden = !canPickSpeaker();
  const timer = setInterval(() => {
    meterFill.style.transform = `scaleX(${Math.min(1, room.localParticipant.audioLevel * 3).toFixed(3)})`;
  }, 100);
  const ondevicechange = () => void refresh();
  navigator.mediaDevices?.addEventListener?.('devicechange', ondevicechange);
  const modal = new Modal({
    title: t('settingsTitle'),
    className: 'lc-dialog--settings',
    body: [
      h('h3', { class: 'lc-dialog__subtitle', text: t('devicesHeading') }),
      field(camSelect, t('cameraSelect'), 'camera'),
      field(micSelect, t('micSelect'), 'mic', meter),
      speakerField,
      h('div', { class: 'lc-check' }, shortcuts, h('label', { for: shortcuts.id, text: t('shortcutsEnabled') })),
    ],
    onClose: () => {
      clearInterval(timer);
      navigator.mediaDevices?.removeEventListener?.('devicechange', ondevicechange);
    },
  });
  for (const select of [camSelect, micSelect, spkSelect]) fillDeviceSelect(select, [], '', '');
  modal.open(host, opener, focusOn === 'camera' ? camSelect : focusOn === 'mic' ? micSelect : null);
  void refresh();
  return modal;
}
