// @ts-check
// The room's timeline: the messages of the open room as the store holds them, in seq order,
// with day separators, sender grouping, the unread divider, read receipts, the outbox's
// pending messages, history paging and the read mark. It draws from the store and sends
// actions through the client; the store is the only place server events change anything.

import { api, dayKey, formatDay, h, icon, plainText, prefersReducedMotion } from "./dom.js";
import { messageRenderer } from "./message-view.js";
import { idOf, inMainTimeline, readersOf, roomTitle, timelineOf } from "./store.js";

const GROUP_WINDOW_MS = 5 * 60 * 1000;

/** Two messages in a row of one sender, close in time, with nothing between: the second is grouped. */
export function groupedWith(previous, message) {
  return Boolean(
    previous &&
      previous.sender === message.sender &&
      previous.sender !== "" &&
      !previous.system &&
      !message.system &&
      !message.reply &&
      new Date(message.created).getTime() - new Date(previous.created).getTime() < GROUP_WINDOW_MS &&
      dayKey(previous.created) === dayKey(message.created),
  );
}

/**
 * @param {{store: any, client: any, ui: any}} options
 */
export function mountTimeline({ store, client, ui }) {
  const state0 = store.getState();
  const roomId = /** @type {number} */ (state0.currentRoomId);
  const me = state0.me;
  const timeline = /** @type {HTMLElement} */ (document.getElementById("timeline"));
  const list = /** @type {HTMLElement} */ (document.getElementById("messages"));
  const historyTop = /** @type {HTMLElement} */ (document.getElementById("history-top"));
  const jumpPill = /** @type {HTMLElement} */ (document.getElementById("jump-pill"));
  const typingLine = /** @type {HTMLElement} */ (document.getElementById("typing"));
  const { renderMessage: render, renderPending } = messageRenderer(/** @type {HTMLTemplateElement} */ (document.getElementById("message-template")), { me });

  /** @type {Map<number, {message: any, parent: any, canPin: boolean, canDeleteAny: boolean, node: HTMLElement}>} */
  const drawn = new Map();
  /** @type {Map<string, {entry: any, label: string, node: HTMLElement}>} */
  const pendingDrawn = new Map();
  let stuck = true; // following the bottom of the timeline
  let unseenBelow = 0;
  let dividerAfter = null; // the "New messages" line sits after this seq
  let editingId = null;
  let loadingOlder = false;
  let lastReadSent = state0.rooms[roomId]?.last_read_seq || 0;
  const divider = h("li", { class: "new-divider", role: "separator", "aria-label": "New messages", "data-testid": "new-divider" }, h("span", {}, "New messages"));

  const room = () => store.getState().rooms[roomId] || {};
  const nameOf = (user) => {
    if (typeof user === "object" && user?.display_name) return user.display_name;
    return store.getState().members[roomId]?.[idOf(user)]?.user.display_name || "Someone";
  };
  const canPin = () => Boolean(room().members_can_pin || ["owner", "admin"].includes(room().role));
  const canDeleteAny = () => Boolean(store.getState().moderator || ["owner", "admin"].includes(room().role));
  const held = (id) => store.getState().messages[roomId]?.[Number(id)];
  const elementFor = (id) => drawn.get(Number(id))?.node || null;

  // --- Drawing ----------------------------------------------------------------------------------

  function pendingNode(entry, label) {
    const status =
      entry.status === "failed"
        ? [
            icon("alert"),
            h("span", {}, `Not sent: ${entry.error?.message || "error"}`),
            h("button", { type: "button", class: "btn btn-link", onclick: () => client.retry(entry.client_id) }, "Retry"),
            h("button", { type: "button", class: "btn btn-link", onclick: () => client.discard(entry.client_id) }, "Discard"),
          ]
        : [icon("clock"), h("span", {}, label)];
    return renderPending(entry, status);
  }

  function pendingLabel(state) {
    const until = state.delayedUntil[roomId];
    if (until) return "Waiting: too many messages";
    return state.connection === "online" ? "Sending…" : "Waiting for connection…";
  }

  function draw(state) {
    const messages = timelineOf(state, roomId);
    const wanted = [];
    for (const message of messages) {
      const parent = message.reply_to ? state.messages[roomId]?.[message.reply_to] || null : null;
      const pin = canPin();
      const deleteAny = canDeleteAny();
      let item = drawn.get(message.id);
      // The caller's role decides the toolbar: a role change redraws it (made an admin: delete appears).
      if (!item || item.message !== message || item.parent !== parent || item.canPin !== pin || item.canDeleteAny !== deleteAny) {
        if (item && editingId === message.id) {
          wanted.push(item.node); // the edit box stays until saved or cancelled
          continue;
        }
        const node = render(message, { nameOf, parent, canPin: pin, canDeleteAny: deleteAny, moderator: store.getState().moderator });
        if (item) {
          const active = item.node.contains(document.activeElement) ? /** @type {HTMLElement} */ (document.activeElement) : null;
          item.node.replaceWith(node);
          if (active) {
            // Keep the keyboard where it was: the same control in the re-drawn message.
            const { testid, emoji } = active.dataset;
            const selector = testid ? `[data-testid="${testid}"]${emoji ? `[data-emoji="${CSS.escape(emoji)}"]` : ""}` : null;
            const target = /** @type {HTMLElement|null} */ (selector && node.querySelector(selector));
            (target || node).focus({ preventScroll: true });
          }
        }
        item = { message, parent, canPin: pin, canDeleteAny: deleteAny, node };
        drawn.set(message.id, item);
      }
      wanted.push(item.node);
    }
    const ids = new Set(messages.map((message) => message.id));
    for (const [id, item] of drawn) {
      if (!ids.has(id)) {
        item.node.remove();
        drawn.delete(id);
      }
    }
    // The outbox: what the user sent that the server has not acknowledged yet.
    const label = pendingLabel(state);
    const entries = (state.outbox[roomId] || []).filter((entry) => !entry.thread || entry.also_to_room);
    const clientIds = new Set(entries.map((entry) => entry.client_id));
    for (const [clientId, item] of pendingDrawn) {
      if (!clientIds.has(clientId)) {
        item.node.remove();
        pendingDrawn.delete(clientId);
      }
    }
    for (const entry of entries) {
      let item = pendingDrawn.get(entry.client_id);
      if (!item || item.entry.status !== entry.status || item.label !== label) {
        const node = pendingNode(entry, label);
        if (item) item.node.replaceWith(node);
        else node.classList.add("fresh");
        item = { entry, label, node };
        pendingDrawn.set(entry.client_id, item);
      }
      wanted.push(item.node);
    }
    // The unread divider goes before the first message after the read mark that is not one's own.
    if (dividerAfter !== null) {
      const first = messages.find((message) => message.seq > dividerAfter && idOf(message.sender) !== me.id);
      if (first) wanted.splice(wanted.indexOf(drawn.get(first.id)?.node), 0, divider);
    }
    for (const separator of list.querySelectorAll(".day-separator")) separator.remove();
    if (!wanted.includes(divider)) divider.remove();
    let cursor = list.firstElementChild;
    for (const node of wanted) {
      if (cursor === node) cursor = cursor.nextElementSibling;
      else list.insertBefore(node, cursor);
    }
    decorate(state);
  }

  /** Day separators, sender grouping and the read receipt, recomputed over what is drawn. */
  function decorate(state) {
    let previous = null;
    for (const node of /** @type {NodeListOf<HTMLElement>} */ (list.querySelectorAll('[data-testid="message"], .pending'))) {
      const created = node.dataset.created || "";
      if (!previous || dayKey(previous.dataset.created) !== dayKey(created)) {
        const anchor = node.previousElementSibling === divider ? divider : node;
        list.insertBefore(h("li", { class: "day-separator", role: "separator", "aria-label": formatDay(created) }, h("span", {}, formatDay(created))), anchor);
      }
      const adjacent = previous && node.previousElementSibling === previous;
      const grouped = adjacent && groupedWith(
        { sender: previous.dataset.sender, created: previous.dataset.created, system: previous.classList.contains("system") },
        { sender: node.dataset.sender, created, system: node.classList.contains("system"), reply: !node.querySelector(".reply-quote")?.hasAttribute("hidden") && Boolean(node.querySelector(".reply-quote")) },
      );
      node.classList.toggle("grouped", Boolean(grouped));
      previous = node;
    }
    drawReceipt(state);
  }

  function drawReceipt(state) {
    list.querySelector(".receipt")?.remove();
    const own = [...timelineOf(state, roomId)].reverse().find((message) => idOf(message.sender) === me.id && !message.deleted);
    const node = own && drawn.get(own.id)?.node;
    if (!own || !node) return;
    const readers = readersOf(state, own);
    let receipt;
    if (room().kind === "direct") {
      const peer = Object.values(state.members[roomId] || {}).find((member) => member.user.id !== me.id);
      if (!peer) return;
      receipt = h("div", { class: `receipt${readers.length ? " seen" : ""}`, "data-testid": "receipt" }, icon(readers.length ? "checks" : "check"), readers.length ? `Seen by ${peer.user.display_name}` : "Delivered");
    } else {
      if (!readers.length) return;
      const names = readers.map((user) => user.display_name).join(", ");
      receipt = h(
        "button",
        { type: "button", class: "receipt seen", "data-testid": "receipt", title: names, "aria-label": `Seen by ${readers.length}: ${names}`, onclick: () => ui.toast({ title: `Seen by ${readers.length}`, body: names }) },
        icon("checks"),
        `Seen by ${readers.length}`,
      );
    }
    node.querySelector(".message-main")?.append(receipt);
  }

  function drawTyping(state) {
    const names = Object.values(state.typing[roomId] || {}).map((user) => nameOf(user));
    let text = "";
    if (names.length === 1) text = `${names[0]} is typing`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing`;
    else if (names.length > 2) text = "Several people are typing";
    typingLine.replaceChildren(...(text ? [h("span", { class: "typing-dots", "aria-hidden": "true" }, h("i"), h("i"), h("i")), h("span", {}, text)] : []));
    typingLine.classList.toggle("active", Boolean(text));
  }

  function drawHeader(state) {
    const current = state.rooms[roomId];
    if (!current) return;
    document.getElementById("room-title").textContent = roomTitle(state, current);
    if (current.kind !== "direct") {
      const count = Object.keys(state.members[roomId] || {}).length;
      document.getElementById("room-sub").textContent = `${count} member${count === 1 ? "" : "s"}${current.topic ? ` · ${current.topic}` : ""}`;
    }
  }

  // --- Scrolling ----------------------------------------------------------------------------

  const atBottom = () => timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < 80;

  function scrollToBottom() {
    timeline.scrollTop = timeline.scrollHeight;
    stuck = true;
    unseenBelow = 0;
    jumpPill.hidden = true;
  }

  timeline.addEventListener("scroll", () => {
    ui.picker.close();
    stuck = atBottom();
    if (stuck) {
      unseenBelow = 0;
      jumpPill.hidden = true;
      markRead();
    }
  });
  jumpPill.addEventListener("click", () => {
    timeline.scrollTo({ top: timeline.scrollHeight, behavior: prefersReducedMotion() ? "auto" : "smooth" });
  });
  // Keyboard: Up and Down move between messages (each one then shows its actions, reachable with Tab).
  timeline.addEventListener("keydown", (event) => {
    const target = /** @type {HTMLElement} */ (event.target);
    if (!["ArrowUp", "ArrowDown"].includes(event.key) || target.closest("textarea, input")) return;
    const items = /** @type {HTMLElement[]} */ ([...list.querySelectorAll('[data-testid="message"]')]);
    if (!items.length) return;
    const current = /** @type {HTMLElement|null} */ (target.closest('[data-testid="message"]'));
    let index = current ? items.indexOf(current) + (event.key === "ArrowUp" ? -1 : 1) : items.length - 1;
    index = Math.max(0, Math.min(items.length - 1, index));
    event.preventDefault();
    items[index].focus();
    items[index].scrollIntoView({ block: "nearest" });
  });

  function jumpTo(id, attempts = 0) {
    const node = elementFor(id);
    if (node) {
      node.scrollIntoView({ block: "center", behavior: prefersReducedMotion() ? "auto" : "smooth" });
      node.classList.remove("flash");
      void node.offsetWidth; // restart the animation
      node.classList.add("flash");
      node.focus({ preventScroll: true });
      return;
    }
    if (store.getState().history[roomId]?.hasMoreBefore && attempts < 20) loadOlder().then(() => jumpTo(id, attempts + 1));
    else ui.toast({ title: "That message is no longer available" });
  }

  // --- History paging -------------------------------------------------------------------------

  async function loadOlder() {
    const state = store.getState();
    const first = timelineOf(state, roomId)[0];
    if (loadingOlder || !state.history[roomId]?.hasMoreBefore || !first) return;
    loadingOlder = true;
    historyTop.classList.add("loading");
    try {
      const page = await api(`rooms/${roomId}/messages/?before=${first.seq}&limit=50`);
      const height = timeline.scrollHeight;
      const top = timeline.scrollTop;
      store.dispatch({ type: "history_loaded", data: { room: roomId, direction: "before", ...page } });
      timeline.scrollTop = top + (timeline.scrollHeight - height);
    } catch (error) {
      ui.toast({ title: "Could not load older messages", body: error.message, tone: "error" });
    } finally {
      loadingOlder = false;
      historyTop.classList.remove("loading");
      showHistoryStart();
    }
  }

  function showHistoryStart() {
    const more = Boolean(store.getState().history[roomId]?.hasMoreBefore);
    /** @type {HTMLElement} */ (historyTop.querySelector(".history-start")).hidden = more;
    /** @type {HTMLElement} */ (historyTop.querySelector(".spinner")).hidden = !more;
  }

  new IntersectionObserver((entries) => entries.some((entry) => entry.isIntersecting) && loadOlder(), { root: timeline, rootMargin: "400px 0px 0px 0px" }).observe(historyTop);

  /** Fetch forward from what the page holds, when sync said there is more than it sent. */
  async function loadNewer() {
    let more = true;
    while (more) {
      const page = await api(`rooms/${roomId}/messages/?after=${store.getState().history[roomId].contiguous}&limit=100`);
      store.dispatch({ type: "history_loaded", data: { room: roomId, direction: "after", ...page } });
      more = page.has_more && page.messages.length > 0;
    }
  }

  // --- Read marks --------------------------------------------------------------------------------

  let markTimer = null;
  function markRead() {
    clearTimeout(markTimer);
    markTimer = setTimeout(async () => {
      const state = store.getState();
      if (document.hidden || state.connection !== "online" || !stuck) return;
      const seqs = Object.values(state.messages[roomId] || {}).map((message) => message.seq);
      const seq = Math.max(state.history[roomId]?.contiguous || 0, ...seqs);
      if (seq <= lastReadSent) {
        if (room().unread) store.dispatch({ type: "read_acked", data: { room: roomId, last_read_seq: lastReadSent, unread: 0 } });
        return;
      }
      try {
        const ack = await client.request("mark_as_read", { room: roomId, seq });
        lastReadSent = Math.max(lastReadSent, ack.last_read_seq ?? seq);
        store.dispatch({ type: "read_acked", data: { room: roomId, last_read_seq: lastReadSent, unread: ack.unread ?? 0 } });
      } catch (error) {
        /* retried on the next message, scroll or reconnect */
      }
    }, 250);
  }
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) markRead();
  });

  // --- What arrives ------------------------------------------------------------------------------------

  /** A message that is new to the page arrived live: scroll, divider, announcement, read mark. */
  function arrived(message, { live }) {
    const wasStuck = stuck && atBottom();
    if (message.seq > (store.getState().history[roomId]?.contiguous || 0) + 1 && live) client.sync({ [roomId]: store.getState().history[roomId].contiguous });
    return () => {
      const fromMe = idOf(message.sender) === me.id;
      elementFor(message.id)?.classList.add("fresh");
      if (!fromMe && live && message.sender) {
        ui.announce(`${message.sender.display_name}: ${message.body ? plainText(message.body_html).slice(0, 200) : "sent an attachment"}`);
        if (dividerAfter === null && (document.hidden || !wasStuck)) {
          dividerAfter = message.seq - 1;
          draw(store.getState());
        }
      }
      if (wasStuck || fromMe) queueMicrotask(scrollToBottom);
      else if (!fromMe) {
        unseenBelow += 1;
        jumpPill.querySelector("span").textContent = `${unseenBelow} new message${unseenBelow === 1 ? "" : "s"}`;
        jumpPill.hidden = false;
      }
    };
  }

  client.on("new_message", ({ message }) => {
    if (message.room !== roomId || held(message.id) || !inMainTimeline(message)) return;
    const after = arrived(message, { live: true });
    queueMicrotask(() => {
      after();
      markRead();
    });
  });
  client.on("sent", ({ message }) => {
    if (message.room === roomId && inMainTimeline(message)) {
      dividerAfter = null;
      queueMicrotask(scrollToBottom);
    }
  });
  client.on("synced", async (data) => {
    if (data.room !== roomId) return;
    const fresh = data.messages.filter((message) => !held(message.id) && inMainTimeline(message));
    queueMicrotask(async () => {
      if (data.has_more) await loadNewer().catch(() => {});
      if (fresh.length) {
        ui.announce(`${fresh.length} message${fresh.length === 1 ? "" : "s"} arrived while you were offline`);
        if (stuck) scrollToBottom();
      }
      markRead();
    });
  });
  client.on("ready", () => markRead());
  client.on("outbox", ({ action, entry }) => {
    if (action === "queued" && entry.room === roomId) queueMicrotask(scrollToBottom);
  });

  // --- Actions on messages (one listener for the whole list) ----------------------------------------

  async function act(type, data, failure) {
    try {
      const ack = await client.request(type, data);
      if (ack?.message) store.dispatch({ type: "message_acked", data: { message: ack.message } });
      return ack;
    } catch (error) {
      ui.toast({ title: failure, body: error.code === "offline" ? "You are offline." : error.message, tone: "error" });
      return null;
    }
  }

  function react(message, emoji, add) {
    return act(add ? "add_reaction" : "remove_reaction", { message: message.id, emoji }, "Could not react");
  }

  async function pin(message) {
    const ack = await act(message.pinned ? "unpin_message" : "pin_message", { message: message.id }, "Could not pin");
    if (ack?.message) {
      ui.announce(ack.message.pinned ? "Message pinned" : "Message unpinned");
      ui.panels.refreshPins();
    }
  }

  function startEdit(message) {
    const node = elementFor(message.id);
    if (!node || message.deleted) return;
    cancelEdit();
    editingId = message.id;
    const body = node.querySelector(".message-body");
    const input = /** @type {HTMLTextAreaElement} */ (h("textarea", { class: "edit-input", "data-testid": "edit-input", "aria-label": "Edit message", rows: 2 }));
    input.value = message.body;
    const save = async () => {
      const text = input.value.trim();
      if (!text || text === message.body) return cancelEdit();
      const ack = await act("edit_message", { message: message.id, body: text }, "Could not save the edit");
      if (ack?.message) {
        cancelEdit();
        ui.composer.focus();
      }
    };
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        save();
      } else if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        cancelEdit();
        ui.composer.focus();
      }
    });
    body?.replaceWith(
      h(
        "div",
        { class: "edit-box" },
        input,
        h(
          "div",
          { class: "edit-actions" },
          h("span", { class: "composer-hint" }, "Enter to save · Esc to cancel"),
          h("button", { type: "button", class: "btn btn-ghost btn-sm", onclick: () => cancelEdit() }, "Cancel"),
          h("button", { type: "button", class: "btn btn-primary btn-sm", "data-testid": "edit-save", onclick: save }, "Save"),
        ),
      ),
    );
    node.classList.add("editing");
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  }

  function cancelEdit() {
    if (editingId === null) return;
    const id = editingId;
    editingId = null;
    drawn.delete(id); // drawn afresh from the store
    const stale = list.querySelector(`[data-testid="message"][data-message-id="${id}"]`);
    draw(store.getState());
    if (stale?.isConnected) stale.remove();
  }

  /** The newest own message that can still be edited (the composer's Up key). */
  function lastOwnMessage() {
    return [...timelineOf(store.getState(), roomId)].reverse().find((message) => idOf(message.sender) === me.id && !message.deleted && message.kind !== "system");
  }

  /** What a click on a message does; the thread panel's messages use it too. */
  async function onMessageClick(event) {
    const target = /** @type {HTMLElement} */ (event.target);
    const node = /** @type {HTMLElement|null} */ (target.closest('[data-testid="message"]'));
    if (!node) return;
    const message = held(node.dataset.messageId);
    if (!message) return;
    const control = /** @type {HTMLElement|null} */ (target.closest("button, a"));
    if (!control) return;
    const action = control.dataset.action;
    if (action === "react" || control.classList.contains("add-reaction")) {
      ui.picker.open(control, (emoji) => {
        const current = held(message.id);
        const mine = current?.reactions?.find((reaction) => reaction.emoji === emoji)?.users.includes(me.id);
        if (current) react(current, emoji, !mine);
      });
    } else if (control.matches('[data-testid="reaction"]')) {
      react(message, control.dataset.emoji, control.getAttribute("aria-pressed") !== "true");
    } else if (action === "reply") ui.composer.startReply(message);
    else if (action === "thread" || control.classList.contains("thread-summary")) ui.threads?.open(message);
    else if (action === "pin") pin(message);
    else if (action === "edit") startEdit(message);
    else if (action === "delete") {
      if (await ui.dialogs.confirmDelete(control)) {
        const ack = await act("delete_message", { message: message.id }, "Could not delete");
        if (ack) {
          store.dispatch({ type: "message_deleted", data: { room: roomId, message: message.id, seq: message.seq } });
          ui.announce("Message deleted");
        }
      }
    } else if (action === "report") ui.dialogs.report(message, control, event);
    else if (action === "restore") {
      const restored = await ui.dialogs.restore(message, control, event);
      if (restored) {
        store.dispatch({ type: "message_restored", data: { message: restored } });
        ui.announce("Message restored");
      }
    }
    else if (action === "mute-sender") ui.dialogs.mute(message.sender, roomId, control, event);
    else if (control.classList.contains("edited")) ui.dialogs.editHistory(message);
    else if (control.classList.contains("reply-quote")) jumpTo(message.reply_to);
    else if (control.classList.contains("thumb")) {
      event.preventDefault();
      const upload = message.attachments.find((each) => control.getAttribute("href") === each.url);
      if (upload) ui.dialogs.lightbox(upload);
    } else if (control.classList.contains("copy-code")) {
      try {
        await navigator.clipboard.writeText(control.closest("pre")?.firstChild?.textContent || "");
        ui.toast({ title: "Code copied", timeout: 1500 });
      } catch (error) {
        ui.toast({ title: "Could not copy", tone: "error" });
      }
    }
  }
  list.addEventListener("click", onMessageClick);

  // --- Typing: others' indicators lapse by themselves (the server's stop may never come) ---------------

  const typingTimers = new Map();
  client.on("user_typing", (data) => {
    if (Number(data.room) !== roomId) return;
    const userId = idOf(data.user);
    clearTimeout(typingTimers.get(userId));
    typingTimers.set(userId, setTimeout(() => store.dispatch({ type: "typing_expired", data: { room: roomId, user: userId } }), 6000));
  });

  // --- Start --------------------------------------------------------------------------------------

  let previous = null;
  store.subscribe((state) => {
    if (!previous || state.messages[roomId] !== previous.messages[roomId] || state.outbox !== previous.outbox || state.members !== previous.members || state.connection !== previous.connection || state.delayedUntil !== previous.delayedUntil || state.rooms[roomId] !== previous.rooms[roomId]) draw(state);
    if (!previous || state.typing !== previous.typing) drawTyping(state);
    if (!previous || state.rooms[roomId] !== previous.rooms[roomId] || state.members[roomId] !== previous.members[roomId] || state.peers !== previous.peers) drawHeader(state);
    previous = state;
  });

  list.replaceChildren(); // the server's rendering is replaced by the same markup, now live
  if ((room().unread || 0) > 0) dividerAfter = room().last_read_seq || 0;
  const initial = store.getState();
  draw(initial);
  drawTyping(initial);
  previous = initial;
  showHistoryStart();
  document.getElementById("room")?.classList.add("mounted");
  if (divider.isConnected) divider.scrollIntoView({ block: "center" });
  else scrollToBottom();
  stuck = atBottom();
  if (stuck) jumpPill.hidden = true;

  /** Esc: everything here is read, whether scrolled to the bottom or not. */
  function markAllRead() {
    dividerAfter = null;
    draw(store.getState());
    scrollToBottom();
    markRead();
  }

  return { onMessageClick, markAllRead, jumpTo, startEdit, lastOwnMessage, markRead, roomId, clearDivider: () => { dividerAfter = null; } };
}
