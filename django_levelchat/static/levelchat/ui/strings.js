/**
 * Every string the call UI shows or announces, in one place (English). To translate, replace values in
 * `STRINGS` (same keys, same `{placeholders}`) before the UI mounts, e.g. with `setStrings({...})`.
 * @module
 */

export const STRINGS = {
  // --- boot and generic -------------------------------------------------------------------------------------
  callHeading: '{room}',
  loading: 'Loading the call…',
  notSupportedTitle: 'This browser cannot join calls',
  notSupportedText: 'Video calls need a recent browser with camera and WebRTC support, on a secure (https) page.',
  badConfigTitle: 'This call could not start',
  badConfigText: 'The page did not include a valid call configuration.',
  close: 'Close',
  cancel: 'Cancel',
  you: 'You',
  youSuffix: '(You)',
  everyone: 'Everyone',

  // --- pre-join -------------------------------------------------------------------------------------------
  prejoinTitle: 'Ready to join?',
  prejoinJoiningAs: 'Joining as {name}',
  prejoinPreview: 'Camera preview',
  prejoinCameraOff: 'Your camera is off',
  join: 'Join',
  joining: 'Joining…',
  joinWithoutDevices: 'Join without camera and microphone',
  micLevel: 'Microphone level',
  cameraSelect: 'Camera',
  micSelect: 'Microphone',
  speakerSelect: 'Speaker',
  defaultDevice: 'Default',
  deviceLabel: '{kind} {n}',
  deviceStatusChecking: 'Checking your camera and microphone…',
  deviceStatusOk: 'Your camera and microphone are working.',
  deviceStatusMicOnly: 'Your microphone is working. No camera was found.',
  deviceStatusCamOnly: 'Your camera is working. No microphone was found.',
  deviceStatusBlocked:
    'Your browser blocked the camera and microphone. Allow them from the camera icon in the address bar, then choose Retry.',
  deviceStatusNotFound: 'No camera or microphone found. You can still join and watch, listen and chat.',
  deviceStatusInUse: 'Your camera or microphone is in use by another app. Close it, or pick another device.',
  deviceStatusError: 'Your camera or microphone could not be opened.',
  retry: 'Retry',

  // --- call chrome ----------------------------------------------------------------------------------------
  callControls: 'Call controls',
  microphone: 'Microphone',
  camera: 'Camera',
  shareScreen: 'Share screen',
  reactions: 'Reactions',
  raiseHand: 'Raise hand',
  lowerHand: 'Lower hand',
  lowerHandOf: 'Lower {name}\'s hand',
  handRaised: '{name} raised their hand',
  handRaisedYou: 'Your hand is raised',
  handLoweredByHost: 'The host lowered your hand',
  elapsedTime: 'Time in the call',
  copyInvite: 'Copy invite link',
  inviteCopied: 'Invite link copied',
  inviteCopyFailed: 'Copy this link to invite people: {url}',
  chat: 'Chat',
  participants: 'Participants',
  more: 'More options',
  leave: 'Leave',
  micOptions: 'Microphone settings',
  cameraOptions: 'Camera settings',
  unreadCount: '{n} unread',
  participantCount: '{n} in the call',
  settings: 'Settings',
  layoutGrid: 'Grid layout',
  layoutSpeaker: 'Speaker layout',
  startRecording: 'Start recording',
  stopRecording: 'Stop recording',
  endForEveryone: 'End call for everyone',
  keyboardShortcuts: 'Keyboard shortcuts',
  startAudio: 'Start audio',
  startAudioHint: 'Your browser paused the call audio.',

  // --- stage and tiles ------------------------------------------------------------------------------------
  stage: 'Call participants',
  waitingForOthers: 'Waiting for others to join',
  waitingForBroadcast: 'The broadcast has not started yet',
  screenOf: "{name}'s screen",
  yourScreen: 'Your screen',
  pin: 'Pin {name}',
  fillTile: 'Fill the tile with {name}',
  raisedHand: 'hand raised',
  micOff: 'microphone off',
  cameraOff: 'camera off',
  speaking: 'speaking',
  reconnectingTile: 'reconnecting',
  previousPage: 'Previous page',
  nextPage: 'Next page',
  pageOf: 'Page {page} of {pages}',
  goToPage: 'Page {page}',
  youArePresenting: 'You are presenting',
  stopPresenting: 'Stop presenting',
  watching: "You're watching",
  live: 'Live',
  recordingLabel: 'Recording',
  moveSelfView: 'Move your self view',

  // --- connection quality ---------------------------------------------------------------------------------
  quality_excellent: 'Excellent connection',
  quality_good: 'Good connection',
  quality_fair: 'Fair connection',
  quality_poor: 'Poor connection',
  quality_bad: 'Bad connection',
  quality_unknown: 'Connection quality unknown',
  yourConnection: 'Your connection: {quality}',
  poorConnectionBanner: 'Your connection is weak. Turning your camera off may help.',
  turnCameraOff: 'Turn camera off',

  // --- chat -----------------------------------------------------------------------------------------------
  chatMessages: 'Chat messages',
  chatEmpty: 'No messages yet. Say hello!',
  chatInput: 'Message',
  chatPlaceholder: 'Send a message to everyone',
  chatPlaceholderTo: 'Send a private message to {name}',
  chatSend: 'Send',
  chatTo: 'Send to',
  chatPrivate: 'private',
  chatPrivateTo: 'to {name}',
  chatTooLong: '{n} characters over the limit',
  chatCharsLeft: '{n} characters left',
  chatFailed: 'Your message could not be sent.',
  chatRateLimited: 'You are sending messages too fast. Wait a moment.',
  chatNotAllowed: 'You cannot send messages in this call.',
  newMessageFrom: 'New message from {name}',
  reactedWith: '{name} reacted {emoji}',
  reacted: '{name} reacted',
  reactWith: 'React with {label}',

  // --- participants ---------------------------------------------------------------------------------------
  searchParticipants: 'Search participants',
  noMatches: 'Nobody matches “{query}”',
  viewersCount: '{n} watching',
  role_host: 'Host',
  role_participant: 'Participant',
  role_viewer: 'Viewer',
  role_broadcaster: 'Broadcaster',
  role_recorder: 'Recorder',
  muteParticipant: 'Mute {name}',
  removeParticipant: 'Remove {name}',
  removeConfirmTitle: 'Remove {name} from the call?',
  removeConfirmText: 'They will not be able to rejoin with their current link.',
  remove: 'Remove',

  // --- announcements (polite live region) -----------------------------------------------------------------
  joinedOne: '{name} joined',
  joinedMany: '{name} and {n} others joined',
  leftOne: '{name} left',
  leftMany: '{name} and {n} others left',
  recordingStarted: 'Recording started',
  recordingStopped: 'Recording stopped',
  recordingFailed: 'The recording stopped because of an error.',
  recordingUnavailable: "Recording isn't available on this server right now. Please try again later.",
  recordingNotAllowed: 'You are not allowed to record this call.',
  recordingError: 'The recording could not be started.',
  mutedByHost: 'You were muted by the host',
  presenting: '{name} is presenting',
  stoppedPresenting: '{name} stopped presenting',
  reconnected: 'Reconnected',
  micOnAnnounce: 'Microphone on',
  micOffAnnounce: 'Microphone off',
  cameraOnAnnounce: 'Camera on',
  cameraOffAnnounce: 'Camera off',
  deviceLost: 'Your {device} was disconnected.',
  deviceSwitched: 'Switched to {device}',
  shareFailed: 'Screen sharing could not start.',
  mediaBlocked: 'Your browser blocked the {device}. Allow it from the address bar and try again.',
  mediaNotFound: 'No {device} was found.',
  mediaInUse: 'Your {device} is in use by another app.',
  mediaFailed: 'The {device} could not be started.',
  actionFailed: 'That did not work. Please try again.',
  rateLimited: 'Slow down a little and try again.',
  mutedWhileTalking: 'You are muted. Press M to unmute.',
  reconnectingBanner: 'Reconnecting…',
  reconnectingText: 'Your connection dropped. Trying to reconnect; the call continues when it is back.',

  // --- settings, shortcuts, confirm -----------------------------------------------------------------------
  settingsTitle: 'Settings',
  devicesHeading: 'Devices',
  shortcutsEnabled: 'Use keyboard shortcuts',
  shortcutsTitle: 'Keyboard shortcuts',
  shortcutToggleMic: 'Turn microphone on or off',
  shortcutToggleCamera: 'Turn camera on or off',
  shortcutToggleChat: 'Open or close chat',
  shortcutTogglePeople: 'Open or close participants',
  shortcutShare: 'Start or stop sharing your screen',
  shortcutLayout: 'Switch between grid and speaker layout',
  shortcutHelp: 'Show keyboard shortcuts',
  shortcutReact: 'Send a reaction',
  shortcutHand: 'Raise or lower your hand',
  shortcutPages: 'Previous or next page of the grid',
  shortcutKeys: 'Keys',
  shortcutAction: 'Action',
  endConfirmTitle: 'End the call for everyone?',
  endConfirmText: 'Everyone will be disconnected and nobody can rejoin this call.',
  endConfirm: 'End call',

  // --- end and error states -------------------------------------------------------------------------------
  connectingTitle: 'Joining {room}…',
  connectingText: 'Connecting to the call.',
  leftTitle: 'You left the call',
  leftText: 'You can rejoin while the call is still going.',
  rejoin: 'Rejoin',
  back: 'Back',
  reload: 'Reload',
  endedTitle: 'The call has ended',
  endedText: '{room} is over.',
  removedTitle: 'You were removed from the call',
  removedText: 'A host removed you from {room}.',
  replacedTitle: 'You joined from another tab or device',
  replacedText: 'This window left the call because you joined it somewhere else.',
  replacedAction: 'Use this window',
  fullTitle: 'This call is full',
  fullText: 'Nobody else can join {room} right now. Try again later.',
  expiredTitle: 'This link has expired',
  expiredText: 'Reload the page to get a fresh link to the call.',
  lostTitle: 'Connection lost',
  lostText: 'The call could not reconnect. Check your network and rejoin.',
  errorTitle: 'Something went wrong',
  errorText: 'The call could not continue ({code}).',
};

/** @typedef {keyof typeof STRINGS} StringKey */

/**
 * Replace some strings (e.g. a translation). Unknown keys are ignored.
 * @param {Partial<Record<StringKey, string>>} overrides
 */
export function setStrings(overrides) {
  for (const [key, value] of Object.entries(overrides)) {
    if (key in STRINGS && typeof value === 'string') /** @type {Record<string, string>} */ (STRINGS)[key] = value;
  }
}

/**
 * The string for `key` with `{placeholders}` filled from `vars`.
 * @param {StringKey} key
 * @param {Record<string, string | number>} [vars]
 * @returns {string}
 */
export function t(key, vars) {
  const text = STRINGS[key] ?? key;
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (match, name) => (name in vars ? String(vars[name]) : match));
}

/** The reaction picker: emoji and their spoken labels (Alt+1 … Alt+6). */
export const REACTIONS = Object.freeze([
  { emoji: '👍', label: 'thumbs up' },
  { emoji: '👏', label: 'clapping' },
  { emoji: '😂', label: 'laughing' },
  { emoji: '❤️', label: 'heart' },
  { emoji: '🎉', label: 'party' },
  { emoji: '😮', label: 'surprised' },
]);
