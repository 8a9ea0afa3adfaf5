/**
 * levelchat browser SDK: the only public entry point.
 *
 *   <script type="module">
 *     import { LevelChat, RoomEvent } from "/static/levelchat/levelchat.js";
 *     const room = new LevelChat().joinRoom({ token });
 *     room.on(RoomEvent.TrackSubscribed, (track) => document.body.append(track.attach()));
 *     await room.ready;
 *     await room.publishCamera();
 *     await room.publishMic();
 *   </script>
 *
 * See docs/sdk.md.
 * @module
 */

export * from './sdk/index.js';
