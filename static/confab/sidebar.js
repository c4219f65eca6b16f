// @ts-check
// The sidebar and what the page shows about everything, not only the open room: the room
// list (clones of <template id="room-entry-template">, templates/chat/_room_entry.html),
// the page title's unread count, presence dots and "last seen" lines, the bell's count.

import { fillAvatar, formatTime, hueFor, prefersReducedMotion, relativeTime } from "./dom.js";
import { roomTitle, sortedRooms, totalUnread } from "./store.js";
import { previewText } from "./text.js";

/** @typedef {import("./store.js").State} State */

/** The one line a room entry shows under its name. */
export function roomPreview(room, me) {
  const last = room.last_message;
  if (!last) return room.topic || "No messages yet";
  if (last.deleted) return "Message deleted";
  const body = previewText(last.body) || (last.kind === "image" ? "Photo" : "Attachment");
  const mine = last.sender?.id === me.id;
  if (last.sender && (room.kind === "group" || mine)) return `${mine ? "You" : last.sender.display_name}: ${body}`;
  return body;
}

/** How a person's presence reads: "Online · at lunch", "Last seen 5 min ago". */
export function presenceText(info) {
  if (!info) return "";
  if (info.status && info.status !== "offline") {
    const label = { online: "Online", away: "Away", busy: "Busy" }[info.status] || "Online";
    return info.status_text ? `${label} · ${info.status_text}` : label;
  }
  return info.last_seen ? `Last seen ${relativeTime(info.last_seen)}` : "Offline";
}

/** @param {{store: any}} options */
export function mountSidebar({ store }) {
  const template = /** @type {HTMLTemplateElement} */ (document.getElementById("room-entry-template"));
  const prototype = /** @type {HTMLElement} */ (template.content.querySelector('[data-testid="room"]'));
  const lists = { group: document.getElementById("room-list-group"), direct: document.getElementById("room-list-direct") };
  const baseTitle = document.title;
  const notifCounts = /** @type {HTMLElement[]} */ ([document.getElementById("notif-count"), document.getElementById("room-notif-count")].filter(Boolean));
  const notifButtons = [document.getElementById("notif-button"), document.getElementById("room-notif-button")].filter(Boolean);
  const backUnread = document.getElementById("back-unread");

  /** @param {State} state */
  function entryNode(state, room) {
    const node = /** @type {HTMLElement} */ (prototype.cloneNode(true));
    const active = room.id === state.currentRoomId;
    const peer = room.kind === "direct" ? state.peers[room.id] || room.peer : null;
    const title = roomTitle(state, room);
    node.dataset.roomId = String(room.id);
    node.dataset.kind = room.kind;
    node.classList.toggle("active", active);
    node.classList.toggle("has-unread", Boolean(room.unread));
    node.classList.toggle("muted", Boolean(room.muted));
    const notify = /** @type {HTMLElement} */ (node.querySelector('[data-testid="room-notify-menu"]'));
    notify.dataset.notifyMenuFor = String(room.id);
    notify.setAttribute("aria-label", `Notifications of ${title}`);
    const link = /** @type {HTMLAnchorElement} */ (node.querySelector("a"));
    link.href = `/rooms/${room.id}/`;
    if (active) link.setAttribute("aria-current", "page");
    link.setAttribute("aria-label", `${title}${room.unread ? `, ${room.unread} unread` : ""}`);
    const face = /** @type {HTMLElement} */ (node.querySelector(".avatar"));
    face.classList.toggle("avatar-room", room.kind !== "direct");
    face.querySelector(".avatar-letter").textContent = room.kind === "direct" ? title.charAt(0).toUpperCase() : "#";
    const dot = /** @type {HTMLElement} */ (node.querySelector(".presence-dot"));
    if (peer) {
      fillAvatar(face, peer);
      dot.hidden = false;
      dot.dataset.presenceUser = String(peer.id);
      dot.dataset.status = state.presence[peer.id]?.status || "offline";
      dot.title = presenceText(state.presence[peer.id]);
    }
    node.querySelector(".entry-title").textContent = title;
    const time = /** @type {HTMLElement} */ (node.querySelector(".entry-time"));
    if (room.last_message) {
      time.setAttribute("datetime", room.last_message.created_at);
      time.textContent = formatTime(room.last_message.created_at);
    } else time.remove();
    node.querySelector(".entry-preview").textContent = roomPreview(room, state.me);
    const badge = /** @type {HTMLElement} */ (node.querySelector('[data-testid="unread"]'));
    badge.hidden = !room.unread;
    badge.textContent = String(room.unread || 0);
    return node;
  }

  /** Re-draw the lists, animating moved entries from where they were (FLIP). */
  function drawRooms(state) {
    const before = new Map();
    const badges = new Map();
    for (const node of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('.room-list [data-testid="room"]'))) {
      before.set(node.dataset.roomId, node.getBoundingClientRect().top);
      const badge = /** @type {HTMLElement} */ (node.querySelector('[data-testid="unread"]'));
      badges.set(node.dataset.roomId, badge.hidden ? 0 : Number(badge.textContent));
    }
    const rooms = sortedRooms(state);
    // Entries are rebuilt: keep the keyboard focus on the room it was on.
    const focused = /** @type {HTMLElement|null} */ (document.activeElement?.closest?.('.room-list [data-testid="room"]') || null)?.dataset.roomId;
    for (const [kind, list] of Object.entries(lists)) {
      list?.replaceChildren(...rooms.filter((room) => (room.kind === "direct" ? "direct" : "group") === kind).map((room) => entryNode(state, room)));
    }
    if (focused) /** @type {HTMLElement|null} */ (document.querySelector(`.room-list [data-room-id="${focused}"] a`))?.focus({ preventScroll: true });
    const empty = rooms.length === 0;
    const nav = document.querySelector(".room-nav");
    nav?.classList.toggle("is-empty", empty);
    /** @type {HTMLElement|null} */ (document.getElementById("nav-empty"))?.toggleAttribute("hidden", !empty);
    for (const node of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('.room-list [data-testid="room"]'))) {
      const count = state.rooms[Number(node.dataset.roomId)]?.unread || 0;
      if (count > (badges.get(node.dataset.roomId) ?? count)) node.querySelector('[data-testid="unread"]')?.classList.add("bump");
      if (prefersReducedMotion()) continue;
      const top = before.get(node.dataset.roomId);
      const delta = top === undefined ? 0 : top - node.getBoundingClientRect().top;
      if (top === undefined) node.animate([{ opacity: 0 }, { opacity: 1 }], { duration: 250 });
      else if (Math.abs(delta) > 1) node.animate([{ transform: `translateY(${delta}px)` }, { transform: "none" }], { duration: 250, easing: "ease-out" });
    }
  }

  function drawCounts(state) {
    const total = totalUnread(state);
    document.title = total ? `(${total}) ${baseTitle}` : baseTitle;
    // On a phone the room hides the sidebar: its back button carries the other rooms' count.
    if (backUnread) {
      let others = 0;
      for (const room of Object.values(state.rooms)) if (room.id !== state.currentRoomId && !room.muted) others += room.unread || 0;
      backUnread.hidden = others === 0;
      backUnread.textContent = others > 99 ? "99+" : String(others);
    }
    const unread = state.notifications.unread;
    for (const count of notifCounts) {
      count.textContent = unread > 99 ? "99+" : String(unread);
      count.hidden = unread === 0;
    }
    for (const button of notifButtons) button?.setAttribute("aria-label", unread ? `Notifications, ${unread} unread` : "Notifications");
  }

  function drawPresence(state) {
    for (const dot of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("[data-presence-user]"))) {
      const info = state.presence[Number(dot.dataset.presenceUser)];
      dot.dataset.status = info?.status || "offline";
      dot.title = presenceText(info);
    }
    for (const line of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("[data-last-seen-user]"))) {
      const text = presenceText(state.presence[Number(line.dataset.lastSeenUser)]);
      if (text) line.textContent = text;
    }
  }

  const connection = /** @type {HTMLElement} */ (document.querySelector('[data-testid="connection"]'));
  const CONNECTION_LABELS = { connecting: "Connecting…", online: "Online", offline: "Offline — reconnecting" };
  function drawConnection(state) {
    connection.dataset.state = state.connection;
    connection.querySelector(".conn-label").textContent =
      state.connection === "offline" && navigator.onLine === false ? "Offline" : CONNECTION_LABELS[state.connection];
    document.body.dataset.connection = state.connection;
  }

  let previous = null;
  function draw(state) {
    if (!previous || state.rooms !== previous.rooms || state.peers !== previous.peers) drawRooms(state);
    if (!previous || state.rooms !== previous.rooms || state.notifications !== previous.notifications) drawCounts(state);
    if (!previous || state.presence !== previous.presence || state.rooms !== previous.rooms) drawPresence(state);
    if (!previous || state.connection !== previous.connection) drawConnection(state);
    previous = state;
  }
  store.subscribe(draw);
  draw(store.getState());
  // "Last seen 5 min ago" ages by itself.
  setInterval(() => drawPresence(store.getState()), 60000);
  for (const node of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("[data-avatar-for]"))) node.style.setProperty("--hue", String(hueFor(node.dataset.avatarFor)));
}
