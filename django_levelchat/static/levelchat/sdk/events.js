/**
 * Event names (the public contract: kebab-case, as on the wire) and their listener arguments.
 * @module
 */

/** @import { Track } from './track.js' */
/** @import { Participant, RemoteParticipant } from './participant.js' */
/** @import { LevelChatError } from './errors.js' */
/** @import { QualityBand, Sender } from './protocol.js' */

/** Room events: `room.on(RoomEvent.TrackSubscribed, (track, participant) => …)`. */
export const RoomEvent = Object.freeze({
  /** Someone joined (also once per roster member when a fresh session replaces a lost one). Args: (participant). */
  ParticipantJoined: /** @type {'participant-joined'} */ ('participant-joined'),
  /** Someone left for good; their tracks are gone. Args: (participant, reason) with a `participant-left` reason. */
  ParticipantLeft: /** @type {'participant-left'} */ ('participant-left'),
  /** A participant's name, role, metadata or (yours) capabilities changed. Args: (participant). */
  ParticipantUpdated: /** @type {'participant-updated'} */ ('participant-updated'),
  /** A participant's connection dropped; they may resume. Args: (participant). */
  ParticipantReconnecting: /** @type {'participant-reconnecting'} */ ('participant-reconnecting'),
  /** A reconnecting participant is back. Args: (participant). */
  ParticipantReconnected: /** @type {'participant-reconnected'} */ ('participant-reconnected'),
  /** A remote participant published a track (media follows with `track-subscribed`). Args: (track, participant). */
  TrackPublished: /** @type {'track-published'} */ ('track-published'),
  /** A remote participant withdrew a track. Args: (track, participant). */
  TrackUnpublished: /** @type {'track-unpublished'} */ ('track-unpublished'),
  /** Media of a remote track is arriving: `track.attach()` it. Args: (track, participant). */
  TrackSubscribed: /** @type {'track-subscribed'} */ ('track-subscribed'),
  /** Media of a remote track stopped (unpublished, unsubscribed, or its publisher left). Args: (track, participant). */
  TrackUnsubscribed: /** @type {'track-unsubscribed'} */ ('track-unsubscribed'),
  /** A track (local or remote) was muted or unmuted: read `track.muted`. `by` is the admin's id for a remote mute. Args: (track, participant, by). */
  TrackMuted: /** @type {'track-muted'} */ ('track-muted'),
  /** One of your tracks was published. Args: (track). */
  LocalTrackPublished: /** @type {'local-track-published'} */ ('local-track-published'),
  /** One of your tracks was unpublished (by you, or the server revoked the capability). Args: (track, reason). */
  LocalTrackUnpublished: /** @type {'local-track-unpublished'} */ ('local-track-unpublished'),
  /** A local capture ended outside the SDK (the browser's "Stop sharing", an unplugged device); it is unpublished. Args: (track). */
  LocalTrackEnded: /** @type {'local-track-ended'} */ ('local-track-ended'),
  /** The server's dominant speaker changed (null when the room went silent). Args: (participant | null). */
  ActiveSpeaker: /** @type {'active-speaker'} */ ('active-speaker'),
  /** A participant started or stopped speaking (local: from the mic analyser, instantly). Args: (participant, speaking). */
  SpeakingChanged: /** @type {'speaking-changed'} */ ('speaking-changed'),
  /** The room connection changed state. Args: (state, error) with error = why (null when connecting/connected). */
  ConnectionState: /** @type {'connection-state'} */ ('connection-state'),
  /** A participant's connection-quality band changed (local: from getStats; remote: reported). Args: (quality, participant). */
  ConnectionQuality: /** @type {'connection-quality'} */ ('connection-quality'),
  /** A chat message (public or private to you), including your own. Args: (message). */
  ChatMessage: /** @type {'chat-message'} */ ('chat-message'),
  /** A reaction, including your own. Args: (reaction). */
  Reaction: /** @type {'reaction'} */ ('reaction'),
  /** The room recording started, stopped or failed. Args: (state, details). */
  Recording: /** @type {'recording'} */ ('recording'),
  /** The page may or may not play audio now (autoplay policy); when false, call `room.startAudio()` from a click. Args: (canPlayback). */
  AudioPlaybackChanged: /** @type {'audio-playback-changed'} */ ('audio-playback-changed'),
  /** Something went wrong that no promise reports (a failed reconnect, a refused relay, a media failure). Args: (error). */
  Error: /** @type {'error'} */ ('error'),
});

/** Participant events: `participant.on(ParticipantEvent.TrackSubscribed, (track) => …)`. */
export const ParticipantEvent = Object.freeze({
  TrackPublished: /** @type {'track-published'} */ ('track-published'),
  TrackUnpublished: /** @type {'track-unpublished'} */ ('track-unpublished'),
  TrackSubscribed: /** @type {'track-subscribed'} */ ('track-subscribed'),
  TrackUnsubscribed: /** @type {'track-unsubscribed'} */ ('track-unsubscribed'),
  TrackMuted: /** @type {'track-muted'} */ ('track-muted'),
  SpeakingChanged: /** @type {'speaking-changed'} */ ('speaking-changed'),
  ConnectionQuality: /** @type {'connection-quality'} */ ('connection-quality'),
  Updated: /** @type {'updated'} */ ('updated'),
});

/** `room.state` and the first argument of `connection-state`. */
export const ConnectionState = Object.freeze({
  /** Opening the socket and waiting for the roster. */
  Connecting: /** @type {'connecting'} */ ('connecting'),
  /** In the room. */
  Connected: /** @type {'connected'} */ ('connected'),
  /** The signaling socket dropped; retrying with backoff, media keeps flowing peer to peer. */
  Reconnecting: /** @type {'reconnecting'} */ ('reconnecting'),
  /** Over on purpose: you left, were removed or replaced, or the room ended (the error's code says which). */
  Disconnected: /** @type {'disconnected'} */ ('disconnected'),
  /** Over because it could not (re)connect: refused token, gave up after the window, protocol error. */
  Failed: /** @type {'failed'} */ ('failed'),
});

/** @typedef {typeof ConnectionState[keyof typeof ConnectionState]} ConnectionStateValue */

/**
 * A chat message as the Room emits it.
 * @typedef {object} ChatMessageEvent
 * @property {string} id  `CM_…`
 * @property {Sender} from
 * @property {Participant | undefined} participant  the sender, when still in the room
 * @property {string} text  plain text: render it as text, never as HTML
 * @property {string | null} to  your id for a private message, null when public
 * @property {number} ts  ms since the epoch
 * @property {boolean} history  true for messages replayed from `welcome.chat`
 */

/**
 * @typedef {object} ReactionEvent
 * @property {string} emoji
 * @property {Sender} from
 * @property {Participant | undefined} participant
 */

/**
 * @typedef {object} RecordingDetails
 * @property {string} [recording]  `RC_…`
 * @property {string} [reason]
 */

/**
 * Room listener arguments, by event.
 * @typedef {{
 *   'participant-joined': [participant: RemoteParticipant],
 *   'participant-left': [participant: RemoteParticipant, reason: string],
 *   'participant-updated': [participant: Participant],
 *   'participant-reconnecting': [participant: RemoteParticipant],
 *   'participant-reconnected': [participant: RemoteParticipant],
 *   'track-published': [track: Track, participant: RemoteParticipant],
 *   'track-unpublished': [track: Track, participant: RemoteParticipant],
 *   'track-subscribed': [track: Track, participant: RemoteParticipant],
 *   'track-unsubscribed': [track: Track, participant: RemoteParticipant],
 *   'track-muted': [track: Track, participant: Participant, by: string | null],
 *   'local-track-published': [track: Track],
 *   'local-track-unpublished': [track: Track, reason: string | null],
 *   'local-track-ended': [track: Track],
 *   'active-speaker': [participant: Participant | null],
 *   'speaking-changed': [participant: Participant, speaking: boolean],
 *   'connection-state': [state: ConnectionStateValue, error: LevelChatError | null],
 *   'connection-quality': [quality: QualityBand | 'unknown', participant: Participant],
 *   'chat-message': [message: ChatMessageEvent],
 *   'reaction': [reaction: ReactionEvent],
 *   'recording': [state: 'started' | 'stopped' | 'failed', details: RecordingDetails],
 *   'audio-playback-changed': [canPlayback: boolean],
 *   'error': [error: LevelChatError],
 * }} RoomEventMap
 */

/**
 * Participant listener arguments, by event.
 * @typedef {{
 *   'track-published': [track: Track],
 *   'track-unpublished': [track: Track],
 *   'track-subscribed': [track: Track],
 *   'track-unsubscribed': [track: Track],
 *   'track-muted': [track: Track],
 *   'speaking-changed': [speaking: boolean],
 *   'connection-quality': [quality: QualityBand | 'unknown'],
 *   'updated': [],
 * }} ParticipantEventMap
 */

