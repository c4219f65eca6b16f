// @ts-check
// The client's state and the one place each server event changes it.
//
// State is plain data, replaced, never mutated: every reducer returns a new
// object for what it changed and keeps the rest, so a view can tell what to
// redraw by comparing references. Reducers are pure (no DOM, no clock, no
// I/O): whatever they need from the outside world (the time, whether the tab
// is visible) comes in the action. `tests/js/store.test.mjs` runs them in node.

/**
 * @typedef {{id: number, username: string, display_name: string, avatar_url: string|null}} User
 * @typedef {{emoji: string, count: number, users: number[]}} Reaction
 * @typedef {{id: number, name: string, content_type: string, size: number, url: string,
 *   thumbnail_url: string|null, width: number|null, height: number|null}} Upload
 * @typedef {{replies: number, last_reply_at: string|null, participants: number[]}} ThreadSummary
 * @typedef {{id: number, room: number, seq: number, sender: User|null, kind: string, body: string,
 *   body_html: string, reply_to: number|null, attachments: Upload[], reactions: Reaction[], pinned: boolean,
 *   edited_at: string|null, deleted: boolean, created_at: string, client_id?: string|null,
 *   thread_root?: number|null, also_to_room?: boolean, thread_summary?: ThreadSummary|null, system?: object|null}} Message
 * @typedef {{id: number, seq: number, sender: User|null, kind: string, body: string, deleted: boolean,
 *   created_at: string}} MessageSummary
 * @typedef {{id: number, kind: string, name: string, topic: string, is_public: boolean, members_can_pin: boolean,
 *   archived: boolean, last_seq: number, created_at: string, last_read_seq?: number, unread?: number, role?: string,
 *   notify_level?: string, muted?: boolean, last_message?: MessageSummary|null, peer?: User|null}} Room
 * @typedef {{user: User, role?: string, joined_at?: string, last_read_seq?: number}} Member
 * @typedef {{status: string, status_text: string, last_seen: string|null}} Presence
 * @typedef {{id: number, kind: string, room: number|null, room_name: string, message: MessageSummary|null,
 *   actor: User|null, read_at: string|null, created_at: string}} Notification
 * @typedef {{client_id: string, room: number, body: string, status: string, queued_at: string,
 *   error?: {code: string, message: string}, meta?: any}} OutboxEntry
 * @typedef {{root: Message, thread_summary: ThreadSummary, unread: number, room: number}} FollowedThread
 *
 * @typedef {{
 *   me: User,
 *   currentRoomId: number|null,
 *   visible: boolean,
 *   connection: string,
 *   rooms: Record<number, Room>,
 *   peers: Record<number, User>,
 *   messages: Record<number, Record<number, Message>>,
 *   history: Record<number, {contiguous: number, hasMoreBefore: boolean}>,
 *   members: Record<number, Record<number, Member>>,
 *   presence: Record<number, Presence>,
 *   typing: Record<number, Record<number, User>>,
 *   notifications: {unread: number, items: Notification[]|null},
 *   outbox: Record<number, OutboxEntry[]>,
 *   delayedUntil: Record<number, number>,
 *   threads: FollowedThread[]|null,
 *   threadReads: {count: number, byRoot: Record<number, {unread: number, n: number}>},
 *   moderator: boolean,
 * }} State
 *
 * @typedef {{type: string, [key: string]: any}} Action
 */

/** The state of a page, from the server's bootstrap data (`confab-bootstrap`). */
export function initialState(boot) {
  /** @type {State} */
  let state = {
    me: boot.me,
    currentRoomId: boot.room ? boot.room.id : null,
    visible: true,
    connection: "connecting",
    rooms: {},
    peers: {},
    messages: {},
    history: {},
    members: {},
    presence: {},
    typing: {},
    notifications: { unread: 0, items: null },
    outbox: {},
    delayedUntil: {},
    threads: null,
    // Our read marks of threads, numbered: a list requested before one of them does not undo it.
    threadReads: { count: 0, byRoot: {} },
    moderator: Boolean(boot.moderator), // may delete any message and remove members (the page says)
  };
  for (const room of boot.rooms || []) state.rooms[room.id] = room;
  for (const [id, user] of Object.entries(boot.peers || {})) state.peers[Number(id)] = user;
  if (boot.room) {
    const room = boot.room;
    state.rooms[room.id] = { ...(state.rooms[room.id] || {}), ...withoutMembers(room) };
    state.members[room.id] = Object.fromEntries((room.members || []).map((member) => [member.user.id, member]));
    const page = boot.history?.messages || [];
    // Sync resumes after the newest message the page was rendered with (the seqs before the first are history).
    state.history[room.id] = {
      contiguous: page.length ? page[0].seq - 1 : room.last_seq || 0,
      hasMoreBefore: Boolean(boot.history?.has_more),
    };
    state = withMessages(state, room.id, page);
  }
  return state;
}

function withoutMembers(room) {
  const { members, ...rest } = room;
  return rest;
}

// --- Helpers (pure) --------------------------------------------------------------------------------

/** An id from a user object or an id. */
export function idOf(value) {
  return Number(typeof value === "object" && value !== null ? value.id : value);
}

/** A message that shows in the room's main timeline (thread replies show only in their thread). */
export function inMainTimeline(message) {
  return !message.thread_root || Boolean(message.also_to_room);
}

/** @param {Message} message @returns {MessageSummary} */
export function summaryOf(message) {
  return {
    id: message.id,
    seq: message.seq,
    sender: message.sender,
    kind: message.kind,
    body: message.deleted ? "" : (message.body || "").slice(0, 200),
    deleted: message.deleted,
    created_at: message.created_at,
  };
}

/** The room with one field set, or the same room when nothing changes. */
/** The same map when no value changed (views compare references), else a new one. */
function mapValues(map, change) {
  if (!map) return map;
  let changed = false;
  const next = {};
  for (const [key, value] of Object.entries(map)) {
    next[key] = change(value);
    if (next[key] !== value) changed = true;
  }
  return changed ? next : map;
}

function patchRoom(state, roomId, change) {
  const room = state.rooms[roomId];
  if (!room) return state;
  const next = typeof change === "function" ? change(room) : change;
  if (!next) return state;
  return { ...state, rooms: { ...state.rooms, [roomId]: { ...room, ...next } } };
}

/** Add or replace messages of a room; advance the room's contiguous seq over what is now held. */
function withMessages(state, roomId, messages) {
  if (!messages.length) return state;
  const held = { ...(state.messages[roomId] || {}) };
  for (const message of messages) held[message.id] = message;
  const history = state.history[roomId];
  let nextHistory = state.history;
  if (history) {
    const seqs = new Set(Object.values(held).map((message) => message.seq));
    let contiguous = history.contiguous;
    while (seqs.has(contiguous + 1)) contiguous += 1;
    if (contiguous !== history.contiguous) nextHistory = { ...state.history, [roomId]: { ...history, contiguous } };
  }
  return { ...state, messages: { ...state.messages, [roomId]: held }, history: nextHistory };
}

/** Patch one held message; a message not held is left alone (it comes whole with history or sync). */
function patchMessage(state, roomId, messageId, change) {
  const message = state.messages[roomId]?.[messageId];
  if (!message) return state;
  const next = { ...message, ...change(message) };
  return { ...state, messages: { ...state.messages, [roomId]: { ...state.messages[roomId], [messageId]: next } } };
}

/** What a deleted message keeps. */
export function deletedCopy(message) {
  return { ...message, deleted: true, body: "", body_html: "", attachments: [], reactions: [], pinned: false };
}

/** The message's reactions after one change: the server's count for the emoji, the user added or taken out. */
export function reactionsAfter(reactions, { emoji, user, count }, added) {
  const userId = Number(user);
  const next = (reactions || []).map((reaction) => ({ ...reaction, users: [...reaction.users] }));
  let reaction = next.find((each) => each.emoji === emoji);
  if (!reaction) {
    reaction = { emoji, count: 0, users: [] };
    next.push(reaction);
  }
  reaction.users = reaction.users.filter((id) => id !== userId);
  if (added) reaction.users.push(userId);
  reaction.count = count;
  return next.filter((each) => each.count > 0);
}

/** A presence object ({user, online, status, status_text, last_seen}) as the state keeps it. */
function presenceEntry(item, previous, offline = false) {
  return {
    status: offline || item.online === false ? "offline" : item.status || "online",
    status_text: item.status_text || "",
    last_seen: item.last_seen || previous?.last_seen || null,
  };
}

function withPresence(state, items, offline = false) {
  if (!items.length) return state;
  const presence = { ...state.presence };
  for (const item of items) {
    const userId = idOf(item.user);
    if (userId) presence[userId] = presenceEntry(item, presence[userId], offline);
  }
  return { ...state, presence };
}

function withoutTypist(state, roomId, userId) {
  if (!state.typing[roomId]?.[userId]) return state;
  const { [userId]: _gone, ...rest } = state.typing[roomId];
  return { ...state, typing: { ...state.typing, [roomId]: rest } };
}

/** The room is in front of the user right now: open and the tab visible. */
export function isViewing(state, roomId) {
  return state.visible && state.currentRoomId === Number(roomId);
}

/** A message changed: the room list's `last_message` follows when it is that message. */
function followLastMessage(state, roomId, messageId, change) {
  return patchRoom(state, roomId, (room) =>
    room.last_message?.id === messageId ? { last_message: { ...room.last_message, ...change } } : null,
  );
}

// --- Reducers: one per server event, then the client's own actions ----------------------------------

/** @type {Record<string, (state: State, data: any) => State>} */
export const reducers = {
  ready(state, data) {
    const rooms = {};
    for (const room of data.rooms || []) {
      rooms[room.id] = isViewing(state, room.id) ? { ...room, unread: 0 } : room;
      // Keep what `ready` does not carry for the open room (its detail fields).
      if (state.rooms[room.id] && room.id === state.currentRoomId) rooms[room.id] = { ...state.rooms[room.id], ...rooms[room.id] };
    }
    const peers = { ...state.peers };
    for (const room of data.rooms || []) if (room.kind === "direct" && room.peer) peers[room.id] = room.peer;
    // Who is online comes whole with `ready`: everyone else known is offline now.
    const online = new Set((data.presence || []).map((item) => idOf(item.user)));
    const presence = { ...state.presence };
    for (const [userId, entry] of Object.entries(presence)) {
      if (!online.has(Number(userId)) && entry.status !== "offline") presence[userId] = { ...entry, status: "offline" };
    }
    for (const peer of Object.values(peers)) if (!online.has(peer.id) && !presence[peer.id]) presence[peer.id] = { status: "offline", status_text: "", last_seen: null };
    const typing = {};
    for (const item of data.typing || []) {
      const userId = idOf(item.user);
      if (userId === state.me.id) continue;
      typing[item.room] = { ...(typing[item.room] || {}), [userId]: item.user };
    }
    const next = { ...state, rooms, peers, presence, typing, notifications: { ...state.notifications, unread: data.notifications_unread || 0 } };
    return withPresence(next, data.presence || []);
  },

  new_message(state, { message }) {
    // Messages are held for the room the page shows; other rooms keep their summary (`last_message`) only,
    // so a long session in busy rooms does not pile up their traffic.
    let next = state.history[message.room] ? withMessages(state, message.room, [message]) : state;
    next = withoutTypist(next, message.room, idOf(message.sender));
    const room = next.rooms[message.room];
    if (!room || message.seq <= (room.last_seq || 0)) return next; // known already (our own ack, a repeat)
    if (message.thread_root && next.threads && idOf(message.sender) !== state.me.id) {
      // A new reply in a thread we follow is unread there until the thread is read.
      next = { ...next, threads: next.threads.map((thread) => (thread.root.id === message.thread_root ? { ...thread, unread: thread.unread + 1 } : thread)) };
    }
    const change = { last_seq: message.seq };
    if (inMainTimeline(message)) {
      change.last_message = summaryOf(message);
      const fromMe = idOf(message.sender) === state.me.id;
      if (!fromMe && !isViewing(state, message.room) && message.kind !== "system") change.unread = (room.unread || 0) + 1;
    }
    return patchRoom(next, message.room, change);
  },

  message_edited(state, data) {
    const next = patchMessage(state, data.room, data.message, () => ({ body: data.body, body_html: data.body_html, edited_at: data.edited_at }));
    return followLastMessage(next, data.room, data.message, { body: (data.body || "").slice(0, 200) });
  },

  message_restored(state, { message }) {
    const next = state.messages[message.room]?.[message.id] ? withMessages(state, message.room, [message]) : state;
    return followLastMessage(next, message.room, message.id, summaryOf(message));
  },

  attachment_removed(state, data) {
    const upload = Number(data.upload);
    return patchMessage(state, data.room, data.message, (message) => ({
      attachments: (message.attachments || []).filter((each) => each.id !== upload),
    }));
  },

  message_deleted(state, data) {
    let next = patchMessage(state, data.room, data.message, deletedCopy);
    next = followLastMessage(next, data.room, data.message, { deleted: true, body: "" });
    // A deleted message takes its notifications with it.
    const items = next.notifications.items;
    if (items?.some((note) => note.message?.id === data.message)) {
      next = { ...next, notifications: { ...next.notifications, items: items.filter((note) => note.message?.id !== data.message) } };
    }
    return next;
  },

  message_pinned(state, data) {
    return patchMessage(state, data.room, data.message, () => ({ pinned: true }));
  },

  message_unpinned(state, data) {
    return patchMessage(state, data.room, data.message, () => ({ pinned: false }));
  },

  reaction_added(state, data) {
    return patchMessage(state, data.room, data.message, (message) => ({ reactions: reactionsAfter(message.reactions, data, true) }));
  },

  reaction_removed(state, data) {
    return patchMessage(state, data.room, data.message, (message) => ({ reactions: reactionsAfter(message.reactions, data, false) }));
  },

  thread_updated(state, data) {
    const next = patchMessage(state, data.room, data.message, () => ({ thread_summary: data.thread_summary }));
    if (!next.threads) return next;
    const threads = next.threads.map((thread) =>
      thread.root.id === data.message ? { ...thread, thread_summary: data.thread_summary } : thread,
    );
    return { ...next, threads };
  },

  messages_read(state, data) {
    const userId = idOf(data.user);
    let next = state;
    const member = state.members[data.room]?.[userId];
    if (member && (member.last_read_seq || 0) < data.last_read_seq) {
      next = {
        ...next,
        members: { ...next.members, [data.room]: { ...next.members[data.room], [userId]: { ...member, last_read_seq: data.last_read_seq } } },
      };
    }
    if (userId !== state.me.id) return next;
    return patchRoom(next, data.room, (room) => ({
      last_read_seq: Math.max(room.last_read_seq || 0, data.last_read_seq),
      unread: data.last_read_seq >= (room.last_seq || 0) ? 0 : room.unread,
    }));
  },

  member_joined(state, data) {
    if (!data.user) return state;
    const members = { ...(state.members[data.room] || {}), [data.user.id]: data.member || { user: data.user, last_read_seq: 0 } };
    return { ...state, members: { ...state.members, [data.room]: members } };
  },

  member_left(state, data) {
    const userId = idOf(data.user);
    if (!state.members[data.room]?.[userId]) return state;
    const { [userId]: _gone, ...rest } = state.members[data.room];
    return { ...state, members: { ...state.members, [data.room]: rest } };
  },

  /** A member's role changed: their row in the members list, and the caller's own `role` when it is theirs. */
  member_updated(state, data) {
    const userId = idOf(data.user);
    const roomId = Number(data.room);
    let next = state;
    const member = state.members[roomId]?.[userId];
    if (member && member.role !== data.role) {
      next = { ...next, members: { ...next.members, [roomId]: { ...next.members[roomId], [userId]: { ...member, role: data.role } } } };
    }
    if (userId !== state.me.id) return next;
    return patchRoom(next, roomId, (room) => (room.role === data.role ? null : { role: data.role }));
  },

  room_updated(state, { room: update }) {
    if (!update) return state;
    // Only the room-level fields travel; the caller's own view of the room stays.
    const { id, kind, name, topic, is_public, members_can_pin, archived, last_seq } = update;
    return patchRoom(state, id, (room) => ({ kind, name, topic, is_public, members_can_pin, archived, last_seq: Math.max(room.last_seq || 0, last_seq || 0) }));
  },

  /** The answer of `PATCH rooms/{id}/` with the caller's own settings: only they changed. */
  membership_saved(state, { room }) {
    if (!room) return state;
    return patchRoom(state, room.id, { muted: Boolean(room.muted), notify_level: room.notify_level });
  },

  /** The caller's own settings of a room changed elsewhere (another tab, `/mute`): only the fields that came. */
  membership_updated(state, data) {
    const change = {};
    if (typeof data.muted === "boolean") change.muted = data.muted;
    if (typeof data.notify_level === "string") change.notify_level = data.notify_level;
    return patchRoom(state, idOf(data.room), (room) =>
      Object.entries(change).some(([key, value]) => room[key] !== value) ? change : null,
    );
  },

  room_added(state, { room }) {
    if (!room || typeof room !== "object") return state;
    const peers = room.kind === "direct" && room.peer ? { ...state.peers, [room.id]: room.peer } : state.peers;
    return { ...state, peers, rooms: { ...state.rooms, [room.id]: room } };
  },

  room_removed(state, data) {
    const roomId = idOf(data.room);
    if (!state.rooms[roomId]) return state;
    const { [roomId]: _gone, ...rooms } = state.rooms;
    return { ...state, rooms };
  },

  user_online(state, data) {
    return withPresence(state, [data]);
  },

  user_offline(state, data) {
    return withPresence(state, [data], true);
  },

  status_changed(state, data) {
    return withPresence(state, [data]);
  },

  /** A profile change (`display_name`, `avatar_url`, `avatar_small_url`): merged into every user object of that id. */
  user_updated(state, data) {
    const userId = idOf(data.user);
    const changes = data.changes && typeof data.changes === "object" ? data.changes : null;
    if (!userId || !changes) return state;
    /** Each object holding the user is replaced, the others kept: views redraw only what shows them. */
    const merged = (user) => (user && typeof user === "object" && user.id === userId ? { ...user, ...changes } : user);
    const next = { ...state };
    if (state.me?.id === userId) next.me = merged(state.me);
    next.peers = mapValues(state.peers, (peer) => merged(peer));
    next.rooms = mapValues(state.rooms, (room) => {
      const peer = merged(room.peer);
      const sender = merged(room.last_message?.sender);
      if (peer === room.peer && sender === room.last_message?.sender) return room;
      return { ...room, peer, last_message: room.last_message ? { ...room.last_message, sender } : room.last_message };
    });
    next.members = mapValues(state.members, (members) =>
      mapValues(members, (member) => (member.user?.id === userId ? { ...member, user: merged(member.user) } : member)),
    );
    next.messages = mapValues(state.messages, (messages) =>
      mapValues(messages, (message) => (message.sender?.id === userId ? { ...message, sender: merged(message.sender) } : message)),
    );
    return next;
  },

  user_typing(state, data) {
    const userId = idOf(data.user);
    if (userId === state.me.id) return state;
    const user = typeof data.user === "object" ? data.user : state.members[data.room]?.[userId]?.user || { id: userId, display_name: "Someone" };
    return { ...state, typing: { ...state.typing, [data.room]: { ...(state.typing[data.room] || {}), [userId]: user } } };
  },

  user_stopped_typing(state, data) {
    return withoutTypist(state, data.room, idOf(data.user));
  },

  notification(state, note) {
    const items = state.notifications.items ? [note, ...state.notifications.items.filter((each) => each.id !== note.id)] : null;
    return { ...state, notifications: { unread: state.notifications.unread + 1, items } };
  },

  notifications_read(state, data) {
    const ids = data.ids ? new Set(data.ids.map(Number)) : null;
    const items = state.notifications.items?.map((note) =>
      !note.read_at && (!ids || ids.has(note.id)) ? { ...note, read_at: data.read_at || "read" } : note,
    ) || null;
    const unread = Number.isFinite(data.unread_count) ? data.unread_count : state.notifications.unread;
    return { ...state, notifications: { unread: Math.max(0, unread), items } };
  },

  // --- The client's own actions ------------------------------------------------------------------

  /** `sync` answered for one room: the missed messages, and those changed while away. */
  synced(state, data) {
    const held = state.messages[data.room] || {};
    const changed = (data.changed || []).filter((message) => held[message.id]);
    let next = withMessages(state, data.room, [...changed, ...data.messages]);
    for (const message of data.messages) next = reducers.new_message(next, { message });
    return next;
  },

  /** A page of history (older or newer) fetched over REST. */
  history_loaded(state, data) {
    const next = withMessages(state, data.room, data.messages);
    const history = next.history[data.room];
    if (!history || data.direction !== "before") return next;
    return { ...next, history: { ...next.history, [data.room]: { ...history, hasMoreBefore: Boolean(data.has_more) } } };
  },

  /** The whole message from an action's ack (our send, edit, reaction, pin). */
  message_acked(state, { message }) {
    if (!message) return state;
    return reducers.new_message(state, { message });
  },

  /** `mark_as_read` answered. */
  read_acked(state, data) {
    return patchRoom(state, data.room, (room) => ({
      last_read_seq: Math.max(room.last_read_seq || 0, data.last_read_seq || 0),
      unread: data.unread ?? 0,
    }));
  },

  visibility(state, { visible }) {
    return state.visible === visible ? state : { ...state, visible };
  },

  /** The socket's state: connecting, online or offline. */
  connection(state, { state: connection }) {
    return state.connection === connection ? state : { ...state, connection };
  },

  typing_expired(state, data) {
    return withoutTypist(state, data.room, data.user);
  },

  room_gone(state, data) {
    return reducers.room_removed(state, data);
  },

  presence_loaded(state, { items }) {
    return withPresence(state, items);
  },

  notifications_loaded(state, data) {
    return { ...state, notifications: { unread: data.unread_count ?? state.notifications.unread, items: data.notifications || [] } };
  },

  notifications_count(state, { unread }) {
    return { ...state, notifications: { ...state.notifications, unread: Math.max(0, unread) } };
  },

  /** The client's outbox changed: what waits to be sent, per room. */
  outbox_changed(state, { entries }) {
    /** @type {Record<number, OutboxEntry[]>} */
    const outbox = {};
    for (const entry of entries) (outbox[entry.room] ||= []).push(entry);
    return { ...state, outbox };
  },

  /** The server refused a send for a while (`rate_limited`): the outbox waits until `until` (ms). */
  send_delayed(state, { room, until }) {
    return { ...state, delayedUntil: { ...state.delayedUntil, [room]: until } };
  },

  send_resumed(state, { room }) {
    if (!(room in state.delayedUntil)) return state;
    const { [room]: _gone, ...rest } = state.delayedUntil;
    return { ...state, delayedUntil: rest };
  },

  /** A thread fetched over REST: its root and replies are messages of the room like any other. */
  thread_loaded(state, { root, messages }) {
    return withMessages(state, root.room, [root, ...messages]);
  },

  /** The followed threads (`GET threads/`), asked for when `readsBefore` of our read marks were made:
   * a thread read since (its answer came first) keeps what that read said, not the older list's count.
   * The marks this list already counts are forgotten: the map holds only reads newer than the last list. */
  threads_loaded(state, { threads, readsBefore = state.threadReads.count }) {
    const newer = Object.entries(state.threadReads.byRoot).filter(([, read]) => read.n > readsBefore);
    const byRoot = Object.fromEntries(newer);
    const fresh = threads.map((thread) => (byRoot[thread.root.id] ? { ...thread, unread: byRoot[thread.root.id].unread } : thread));
    return { ...state, threads: fresh, threadReads: { ...state.threadReads, byRoot } };
  },

  /** Our read mark of a thread moved (`POST messages/{id}/thread/read/`), whether or not the list is here. */
  thread_read(state, { message, unread }) {
    const count = state.threadReads.count + 1;
    const threadReads = { count, byRoot: { ...state.threadReads.byRoot, [message]: { unread, n: count } } };
    const threads = state.threads && state.threads.map((thread) => (thread.root.id === message ? { ...thread, unread } : thread));
    return { ...state, threads, threadReads };
  },
};

/** Apply one action; an unknown type changes nothing. */
export function reduce(state, action) {
  const reducer = reducers[action.type];
  return reducer ? reducer(state, action.data ?? {}) : state;
}

// --- Selectors ----------------------------------------------------------------------------------

/** The messages of a room's main timeline, by seq. */
export function timelineOf(state, roomId) {
  return Object.values(state.messages[roomId] || {})
    .filter(inMainTimeline)
    .sort((a, b) => a.seq - b.seq);
}

/** The replies of a thread, by seq. */
export function repliesOf(state, roomId, rootId) {
  return Object.values(state.messages[roomId] || {})
    .filter((message) => message.thread_root === rootId)
    .sort((a, b) => a.seq - b.seq);
}

/** The rooms of the list, most recent activity first. */
export function sortedRooms(state) {
  const activity = (room) => room.last_message?.created_at || room.created_at || "";
  return Object.values(state.rooms).sort((a, b) => activity(b).localeCompare(activity(a)) || b.id - a.id);
}

export function roomTitle(state, room) {
  if (room.kind === "direct") return state.peers[room.id]?.display_name || room.peer?.display_name || "Direct chat";
  return room.name || "Untitled room";
}

/** Unread messages of the rooms that are not muted (the title's count). */
export function totalUnread(state) {
  let total = 0;
  for (const room of Object.values(state.rooms)) if (!room.muted) total += room.unread || 0;
  return total;
}

/** Who has read a message: members other than its sender whose read mark is at or past it. */
export function readersOf(state, message) {
  return Object.values(state.members[message.room] || {})
    .filter((member) => member.user.id !== idOf(message.sender) && (member.last_read_seq || 0) >= message.seq)
    .map((member) => member.user);
}

// --- The store ----------------------------------------------------------------------------------

/**
 * @param {State} state
 * @returns {{getState: () => State, dispatch: (action: Action) => void, subscribe: (fn: (state: State, previous: State) => void) => () => void}}
 */
export function createStore(state) {
  const listeners = new Set();
  return {
    getState: () => state,
    dispatch(action) {
      const previous = state;
      state = reduce(state, action);
      if (state === previous) return;
      for (const listener of [...listeners]) listener(state, previous);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
