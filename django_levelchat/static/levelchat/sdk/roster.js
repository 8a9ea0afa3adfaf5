/**
 * The roster of remote participants as plain data, and a pure reducer over the server's roster frames (and the
 * snapshots in `welcome`/`resync`). `reduceRoster(roster, frame, localId)` returns the next roster and the list of
 * changes, in the order the room announces them; `room.js` applies the changes to its Participant and Track
 * objects and emits the public events. The reducer never mutates its input, so it is tested with tables.
 * @module
 */

/** @import { ParticipantInfo, TrackInfo } from './protocol.js' */

/**
 * One remote participant.
 * @typedef {object} RosterPerson
 * @property {string} id
 * @property {string} identity
 * @property {string} name  the display name (the identity when none was given)
 * @property {string} role
 * @property {Record<string, unknown>} metadata
 * @property {boolean} reconnecting
 * @property {string} quality  a band or `unknown`
 * @property {number | null} hand  when their hand went up (ms)
 * @property {ReadonlyMap<string, TrackInfo>} tracks  by sid
 */

/** @typedef {ReadonlyMap<string, RosterPerson>} Roster */

/**
 * What changed, for the room to apply and announce.
 * @typedef {{ type: 'joined', id: string }
 *   | { type: 'left', id: string, reason: string }
 *   | { type: 'updated', id: string }
 *   | { type: 'reconnecting', id: string, reconnecting: boolean }
 *   | { type: 'track-published', id: string, sid: string }
 *   | { type: 'track-unpublished', id: string, sid: string, reason: string | null }
 *   | { type: 'track-muted', id: string, sid: string, muted: boolean, by: string | null }
 *   | { type: 'quality', id: string, quality: string }} RosterChange
 */

/**
 * The frames the reducer understands: the roster events, and a snapshot (`welcome` roster or `resync`).
 * @typedef {{ type: 'snapshot', roster: ParticipantInfo[] }
 *   | { type: 'participant-joined', participant: ParticipantInfo }
 *   | { type: 'participant-left', participant: { id: string }, reason: string }
 *   | { type: 'participant-updated', participant: Partial<ParticipantInfo> & { id: string } }
 *   | { type: 'participant-reconnecting' | 'participant-reconnected', participant: { id: string } }
 *   | { type: 'track-published', participant: string, track: TrackInfo }
 *   | { type: 'track-unpublished', participant: string, track: string, reason?: string | null }
 *   | { type: 'track-muted', participant: string, track: string, muted: boolean, by?: string | null }
 *   | { type: 'connection-quality', participant: string, quality: string }} RosterFrame
 */

/** @type {Roster} */
export const EMPTY_ROSTER = new Map();

/** @param {ParticipantInfo} info @returns {RosterPerson} */
export function personFrom(info) {
  return {
    id: info.id,
    identity: info.identity,
    name: info.name || info.identity,
    role: info.role ?? '',
    metadata: info.metadata ?? {},
    reconnecting: info.state === 'reconnecting',
    quality: info.quality ?? 'unknown',
    hand: typeof info.hand === 'number' ? info.hand : null,
    tracks: new Map((info.tracks ?? []).map((t) => [t.sid, { ...t, muted: t.muted ?? false }])),
  };
}

/** @param {Roster} roster @param {RosterPerson} person */
function put(roster, person) {
  const next = new Map(roster);
  next.set(person.id, person);
  return next;
}

/**
 * A known participant seen again in full (a snapshot, or `participant-joined` for someone we have): the
 * differences, in announcement order (reconnecting, updated, tracks gone, tracks new, mutes).
 * @param {RosterPerson} before
 * @param {ParticipantInfo} info
 * @returns {{ person: RosterPerson, changes: RosterChange[] }}
 */
function diffPerson(before, info) {
  const seen = personFrom(info);
  const person = { ...seen, role: info.role ?? before.role, metadata: info.metadata ?? before.metadata, quality: info.quality ?? before.quality };
  /** @type {RosterChange[]} */
  const changes = [];
  const id = before.id;
  if (person.reconnecting !== before.reconnecting) changes.push({ type: 'reconnecting', id, reconnecting: person.reconnecting });
  if (person.name !== before.name || person.role !== before.role || person.hand !== before.hand) changes.push({ type: 'updated', id });
  for (const sid of before.tracks.keys()) if (!person.tracks.has(sid)) changes.push({ type: 'track-unpublished', id, sid, reason: null });
  for (const [sid, track] of person.tracks) {
    const old = before.tracks.get(sid);
    if (!old) changes.push({ type: 'track-published', id, sid });
    else if (old.muted !== track.muted) changes.push({ type: 'track-muted', id, sid, muted: Boolean(track.muted), by: null });
  }
  return { person, changes };
}

/** @param {RosterPerson} person @returns {RosterChange[]} */
function arrival(person) {
  return [{ type: 'joined', id: person.id }, ...[...person.tracks.keys()].map((sid) => /** @type {RosterChange} */ ({ type: 'track-published', id: person.id, sid }))];
}

/**
 * The next roster after `frame`, and what changed. Frames about the local participant (`localId`) are not the
 * roster's: they leave it unchanged.
 * @param {Roster} roster
 * @param {RosterFrame} frame
 * @param {string} localId
 * @returns {{ roster: Roster, changes: RosterChange[] }}
 */
export function reduceRoster(roster, frame, localId) {
  const same = { roster, changes: /** @type {RosterChange[]} */ ([]) };
  switch (frame.type) {
    case 'snapshot': {
      const infos = frame.roster.filter((p) => p.id !== localId);
      const ids = new Set(infos.map((p) => p.id));
      /** @type {RosterChange[]} */
      const changes = [];
      /** @type {Map<string, RosterPerson>} */
      const next = new Map();
      for (const id of roster.keys()) if (!ids.has(id)) changes.push({ type: 'left', id, reason: 'connection_lost' });
      for (const info of infos) {
        const before = roster.get(info.id);
        if (before) {
          const diff = diffPerson(before, info);
          next.set(info.id, diff.person);
          changes.push(...diff.changes);
        } else {
          const person = personFrom(info);
          next.set(info.id, person);
          changes.push(...arrival(person));
        }
      }
      return { roster: next, changes };
    }
    case 'participant-joined': {
      const info = frame.participant;
      if (info.id === localId) return same;
      const before = roster.get(info.id);
      if (before) {
        const diff = diffPerson(before, info);
        return { roster: put(roster, diff.person), changes: diff.changes };
      }
      const person = personFrom(info);
      return { roster: put(roster, person), changes: arrival(person) };
    }
    case 'participant-left': {
      const id = frame.participant.id;
      if (!roster.has(id)) return same;
      const next = new Map(roster);
      next.delete(id);
      return { roster: next, changes: [{ type: 'left', id, reason: frame.reason }] };
    }
    case 'participant-updated': {
      const info = frame.participant;
      const before = roster.get(info.id);
      if (!before) return same;
      const person = {
        ...before,
        name: info.name !== undefined ? info.name || before.identity : before.name,
        role: info.role ?? before.role,
        metadata: info.metadata ?? before.metadata,
        hand: info.hand !== undefined ? (typeof info.hand === 'number' ? info.hand : null) : before.hand,
      };
      return { roster: put(roster, person), changes: [{ type: 'updated', id: info.id }] };
    }
    case 'participant-reconnecting':
    case 'participant-reconnected': {
      const before = roster.get(frame.participant.id);
      const reconnecting = frame.type === 'participant-reconnecting';
      if (!before || before.reconnecting === reconnecting) return same;
      return { roster: put(roster, { ...before, reconnecting }), changes: [{ type: 'reconnecting', id: before.id, reconnecting }] };
    }
    case 'track-published': {
      const before = roster.get(frame.participant);
      if (!before || before.tracks.has(frame.track.sid)) return same;
      const tracks = new Map(before.tracks).set(frame.track.sid, { ...frame.track, muted: frame.track.muted ?? false });
      return { roster: put(roster, { ...before, tracks }), changes: [{ type: 'track-published', id: before.id, sid: frame.track.sid }] };
    }
    case 'track-unpublished': {
      const before = roster.get(frame.participant);
      if (!before || !before.tracks.has(frame.track)) return same;
      const tracks = new Map(before.tracks);
      tracks.delete(frame.track);
      return {
        roster: put(roster, { ...before, tracks }),
        changes: [{ type: 'track-unpublished', id: before.id, sid: frame.track, reason: frame.reason ?? null }],
      };
    }
    case 'track-muted': {
      const before = roster.get(frame.participant);
      const track = before?.tracks.get(frame.track);
      if (!before || !track || track.muted === frame.muted) return same;
      const tracks = new Map(before.tracks).set(frame.track, { ...track, muted: frame.muted });
      return {
        roster: put(roster, { ...before, tracks }),
        changes: [{ type: 'track-muted', id: before.id, sid: frame.track, muted: frame.muted, by: frame.by ?? null }],
      };
    }
    case 'connection-quality': {
      const before = roster.get(frame.participant);
      if (!before || before.quality === frame.quality) return same;
      return { roster: put(roster, { ...before, quality: frame.quality }), changes: [{ type: 'quality', id: before.id, quality: frame.quality }] };
    }
    default:
      return same;
  }
}
