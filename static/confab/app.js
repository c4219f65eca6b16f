// @ts-check
// Entry module of the signed-in pages. It builds the store from the page's bootstrap data,
// mounts the views, and then wires the connection: every server event goes to the store
// (store.js applies it, once, for every view), and the few things that are not state
// (toasts, desktop alerts, leaving a room that is gone) happen here.

import { ConfabClient, defaultSocketUrl } from "./client.js";
import { mountComposer } from "./composer.js";
import { mountAppDialogs, mountPicker, mountRoomDialogs } from "./dialogs.js";
import { api, avatar, h, icon, prefersReducedMotion } from "./dom.js";
import { mountIdleAway } from "./idle.js";
import { mountShortcuts } from "./keyboard.js";
import { mountMemberControls } from "./members.js";
import { mountNotifyMenu } from "./notify-menu.js";
import { mountNotificationCentre, mountRoomPanels } from "./panels.js";
import { mountRoomSettings } from "./room-settings.js";
import { mountSidebar } from "./sidebar.js";
import { createStore, idOf, initialState, isViewing, roomTitle } from "./store.js";
import { previewText } from "./text.js";
import { mountThreadPanel, mountThreadsList } from "./threads.js";
import { mountTimeline } from "./timeline.js";

/** The server events the store applies (docs/protocol.md, "Server events"). */
export const SERVER_EVENTS = [
  "new_message", "message_edited", "message_restored", "attachment_removed", "message_deleted",
  "message_pinned", "message_unpinned", "reaction_added", "reaction_removed", "thread_updated",
  "messages_read", "member_joined", "member_left", "member_updated", "room_updated", "room_added", "room_removed",
  "membership_updated",
  "user_online", "user_offline", "status_changed", "user_updated", "user_typing", "user_stopped_typing",
  "notification", "notifications_read",
];

// --- Toasts and the screen reader's live region -------------------------------------------------

function announcer() {
  const region = /** @type {HTMLElement} */ (document.getElementById("live-region"));
  return (text) => {
    region.append(h("p", {}, text));
    while (region.childElementCount > 5) region.firstElementChild?.remove();
  };
}

function toaster() {
  const toasts = /** @type {HTMLElement} */ (document.getElementById("toasts"));
  return ({ title, body = "", href = null, tone = "info", user = null, timeout = 5000 }) => {
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
    while (toasts.childElementCount > 4) toasts.firstElementChild?.remove();
    if (timeout) setTimeout(dismiss, timeout);
    return node;
  };
}

function desktopNotify(title, body, roomId, currentRoomId) {
  if (!document.hidden || !("Notification" in window) || Notification.permission !== "granted") return;
  const note = new Notification(title, { body, tag: `room-${roomId}`, icon: "/static/confab/icon.svg" });
  note.addEventListener("click", () => {
    window.focus();
    if (roomId !== currentRoomId) location.assign(`/rooms/${roomId}/`);
    note.close();
  });
}

// --- Start ------------------------------------------------------------------------------------------

export function main() {
  const boot = JSON.parse(/** @type {HTMLElement} */ (document.getElementById("confab-bootstrap")).textContent || "{}");
  const store = createStore(initialState(boot));
  const client = new ConfabClient({ url: defaultSocketUrl(boot.ws_path), userId: boot.me.id, serverTime: boot.server_time });
  const me = boot.me;
  const currentRoomId = boot.room ? boot.room.id : null;
  const toast = toaster();
  const visibility = () => store.dispatch({ type: "visibility", data: { visible: !document.hidden } });
  const announce = announcer();
  /** @type {any} */
  const ui = { toast, announce };
  window["confab"] = { client, store }; // for debugging in the console and for the browser tests

  mountSidebar({ store });
  mountNotificationCentre({ store, ui });
  mountAppDialogs({ me });
  ui.notifyMenu = mountNotifyMenu({ store, ui });
  if (currentRoomId !== null) {
    ui.picker = mountPicker();
    ui.dialogs = mountRoomDialogs({ toast, composer: () => document.getElementById("composer") });
    ui.panels = mountRoomPanels({ store, ui, roomId: currentRoomId });
    ui.roomSettings = mountRoomSettings({ store, ui, roomId: currentRoomId });
    ui.members = mountMemberControls({ store, ui, roomId: currentRoomId });
    // The views listen to the client before the store does: they see an event before it is applied.
    ui.timeline = mountTimeline({ store, client, ui });
    ui.composer = mountComposer({ store, client, ui, roomId: currentRoomId });
    ui.threads = mountThreadPanel({ store, client, ui, roomId: currentRoomId });
  }
  mountThreadsList({ store, client });
  mountShortcuts({ store, ui });

  // Whether the user sees the room decides what counts as unread: read it as each message arrives.
  client.on("new_message", () => visibility());
  client.on("synced", () => visibility());
  // The store applies every server event.
  for (const type of SERVER_EVENTS) client.on(type, (data) => store.dispatch({ type, data }));
  client.on("ready", (data) => store.dispatch({ type: "ready", data }));
  client.on("synced", (data) => store.dispatch({ type: "synced", data }));
  client.on("room_gone", (data) => store.dispatch({ type: "room_gone", data }));
  client.on("state", (state) => store.dispatch({ type: "connection", data: { state } }));
  const outboxChanged = () => store.dispatch({ type: "outbox_changed", data: { entries: client.outbox.map((entry) => ({ ...entry })) } });
  client.on("outbox", (data) => {
    if (data.action === "delayed") {
      const seconds = Math.max(1, Number(data.error?.data?.retry_after) || 1);
      store.dispatch({ type: "send_delayed", data: { room: data.entry.room, until: Date.now() + seconds * 1000 } });
    }
    outboxChanged();
  });
  client.on("sent", ({ entry, message }) => {
    store.dispatch({ type: "send_resumed", data: { room: entry.room } });
    outboxChanged();
    store.dispatch({ type: "message_acked", data: { message } });
  });
  client.on("failed", ({ entry, error }) => {
    store.dispatch({ type: "send_resumed", data: { room: entry.room } });
    outboxChanged();
    if (entry.room === currentRoomId) toast({ title: "Message not sent", body: error.message, tone: "error" });
  });
  outboxChanged();
  if (currentRoomId !== null) client.track(currentRoomId, store.getState().history[currentRoomId].contiguous);
  store.subscribe((state, previous) => {
    const held = state.history[currentRoomId]?.contiguous;
    if (held !== undefined && held !== previous.history[currentRoomId]?.contiguous) client.track(currentRoomId, held);
  });
  document.addEventListener("visibilitychange", visibility);
  visibility();
  // The header's admin tools (invitation links, room settings) follow the caller's role: a member made
  // admin sees them at once, an admin made member loses them (the server refuses their use either way).
  const adminTools = document.querySelectorAll("[data-room-admin-tool]");
  if (adminTools.length) {
    store.subscribe((state, previous) => {
      const role = state.rooms[currentRoomId]?.role;
      if (role === previous.rooms[currentRoomId]?.role) return;
      for (const tool of adminTools) /** @type {HTMLElement} */ (tool).hidden = !role || role === "member";
    });
  }

  // --- What is not state: alerts, and leaving a room that is gone ---------------------------------

  client.on("new_message", ({ message }) => {
    const state = store.getState();
    const room = state.rooms[message.room];
    if (!room || idOf(message.sender) === me.id || room.muted || !message.sender || (message.thread_root && !message.also_to_room)) return;
    const title = room.kind === "direct" ? message.sender.display_name : `${message.sender.display_name} in #${roomTitle(state, room)}`;
    const body = message.body ? previewText(message.body).slice(0, 140) : message.kind === "image" ? "sent a photo" : "sent a file";
    if (message.room !== currentRoomId) toast({ title, body, href: `/rooms/${message.room}/`, user: message.sender });
    // Busy means do not disturb: the notification centre still lists what came.
    const busy = state.presence[me.id]?.status === "busy";
    if (!isViewing(state, message.room) && !busy) desktopNotify(title, body, message.room, currentRoomId);
  });
  client.on("ready", (data) => {
    // `ready` lists who is online; ask for the last seen of the direct-chat partners who are not.
    const online = new Set((data.presence || []).map((item) => idOf(item.user)));
    const away = [...new Set(Object.values(store.getState().peers).map((peer) => peer.id))].filter((id) => !online.has(id));
    if (away.length) {
      api(`presence/?users=${away.slice(0, 100).join(",")}`)
        .then((items) => store.dispatch({ type: "presence_loaded", data: { items } }))
        .catch(() => {});
    }
  });
  client.on("room_added", ({ room }) => {
    if (!room || typeof room !== "object") return;
    client.track(room.id, room.last_seq || 0);
    toast({ title: "You were added to a room", body: roomTitle(store.getState(), room), href: `/rooms/${room.id}/` });
  });
  const gone = (data) => {
    if (idOf(data.room) !== currentRoomId) return;
    toast({ title: "You are no longer in this room", tone: "error" });
    setTimeout(() => location.assign("/"), 1500);
  };
  client.on("room_removed", gone);
  client.on("room_gone", gone);
  // A deleted message withdraws its notifications; the server sends no count of its own for that.
  client.on("message_deleted", async () => {
    if (!store.getState().notifications.unread) return;
    try {
      const page = await api("notifications/?unread=1&limit=1");
      if (Number.isFinite(page?.unread_count)) store.dispatch({ type: "notifications_count", data: { unread: page.unread_count } });
    } catch (error) {
      /* the count corrects itself on the next ready */
    }
  });
  client.on("unauthenticated", () => location.assign(`/accounts/login/?next=${encodeURIComponent(location.pathname)}`));
  document.querySelector('[data-testid="connection"]')?.addEventListener("click", () => client.reconnectNow());

  ui.idle = mountIdleAway({ store, client });
  client.connect();
  return { store, client, ui };
}

main();
