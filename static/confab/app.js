// Entry module of the signed-in pages: the connection, the sidebar of rooms,
// notifications (toasts, the notification centre, desktop alerts, the title
// badge), presence dots and the dialogs. The room view (room.js) mounts on
// top when the page has a room.

import { ConfabClient, defaultSocketUrl } from "./client.js";
import {
  api,
  avatar,
  debounce,
  formatTime,
  h,
  icon,
  paintAvatars,
  prefersReducedMotion,
  relativeTime,
  stripMarkdown,
} from "./dom.js";

const boot = JSON.parse(document.getElementById("confab-bootstrap").textContent);
const me = boot.me;
const baseTitle = document.title;

const client = new ConfabClient({ url: defaultSocketUrl(boot.ws_path), userId: me.id, serverTime: boot.server_time });
window.confab = { client }; // for debugging in the console and for the browser tests

// --- Connection state --------------------------------------------------------------

const connection = document.querySelector('[data-testid="connection"]');
const CONNECTION_LABELS = { connecting: "Connecting…", online: "Online", offline: "Offline — reconnecting" };
function showConnection(state) {
  connection.dataset.state = state;
  connection.querySelector(".conn-label").textContent =
    state === "offline" && navigator.onLine === false ? "Offline" : CONNECTION_LABELS[state];
  document.body.dataset.connection = state;
}
client.on("state", showConnection);
connection.addEventListener("click", () => client.reconnectNow());

// --- Live region and toasts --------------------------------------------------------------

const liveRegion = document.getElementById("live-region");
export function announce(text) {
  const line = h("p", {}, text);
  liveRegion.append(line);
  while (liveRegion.childElementCount > 5) liveRegion.firstElementChild.remove();
}

const toasts = document.getElementById("toasts");
export function toast({ title, body = "", href = null, tone = "info", user = null, timeout = 5000 }) {
  const close = h("button", { type: "button", class: "icon-btn toast-close", "aria-label": "Dismiss" }, icon("x"));
  const content = h(
    href ? "a" : "div",
    { class: "toast-content", href: href || undefined },
    user ? avatar(user, "avatar avatar-sm") : h("span", { class: `toast-icon tone-${tone}` }, icon(tone === "error" ? "alert" : "bell")),
    h("span", { class: "toast-text" }, h("strong", {}, title), body ? h("span", {}, body) : null),
  );
  const node = h("div", { class: `toast tone-${tone}`, role: tone === "error" ? "alert" : "status" }, content, close);
  const dismiss = () => {
    node.classList.add("leaving");
    setTimeout(() => node.remove(), prefersReducedMotion() ? 0 : 200);
  };
  close.addEventListener("click", dismiss);
  toasts.append(node);
  while (toasts.childElementCount > 4) toasts.firstElementChild.remove();
  if (timeout) setTimeout(dismiss, timeout);
  return node;
}

// --- Presence ------------------------------------------------------------------------------

const presence = new Map(); // user id -> {status, last_seen}

function userIdOf(value) {
  return typeof value === "object" && value !== null ? value.id : value;
}

function setPresence(userId, info) {
  if (!userId) return;
  presence.set(Number(userId), { ...(presence.get(Number(userId)) || {}), ...info });
  paintPresence(userId);
}

function presenceText(userId) {
  const info = presence.get(Number(userId));
  if (!info) return "";
  if (info.status && info.status !== "offline") {
    const label = { online: "Online", away: "Away", busy: "Busy" }[info.status] || "Online";
    return info.status_text ? `${label} · ${info.status_text}` : label;
  }
  return info.last_seen ? `Last seen ${relativeTime(info.last_seen)}` : "Offline";
}

function paintPresence(userId) {
  const info = presence.get(Number(userId)) || {};
  document.dispatchEvent(new CustomEvent("confab:presence", { detail: { user: Number(userId) } }));
  for (const dot of document.querySelectorAll(`[data-presence-user="${Number(userId)}"]`)) {
    dot.dataset.status = info.status || "offline";
    dot.title = presenceText(userId);
  }
  for (const line of document.querySelectorAll(`[data-last-seen-user="${Number(userId)}"]`)) {
    const text = presenceText(userId);
    if (text) line.textContent = text;
  }
}

/** A presence object ({user, online, status, status_text, last_seen}) from `ready` or an event. */
function applyPresence(item, { offline = false } = {}) {
  const userId = userIdOf(item.user);
  setPresence(userId, {
    status: offline || item.online === false ? "offline" : item.status || "online",
    status_text: item.status_text || "",
    last_seen: item.last_seen || (offline ? new Date().toISOString() : presence.get(Number(userId))?.last_seen || null),
  });
}

client.on("user_online", (data) => applyPresence(data));
client.on("status_changed", (data) => applyPresence(data));
client.on("user_offline", (data) => applyPresence(data, { offline: true }));
setInterval(() => presence.forEach((_, userId) => paintPresence(userId)), 60000);

// --- Sidebar: the room list --------------------------------------------------------------------

const rooms = new Map(); // id -> room payload
const peers = new Map(Object.entries(boot.peers || {}).map(([id, user]) => [Number(id), user]));
const currentRoomId = boot.room ? boot.room.id : null;
const lists = { group: document.getElementById("room-list-group"), direct: document.getElementById("room-list-direct") };
let viewing = () => false; // the room view replaces this: is the user looking at this room right now?

export function roomTitle(room) {
  if (room.kind === "direct") return peers.get(room.id)?.display_name || "Direct chat";
  return room.name || "Untitled room";
}

function activityOf(room) {
  return room.last_message?.created_at || room.created_at || "";
}

function previewOf(room) {
  const last = room.last_message;
  if (!last) return room.topic || "No messages yet";
  if (last.deleted) return "Message deleted";
  const body = stripMarkdown(last.body) || (last.kind === "image" ? "Photo" : "Attachment");
  const who = last.sender?.id === me.id ? "You" : last.sender?.display_name;
  return room.kind === "group" || last.sender?.id === me.id ? `${who}: ${body}` : body;
}

function roomEntry(room) {
  const peer = peers.get(room.id);
  const active = room.id === currentRoomId;
  const face =
    room.kind === "group"
      ? h("span", { class: "avatar avatar-room", "aria-hidden": "true" }, "#")
      : avatar(peer || { display_name: roomTitle(room) });
  if (peer) face.append(h("span", { class: "presence-dot", dataset: { presenceUser: peer.id, status: presence.get(peer.id)?.status || "offline" } }));
  const badge = h("span", { class: "unread-badge", "data-testid": "unread", hidden: !room.unread }, String(room.unread || 0));
  const time = room.last_message ? h("time", { class: "entry-time", datetime: room.last_message.created_at }, formatTime(room.last_message.created_at)) : null;
  const label = `${roomTitle(room)}${room.unread ? `, ${room.unread} unread` : ""}`;
  return h(
    "li",
    {
      class: `room-entry${active ? " active" : ""}${room.unread ? " has-unread" : ""}`,
      "data-testid": "room",
      dataset: { roomId: room.id, kind: room.kind },
    },
    h(
      "a",
      { href: `/rooms/${room.id}/`, "aria-current": active ? "page" : undefined, "aria-label": label },
      face,
      h(
        "span",
        { class: "entry-text" },
        h("span", { class: "entry-top" }, h("span", { class: "entry-title" }, roomTitle(room)), time),
        h("span", { class: "entry-preview" }, previewOf(room)),
      ),
      badge,
    ),
  );
}

/** Re-render the lists, animating moved entries from where they were (FLIP). */
function renderRooms() {
  const before = new Map();
  const badges = new Map();
  for (const node of document.querySelectorAll('.room-list [data-testid="room"]')) {
    before.set(node.dataset.roomId, node.getBoundingClientRect().top);
    const badge = node.querySelector('[data-testid="unread"]');
    badges.set(node.dataset.roomId, badge.hidden ? 0 : Number(badge.textContent));
  }
  const sorted = [...rooms.values()].sort((a, b) => activityOf(b).localeCompare(activityOf(a)) || b.id - a.id);
  // Entries are rebuilt: keep the keyboard focus on the room it was on.
  const focused = document.activeElement?.closest?.('.room-list [data-testid="room"]')?.dataset.roomId;
  for (const [kind, list] of Object.entries(lists)) {
    list.replaceChildren(...sorted.filter((room) => room.kind === kind).map(roomEntry));
  }
  if (focused) document.querySelector(`.room-list [data-room-id="${focused}"] a`)?.focus({ preventScroll: true });
  document.getElementById("nav-empty")?.toggleAttribute("hidden", rooms.size > 0);
  for (const node of document.querySelectorAll('.room-list [data-testid="room"]')) {
    const count = rooms.get(Number(node.dataset.roomId))?.unread || 0;
    if (count > (badges.get(node.dataset.roomId) ?? count)) node.querySelector('[data-testid="unread"]').classList.add("bump");
  }
  if (!prefersReducedMotion()) {
    for (const node of document.querySelectorAll('.room-list [data-testid="room"]')) {
      const top = before.get(node.dataset.roomId);
      const delta = top === undefined ? 0 : top - node.getBoundingClientRect().top;
      if (top === undefined) node.animate([{ opacity: 0 }, { opacity: 1 }], { duration: 250 });
      else if (Math.abs(delta) > 1)
        node.animate([{ transform: `translateY(${delta}px)` }, { transform: "none" }], { duration: 250, easing: "ease-out" });
    }
  }
  updateTitle();
}

function updateTitle() {
  let total = 0;
  for (const room of rooms.values()) if (!room.muted) total += room.unread || 0;
  document.title = total ? `(${total}) ${baseTitle}` : baseTitle;
}

function ensurePeer(room) {
  // Room summaries name the other user of a direct room (`peer`).
  if (room.kind !== "direct" || !room.peer || peers.has(room.id)) return;
  peers.set(room.id, room.peer);
  renderRooms();
}

export const sidebar = {
  get(roomId) {
    return rooms.get(Number(roomId));
  },
  setUnread(roomId, unread) {
    const room = rooms.get(Number(roomId));
    if (room && room.unread !== unread) {
      room.unread = unread;
      renderRooms();
    }
  },
  setViewing(fn) {
    viewing = fn;
  },
};

for (const room of boot.rooms) rooms.set(room.id, room);
renderRooms();
paintAvatars();

function summaryOf(message) {
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

client.on("ready", (data) => {
  const current = new Set((data.rooms || []).map((room) => room.id));
  for (const id of [...rooms.keys()]) if (!current.has(id)) rooms.delete(id);
  for (const room of data.rooms || []) rooms.set(room.id, room);
  if (viewing(currentRoomId) && rooms.get(currentRoomId)) rooms.get(currentRoomId).unread = 0;
  renderRooms();
  for (const room of rooms.values()) ensurePeer(room);
  const online = new Set();
  for (const item of data.presence || []) {
    applyPresence(item);
    online.add(userIdOf(item.user));
  }
  // `ready` lists who is online; ask for the last seen of the direct-chat partners who are not.
  const away = [...new Set([...peers.values()].map((peer) => peer.id))].filter((id) => !online.has(id));
  for (const id of away) setPresence(id, { status: "offline" });
  if (away.length) {
    api(`presence/?users=${away.slice(0, 100).join(",")}`)
      .then((items) => items.forEach((item) => applyPresence(item)))
      .catch(() => {});
  }
  setNotificationCount(data.notifications_unread || 0);
});

client.on("new_message", ({ message }) => {
  const room = rooms.get(message.room);
  if (!room) return;
  const fromMe = message.sender?.id === me.id;
  if (message.seq > (room.last_seq || 0)) {
    room.last_seq = message.seq;
    room.last_message = summaryOf(message);
  }
  const seen = viewing(message.room);
  if (!fromMe && !seen) room.unread = (room.unread || 0) + 1;
  renderRooms();
  if (fromMe || room.muted) return;
  const title = room.kind === "group" ? `${message.sender.display_name} in #${roomTitle(room)}` : message.sender.display_name;
  const body = message.body ? stripMarkdown(message.body).slice(0, 140) : message.kind === "image" ? "sent a photo" : "sent a file";
  if (message.room !== currentRoomId) toast({ title, body, href: `/rooms/${message.room}/`, user: message.sender });
  if (!seen) desktopNotify(title, body, message.room);
});

client.on("message_deleted", (data) => {
  const room = rooms.get(data.room);
  if (room?.last_message?.id === data.message) {
    room.last_message = { ...room.last_message, deleted: true, body: "" };
    renderRooms();
  }
});

client.on("message_edited", (data) => {
  const room = rooms.get(data.room);
  if (room?.last_message?.id === data.message) {
    room.last_message = { ...room.last_message, body: (data.body || "").slice(0, 200) };
    renderRooms();
  }
});

client.on("message_restored", ({ message }) => {
  const room = rooms.get(message.room);
  if (room?.last_message?.id === message.id) {
    room.last_message = summaryOf(message);
    renderRooms();
  }
});

client.on("messages_read", (data) => {
  if (Number(userIdOf(data.user)) !== me.id) return;
  const room = rooms.get(data.room);
  if (room && data.last_read_seq >= (room.last_seq || 0)) sidebar.setUnread(room.id, 0);
});

client.on("room_added", (data) => {
  const room = data.room;
  if (!room || typeof room !== "object") return;
  rooms.set(room.id, room);
  renderRooms();
  ensurePeer(room);
  client.track(room.id, room.last_seq || 0);
  toast({ title: "You were added to a room", body: roomTitle(room), href: `/rooms/${room.id}/` });
});

function roomGone(roomId) {
  roomId = Number(roomId);
  if (!rooms.has(roomId)) return;
  rooms.delete(roomId);
  renderRooms();
  if (roomId === currentRoomId) {
    toast({ title: "You are no longer in this room", tone: "error" });
    setTimeout(() => location.assign("/"), 1500);
  }
}
client.on("room_removed", (data) => roomGone(userIdOf(data.room)));
client.on("room_gone", (data) => roomGone(data.room));

client.on("room_updated", (data) => {
  const update = data.room;
  const room = update && rooms.get(update.id);
  if (!room) return;
  Object.assign(room, { name: update.name, topic: update.topic, is_public: update.is_public, archived: update.archived });
  renderRooms();
});

client.on("unauthenticated", () => location.assign(`/accounts/login/?next=${encodeURIComponent(location.pathname)}`));

// --- Desktop notifications ------------------------------------------------------------------------

function desktopNotify(title, body, roomId) {
  if (!document.hidden || !("Notification" in window) || Notification.permission !== "granted") return;
  const note = new Notification(title, { body, tag: `room-${roomId}`, icon: "/static/confab/icon.svg" });
  note.addEventListener("click", () => {
    window.focus();
    if (roomId !== currentRoomId) location.assign(`/rooms/${roomId}/`);
    note.close();
  });
}

// --- Notification centre ------------------------------------------------------------------------------

const notifButton = document.getElementById("notif-button");
const notifPanel = document.getElementById("notif-panel");
const notifList = document.getElementById("notif-list");
const notifCount = document.getElementById("notif-count");
const notifDesktop = document.getElementById("notif-desktop");
let notificationsUnread = 0;

function setNotificationCount(count) {
  notificationsUnread = Math.max(0, count);
  notifCount.textContent = notificationsUnread > 99 ? "99+" : String(notificationsUnread);
  notifCount.hidden = notificationsUnread === 0;
  notifButton.setAttribute("aria-label", notificationsUnread ? `Notifications, ${notificationsUnread} unread` : "Notifications");
}

function notificationText(note) {
  const actor = note.actor?.display_name || note.message?.sender?.display_name || "";
  const where = note.room_name ? ` in #${note.room_name}` : "";
  const verb =
    { mention: `mentioned you${where}`, reply: `replied to you${where}`, dm: "sent you a message" }[note.kind] ||
    "Notification";
  const body = note.message ? (note.message.deleted ? "Message deleted" : stripMarkdown(note.message.body)) : "";
  return { title: actor ? `${actor} ${verb}` : verb, body };
}

function notificationItem(note) {
  const { title, body } = notificationText(note);
  const unread = !note.read_at;
  const open = () => {
    if (unread) api("notifications/read/", { method: "POST", body: { ids: [note.id] } }).catch(() => {});
  };
  return h(
    "li",
    {
      class: `notif-item${unread ? " unread" : ""}`,
      "data-testid": "notification",
      dataset: { notificationId: note.id, messageId: note.message?.id ?? "" },
    },
    h(
      note.room ? "a" : "div",
      { href: note.room ? `/rooms/${note.room}/` : undefined, class: "notif-link", onclick: open },
      avatar(note.actor || { display_name: "!" }, "avatar avatar-sm"),
      h(
        "span",
        { class: "notif-text" },
        h("strong", {}, title),
        body ? h("span", { class: "notif-body" }, body) : null,
        h("time", { datetime: note.created_at }, relativeTime(note.created_at)),
      ),
    ),
  );
}

async function loadNotifications() {
  notifList.replaceChildren(h("li", { class: "panel-loading" }, h("span", { class: "spinner" })));
  try {
    const data = await api("notifications/");
    const items = data?.notifications || [];
    if (Number.isFinite(data?.unread_count)) setNotificationCount(data.unread_count);
    notifList.replaceChildren(...items.map(notificationItem));
    document.getElementById("notif-empty").hidden = items.length > 0;
  } catch (error) {
    notifList.replaceChildren(h("li", { class: "panel-error" }, "Notifications are not available right now."));
  }
}

function toggleNotifications(open = notifPanel.hidden) {
  notifPanel.hidden = !open;
  notifButton.setAttribute("aria-expanded", String(open));
  if (open) {
    loadNotifications();
    document.getElementById("notif-desktop-row").hidden = !("Notification" in window) || Notification.permission !== "default";
    notifPanel.querySelector("button:not([hidden])")?.focus();
  } else {
    notifButton.focus();
  }
}

notifButton.addEventListener("click", () => toggleNotifications());
document.getElementById("notif-close").addEventListener("click", () => toggleNotifications(false));
notifPanel.addEventListener("keydown", (event) => {
  if (event.key === "Escape") toggleNotifications(false);
});
document.getElementById("notif-read-all").addEventListener("click", async () => {
  try {
    await api("notifications/read/", { method: "POST", body: {} });
    setNotificationCount(0);
    for (const item of notifList.querySelectorAll(".unread")) item.classList.remove("unread");
  } catch (error) {
    toast({ title: "Could not mark notifications read", body: error.message, tone: "error" });
  }
});
notifDesktop.addEventListener("click", async () => {
  const permission = await Notification.requestPermission();
  document.getElementById("notif-desktop-row").hidden = true;
  if (permission === "granted") toast({ title: "Desktop alerts are on", body: "We'll alert you while this tab is in the background." });
});

client.on("notifications_read", (data) => {
  if (Number.isFinite(data.unread_count)) setNotificationCount(data.unread_count);
  const ids = data.ids ? new Set(data.ids.map(Number)) : null;
  for (const item of notifList.querySelectorAll(".notif-item.unread")) {
    if (!ids || ids.has(Number(item.dataset.notificationId))) item.classList.remove("unread");
  }
});

// A deleted message takes its notifications with it (the server sends no event of its own).
client.on("message_deleted", async (data) => {
  for (const item of notifList.querySelectorAll(`[data-message-id="${Number(data.message)}"]`)) item.remove();
  if (!notificationsUnread) return;
  try {
    const page = await api("notifications/?unread=1&limit=1");
    if (Number.isFinite(page?.unread_count)) setNotificationCount(page.unread_count);
  } catch (error) {
    /* the count corrects itself on the next ready */
  }
});

client.on("notification", (data) => {
  const note = data;
  setNotificationCount(notificationsUnread + 1);
  if (!notifPanel.hidden) {
    notifList.prepend(notificationItem(note));
    document.getElementById("notif-empty").hidden = true;
  }
});

// --- Dialogs: new room, direct chat, public rooms --------------------------------------------------------

function openDialog(id) {
  const dialog = document.getElementById(id);
  dialog.querySelector(".form-error")?.setAttribute("hidden", "");
  dialog.showModal();
  dialog.querySelector("input")?.focus();
  dialog.dispatchEvent(new Event("opened"));
}
document.getElementById("new-room-button").addEventListener("click", () => openDialog("new-room-dialog"));
document.getElementById("new-direct-button").addEventListener("click", () => openDialog("direct-dialog"));
document.getElementById("browse-button").addEventListener("click", () => openDialog("browse-dialog"));
for (const button of document.querySelectorAll("[data-open]")) {
  button.addEventListener("click", () => openDialog(button.dataset.open));
}
for (const button of document.querySelectorAll("dialog [data-close]")) {
  button.addEventListener("click", () => button.closest("dialog").close());
}
for (const dialog of document.querySelectorAll("dialog.modal")) {
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close(); // a click on the backdrop
  });
  // A search field swallows the first Escape (it clears itself): close on it anyway.
  dialog.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      dialog.close();
    }
  });
}

function showError(id, message) {
  const node = document.getElementById(id);
  node.textContent = message;
  node.hidden = false;
}

function personRow(user, { action, label, onPick }) {
  return h(
    "li",
    {},
    h(
      "button",
      { type: "button", class: "pick-row", onclick: () => onPick(user), "aria-label": `${label} ${user.display_name}` },
      avatar(user, "avatar avatar-sm"),
      h("span", { class: "pick-text" }, h("strong", {}, user.display_name), h("small", {}, `@${user.username}`)),
      h("span", { class: "pick-action" }, action),
    ),
  );
}

async function searchUsers(query) {
  return api(`users/?q=${encodeURIComponent(query)}`);
}

// Start a direct chat.
const directResults = document.getElementById("direct-results");
const directSearch = document.getElementById("direct-search");
const runDirectSearch = debounce(async () => {
  try {
    const users = await searchUsers(directSearch.value.trim());
    directResults.replaceChildren(
      ...(users.length
        ? users.map((user) =>
            personRow(user, {
              action: "Message",
              label: "Message",
              onPick: async (picked) => {
                try {
                  const room = await api("rooms/direct/", { method: "POST", body: { user: picked.id } });
                  location.assign(`/rooms/${room.id}/`);
                } catch (error) {
                  showError("direct-error", error.message);
                }
              },
            }),
          )
        : [h("li", { class: "pick-empty" }, "Nobody found. Someone you share no room with is found by their exact username.")]),
    );
  } catch (error) {
    showError("direct-error", error.message);
  }
}, 200);
directSearch.addEventListener("input", runDirectSearch);
document.getElementById("direct-dialog").addEventListener("opened", runDirectSearch);

// Create a group room.
const newRoomForm = document.getElementById("new-room-form");
const chosen = new Map();
const chosenList = document.getElementById("new-room-chosen");
const peopleSearch = document.getElementById("new-room-people");
const peopleResults = document.getElementById("new-room-results");
function renderChosen() {
  chosenList.replaceChildren(
    ...[...chosen.values()].map((user) =>
      h(
        "li",
        { class: "chip" },
        user.display_name,
        h("button", { type: "button", class: "chip-remove", "aria-label": `Remove ${user.display_name}`, onclick: () => { chosen.delete(user.id); renderChosen(); } }, icon("x")),
      ),
    ),
  );
}
const runPeopleSearch = debounce(async () => {
  const query = peopleSearch.value.trim();
  if (!query) {
    peopleResults.replaceChildren();
    return;
  }
  try {
    const users = (await searchUsers(query)).filter((user) => !chosen.has(user.id));
    peopleResults.replaceChildren(
      ...users.slice(0, 6).map((user) =>
        personRow(user, {
          action: "Add",
          label: "Invite",
          onPick: (picked) => {
            chosen.set(picked.id, picked);
            renderChosen();
            peopleSearch.value = "";
            peopleResults.replaceChildren();
            peopleSearch.focus();
          },
        }),
      ),
    );
  } catch (error) {
    showError("new-room-error", error.message);
  }
}, 200);
peopleSearch.addEventListener("input", runPeopleSearch);
newRoomForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(newRoomForm);
  try {
    const room = await api("rooms/", {
      method: "POST",
      body: {
        name: String(form.get("name") || "").trim(),
        topic: String(form.get("topic") || "").trim(),
        is_public: form.get("is_public") === "on",
        members: [...chosen.keys()],
      },
    });
    location.assign(`/rooms/${room.id}/`);
  } catch (error) {
    showError("new-room-error", error.message);
  }
});

// Browse and join public rooms.
const browseResults = document.getElementById("browse-results");
const browseSearch = document.getElementById("browse-search");
const runBrowse = debounce(async () => {
  try {
    const found = await api(`rooms/public/?q=${encodeURIComponent(browseSearch.value.trim())}`);
    browseResults.replaceChildren(
      ...(found.length
        ? found.map((room) =>
            h(
              "li",
              {},
              h(
                "button",
                {
                  type: "button",
                  class: "pick-row",
                  "aria-label": `Join ${room.name}`,
                  onclick: async () => {
                    try {
                      await api(`rooms/${room.id}/members/`, { method: "POST", body: { user: me.id } });
                      location.assign(`/rooms/${room.id}/`);
                    } catch (error) {
                      showError("browse-error", error.message);
                    }
                  },
                },
                h("span", { class: "avatar avatar-sm avatar-room", "aria-hidden": "true" }, "#"),
                h(
                  "span",
                  { class: "pick-text" },
                  h("strong", {}, room.name),
                  h("small", {}, `${room.member_count ?? "?"} member${room.member_count === 1 ? "" : "s"}${room.topic ? ` · ${room.topic}` : ""}`),
                ),
                h("span", { class: "pick-action" }, "Join"),
              ),
            ),
          )
        : [h("li", { class: "pick-empty" }, "No public rooms to join.")]),
    );
  } catch (error) {
    showError("browse-error", error.message);
  }
}, 200);
browseSearch.addEventListener("input", runBrowse);
document.getElementById("browse-dialog").addEventListener("opened", runBrowse);

// --- The room view, then connect ------------------------------------------------------------------------

const presenceOf = (userId) => presence.get(Number(userId));
const shared = { client, boot, me, sidebar, toast, announce, roomTitle, presenceText, presenceOf, peers };
window.confab.app = shared;

async function start() {
  if (boot.room) {
    const { mountRoom } = await import("./room.js");
    mountRoom(shared);
  }
  client.connect();
}
start();
