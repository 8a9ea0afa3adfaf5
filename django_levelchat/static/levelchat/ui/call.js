/**
 * The call controller: one per `[data-levelchat-call]` root. It drives the public SDK (`../levelchat.js`) and
 * renders pre-join, the call (stage, control bar, chat and participants panels, banners) and the end states.
 *
 * Root attributes (the test contract, see docs/ui.md): `data-lc-state` = prejoin | connecting | connected |
 * reconnecting | ended | error, `data-lc-layout` = grid | speaker | presenter | one-on-one.
 * DOM events on the root: `levelchat:joined`, `levelchat:left` {reason}, `levelchat:error` {code, message},
 * `levelchat:recording` {state}.
 * @module
 */

import { ConnectionState, LevelChat, readToken, RoomEvent } from '../levelchat.js';
import { ChatPanel } from './chat.js';
import { Toolbar } from './controls.js';
import { confirmDialog, Menu, Modal } from './dialogs.js';
import { Announcer, focus, h, isTypingTarget, NameBatcher, prefersReducedMotion, prefs, uid } from './dom.js';
import { PeoplePanel } from './people.js';
import { canPickSpeaker, LevelMeter, PreJoin } from './prejoin.js';
import { Banner, card, endStateFor } from './states.js';
import { reactionPicture } from './reactions.js';
import { openSettingsDialog } from './settings.js';
import { shortcutFor, shortcutsDialog } from './shortcuts.js';
import { MediaControls } from './media-controls.js';
import { Panels } from './panels.js';
import { StageController } from './stage.js';
import { REACTIONS, t } from './strings.js';
import { TopBar } from './topbar.js';

/** @import { Room, Participant, Track, LevelChatError, ChatMessageEvent, ReactionEvent } from '../levelchat.js' */
/** @import { JoinChoice } from './prejoin.js' */

/**
 * The configuration the template tag renders (`json_script`).
 * @typedef {object} CallConfig
 * @property {string} token
 * @property {string | null} [signalingUrl]
 * @property {RTCIceServer[]} [iceServers]
 * @property {{ id: string, name: string, type: string }} room
 * @property {{ identity: string, name: string, role: string }} user
 * @property {boolean} [live]
 * @property {'grid' | 'speaker'} [layout]
 * @property {boolean} [prejoin]
 * @property {boolean} [chat]
 * @property {boolean} [people]
 * @property {boolean} [reactions]
 * @property {boolean} [screenshare]
 * @property {boolean} [startAudioOff]
 * @property {boolean} [startVideoOff]
 * @property {string | null} [backUrl]
 * @property {boolean} [invite]  show the invite (copy link) action
 * @property {string | null} [inviteUrl]  the link it copies (null: this page)
 * @property {string} [sdkUrl]
 */

/** @typedef {'prejoin' | 'connecting' | 'connected' | 'reconnecting' | 'ended' | 'error'} UIState */

const NARROW_PX = 600;
const TINY_PX = 512;
const ICON_ONLY_PX = 760;
const ICON_ONLY_WITH_PANEL_PX = 1000;
const REACTION_MS = 3000;
const REACTION_GAP_MS = 500;
const QUIET_ANNOUNCE_ABOVE = 30;

/** The call UI instance that owns the keyboard shortcuts (the first one mounted). @type {CallUI | null} */
let shortcutOwner = null;

export class CallUI {
  /** @type {Room | null} */
  room = null;
  /** Tiles, pin, shares and the stage speaker (stage.js); exists while the call view does. @type {StageController | null} */
  stageCtl = null;
  /** The chat and participants panels (panels.js); exists while the call view does. @type {Panels | null} */
  panels = null;
  /** @type {UIState} */
  state = 'prejoin';
  /** @type {Map<string, { el: HTMLMediaElement, track: Track, pid: string }>} */
  #audio = new Map();
  /** @type {(() => void)[]} */
  #offRoom = [];
  /** @type {PreJoin | null} */
  #prejoin = null;
  /** @type {'grid' | 'speaker'} */
  #choice = 'grid';
  #unread = 0;
  #peopleQueued = false;
  #lastReactionAt = 0;
  /** @type {ReturnType<typeof setInterval> | null} */
  #levelTimer = null;
  /** @type {LevelMeter | null} */
  #mutedMeter = null;
  /** @type {MediaStreamTrack | null} */
  #mutedMeterTrack = null;
  #mutedLoudSince = 0;
  #mutedWarnedAt = 0;
  #reconnectingShown = false;
  /** Raised hands we know of (participant id → raised at), to announce each new one once. @type {Map<string, number>} */
  #hands = new Map();
  #recordingRequested = false;
  #ended = false;
  #narrow = false;
  /** Whether the bar is icon-only by width alone (`true`/`false`); #fitToolbar may drop more labels. */
  #iconOnly = 'false';
  /** @type {Modal | null} */
  #settings = null;
  /** @type {Modal | null} */
  #help = null;
  #onKeydown = (/** @type {KeyboardEvent} */ e) => this.#shortcut(e);

  /**
   * @param {HTMLElement} root  the `[data-levelchat-call]` element
   * @param {CallConfig} config
   */
  constructor(root, config) {
    this.root = root;
    this.config = config;
    // The user's own grid/speaker choice (remembered) wins over the tag's default layout.
    this.#choice = prefs.get('layout', config.layout === 'speaker' ? 'speaker' : 'grid') === 'speaker' ? 'speaker' : 'grid';
    this.lc = new LevelChat(config.iceServers && config.iceServers.length ? { iceServers: config.iceServers } : {});
    this.claims = readToken(config.token);
    this.isViewer = Boolean(config.live) && config.user.role === 'viewer';

    // Skeleton: live regions, the current screen, a layer for menus/reactions/toasts.
    this.polite = h('div', { class: 'lc-sr-only', role: 'status', 'aria-live': 'polite', 'data-lc-live': 'status' });
    this.assertive = h('div', { class: 'lc-sr-only', role: 'alert', 'data-lc-live': 'alert' });
    this.announcer = new Announcer(this.polite, this.assertive);
    this.screen = h('div', { class: 'lc-screen' });
    this.toasts = h('div', { class: 'lc-toasts', 'aria-hidden': 'true' });
    this.layer = h('div', { class: 'lc-layer' }, this.toasts);
    this.app = h('div', { class: 'lc-app' }, this.screen, this.layer, this.polite, this.assertive);
    this.joined = new NameBatcher((names) => this.#announceNames(names, 'joinedOne', 'joinedMany'));
    this.left = new NameBatcher((names) => this.#announceNames(names, 'leftOne', 'leftMany'));
    this.resizeObserver = new ResizeObserver(() => this.#onResize());
    this.media = new MediaControls({
      room: () => this.room,
      toolbar: () => this.toolbar ?? null,
      announcer: this.announcer,
      toast: (text) => this.#toast(text),
      onProblem: (source, code) => this.#mediaProblem(source, code),
      onRequestFailed: (err) => this.#requestFailed(err),
      onChanged: () => {
        this.#refreshControls();
        if (this.room) this.#sync(this.room.localParticipant);
      },
    });
  }

  /** Replace the server-rendered loading card and start (pre-join, or join at once). */
  mount() {
    this.root.querySelector('[data-lc-boot]')?.remove();
    this.root.append(this.app);
    this.resizeObserver.observe(this.root);
    this.#onResize();
    shortcutOwner ??= this;
    document.addEventListener('keydown', this.#onKeydown);
    if (!LevelChat.isSupported()) {
      this.#showCard(card({ state: 'unsupported', title: t('notSupportedTitle'), text: t('notSupportedText'), role: 'alert' }), 'error');
      this.#dispatch('levelchat:error', { code: 'not_supported', message: t('notSupportedText') });
      return;
    }
    this.#start();
  }

  /** Stop everything and remove the UI (e.g. before a host page removes the root). */
  async destroy() {
    document.removeEventListener('keydown', this.#onKeydown);
    if (shortcutOwner === this) shortcutOwner = null;
    this.resizeObserver.disconnect();
    await this.room?.leave().catch(() => {});
    this.#teardownCall();
    this.#prejoin?.dispose(true);
    this.app.remove();
  }

  // ============================================================================================== flow

  #start() {
    this.#ended = false;
    if (this.config.prejoin !== false && !this.isViewer) this.#showPrejoin();
    else this.#connect(null);
  }

  #showPrejoin() {
    this.#setState('prejoin');
    const prejoin = new PreJoin({
      lc: this.lc,
      roomName: this.config.room.name,
      user: this.config.user,
      startAudioOff: Boolean(this.config.startAudioOff),
      startVideoOff: Boolean(this.config.startVideoOff),
      onJoin: (choice) => this.#connect(choice),
    });
    this.#prejoin = prejoin;
    this.screen.replaceChildren(prejoin.el);
    void prejoin.start();
  }

  /**
   * Join the room; `choice` is what the pre-join screen hands over (null without pre-join).
   * @param {JoinChoice | null} choice
   */
  async #connect(choice) {
    for (const track of [choice?.camTrack, choice?.micTrack]) if (track) this.media.owned.add(track);
    this.#setState('connecting');
    if (!choice) {
      this.#showCard(
        card({
          state: 'connecting',
          title: t('connectingTitle', { room: this.config.room.name }),
          text: t('connectingText'),
          spinner: true,
          actions: [{ label: t('cancel'), onClick: () => void this.room?.leave() }],
        }),
        'connecting',
        false,
      );
    }
    /** @type {Room} */
    let room;
    try {
      const options = { token: this.config.token, signalingUrl: this.config.signalingUrl || undefined };
      room = this.config.live
        ? this.lc.joinLive({ ...options, role: this.isViewer ? 'viewer' : 'broadcaster', roomType: /** @type {any} */ (this.config.room.type || 'live') })
        : this.lc.joinRoom(options);
    } catch (err) {
      this.#end(/** @type {LevelChatError} */ (err).code ?? 'token_invalid');
      return;
    }
    this.room = room;
    this.#wire(room);
    try {
      await room.ready;
    } catch (err) {
      if (this.room === room) this.#end(/** @type {LevelChatError} */ (err)?.code ?? room.disconnectError?.code ?? 'connection_failed');
      return;
    }
    if (this.room !== room || this.#ended) return;
    this.#prejoin?.dispose(false);
    this.#prejoin = null;
    this.#buildCall();
    this.#setState(room.state === 'reconnecting' ? 'reconnecting' : 'connected');
    for (const p of room.allParticipants) this.#sync(p);
    for (const message of room.chatHistory) this.#addChat(message, true);
    if (room.recording) this.#showRecording(true, false);
    this.#renderPeople();
    this.stageCtl?.scheduleRender();
    focus(this.title);
    this.#dispatch('levelchat:joined', { room: room.id, participant: room.localParticipant.id, identity: room.localParticipant.identity });
    await this.#publishInitial(choice);
  }

  /** @param {JoinChoice | null} choice */
  async #publishInitial(choice) {
    const room = this.room;
    if (!room || this.isViewer) return;
    const local = room.localParticipant;
    const camWanted = choice ? choice.camOn : !this.config.startVideoOff && prefs.get('camOn', true);
    const micWanted = choice ? choice.micOn : !this.config.startAudioOff && prefs.get('micOn', true);
    const tasks = [];
    if (camWanted && local.can('publish:camera')) {
      tasks.push(this.media.publish('camera', choice?.camTrack ?? undefined));
    } else if (choice?.camTrack) this.media.stopOwned(choice.camTrack);
    if (micWanted && local.can('publish:mic')) {
      tasks.push(this.media.publish('microphone', choice?.micTrack ?? undefined));
    } else if (choice?.micTrack) this.media.stopOwned(choice.micTrack);
    await Promise.all(tasks);
  }

  /** @param {'camera' | 'microphone' | 'screen'} source @param {string | undefined} code */
  #mediaProblem(source, code) {
    const device = source === 'camera' ? t('camera').toLowerCase() : source === 'microphone' ? t('microphone').toLowerCase() : t('shareScreen').toLowerCase();
    const text =
      code === 'permission_denied'
        ? t('mediaBlocked', { device })
        : code === 'device_not_found'
          ? t('mediaNotFound', { device })
          : code === 'device_in_use'
            ? t('mediaInUse', { device })
            : t('mediaFailed', { device });
    this.#toast(text, 'alert');
    this.announcer.alert(text);
    this.#dispatch('levelchat:error', { code: code ?? 'media_error', message: text });
  }

  /**
   * The call is over: stop every capture, show the card for `code`.
   * @param {string} code
   */
  #end(code) {
    if (this.#ended) return;
    this.#ended = true;
    const room = this.room;
    this.#teardownCall();
    this.#prejoin?.dispose(true);
    this.#prejoin = null;
    const end = endStateFor(code, this.config.room.name);
    /** @type {import('./states.js').CardAction[]} */
    const actions = [];
    if (end.action === 'rejoin') actions.push({ label: end.actionLabel ?? t('rejoin'), primary: true, onClick: () => this.#rejoin() });
    else if (end.action === 'reload') actions.push({ label: t('reload'), primary: true, onClick: () => location.reload() });
    else if (end.action === 'back' && this.config.backUrl) actions.push({ label: t('back'), href: this.config.backUrl, onClick: () => {} });
    const isError = end.state === 'lost' || end.state === 'expired' || end.state === 'error';
    this.#showCard(card({ state: end.state, title: end.title, text: end.text, actions, role: end.alert ? 'alert' : 'status' }), isError ? 'error' : 'ended');
    this.root.dataset.lcEnd = end.state;
    if (room) this.room = null;
    if (isError) this.#dispatch('levelchat:error', { code, message: end.text });
    this.#dispatch('levelchat:left', { reason: code });
  }

  #rejoin() {
    const expiresAt = this.claims.expiresAt;
    if (expiresAt !== null && expiresAt - Date.now() < 10_000) {
      location.reload(); // the page mints a fresh token
      return;
    }
    delete this.root.dataset.lcEnd;
    this.#start();
  }

  /** Stop media and listeners of the current room (idempotent). */
  #teardownCall() {
    for (const off of this.#offRoom) off();
    this.#offRoom = [];
    this.media.stopAll();
    for (const { el, track } of this.#audio.values()) {
      track.detach(el);
      el.remove();
    }
    this.#audio.clear();
    this.topbar?.stopClock();
    this.#hands.clear();
    if (this.#levelTimer) clearInterval(this.#levelTimer);
    this.#levelTimer = null;
    this.#stopMutedMeter();
    this.joined.dispose();
    this.left.dispose();
    this.#settings?.close();
    this.#help?.close();
    this.stageCtl?.destroy();
    this.stageCtl = null;
    this.reactionMenu?.el.remove();
    this.moreMenu?.el.remove();
    this.panels?.reset();
    this.panels = null;
    delete this.root.dataset.lcLayout;
  }

  /** @param {UIState} state */
  #setState(state) {
    this.state = state;
    this.root.dataset.lcState = state;
  }

  /**
   * Show a card as the whole screen.
   * @param {{ el: HTMLElement, heading: HTMLElement }} c
   * @param {UIState} state
   * @param {boolean} [focusHeading]
   */
  #showCard(c, state, focusHeading = true) {
    this.#setState(state);
    this.screen.replaceChildren(h('div', { class: 'lc-cardwrap' }, c.el));
    if (focusHeading) focus(c.heading);
  }

  /** @param {string} name @param {Record<string, unknown>} detail */
  #dispatch(name, detail) {
    this.root.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
  }

  // ======================================================================================== call view

  #buildCall() {
    const room = /** @type {Room} */ (this.room);
    const local = room.localParticipant;
    const titleId = uid('lc-call-title');
    const inviteUrl = this.config.invite === false ? null : this.config.inviteUrl || location.href.split('#')[0];
    this.topbar = new TopBar({
      titleId,
      roomName: this.config.room.name,
      live: Boolean(this.config.live),
      inviteUrl,
      onCopied: (ok) => {
        const text = ok ? t('inviteCopied') : t('inviteCopyFailed', { url: inviteUrl ?? '' });
        this.#toast(text, ok ? 'info' : 'alert');
        this.announcer.say(text);
      },
    });
    this.title = this.topbar.title;
    this.recBadge = this.topbar.recBadge;
    this.#setOwnQuality(local.connectionQuality);
    this.topbar.startClock(Date.now());
    const topbar = this.topbar.el;

    this.banners = {
      reconnecting: new Banner({ kind: 'reconnecting', text: t('reconnectingBanner'), secondary: t('reconnectingText'), role: null }),
      presenting: new Banner({ kind: 'presenting', text: t('youArePresenting'), role: null, iconName: 'screen', action: { label: t('stopPresenting'), onClick: () => void this.media.stopShare() } }),
      watching: new Banner({ kind: 'watching', text: t('watching'), role: null, iconName: 'people' }),
      poor: new Banner({ kind: 'poor', text: t('poorConnectionBanner'), role: null, iconName: 'alert', action: { label: t('turnCameraOff'), onClick: () => void this.media.toggleCamera() } }),
      audio: new Banner({ kind: 'audio', text: t('startAudioHint'), role: null, iconName: 'volume', action: { label: t('startAudio'), onClick: () => this.#startAudio() } }),
    };
    this.banners.watching.show(this.isViewer);
    const bannerBox = h('div', { class: 'lc-banners' }, ...Object.values(this.banners).map((b) => b.el));

    this.stageCtl = new StageController({
      room,
      isViewer: this.isViewer,
      live: Boolean(this.config.live),
      choice: this.#choice,
      onLayout: (view) => {
        this.root.dataset.lcLayout = view;
      },
    });
    this.reactionLayer = h('div', { class: 'lc-reactions', 'aria-hidden': 'true' });
    this.stageCtl.stage.el.append(this.reactionLayer);
    this.chat = new ChatPanel({
      canSend: local.can('chat:send'),
      onSend: async (text, to) => {
        await this.room?.sendChat(text, to ? { to } : {});
      },
      onClose: () => this.panels?.close(),
    });
    this.people = new PeoplePanel({
      isAdmin: local.can('room:admin'),
      onMute: (id) => void this.room?.muteParticipant(id, { kind: 'audio' }).catch((err) => this.#requestFailed(err)),
      onLowerHand: (id) => void this.room?.lowerHand(id).catch((err) => this.#requestFailed(err)),
      onRemove: (id, name) => void this.#remove(id, name),
      onClose: () => this.panels?.close(),
    });
    this.panels = new Panels({
      root: this.root,
      app: this.app,
      views: { chat: this.chat, people: this.people },
      toolbar: () => this.toolbar ?? null,
      onOpen: (name) => {
        if (name !== 'chat' || !this.chat) return;
        this.#unread = 0;
        this.#renderUnread();
        for (const toast of this.toasts.querySelectorAll('[data-lc-toast="chat"]')) toast.remove();
        this.chat.scrollToEnd();
      },
      onChange: () => this.#onResize(),
    });
    this.panels.setNarrow(this.#narrow);
    this.audioBox = h('div', { class: 'lc-audio', hidden: true });
    this.toolbar = this.#buildToolbar();
    this.callEl = h(
      'div',
      { class: 'lc-call', 'aria-labelledby': titleId, role: 'group' },
      topbar,
      bannerBox,
      h('div', { class: 'lc-call__body' }, this.stageCtl.stage.el, this.panels.side),
      this.toolbar.el,
      this.audioBox,
    );
    this.screen.replaceChildren(this.callEl);
    this.#refreshControls();
    this.#levelTimer = setInterval(() => this.#tickLevel(), 100);
  }

  #buildToolbar() {
    const bar = new Toolbar({ label: t('callControls') });
    this.toolbar = bar;
    if (!this.isViewer) {
      const micWrap = bar.split('left');
      bar.add({ id: 'mic', label: t('microphone'), icon: 'mic', iconOff: 'micOff', shortcut: 'M', toggle: true, onClick: () => void this.media.toggleMic() }, 'left', micWrap);
      bar.add({ id: 'mic-options', label: t('micOptions'), icon: 'chevronUp', small: true, onClick: (b) => this.#openSettings(b, 'mic') }, 'left', micWrap);
      const camWrap = bar.split('left');
      bar.add({ id: 'camera', label: t('camera'), icon: 'camera', iconOff: 'cameraOff', shortcut: 'V', toggle: true, onClick: () => void this.media.toggleCamera() }, 'left', camWrap);
      bar.add({ id: 'camera-options', label: t('cameraOptions'), icon: 'chevronUp', small: true, onClick: (b) => this.#openSettings(b, 'camera') }, 'left', camWrap);
      if (this.config.screenshare !== false) {
        bar.add({ id: 'share', label: t('shareScreen'), icon: 'screen', shortcut: 'D', toggle: true, onClick: () => void this.media.toggleShare() });
      }
    }
    if (this.config.reactions !== false) {
      const button = bar.add({ id: 'reactions', label: t('reactions'), icon: 'smile', onClick: () => {} });
      this.reactionMenu = new Menu({
        button,
        label: t('reactions'),
        layer: this.layer,
        horizontal: true,
        className: 'lc-menu--reactions',
        items: () =>
          REACTIONS.map((r, i) => ({
            label: t('reactWith', { label: r.label }),
            picture: reactionPicture(r.emoji, 'lc-reaction lc-reaction--menu'),
            shortcut: `Alt+${i + 1}`,
            onSelect: () => void this.#react(r.emoji),
          })),
      });
    }
    if (!this.isViewer) {
      bar.add({ id: 'hand', label: t('raiseHand'), icon: 'hand', shortcut: 'H', toggle: true, onClick: () => void this.#toggleHand() });
    }
    if (this.config.chat !== false) {
      bar.add({ id: 'chat', label: t('chat'), icon: 'chat', shortcut: 'C', toggle: true, onClick: () => this.panels?.toggle('chat') });
    }
    if (this.config.people !== false) {
      bar.add({ id: 'people', label: t('participants'), icon: 'people', shortcut: 'P', toggle: true, onClick: () => this.panels?.toggle('people') });
    }
    const more = bar.add({ id: 'more', label: t('more'), icon: 'more', onClick: () => {} }, 'right');
    this.moreMenu = new Menu({
      button: more,
      label: t('more'),
      layer: this.layer,
      items: () => {
        const r = this.room;
        /** @type {import('./dialogs.js').MenuItem[]} */
        const items = this.#overflowItems(more);
        items.push(
          { id: 'settings', label: t('settings'), icon: 'settings', onSelect: () => this.#openSettings(more, null) },
          { id: 'layout-grid', label: t('layoutGrid'), icon: 'grid', checked: this.#choice === 'grid', shortcut: 'W', onSelect: () => this.#setChoice('grid') },
          { id: 'layout-speaker', label: t('layoutSpeaker'), icon: 'speakerLayout', checked: this.#choice === 'speaker', shortcut: 'W', onSelect: () => this.#setChoice('speaker') },
        );
        if (r?.localParticipant.can('record:control')) {
          items.push(
            r.recording
              ? { id: 'record', label: t('stopRecording'), icon: 'stop', onSelect: () => void this.#toggleRecording() }
              : { id: 'record', label: t('startRecording'), icon: 'record', onSelect: () => void this.#toggleRecording() },
          );
        }
        items.push({ id: 'shortcuts', label: t('keyboardShortcuts'), icon: 'keyboard', shortcut: '?', onSelect: () => this.#openHelp(more) });
        if (r?.localParticipant.can('room:admin')) {
          items.push({ id: 'end', label: t('endForEveryone'), icon: 'powerOff', danger: true, onSelect: () => void this.#endForEveryone(more) });
        }
        return items;
      },
    });
    bar.add({ id: 'leave', label: t('leave'), icon: 'leave', variant: 'danger', onClick: () => void this.#leave() }, 'right');
    return bar;
  }

  /**
   * On a phone-sized call the bar keeps one row: share, reactions, hand and participants move into More.
   * @param {HTMLElement} more
   * @returns {import('./dialogs.js').MenuItem[]}
   */
  #overflowItems(more) {
    if (this.root.dataset.lcTiny !== 'true') return [];
    /** @type {import('./dialogs.js').MenuItem[]} */
    const items = [];
    const bar = this.toolbar;
    const shown = (/** @type {string} */ id) => Boolean(bar?.get(id) && !bar.get(id)?.hidden);
    if (shown('share')) items.push({ id: 'share', label: bar?.isPressed('share') ? t('stopPresenting') : t('shareScreen'), icon: 'screen', onSelect: () => void this.media.toggleShare() });
    if (shown('reactions')) items.push({ id: 'reactions', label: t('reactions'), icon: 'smile', onSelect: () => this.reactionMenu?.openFrom(more) });
    if (shown('hand')) items.push({ id: 'hand', label: bar?.isPressed('hand') ? t('lowerHand') : t('raiseHand'), icon: 'hand', onSelect: () => void this.#toggleHand() });
    if (shown('people')) items.push({ id: 'people', label: t('participants'), icon: 'people', onSelect: () => this.panels?.toggle('people') });
    return items;
  }

  /** Show/hide controls by capability and reflect the local tracks' state. */
  #refreshControls() {
    const room = this.room;
    const bar = this.toolbar;
    if (!room || !bar) return;
    const local = room.localParticipant;
    const mic = local.getTrack('microphone');
    const cam = local.getTrack('camera');
    const screen = local.getTrack('screen');
    bar.setHidden('mic', !local.can('publish:mic'));
    bar.setHidden('mic-options', !local.can('publish:mic'));
    bar.setHidden('camera', !local.can('publish:camera'));
    bar.setHidden('camera-options', !local.can('publish:camera'));
    bar.setHidden('share', !local.can('publish:screen') || typeof navigator.mediaDevices?.getDisplayMedia !== 'function');
    bar.setHidden('reactions', !local.can('react:send'));
    bar.setHidden('hand', !local.can('hand:raise'));
    bar.setPressed('hand', local.handRaisedAt !== null);
    bar.setPressed('mic', Boolean(mic && !mic.muted));
    bar.setPressed('camera', Boolean(cam && !cam.muted));
    bar.setPressed('share', Boolean(screen));
    for (const id of ['mic', 'camera', 'share']) bar.setDisabled(id, this.media.pending.has(id));
    this.banners?.presenting.show(Boolean(screen));
    if (this.chat) this.chat.form.hidden = !local.can('chat:send');
    if (this.people) this.people.isAdmin = local.can('room:admin');
    this.#syncMutedMeter();
    this.#fitToolbar();
    // Measure again once the call's layout has settled: a bar that overflowed while it was being built gets its
    // labels back.
    requestAnimationFrame(() => this.#fitToolbar());
  }

  // ==================================================================================== room events

  /** @param {Room} room */
  #wire(room) {
    const on = this.#offRoom;
    on.push(
      room.on(RoomEvent.ParticipantJoined, (p) => {
        this.#sync(p);
        if (this.stageCtl?.showsTile(p) || room.participants.size <= QUIET_ANNOUNCE_ABOVE) this.joined.add(p.name || p.identity);
      }),
      room.on(RoomEvent.ParticipantLeft, (p) => {
        this.#removeParticipant(p);
        if (room.participants.size < QUIET_ANNOUNCE_ABOVE) this.left.add(p.name || p.identity);
      }),
      room.on(RoomEvent.ParticipantUpdated, (p) => {
        this.#noticeHand(p);
        this.#sync(p);
        if (p.isLocal) this.#refreshControls();
      }),
      room.on(RoomEvent.ParticipantReconnecting, (p) => this.#sync(p)),
      room.on(RoomEvent.ParticipantReconnected, (p) => this.#sync(p)),
      room.on(RoomEvent.TrackPublished, (track, p) => {
        this.#sync(p);
        if (track.source === 'screen') this.announcer.say(t('presenting', { name: p.name || p.identity }));
      }),
      room.on(RoomEvent.TrackUnpublished, (track, p) => {
        this.#sync(p);
        if (track.source === 'screen') this.announcer.say(t('stoppedPresenting', { name: p.name || p.identity }));
      }),
      room.on(RoomEvent.TrackSubscribed, (track, p) => {
        this.#sync(p);
        if (track.kind === 'audio') this.#playAudio(track.sid);
      }),
      room.on(RoomEvent.TrackUnsubscribed, (_track, p) => this.#sync(p)),
      room.on(RoomEvent.TrackMuted, (track, p, by) => {
        this.#sync(p);
        if (p.isLocal) {
          this.#refreshControls();
          if (by && track.muted) {
            this.announcer.say(t('mutedByHost'));
            this.#toast(t('mutedByHost'));
          }
        }
      }),
      room.on(RoomEvent.LocalTrackPublished, () => {
        this.#sync(room.localParticipant);
        this.#refreshControls();
      }),
      room.on(RoomEvent.LocalTrackUnpublished, (track) => {
        const mst = track.mediaStreamTrack;
        if (mst && this.media.owned.has(mst)) this.media.stopOwned(mst);
        this.#sync(room.localParticipant);
        this.#refreshControls();
      }),
      room.on(RoomEvent.LocalTrackEnded, (track) => void this.media.onLocalEnded(track)),
      room.on(RoomEvent.ActiveSpeaker, (p) => this.stageCtl?.onActiveSpeaker(p)),
      room.on(RoomEvent.SpeakingChanged, (p, speaking) => {
        this.stageCtl?.tile(p, 'camera')?.setSpeaking(speaking);
        this.#renderPeople();
        this.stageCtl?.scheduleRender();
      }),
      room.on(RoomEvent.ConnectionQuality, (band, p) => {
        for (const source of /** @type {const} */ (['camera', 'screen'])) this.stageCtl?.tile(p, source)?.setQuality(band);
        if (p.isLocal) this.#setOwnQuality(band);
        this.#renderPeople();
      }),
      room.on(RoomEvent.ChatMessage, (message) => this.#addChat(message, false)),
      room.on(RoomEvent.Reaction, (reaction) => this.#showReaction(reaction)),
      room.on(RoomEvent.Recording, (state, details) => this.#onRecording(state, details)),
      room.on(RoomEvent.ConnectionState, (state, error) => this.#onConnectionState(state, error)),
      room.on(RoomEvent.Error, (error) => this.#onError(error)),
    );
  }

  /** @param {string} state @param {LevelChatError | null} error */
  #onConnectionState(state, error) {
    if (state === ConnectionState.Reconnecting) {
      if (!this.callEl) return;
      this.#setState('reconnecting');
      this.banners?.reconnecting.show(true);
      if (!this.#reconnectingShown) this.announcer.say(t('reconnectingBanner'));
      this.#reconnectingShown = true;
    } else if (state === ConnectionState.Connected) {
      if (!this.callEl || this.state === 'connecting') return;
      this.#setState('connected');
      this.banners?.reconnecting.show(false);
      if (this.#reconnectingShown) this.announcer.say(t('reconnected'));
      this.#reconnectingShown = false;
    } else if (state === ConnectionState.Disconnected || state === ConnectionState.Failed) {
      this.#end(error?.code ?? this.room?.disconnectError?.code ?? (state === ConnectionState.Failed ? 'connection_failed' : 'left'));
    }
  }

  /** @param {LevelChatError} error */
  #onError(error) {
    const code = error?.code ?? 'internal';
    if (this.#ended || this.room?.state === 'failed' || this.room?.state === 'disconnected') return; // the end card says it
    if (code === 'rate_limited') this.#toast(t('rateLimited'));
    this.#dispatch('levelchat:error', { code, message: error?.message ?? code });
  }

  /** @param {unknown} err */
  #requestFailed(err) {
    const code = /** @type {LevelChatError} */ (err)?.code ?? 'internal';
    const text = code === 'rate_limited' ? t('rateLimited') : t('actionFailed');
    this.#toast(text, 'alert');
    this.announcer.alert(text);
    this.#dispatch('levelchat:error', { code, message: /** @type {Error} */ (err)?.message ?? code });
  }

  // ======================================================================================== tiles

  /**
   * Bring a participant's tiles (stage.js), audio and list row in line with the SDK's state.
   * @param {Participant} p
   */
  #sync(p) {
    if (!this.room || !this.stageCtl) return;
    this.stageCtl.sync(p);
    if (!p.isLocal) this.#syncAudio(p);
    this.#renderPeople();
  }

  /** @param {Participant} p */
  #removeParticipant(p) {
    this.stageCtl?.removeParticipant(p);
    this.#pruneAudio();
    this.#renderPeople();
  }

  // ======================================================================================== audio

  /** @param {Participant} p */
  #syncAudio(p) {
    for (const track of p.tracks.values()) {
      if (track.kind !== 'audio' || this.#audio.has(track.sid)) continue;
      const el = track.attach();
      el.dataset.lcParticipant = p.identity;
      el.dataset.lcSource = track.source;
      this.audioBox?.append(el);
      this.#applySink(el);
      this.#audio.set(track.sid, { el, track, pid: p.id });
    }
    this.#pruneAudio();
  }

  #pruneAudio() {
    const room = this.room;
    for (const [sid, entry] of this.#audio) {
      const p = room?.participants.get(entry.pid);
      if (p && p.tracks.get(sid) === entry.track) continue;
      entry.track.detach(entry.el);
      entry.el.remove();
      this.#audio.delete(sid);
    }
  }

  /** @param {string} sid */
  #playAudio(sid) {
    const entry = this.#audio.get(sid);
    if (!entry?.el.srcObject) return;
    entry.el.play().catch((err) => {
      if (/** @type {Error} */ (err)?.name === 'NotAllowedError') this.banners?.audio.show(true);
    });
  }

  #startAudio() {
    for (const { el } of this.#audio.values()) el.play().catch(() => {});
    this.banners?.audio.show(false);
  }

  /** @param {HTMLMediaElement} el */
  #applySink(el) {
    const sink = prefs.get('speakerId', '');
    if (sink && canPickSpeaker()) /** @type {any} */ (el).setSinkId(sink).catch(() => {});
  }

  // ====================================================================================== controls

  async #toggleHand() {
    const room = this.room;
    if (!room || this.media.pending.has('hand')) return;
    const raising = room.localParticipant.handRaisedAt === null;
    this.media.setPending('hand', true);
    try {
      if (raising) await room.raiseHand();
      else await room.lowerHand();
    } catch (err) {
      this.#requestFailed(err);
    } finally {
      this.media.setPending('hand', false);
      this.#refreshControls();
    }
  }

  /**
   * Announce a hand that went up (once), and tell you when the host lowered yours.
   * @param {Participant} p
   */
  #noticeHand(p) {
    const before = this.#hands.get(p.id) ?? null;
    const now = p.handRaisedAt;
    if (now === null) this.#hands.delete(p.id);
    else this.#hands.set(p.id, now);
    if (now !== null && before === null) {
      const text = p.isLocal ? t('handRaisedYou') : t('handRaised', { name: p.name || p.identity });
      this.announcer.say(text);
      if (!p.isLocal) this.#toast(text, 'info', 'hand');
    } else if (now === null && before !== null && p.isLocal && !this.media.pending.has('hand')) {
      this.announcer.say(t('handLoweredByHost'));
      this.#toast(t('handLoweredByHost'));
    }
  }

  /** @param {string} emoji */
  async #react(emoji) {
    const now = Date.now();
    if (now - this.#lastReactionAt < REACTION_GAP_MS) return; // client-side batching: one every 0.5 s
    this.#lastReactionAt = now;
    try {
      await this.room?.react(emoji);
    } catch (err) {
      this.#requestFailed(err);
    }
  }

  async #toggleRecording() {
    const room = this.room;
    if (!room) return;
    const stopping = Boolean(room.recording);
    this.#recordingRequested = !stopping;
    try {
      if (stopping) await room.stopRecording();
      else await room.record();
    } catch (err) {
      const code = /** @type {LevelChatError} */ (err)?.code ?? 'internal';
      const text = code === 'sfu_unavailable' ? t('recordingUnavailable') : code === 'forbidden' ? t('recordingNotAllowed') : t('recordingError');
      this.#toast(text, 'alert');
      this.announcer.alert(text);
      this.#dispatch('levelchat:error', { code, message: text });
    }
  }

  /** @param {'started' | 'stopped' | 'failed'} state @param {{ reason?: string }} details */
  #onRecording(state, details) {
    this.#showRecording(state === 'started', true);
    if (state === 'failed' && this.#recordingRequested) {
      this.#toast(t('recordingFailed'), 'alert');
      this.announcer.alert(t('recordingFailed'));
    }
    this.#dispatch('levelchat:recording', { state, reason: details?.reason ?? null });
  }

  /** @param {boolean} on @param {boolean} announce */
  #showRecording(on, announce) {
    if (!this.recBadge) return;
    const was = !this.recBadge.hidden;
    this.recBadge.hidden = !on;
    this.root.dataset.lcRecording = String(on);
    if (announce && was !== on) this.announcer.say(on ? t('recordingStarted') : t('recordingStopped'));
  }

  /** @param {HTMLElement} opener */
  async #endForEveryone(opener) {
    const ok = await confirmDialog(this.app, { title: t('endConfirmTitle'), text: t('endConfirmText'), confirm: t('endConfirm'), danger: true });
    if (!ok) {
      focus(opener);
      return;
    }
    const room = this.room;
    try {
      await room?.endRoom();
    } catch (err) {
      this.#requestFailed(err);
      return;
    }
    // The server closes every socket 4403 room_ended; if ours is not closed soon, leave and say so anyway.
    setTimeout(() => {
      if (room && this.room === room && !this.#ended) {
        void room.leave().catch(() => {});
        this.#end('room_ended');
      }
    }, 3000);
  }

  /** @param {string} id @param {string} name */
  async #remove(id, name) {
    const ok = await confirmDialog(this.app, { title: t('removeConfirmTitle', { name }), text: t('removeConfirmText'), confirm: t('remove'), danger: true });
    if (!ok) return;
    try {
      await this.room?.removeParticipant(id);
    } catch (err) {
      this.#requestFailed(err);
    }
  }

  async #leave() {
    const room = this.room;
    if (!room) return;
    try {
      await room.leave();
    } catch {
      /* the end card follows from connection-state */
    }
    if (!this.#ended) this.#end('left');
  }

  /** @param {'grid' | 'speaker'} choice */
  #setChoice(choice) {
    this.#choice = choice;
    prefs.set('layout', choice);
    this.stageCtl?.setChoice(choice);
    this.announcer.say(choice === 'grid' ? t('layoutGrid') : t('layoutSpeaker'));
  }

  // ======================================================================================= panels

  /**
   * @param {ChatMessageEvent} message
   * @param {boolean} history
   */
  #addChat(message, history) {
    const room = this.room;
    if (!room || !this.chat) return;
    const mine = message.from?.id === room.localParticipant.id;
    const fromName = mine ? t('you') : message.participant?.name || message.from?.name || message.from?.identity || '?';
    /** @type {string | null} */
    let toName = null;
    if (message.to) {
      const other = mine ? room.participants.get(message.to) : null;
      toName = mine ? other?.name || other?.identity || '?' : t('you');
    }
    this.chat.add({
      id: message.id,
      fromId: message.from?.id ?? '',
      fromKey: message.from?.identity ?? '',
      fromName,
      avatarName: mine ? room.localParticipant.name || this.config.user.name || room.localParticipant.identity : fromName,
      text: String(message.text ?? ''),
      ts: message.ts || Date.now(),
      mine,
      toName,
    });
    if (history || mine || this.panels?.current === 'chat') return;
    this.#unread++;
    this.#renderUnread();
    this.announcer.say(t('newMessageFrom', { name: fromName }));
    this.#toast(`${fromName}: ${String(message.text ?? '').slice(0, 80)}`, 'info', 'chat');
  }

  #renderUnread() {
    const n = this.#unread;
    this.toolbar?.setBadge('chat', n ? (n > 9 ? '9+' : String(n)) : '', n ? t('unreadCount', { n }) : '');
  }

  #renderPeople() {
    if (this.#peopleQueued) return;
    this.#peopleQueued = true;
    requestAnimationFrame(() => {
      this.#peopleQueued = false;
      const room = this.room;
      if (!room || !this.people || !this.chat) return;
      const everyone = room.allParticipants;
      const listed = everyone.filter((p) => p.isLocal || !this.config.live || p.role !== 'viewer' || p.tracks.size > 0);
      const viewers = everyone.length - listed.length;
      this.people.update(
        listed.map((p) => {
          const mic = p.getTrack('microphone');
          const cam = p.getTrack('camera');
          return { participant: p, speaking: p.isSpeaking, micOn: Boolean(mic && !mic.muted), camOn: Boolean(cam && !cam.muted), sharing: Boolean(p.getTrack('screen')), hand: p.handRaisedAt };
        }),
        viewers,
      );
      this.toolbar?.setBadge('people', String(everyone.length), t('participantCount', { n: everyone.length }));
      if (this.config.live) this.topbar?.setAudience(everyone.filter((p) => p.role === 'viewer' && p.tracks.size === 0).length);
      this.chat.setRecipients([...room.participants.values()].map((p) => ({ id: p.id, name: p.name || p.identity })));
    });
  }

  // ==================================================================================== reactions

  /** @param {ReactionEvent} reaction */
  #showReaction(reaction) {
    const room = this.room;
    if (!room || !this.reactionLayer || !this.chat) return;
    const mine = reaction.from?.id === room.localParticipant.id;
    const name = mine ? t('you') : reaction.participant?.name || reaction.from?.name || reaction.from?.identity || '?';
    const label = REACTIONS.find((r) => r.emoji === reaction.emoji)?.label ?? reaction.emoji;
    const bubble = h('div', { class: 'lc-float', 'data-lc-reaction': reaction.emoji }, reactionPicture(reaction.emoji, 'lc-reaction lc-float__emoji'), h('span', { class: 'lc-float__name', text: name }));
    bubble.style.setProperty('--lc-x', `${10 + Math.random() * 70}%`);
    if (prefersReducedMotion()) bubble.dataset.lcStill = 'true';
    this.reactionLayer.append(bubble);
    setTimeout(() => bubble.remove(), REACTION_MS + 200);
    this.chat.add({
      id: '',
      fromId: reaction.from?.id ?? '',
      fromKey: reaction.from?.identity ?? '',
      fromName: name,
      text: t('reacted', { name }),
      picture: reactionPicture(reaction.emoji, 'lc-reaction lc-reaction--inline'),
      pictureLabel: label,
      ts: Date.now(),
      mine,
      toName: null,
      system: true,
    });
  }

  // ====================================================================================== settings

  /**
   * Device settings (settings.js); a switched-away pre-join capture is ours to stop.
   * @param {HTMLElement} opener
   * @param {'mic' | 'camera' | null} focusOn
   */
  #openSettings(opener, focusOn) {
    const room = this.room;
    if (!room) return;
    this.#settings?.close();
    this.#settings?.el.remove();
    this.#settings = openSettingsDialog({
      room,
      lc: this.lc,
      host: this.app,
      opener,
      focusOn,
      onSwitched: (previous, label) => {
        if (previous && this.media.owned.has(previous)) this.media.stopOwned(previous);
        this.announcer.say(t('deviceSwitched', { device: label }));
      },
      onProblem: (source, code) => this.#mediaProblem(source, code),
      onSpeaker: () => {
        for (const { el } of this.#audio.values()) this.#applySink(el);
      },
    });
  }

  /** @param {HTMLElement | null} opener */
  #openHelp(opener) {
    this.#help ??= shortcutsDialog();
    this.#help.open(this.app, opener ?? /** @type {HTMLElement | null} */ (document.activeElement), null);
  }

  // ================================================================================= keyboard

  /** @param {KeyboardEvent} e */
  #shortcut(e) {
    if (shortcutOwner !== this || e.defaultPrevented || e.ctrlKey || e.metaKey || isTypingTarget(e)) return;
    if (this.state !== 'connected' && this.state !== 'reconnecting') return;
    if (e.key === 'Escape' && this.panels?.current && !this.#narrow && !e.altKey) {
      // Esc closes the open side panel from anywhere (the panel's own handler covers focus inside it).
      e.preventDefault();
      this.panels?.close();
      return;
    }
    if (!prefs.get('shortcuts', true)) return;
    if (this.app.querySelector('dialog[open]:not(.lc-sheet)')) return;
    const action = shortcutFor(e);
    if (!action) return;
    if (action.type === 'react' && (this.config.reactions === false || !this.room?.localParticipant.can('react:send'))) return;
    e.preventDefault();
    if (action.type === 'control') this.#clickControl(action.id);
    else if (action.type === 'layout') this.#setChoice(this.#choice === 'grid' ? 'speaker' : 'grid');
    else if (action.type === 'help') this.#openHelp(null);
    else void this.#react(action.emoji);
  }

  /** @param {string} id */
  #clickControl(id) {
    const button = this.toolbar?.get(id);
    if (button && !button.hidden) button.click();
  }

  // ====================================================================================== feedback

  /**
   * A short visual notice (screen readers get the live regions instead).
   * @param {string} text
   * @param {'info' | 'alert'} [kind]
   * @param {string} [topic]  e.g. `chat`: such toasts go away when the chat opens
   */
  #toast(text, kind = 'info', topic = '') {
    const el = h('div', { class: `lc-toast lc-toast--${kind}`, 'data-lc-toast': topic || kind, text });
    this.toasts.append(el);
    while (this.toasts.children.length > 3) this.toasts.firstElementChild?.remove();
    setTimeout(() => el.remove(), kind === 'alert' ? 7000 : 4000);
  }

  /** @param {string[]} names @param {'joinedOne' | 'leftOne'} one @param {'joinedMany' | 'leftMany'} many */
  #announceNames(names, one, many) {
    if (!names.length) return;
    this.announcer.say(names.length === 1 ? t(one, { name: names[0] }) : t(many, { name: names[0], n: names.length - 1 }));
  }

  /** @param {string} band */
  #setOwnQuality(band) {
    if (!this.topbar) return;
    const label = t('yourConnection', { quality: t(/** @type {any} */ (`quality_${band}`)) });
    this.topbar.setQuality(band, label);
    this.root.dataset.lcQuality = band;
    const poor = band === 'poor' || band === 'bad';
    this.banners?.poor.show(poor && Boolean(this.room?.localParticipant.getTrack('camera')));
  }

  /** The mic button's level indicator and the talking-while-muted hint. */
  #tickLevel() {
    const room = this.room;
    const button = this.toolbar?.get('mic');
    if (!room || !button) return;
    const mic = room.localParticipant.getTrack('microphone');
    const level = mic && !mic.muted ? room.localParticipant.audioLevel : 0;
    button.style.setProperty('--lc-level', Math.min(1, level * 3).toFixed(2));
    if (mic?.muted && this.#mutedMeter) {
      const loud = this.#mutedMeter.level() > 0.25;
      const now = Date.now();
      if (!loud) this.#mutedLoudSince = 0;
      else if (!this.#mutedLoudSince) this.#mutedLoudSince = now;
      else if (now - this.#mutedLoudSince > 1500 && now - this.#mutedWarnedAt > 30_000) {
        this.#mutedWarnedAt = now;
        this.#toast(t('mutedWhileTalking'));
        this.announcer.say(t('mutedWhileTalking'));
      }
    }
  }

  /** Listen to a clone of the muted mic (its own `enabled`), to warn about talking while muted. */
  #syncMutedMeter() {
    const mic = this.room?.localParticipant.getTrack('microphone');
    const source = mic?.muted ? mic.mediaStreamTrack : null;
    if (source && this.#mutedMeterTrack && this.#mutedMeterTrack.label === source.label && this.#mutedMeterTrack.readyState === 'live') return;
    this.#stopMutedMeter();
    if (!source || source.readyState !== 'live') return;
    const clone = source.clone();
    clone.enabled = true;
    this.#mutedMeterTrack = clone;
    this.#mutedMeter = new LevelMeter(clone);
  }

  #stopMutedMeter() {
    this.#mutedMeter?.stop();
    this.#mutedMeter = null;
    this.#mutedMeterTrack?.stop();
    this.#mutedMeterTrack = null;
    this.#mutedLoudSince = 0;
  }

  /**
   * Labels only when they fit: first the secondary controls lose their visible label (`partial`), then all of
   * them (`true`). Names stay for screen readers, tooltips show them.
   */
  #fitToolbar() {
    const bar = this.toolbar?.el;
    // Start again from what the width allows: labels come back when the bar grows (or a control goes away).
    this.root.dataset.lcIconOnly = this.#iconOnly;
    if (!bar || !bar.isConnected || this.#iconOnly === 'true' || this.root.dataset.lcTiny === 'true') return;
    const overflows = () => bar.scrollWidth > bar.clientWidth + 1;
    if (!overflows()) return;
    this.root.dataset.lcIconOnly = 'partial';
    if (overflows()) this.root.dataset.lcIconOnly = 'true';
  }

  #onResize() {
    const width = this.root.getBoundingClientRect().width;
    if (!width) return;
    const narrow = width <= NARROW_PX;
    const panelOpen = Boolean(this.panels?.current);
    this.root.dataset.lcNarrow = String(narrow);
    this.root.dataset.lcTiny = String(width <= TINY_PX);
    this.#iconOnly = String(width <= (panelOpen && !narrow ? ICON_ONLY_WITH_PANEL_PX : ICON_ONLY_PX));
    this.#fitToolbar();
    this.#narrow = narrow;
    this.panels?.setNarrow(narrow);
    this.reactionMenu?.close(false);
    this.moreMenu?.close(false);
  }
}
