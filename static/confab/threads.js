// @ts-check
// Threads: the side panel of one thread (its root and replies, live, with a reply box), and the
// "Threads" list of the threads the user follows, those with unread replies first.
// The replies are messages of the room like any other: the store holds them, the timeline
// leaves them out (they show there only when sent `also_to_room`).

import { api, h, relativeTime } from "./dom.js";
import { messageRenderer } from "./message-view.js";
import { idOf, repliesOf } from "./store.js";
import { previewText } from "./text.js";

/** The open room's thread panel. @param {{store: any, client: any, ui: any, roomId: number}} options */
export function mountThreadPanel({ store, client, ui, roomId }) {
  const panel = /** @type {HTMLElement} */ (document.getElementById("thread-panel"));
  const list = /** @type {HTMLElement} */ (document.getElementById("thread-messages"));
  const form = /** @type {HTMLFormElement} */ (document.getElementById("thread-form"));
  const input = /** @type {HTMLTextAreaElement} */ (document.getElementById("thread-composer"));
  const alsoToRoom = /** @type {HTMLInputElement} */ (document.getElementById("thread-also"));
  const me = store.getState().me;
  const { renderMessage: render, renderPending } = messageRenderer(/** @type {HTMLTemplateElement} */ (document.getElementById("message-template")), { me });
  let rootId = null;
  let readSent = 0;
  let drawnFrom = null;

  const nameOf = (user) => (typeof user === "object" && user?.display_name) || store.getState().members[roomId]?.[idOf(user)]?.user.display_name || "Someone";

  function draw(state) {
    const root = state.messages[roomId]?.[rootId];
    if (!root) return;
    const replies = repliesOf(state, roomId, rootId);
    const pending = (state.outbox[roomId] || []).filter((entry) => entry.thread === rootId);
    const canPin = Boolean(state.rooms[roomId]?.members_can_pin || ["owner", "admin"].includes(state.rooms[roomId]?.role));
    const nodes = [root, ...replies].map((message) => {
      const canDeleteAny = Boolean(state.moderator || ["owner", "admin"].includes(state.rooms[roomId]?.role));
      const node = render(message, { nameOf, parent: null, canPin, canDeleteAny, moderator: state.moderator });
      node.querySelector('[data-action="edit"]')?.remove(); // edits happen in the timeline
      node.querySelector('[data-action="thread"]')?.remove();
      node.querySelector('[data-action="reply"]')?.remove(); // quoting belongs to the room's composer
      if (message.id === rootId) {
        node.classList.add("thread-root");
        node.querySelector(".thread-summary")?.setAttribute("disabled", "");
      }
      return node;
    });
    for (const entry of pending) nodes.push(renderPending(entry, [entry.status === "failed" ? `Not sent: ${entry.error?.message || "error"}` : "Sending…"]));
    list.replaceChildren(...nodes);
    drawnFrom = state.messages[roomId];
    markRead(replies);
  }

  async function markRead(replies) {
    const last = replies.at(-1);
    if (!last || last.seq <= readSent || panel.hidden || document.hidden) return;
    readSent = last.seq;
    try {
      const answer = await api(`messages/${rootId}/thread/read/`, { method: "POST", body: { seq: last.seq } });
      store.dispatch({ type: "thread_read", data: answer });
    } catch (error) {
      readSent = 0; // tried again with the next reply
    }
  }

  async function open(message) {
    const id = message.thread_root || message.id;
    rootId = id;
    readSent = 0;
    ui.panels?.closeAll();
    panel.hidden = false;
    list.replaceChildren(h("li", { class: "panel-loading" }, h("span", { class: "spinner" })));
    try {
      const page = await api(`messages/${id}/thread/?limit=100`);
      if (rootId !== id) return; // another thread was opened meanwhile
      store.dispatch({ type: "thread_loaded", data: page });
      draw(store.getState());
      input.focus();
    } catch (error) {
      list.replaceChildren(h("li", { class: "panel-error" }, `This thread is not available: ${error.message}`));
    }
  }

  function close() {
    if (panel.hidden) return;
    panel.hidden = true;
    rootId = null;
  }

  function send() {
    const body = input.value.trim();
    if (!body || rootId === null) return;
    client.sendMessage(roomId, { body, thread: rootId, also_to_room: alsoToRoom.checked });
    input.value = "";
    alsoToRoom.checked = false;
    input.focus();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    } else if (event.key === "Escape") {
      event.stopPropagation();
      close();
      ui.composer?.focus();
    }
  });
  document.getElementById("thread-close")?.addEventListener("click", () => {
    close();
    ui.composer?.focus();
  });
  list.addEventListener("click", (event) => ui.timeline.onMessageClick(event));

  let previous = store.getState();
  store.subscribe((state) => {
    if (rootId !== null && !panel.hidden && (state.messages[roomId] !== drawnFrom || state.outbox !== previous.outbox)) draw(state);
    previous = state;
  });

  // A link from the Threads list opens its thread: /rooms/3/?thread=41
  const linked = Number(new URLSearchParams(location.search).get("thread"));
  if (linked) open({ id: linked });

  return { open, close };
}

/** The "Threads" list of the sidebar. @param {{store: any, client: any}} options */
export function mountThreadsList({ store, client }) {
  const button = /** @type {HTMLElement} */ (document.getElementById("threads-button"));
  const panel = /** @type {HTMLElement} */ (document.getElementById("threads-panel"));
  const list = /** @type {HTMLElement} */ (document.getElementById("threads-list"));
  const badge = /** @type {HTMLElement} */ (document.getElementById("threads-unread"));
  const empty = /** @type {HTMLElement} */ (document.getElementById("threads-empty"));

  async function load() {
    try {
      const readsBefore = store.getState().threadReads.count;
      store.dispatch({ type: "threads_loaded", data: { threads: await api("threads/"), readsBefore } });
    } catch (error) {
      /* the list stays as it was; the next notification tries again */
    }
  }

  function item(state, thread) {
    const room = state.rooms[thread.room];
    const where = room ? (room.kind === "direct" ? state.peers[room.id]?.display_name || "Direct chat" : `#${room.name}`) : "";
    const replies = thread.thread_summary?.replies || 0;
    return h(
      "li",
      { class: `notif-item${thread.unread ? " unread" : ""}`, "data-testid": "thread-item", dataset: { rootId: thread.root.id } },
      h(
        "a",
        { class: "notif-link", href: `/rooms/${thread.room}/?thread=${thread.root.id}` },
        h(
          "span",
          { class: "notif-text" },
          h("strong", {}, `${thread.root.sender?.display_name || "Someone"} in ${where}`),
          h("span", { class: "notif-body" }, previewText(thread.root.body) || "Attachment"),
          h("small", { "data-testid": "thread-item-counts" }, `${replies} ${replies === 1 ? "reply" : "replies"}${thread.unread ? ` · ${thread.unread} unread` : ""} · last reply ${relativeTime(thread.thread_summary?.last_reply_at)}`),
        ),
      ),
    );
  }

  function draw(state) {
    const threads = state.threads || [];
    const unread = threads.filter((thread) => thread.unread > 0).length;
    badge.hidden = unread === 0;
    badge.textContent = String(unread);
    button.setAttribute("aria-label", unread ? `Threads, ${unread} with unread replies` : "Threads");
    if (panel.hidden) return;
    const sorted = [...threads].sort((a, b) => Number(b.unread > 0) - Number(a.unread > 0) || String(b.thread_summary?.last_reply_at).localeCompare(String(a.thread_summary?.last_reply_at)));
    list.replaceChildren(...sorted.map((thread) => item(state, thread)));
    empty.hidden = threads.length > 0;
  }

  function toggle(open = panel.hidden) {
    panel.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    if (open) {
      draw(store.getState());
      load();
      /** @type {HTMLElement|null} */ (panel.querySelector("button"))?.focus();
    } else button.focus();
  }
  button.addEventListener("click", () => toggle());
  document.getElementById("threads-close")?.addEventListener("click", () => toggle(false));
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") toggle(false);
  });

  let previous = null;
  store.subscribe((state) => {
    if (state.threads !== previous?.threads || state.rooms !== previous?.rooms) draw(state);
    previous = state;
  });
  client.on("ready", load);
  // Someone replied in a thread we follow that the store does not hold yet: ask again.
  client.on("notification", (note) => {
    if (note.kind === "thread_reply" || note.kind === "mention") load();
  });
}
