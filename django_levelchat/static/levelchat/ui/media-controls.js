/**
 * Media controls: publishing the camera and microphone (a pre-join capture or a fresh one on the remembered
 * device, falling back to the default when it is gone), mute, camera on/off (off unpublishes and stops the capture,
 * so the camera light goes off), screen sharing, and the fallback when a device disappears. Toggles are marked
 * pending (`aria-disabled`, `aria-busy`) while the network answers.
 * @module
 */

import { prefs } from './dom.js';
import { t } from './strings.js';

/** @import { Room, Track, LevelChatError } from '../levelchat.js' */
/** @import { Toolbar } from './controls.js' */
/** @import { Announcer } from './dom.js' */

/**
 * @typedef {object} MediaHost  what the call UI lends the controls
 * @property {() => Room | null} room
 * @property {() => Toolbar | null} toolbar
 * @property {Announcer} announcer
 * @property {(text: string) => void} toast
 * @property {(source: 'camera' | 'microphone' | 'screen', code: string | undefined) => void} onProblem  a capture failed
 * @property {(err: unknown) => void} onRequestFailed  a mute/unpublish request failed
 * @property {() => void} onChanged  local tracks changed: refresh the controls and the self tile
 */

export class MediaControls {
  /** Toggles waiting for the network (`mic`, `camera`, `share`, …). @type {Set<string>} */
  pending = new Set();
  /** Captures this UI opened and handed to the SDK (pre-join previews): stopped at every end. @type {Set<MediaStreamTrack>} */
  owned = new Set();

  /** @param {MediaHost} host */
  constructor({ room, toolbar, announcer, toast, onProblem, onRequestFailed, onChanged }) {
    this.room = room;
    this.toolbar = toolbar;
    this.announcer = announcer;
    this.toast = toast;
    this.onProblem = onProblem;
    this.onRequestFailed = onRequestFailed;
    this.onChanged = onChanged;
  }

  /** Stop every capture this UI owns (the call ended). */
  stopAll() {
    for (const track of this.owned) track.stop();
    this.owned.clear();
    this.pending.clear();
  }

  /**
   * Publish the camera or mic (a given capture, else a fresh one on the remembered device).
   * @param {'camera' | 'microphone'} source
   * @param {MediaStreamTrack} [track]
   */
  async publish(source, track) {
    const room = this.room();
    if (!room) return;
    const id = source === 'camera' ? 'camera' : 'mic';
    this.setPending(id, true);
    this.toolbar()?.setPressed(id, true); // show what was asked for while it happens (aria-busy says it is pending)
    try {
      const deviceId = prefs.get(source === 'camera' ? 'camId' : 'micId', '') || undefined;
      if (source === 'camera') await room.publishCamera(track ? { track } : { deviceId, resolution: '720p' });
      else await room.publishMic(track ? { track } : { deviceId });
    } catch (err) {
      const code = /** @type {LevelChatError} */ (err)?.code;
      if (track) this.stopOwned(track);
      if (code === 'device_not_found' && !track) {
        // The remembered device is gone: fall back to the default one.
        try {
          if (source === 'camera') await room.publishCamera({ resolution: '720p' });
          else await room.publishMic();
          return;
        } catch (again) {
          this.onProblem(source, /** @type {LevelChatError} */ (again)?.code);
          return;
        }
      }
      if (code !== 'not_connected') this.onProblem(source, code);
    } finally {
      this.setPending(id, false);
      this.onChanged();
    }
  }

  /** @param {MediaStreamTrack} track */
  stopOwned(track) {
    track.stop();
    this.owned.delete(track);
  }

  /** @param {string} id @param {boolean} pending */
  setPending(id, pending) {
    if (pending) this.pending.add(id);
    else this.pending.delete(id);
    this.toolbar()?.setDisabled(id, pending);
    this.toolbar()?.get(id)?.setAttribute('aria-busy', String(pending));
  }

  async toggleMic() {
    const room = this.room();
    if (!room || this.pending.has('mic')) return;
    const track = room.localParticipant.getTrack('microphone');
    if (!track) {
      prefs.set('micOn', true);
      await this.publish('microphone');
      if (room.localParticipant.getTrack('microphone')) this.announcer.say(t('micOnAnnounce'));
      return;
    }
    this.setPending('mic', true);
    try {
      const muting = !track.muted;
      this.toolbar()?.setPressed('mic', !muting);
      if (muting) await track.mute();
      else await track.unmute();
      prefs.set('micOn', !muting);
      this.announcer.say(muting ? t('micOffAnnounce') : t('micOnAnnounce'));
    } catch (err) {
      this.onRequestFailed(err);
    } finally {
      this.setPending('mic', false);
      this.onChanged();
    }
  }

  /** Camera on = publish (camera light on); off = unpublish and stop the capture (light off). */
  async toggleCamera() {
    const room = this.room();
    if (!room || this.pending.has('camera')) return;
    const track = room.localParticipant.getTrack('camera');
    if (!track) {
      prefs.set('camOn', true);
      await this.publish('camera');
      if (room.localParticipant.getTrack('camera')) this.announcer.say(t('cameraOnAnnounce'));
      return;
    }
    this.setPending('camera', true);
    this.toolbar()?.setPressed('camera', false);
    try {
      const mst = track.mediaStreamTrack;
      await room.unpublish(track);
      if (mst && this.owned.has(mst)) this.stopOwned(mst);
      prefs.set('camOn', false);
      this.announcer.say(t('cameraOffAnnounce'));
    } catch (err) {
      this.onRequestFailed(err);
    } finally {
      this.setPending('camera', false);
      this.onChanged();
    }
  }

  async toggleShare() {
    const room = this.room();
    if (!room || this.pending.has('share')) return;
    if (room.localParticipant.getTrack('screen')) {
      await this.stopShare();
      return;
    }
    this.setPending('share', true);
    try {
      await room.publishScreen({ withAudio: true });
    } catch (err) {
      const code = /** @type {LevelChatError} */ (err)?.code;
      if (code !== 'permission_denied') this.onProblem('screen', code); // a cancelled picker is not an error
    } finally {
      this.setPending('share', false);
      this.onChanged();
    }
  }

  async stopShare() {
    const room = this.room();
    if (!room) return;
    for (const track of [...room.localParticipant.tracks.values()]) {
      if (track.source === 'screen' || track.source === 'screen_audio') await room.unpublish(track).catch(() => {});
    }
    this.onChanged();
  }

  /** A capture ended outside the UI (browser "Stop sharing", unplugged device): fall back where it makes sense. @param {Track} track */
  async onLocalEnded(track) {
    if (track.source === 'screen' || track.source === 'screen_audio') return; // the SDK unpublishes it
    const device = track.source === 'camera' ? t('camera').toLowerCase() : t('microphone').toLowerCase();
    this.toast(t('deviceLost', { device }));
    this.announcer.say(t('deviceLost', { device }));
    const wasOn = !track.muted;
    // Wait for the SDK's own unpublish, then try the default device.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const room = this.room();
    if (!wasOn || !room || room.localParticipant.getTrack(track.source)) return;
    prefs.set(track.source === 'camera' ? 'camId' : 'micId', '');
    await this.publish(/** @type {'camera' | 'microphone'} */ (track.source));
  }
}
