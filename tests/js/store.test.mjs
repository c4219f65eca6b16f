// Unit tests of the store's reducers: `node --test tests/js/` (run by `make test`).
import assert from "node:assert/strict";
import { test } from "node:test";

import { createStore, initialState, readersOf, reduce, repliesOf, sortedRooms, timelineOf, totalUnread } from "../../static/confab/store.js";

const ann = { id: 1, username: "ann", display_name: "Ann", avatar_url: null };
const bob = { id: 2, username: "bob", display_name: "Bob", avatar_url: null };

function message(seq, extra = {}) {
  return {
    id: 100 + seq, room: 3, seq, sender: bob, kind: "text", body: `m${seq}`, body_html: `<p>m${seq}</p>`, reply_to: null,
    attachments: [], reactions: [], pinned: false, edited_at: null, deleted: false, created_at: `2026-11-24T08:0${seq % 10}:00Z`,
    thread_root: null, also_to_room: false, thread_summary: null, ...extra,
  };
}

function room(id, extra = {}) {
  return { id, kind: "group", name: `r${id}`, topic: "", last_seq: 0, unread: 0, last_read_seq: 0, created_at: "2026-11-01T00:00:00Z", last_message: null, ...extra };
}

/** Ann on the page of room 3 (two messages of history), also in room 4. */
function page() {
  const open = { ...room(3, { last_seq: 2 }), members: [{ user: ann, last_read_seq: 2 }, { user: bob, last_read_seq: 2 }] };
  return initialState({ me: ann, rooms: [room(3, { last_seq: 2 }), room(4)], peers: {}, room: open, history: { messages: [message(1), message(2)], has_more: false } });
}

const apply = (state, ...actions) => actions.reduce((current, [type, data]) => reduce(current, { type, data }), state);

test("the page's history is held and sync resumes after its newest message", () => {
  const state = page();
  assert.deepEqual(timelineOf(state, 3).map((each) => each.seq), [1, 2]);
  assert.equal(state.history[3].contiguous, 2);
});

test("a new message is held once, in seq order, and counts as unread only where the user is not looking", () => {
  let state = apply(page(), ["visibility", { visible: true }], ["new_message", { message: message(4) }], ["new_message", { message: message(3) }]);
  assert.deepEqual(timelineOf(state, 3).map((each) => each.seq), [1, 2, 3, 4]);
  assert.equal(state.history[3].contiguous, 4);
  assert.equal(state.rooms[3].unread, 0, "the open, visible room");
  state = apply(state, ["new_message", { message: { ...message(1), id: 200, room: 4 } }]);
  state = apply(state, ["new_message", { message: { ...message(1), id: 200, room: 4 } }]);
  assert.equal(state.rooms[4].unread, 1, "a repeat counts once");
  assert.equal(state.rooms[4].last_message.body, "m1");
  assert.equal(state.messages[4], undefined, "only the open room's messages are held");
  state = apply(state, ["visibility", { visible: false }], ["new_message", { message: message(5) }]);
  assert.equal(state.rooms[3].unread, 1, "a hidden tab does not read");
  assert.equal(totalUnread(state), 2);
  assert.deepEqual(sortedRooms(state).map((each) => each.id), [3, 4]);
});

test("one's own messages and timeline lines are never unread", () => {
  const state = apply(page(), ["visibility", { visible: false }], ["new_message", { message: message(3, { sender: ann }) }], ["new_message", { message: message(4, { sender: null, kind: "system" }) }]);
  assert.equal(state.rooms[3].unread, 0);
});

test("edits, pins, reactions and deletes patch the message held and leave others alone", () => {
  let state = apply(
    page(),
    ["message_edited", { room: 3, message: 101, seq: 1, body: "new", body_html: "<p>new</p>", edited_at: "2026-11-24T09:00:00Z" }],
    ["message_pinned", { room: 3, message: 101, seq: 1 }],
    ["reaction_added", { room: 3, message: 101, emoji: "👍", user: 2, count: 1 }],
    ["reaction_added", { room: 3, message: 101, emoji: "👍", user: 1, count: 2 }],
    ["reaction_removed", { room: 3, message: 101, emoji: "👍", user: 2, count: 1 }],
    ["message_edited", { room: 3, message: 999, seq: 9, body: "x", body_html: "x", edited_at: "x" }],
  );
  const first = state.messages[3][101];
  assert.equal(first.body_html, "<p>new</p>");
  assert.equal(first.pinned, true);
  assert.deepEqual(first.reactions, [{ emoji: "👍", count: 1, users: [1] }]);
  assert.equal(state.messages[3][999], undefined);
  const before = state.messages[3][102];
  state = apply(state, ["message_deleted", { room: 3, message: 101, seq: 1 }]);
  assert.equal(state.messages[3][101].deleted, true);
  assert.equal(state.messages[3][101].body, "");
  assert.equal(state.messages[3][102], before, "an untouched message keeps its identity (views redraw by reference)");
});

test("the room list's last message follows edits and deletes of that message", () => {
  let state = apply(page(), ["new_message", { message: { ...message(1), id: 300, room: 4, body: "*Design*" } }]);
  state = apply(state, ["message_edited", { room: 4, message: 300, seq: 1, body: "Plan", body_html: "<p>Plan</p>", edited_at: "x" }]);
  assert.equal(state.rooms[4].last_message.body, "Plan");
  state = apply(state, ["message_deleted", { room: 4, message: 300, seq: 1 }]);
  assert.equal(state.rooms[4].last_message.deleted, true);
});

test("reading: our own read mark clears the room; others' feed the receipts", () => {
  let state = apply(page(), ["visibility", { visible: false }], ["new_message", { message: message(3) }], ["new_message", { message: message(4, { sender: ann }) }]);
  assert.equal(state.rooms[3].unread, 1);
  state = apply(state, ["messages_read", { room: 3, user: 1, last_read_seq: 4 }]);
  assert.equal(state.rooms[3].unread, 0);
  const mine = state.messages[3][104];
  assert.deepEqual(readersOf(state, mine), []);
  state = apply(state, ["messages_read", { room: 3, user: 2, last_read_seq: 4 }]);
  assert.deepEqual(readersOf(state, mine).map((user) => user.id), [2]);
});

test("presence and typing: events set them, ready replaces them, a message ends its sender's typing", () => {
  let state = apply(page(), ["user_online", { user: bob, online: true, status: "busy", status_text: "focus", last_seen: null }]);
  assert.equal(state.presence[2].status, "busy");
  state = apply(state, ["user_offline", { user: bob, online: false, status: "busy", status_text: "", last_seen: "2026-11-24T10:00:00Z" }]);
  assert.deepEqual(state.presence[2], { status: "offline", status_text: "", last_seen: "2026-11-24T10:00:00Z" });
  state = apply(state, ["user_typing", { room: 3, user: bob }], ["user_typing", { room: 3, user: ann }]);
  assert.deepEqual(Object.keys(state.typing[3]), ["2"], "never oneself");
  state = apply(state, ["new_message", { message: message(3) }]);
  assert.deepEqual(state.typing[3], {});
  state = apply(state, ["ready", { rooms: [room(3, { last_seq: 3 })], presence: [{ user: ann, online: true, status: "online" }], typing: [{ room: 3, user: bob }], notifications_unread: 4 }]);
  assert.deepEqual(Object.keys(state.typing[3]), ["2"]);
  assert.equal(state.notifications.unread, 4);
  assert.equal(state.rooms[4], undefined, "a room `ready` no longer lists is gone");
});

test("rooms: added, updated with room-level fields only, removed", () => {
  let state = apply(page(), ["room_added", { room: room(9, { unread: 2, role: "member" }) }]);
  state = apply(state, ["room_updated", { room: { id: 9, kind: "group", name: "Hall", topic: "t", is_public: true, members_can_pin: true, archived: false, last_seq: 5 } }]);
  assert.equal(state.rooms[9].name, "Hall");
  assert.equal(state.rooms[9].unread, 2);
  assert.equal(state.rooms[9].role, "member");
  state = apply(state, ["room_removed", { room: 9 }]);
  assert.equal(state.rooms[9], undefined);
});

test("member_updated changes the member's role, and the caller's own role of the room when it is theirs", () => {
  const open = { ...room(3, { last_seq: 2, role: "member" }), members: [{ user: ann, role: "member", last_read_seq: 2 }, { user: bob, role: "owner", last_read_seq: 2 }] };
  const state = initialState({ me: ann, rooms: [room(3, { role: "member" }), room(4, { role: "member" })], peers: {}, room: open, history: { messages: [], has_more: false } });
  const promoted = apply(state, ["member_updated", { room: 3, user: 1, role: "admin" }]);
  assert.equal(promoted.members[3][1].role, "admin");
  assert.equal(promoted.rooms[3].role, "admin");
  assert.equal(promoted.members[3][2], state.members[3][2], "the other member is kept");
  assert.equal(promoted.rooms[4], state.rooms[4], "other rooms are kept");
  assert.equal(apply(promoted, ["member_updated", { room: 3, user: 1, role: "admin" }]), promoted, "a repeat changes nothing");
  const other = apply(state, ["member_updated", { room: 3, user: 2, role: "admin" }]);
  assert.equal(other.members[3][2].role, "admin");
  assert.equal(other.rooms[3], state.rooms[3], "someone else's role is not the caller's");
  const elsewhere = apply(state, ["member_updated", { room: 4, user: 1, role: "admin" }]);
  assert.equal(elsewhere.rooms[4].role, "admin", "a room whose members are not held still learns the caller's role");
  assert.equal(elsewhere.members[4], undefined);
});

test("members join and leave the open room", () => {
  const cat = { id: 5, username: "cat", display_name: "Cat", avatar_url: null };
  let state = apply(page(), ["member_joined", { room: 3, user: cat, member: { user: cat, role: "member", last_read_seq: 0 } }]);
  assert.equal(Object.keys(state.members[3]).length, 3);
  state = apply(state, ["member_left", { room: 3, user: cat }]);
  assert.equal(Object.keys(state.members[3]).length, 2);
});

test("notifications: counted, listed once loaded, read by id or all", () => {
  const note = { id: 7, kind: "mention", room: 3, room_name: "r3", message: { id: 101 }, actor: bob, read_at: null, created_at: "x" };
  let state = apply(page(), ["notification", note]);
  assert.equal(state.notifications.unread, 1);
  assert.equal(state.notifications.items, null);
  state = apply(state, ["notifications_loaded", { notifications: [note], unread_count: 1 }], ["notifications_read", { ids: [7], read_at: "now", unread_count: 0 }]);
  assert.equal(state.notifications.unread, 0);
  assert.equal(state.notifications.items[0].read_at, "now");
  state = apply(state, ["message_deleted", { room: 3, message: 101, seq: 1 }]);
  assert.deepEqual(state.notifications.items, []);
});

test("thread replies stay out of the main timeline and the room's unread, but move its last_seq", () => {
  let state = apply(page(), ["visibility", { visible: false }], ["new_message", { message: message(3, { thread_root: 101 }) }]);
  assert.deepEqual(timelineOf(state, 3).map((each) => each.seq), [1, 2]);
  assert.deepEqual(repliesOf(state, 3, 101).map((each) => each.seq), [3]);
  assert.equal(state.rooms[3].unread, 0);
  assert.equal(state.rooms[3].last_seq, 3);
  state = apply(state, ["thread_updated", { room: 3, message: 101, thread_summary: { replies: 1, last_reply_at: "x", participants: [2] } }]);
  assert.equal(state.messages[3][101].thread_summary.replies, 1);
  state = apply(state, ["new_message", { message: message(4, { thread_root: 101, also_to_room: true }) }]);
  assert.deepEqual(timelineOf(state, 3).map((each) => each.seq), [1, 2, 4]);
});

test("sync adds the missed messages and replaces the changed ones it holds", () => {
  const state = apply(page(), ["synced", { room: 3, messages: [message(3)], changed: [{ ...message(1), body: "edited" }, message(50)], has_more: false }]);
  assert.equal(state.messages[3][101].body, "edited");
  assert.equal(state.messages[3][150], undefined, "a changed message not held is not added");
  assert.equal(state.history[3].contiguous, 3);
});

test("a send the server slowed down is remembered until it goes", () => {
  let state = apply(page(), ["send_delayed", { room: 3, until: 5000 }]);
  assert.equal(state.delayedUntil[3], 5000);
  state = apply(state, ["send_resumed", { room: 3 }]);
  assert.equal(state.delayedUntil[3], undefined);
});

test("the store tells subscribers of changes only", () => {
  const store = createStore(page());
  let calls = 0;
  store.subscribe(() => (calls += 1));
  store.dispatch({ type: "unknown_event", data: {} });
  store.dispatch({ type: "message_pinned", data: { room: 3, message: 999 } });
  assert.equal(calls, 0);
  store.dispatch({ type: "message_pinned", data: { room: 3, message: 101 } });
  assert.equal(calls, 1);
});

test("followed threads: a reply by someone else is unread there until the thread is read", () => {
  const thread = { root: message(1), thread_summary: { replies: 0, last_reply_at: null, participants: [] }, unread: 0, room: 3 };
  let state = apply(page(), ["threads_loaded", { threads: [thread] }]);
  state = apply(state, ["new_message", { message: message(3, { thread_root: 101 }) }], ["new_message", { message: message(4, { thread_root: 101, sender: ann }) }]);
  assert.equal(state.threads[0].unread, 1, "one's own reply is not unread");
  state = apply(state, ["thread_updated", { room: 3, message: 101, thread_summary: { replies: 2, last_reply_at: "x", participants: [2, 1] } }]);
  assert.equal(state.threads[0].thread_summary.replies, 2);
  state = apply(state, ["thread_read", { message: 101, last_read_seq: 4, unread: 0 }]);
  assert.equal(state.threads[0].unread, 0);
});

test("followed threads: a list asked for before a read mark does not bring the read replies back as unread", () => {
  const thread = { root: message(1), thread_summary: { replies: 3, last_reply_at: "x", participants: [2] }, unread: 1, room: 3 };
  let state = page();
  const readsBefore = state.threadReads.count; // the list is asked for (the socket's ready) ...
  state = apply(state, ["thread_read", { message: 101, last_read_seq: 9, unread: 0 }]); // ... the thread is read ...
  state = apply(state, ["threads_loaded", { threads: [thread], readsBefore }]); // ... and the older list arrives

  assert.equal(state.threads[0].unread, 0);
  state = apply(state, ["threads_loaded", { threads: [{ ...thread, unread: 2 }], readsBefore: state.threadReads.count }]);
  assert.equal(state.threads[0].unread, 2, "a list asked for after the read says what is unread now");
  assert.deepEqual(state.threadReads.byRoot, {}, "a read mark the lists already count is forgotten");
});

test("a thread fetched over REST is held with the room's messages", () => {
  const state = apply(page(), ["thread_loaded", { root: message(1), messages: [message(5, { thread_root: 101 })], has_more: false }]);
  assert.deepEqual(repliesOf(state, 3, 101).map((each) => each.seq), [5]);
  assert.deepEqual(timelineOf(state, 3).map((each) => each.seq), [1, 2]);
});

test("a muted room keeps its unread count but leaves the title's, and only the caller's settings change", () => {
  let state = apply(page(), ["room_updated", { room: { ...room(4), unread: 9 } }]);
  state = { ...state, rooms: { ...state.rooms, 4: { ...state.rooms[4], unread: 3 } } };
  assert.equal(totalUnread(state), 3);
  const answer = { ...room(4, { name: "stale name", unread: 0 }), muted: true, notify_level: "mentions" };
  const muted = apply(state, ["membership_saved", { room: answer }]);
  assert.equal(muted.rooms[4].muted, true);
  assert.equal(muted.rooms[4].notify_level, "mentions");
  assert.equal(muted.rooms[4].unread, 3);
  assert.equal(muted.rooms[4].name, "r4");
  assert.equal(totalUnread(muted), 0);
  assert.equal(muted.rooms[3], state.rooms[3]);
});

test("membership_updated from another tab mutes a room and takes it out of the title's count, changing only what came", () => {
  let state = page();
  state = { ...state, rooms: { ...state.rooms, 4: { ...state.rooms[4], unread: 3, muted: false, notify_level: "all" } } };
  assert.equal(totalUnread(state), 3);
  const muted = apply(state, ["membership_updated", { room: 4, muted: true }]);
  assert.equal(muted.rooms[4].muted, true);
  assert.equal(muted.rooms[4].notify_level, "all", "a field that did not come stays");
  assert.equal(muted.rooms[4].unread, 3);
  assert.equal(totalUnread(muted), 0);
  assert.equal(muted.rooms[3], state.rooms[3]);
  const level = apply(muted, ["membership_updated", { room: 4, notify_level: "mentions" }]);
  assert.equal(level.rooms[4].notify_level, "mentions");
  assert.equal(level.rooms[4].muted, true);
  assert.equal(apply(level, ["membership_updated", { room: 4, muted: true }]), level, "what it is already changes nothing");
  assert.equal(apply(level, ["membership_updated", { room: 99, muted: true }]), level, "a room not in the list is ignored");
});

test("user_updated merges the changed fields into every object of that user and keeps the others", () => {
  let state = apply(page(), ["user_online", { user: bob, online: true, status: "online", status_text: "", last_seen: null }]);
  const before = state;
  const changes = { display_name: "Robert", avatar_small_url: "/avatars/k/64.webp", avatar_url: "/avatars/k/256.webp" };
  state = apply(state, ["user_updated", { user: 2, changes }]);
  assert.equal(state.messages[3][101].sender.display_name, "Robert");
  assert.equal(state.messages[3][102].sender.avatar_small_url, "/avatars/k/64.webp");
  assert.equal(state.members[3][2].user.display_name, "Robert");
  assert.equal(state.members[3][2].last_read_seq, 2);
  assert.equal(state.members[3][1], before.members[3][1]);
  assert.equal(state.me, before.me);
  assert.equal(state.rooms, before.rooms);
  assert.equal(apply(state, ["user_updated", { user: 1, changes: { display_name: "Annie" } }]).me.display_name, "Annie");
  assert.equal(apply(state, ["user_updated", { user: 9, changes: { display_name: "X" } }]).messages, state.messages);
});

test("user_updated renames a direct room's peer and a room's last sender", () => {
  const last = { id: 7, seq: 1, sender: bob, kind: "text", body: "hi", deleted: false, created_at: "2026-11-24T08:00:00Z" };
  let state = initialState({ me: ann, rooms: [room(5, { kind: "direct", peer: bob, last_message: last })], peers: { 5: bob } });
  state = apply(state, ["user_updated", { user: 2, changes: { display_name: "Robert" } }]);
  assert.equal(state.peers[5].display_name, "Robert");
  assert.equal(state.rooms[5].peer.display_name, "Robert");
  assert.equal(state.rooms[5].last_message.sender.display_name, "Robert");
  assert.equal(state.rooms[5].last_message.body, "hi");
});
