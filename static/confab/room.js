// The room view: the message timeline, the composer and everything around them.
//
// Messages are kept by id and rendered as one <li> each, ordered by seq;
// day separators and sender grouping are recomputed from the DOM after each
// change (cheap for the few hundred messages a page holds). Server payloads
// are rendered as they come: text via textContent, bodies via the server's
// sanitised `body_html`.

import {
  ApiError,
  api,
  avatar,
  dayKey,
  formatDay,
  formatFull,
  formatSize,
  formatTime,
  h,
  icon,
  plainText,
  prefersReducedMotion,
} from "./dom.js";
import { uploadFile } from "./upload.js";

const GROUP_WINDOW_MS = 5 * 60 * 1000;
const TYPING_SEND_EVERY_MS = 3000;
const TYPING_EXPIRES_MS = 6000;
const EMOJI = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "🔥", "👀", "✅", "🚀", "💯", "👏", "🤔", "😄", "🙌"];

export function mountRoom({ client, boot, me, sidebar, toast, announce, roomTitle, presenceText, presenceOf }) {
  const room = boot.room;
  const roomId = room.id;
  const isDirect = room.kind === "direct";

  const section = document.getElementById("room");
  const timeline = document.getElementById("timeline");
  const list = document.getElementById("messages");
  const historyTop = document.getElementById("history-top");
  const composer = document.getElementById("composer");
  const form = document.getElementById("composer-form");
  const typingLine = document.getElementById("typing");
  const jumpPill = document.getElementById("jump-pill");
  const tray = document.getElementById("upload-tray");
  const replyBar = document.getElementById("reply-bar");

  const messages = new Map(); // id -> payload
  const seqs = new Set();
  const members = new Map((room.members || []).map((member) => [member.user.id, member]));
  let firstSeq = null;
  let contiguous = 0; // every seq up to this one is on the page (or older than the first page)
  let hasMoreBefore = Boolean(boot.history?.has_more);
  let loadingOlder = false;
  let stuck = true; // following the bottom of the timeline
  let unseenBelow = 0;
  let replyTo = null;
  let editing = null;
  let lastReadSent = room.last_read_seq || 0;
  let divider = null;

  const viewing = (id) => Number(id) === roomId && !document.hidden;
  sidebar.setViewing(viewing);

  // --- Rendering ----------------------------------------------------------------------

  function nameOf(user) {
    const id = typeof user === "object" && user ? user.id : user;
    if (typeof user === "object" && user?.display_name) return user.display_name;
    return members.get(Number(id))?.user.display_name || "Someone";
  }

  function bodyNode(message) {
    const body = h("div", { class: "message-body", "data-testid": "message-body" });
    if (message.deleted) {
      body.append(h("em", { class: "deleted-note" }, "This message was deleted."));
      return body;
    }
    body.innerHTML = message.body_html || ""; // sanitised by the server (markdown-it + nh3)
    for (const pre of body.querySelectorAll("pre")) {
      const copy = h("button", { type: "button", class: "copy-code", "aria-label": "Copy code", title: "Copy code" }, icon("file"));
      copy.addEventListener("click", async () => {
        try {
          await navigator.clipboard.writeText(pre.textContent);
          toast({ title: "Code copied", timeout: 1500 });
        } catch (error) {
          toast({ title: "Could not copy", tone: "error" });
        }
      });
      pre.classList.add("code-block");
      pre.append(copy);
    }
    return body;
  }

  function imageNode(upload) {
    const max = 300;
    const scale = upload.width && upload.height ? Math.min(1, max / Math.max(upload.width, upload.height)) : 1;
    const width = upload.width ? Math.round(upload.width * scale) : undefined;
    const height = upload.height ? Math.round(upload.height * scale) : undefined;
    return h(
      "button",
      { type: "button", class: "thumb", "aria-label": `Open image ${upload.name}`, onclick: () => openLightbox(upload) },
      h("img", { src: upload.thumbnail_url || upload.url, alt: upload.name, width, height, loading: "lazy", "data-testid": "thumbnail" }),
    );
  }

  function fileNode(upload) {
    return h(
      "a",
      { class: "file-card", href: upload.url, download: upload.name, "data-testid": "file-card" },
      h("span", { class: "file-icon" }, icon("file")),
      h("span", { class: "file-text" }, h("strong", {}, upload.name), h("small", {}, `${formatSize(upload.size)}${upload.content_type ? ` · ${upload.content_type}` : ""}`)),
      h("span", { class: "file-download" }, icon("download")),
    );
  }

  function attachmentsNode(message) {
    if (message.deleted || !message.attachments?.length) return null;
    return h(
      "div",
      { class: "attachments" },
      message.attachments.map((upload) => (upload.thumbnail_url || /^image\//.test(upload.content_type || "") ? imageNode(upload) : fileNode(upload))),
    );
  }

  function reactionsNode(message) {
    if (message.deleted || !message.reactions?.length) return null;
    return h(
      "div",
      { class: "reactions", role: "group", "aria-label": "Reactions" },
      message.reactions.map((reaction) => {
        const mine = reaction.users.includes(me.id);
        const who = reaction.users.map((id) => (id === me.id ? "You" : nameOf(id))).join(", ");
        return h(
          "button",
          {
            type: "button",
            class: `reaction${mine ? " mine" : ""}`,
            "data-testid": "reaction",
            dataset: { emoji: reaction.emoji },
            "aria-pressed": String(mine),
            "aria-label": `${reaction.emoji} ${reaction.count}, ${who}`,
            title: who,
            onclick: () => react(message, reaction.emoji, !mine),
          },
          h("span", { class: "reaction-emoji" }, reaction.emoji),
          h("span", { class: "reaction-count", "data-testid": "reaction-count" }, String(reaction.count)),
        );
      }),
      h("button", { type: "button", class: "reaction add-reaction", "aria-label": "Add reaction", onclick: (event) => openPicker(event.currentTarget, message) }, icon("smile")),
    );
  }

  function replyNode(message) {
    if (!message.reply_to) return null;
    const parent = messages.get(message.reply_to);
    const snippet = parent ? (parent.deleted ? "Deleted message" : plainText(parent.body_html) || "Attachment") : "Earlier message";
    return h(
      "button",
      { type: "button", class: "reply-quote", "data-testid": "reply-quote", onclick: () => jumpTo(message.reply_to), "aria-label": "Jump to the message this replies to" },
      icon("reply"),
      parent ? h("strong", {}, nameOf(parent.sender)) : null,
      h("span", {}, snippet.slice(0, 120)),
    );
  }

  function actionsNode(message) {
    if (message.deleted) return null;
    const own = message.sender?.id === me.id;
    const canPin = room.members_can_pin || ["owner", "admin"].includes(room.role);
    const button = (name, label, onclick, testid) =>
      h("button", { type: "button", class: "action", "aria-label": label, title: label, "data-testid": testid, onclick }, icon(name));
    return h(
      "div",
      { class: "message-actions", role: "toolbar", "aria-label": "Message actions" },
      button("smile", "Add reaction", (event) => openPicker(event.currentTarget, message), "react-button"),
      button("reply", "Reply", () => startReply(message), "reply-button"),
      canPin ? button("pin", message.pinned ? "Unpin" : "Pin", () => pin(message), "pin-button") : null,
      own ? button("edit", "Edit", () => startEdit(message), "edit-button") : null,
      own ? button("trash", "Delete", () => confirmDelete(message), "delete-button") : null,
      own ? null : button("flag", "Report to moderators", () => openReport(message), "report-button"),
    );
  }

  function messageNode(message) {
    const own = message.sender?.id === me.id;
    const classes = ["message", own && "own", message.deleted && "deleted", message.pinned && "pinned", message.kind === "system" && "system"];
    return h(
      "li",
      {
        class: classes.filter(Boolean).join(" "),
        "data-testid": "message",
        dataset: { messageId: message.id, seq: message.seq, sender: message.sender?.id ?? "", created: message.created_at },
        tabindex: "-1",
      },
      avatar(message.sender),
      h("time", { class: "gutter-time", datetime: message.created_at, title: formatFull(message.created_at) }, formatTime(message.created_at)),
      h(
        "div",
        { class: "message-main" },
        h(
          "div",
          { class: "message-meta" },
          h("strong", { class: "sender" }, message.sender?.display_name || "System"),
          h("time", { datetime: message.created_at, title: formatFull(message.created_at) }, formatTime(message.created_at)),
          message.edited_at && !message.deleted ? h("span", { class: "edited", "data-testid": "edited", title: formatFull(message.edited_at) }, "(edited)") : null,
          message.pinned ? h("span", { class: "pinned-badge" }, icon("pin"), "Pinned") : null,
        ),
        replyNode(message),
        bodyNode(message),
        attachmentsNode(message),
        reactionsNode(message),
      ),
      actionsNode(message),
    );
  }

  function elementFor(id) {
    return list.querySelector(`[data-testid="message"][data-message-id="${Number(id)}"]`);
  }

  /** Insert or replace a message; returns true when it is new to the page. */
  function upsert(message) {
    if (message.room !== roomId) return false;
    if (message.client_id) list.querySelector(`[data-client-id="${CSS.escape(message.client_id)}"]`)?.remove();
    const existing = elementFor(message.id);
    messages.set(message.id, message);
    const node = messageNode(message);
    if (existing) {
      if (editing?.id === message.id) return false; // the edit box stays until saved or cancelled
      node.classList.toggle("grouped", existing.classList.contains("grouped"));
      node.classList.remove("fresh");
      const active = existing.contains(document.activeElement) ? document.activeElement : null;
      existing.replaceWith(node);
      if (active) {
        // Keep the keyboard where it was: the same control in the re-rendered message.
        const { testid, emoji } = active.dataset;
        const selector = testid ? `[data-testid="${testid}"]${emoji ? `[data-emoji="${CSS.escape(emoji)}"]` : ""}` : null;
        (selector && node.querySelector(selector) ? node.querySelector(selector) : node).focus({ preventScroll: true });
      }
      return false;
    }
    seqs.add(message.seq);
    if (firstSeq === null || message.seq < firstSeq) firstSeq = message.seq;
    let before = null;
    for (const other of list.querySelectorAll('[data-testid="message"]')) {
      if (Number(other.dataset.seq) > message.seq) {
        before = other;
        break;
      }
    }
    if (!before) before = list.querySelector(".pending");
    list.insertBefore(node, before);
    while (seqs.has(contiguous + 1)) contiguous += 1;
    client.track(roomId, contiguous);
    return true;
  }

  /** Day separators and sender grouping, recomputed from the DOM. */
  function decorate() {
    for (const separator of list.querySelectorAll(".day-separator")) separator.remove();
    let previous = null;
    for (const node of list.querySelectorAll('[data-testid="message"], .pending')) {
      const created = node.dataset.created;
      if (!previous || dayKey(previous.dataset.created) !== dayKey(created)) {
        const anchor = node.previousElementSibling?.classList.contains("new-divider") ? node.previousElementSibling : node;
        list.insertBefore(
          h("li", { class: "day-separator", role: "separator", "aria-label": formatDay(created) }, h("span", {}, formatDay(created))),
          anchor,
        );
      }
      const grouped =
        previous &&
        node.previousElementSibling === previous &&
        previous.dataset.sender === node.dataset.sender &&
        !node.classList.contains("system") &&
        !previous.classList.contains("system") &&
        !node.querySelector(".reply-quote") &&
        new Date(created) - new Date(previous.dataset.created) < GROUP_WINDOW_MS;
      node.classList.toggle("grouped", Boolean(grouped));
      previous = node;
    }
    updateReceipt();
  }

  // --- Read receipts (direct rooms) --------------------------------------------------------

  function updateReceipt() {
    if (!isDirect) return;
    list.querySelector(".receipt")?.remove();
    const peerMember = [...members.values()].find((member) => member.user.id !== me.id);
    const own = [...list.querySelectorAll('[data-testid="message"].own:not(.deleted)')].pop();
    if (!own || !peerMember) return;
    const seen = (peerMember.last_read_seq || 0) >= Number(own.dataset.seq);
    own.querySelector(".message-main").append(
      h(
        "div",
        { class: `receipt${seen ? " seen" : ""}`, "data-testid": "receipt" },
        icon(seen ? "checks" : "check"),
        seen ? `Seen by ${peerMember.user.display_name}` : "Delivered",
      ),
    );
  }

  // --- Scrolling -----------------------------------------------------------------------------------

  const atBottom = () => timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < 80;

  function scrollToBottom() {
    timeline.scrollTop = timeline.scrollHeight;
    stuck = true;
    unseenBelow = 0;
    jumpPill.hidden = true;
  }

  timeline.addEventListener("scroll", () => {
    closePicker();
    stuck = atBottom();
    if (stuck) {
      unseenBelow = 0;
      jumpPill.hidden = true;
      markRead();
    }
  });
  // Keyboard: Up and Down move between messages (each one then shows its actions, reachable with Tab).
  timeline.addEventListener("keydown", (event) => {
    if (!["ArrowUp", "ArrowDown"].includes(event.key) || event.target.closest("textarea, input")) return;
    const items = [...list.querySelectorAll('[data-testid="message"]')];
    if (!items.length) return;
    const current = event.target.closest?.('[data-testid="message"]');
    let index = current ? items.indexOf(current) + (event.key === "ArrowUp" ? -1 : 1) : items.length - 1;
    index = Math.max(0, Math.min(items.length - 1, index));
    event.preventDefault();
    items[index].focus();
    items[index].scrollIntoView({ block: "nearest" });
  });
  jumpPill.addEventListener("click", () => {
    timeline.scrollTo({ top: timeline.scrollHeight, behavior: prefersReducedMotion() ? "auto" : "smooth" });
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
    if (hasMoreBefore && attempts < 20) loadOlder().then(() => jumpTo(id, attempts + 1));
    else toast({ title: "That message is no longer available" });
  }

  // --- History: infinite scroll back --------------------------------------------------------------

  async function loadOlder() {
    if (loadingOlder || !hasMoreBefore || firstSeq === null) return;
    loadingOlder = true;
    historyTop.classList.add("loading");
    try {
      const page = await api(`rooms/${roomId}/messages/?before=${firstSeq}&limit=50`);
      const height = timeline.scrollHeight;
      const top = timeline.scrollTop;
      for (const message of page.messages) upsert(message);
      hasMoreBefore = page.has_more;
      decorate();
      timeline.scrollTop = top + (timeline.scrollHeight - height);
    } catch (error) {
      toast({ title: "Could not load older messages", body: error.message, tone: "error" });
    } finally {
      loadingOlder = false;
      historyTop.classList.remove("loading");
      showHistoryStart();
    }
  }

  function showHistoryStart() {
    historyTop.querySelector(".history-start").hidden = hasMoreBefore;
    historyTop.querySelector(".spinner").hidden = !hasMoreBefore;
  }

  new IntersectionObserver(
    (entries) => {
      if (entries.some((entry) => entry.isIntersecting)) loadOlder();
    },
    { root: timeline, rootMargin: "400px 0px 0px 0px" },
  ).observe(historyTop);

  /** Fetch forward from what the page holds, when sync said there is more than it sent. */
  async function loadNewer() {
    let more = true;
    while (more) {
      const page = await api(`rooms/${roomId}/messages/?after=${contiguous}&limit=100`);
      for (const message of page.messages) upsert(message);
      more = page.has_more && page.messages.length > 0;
    }
    decorate();
  }

  // --- Unread divider and read marks ------------------------------------------------------------------

  function placeDivider(afterSeq) {
    divider?.remove();
    const first = [...list.querySelectorAll('[data-testid="message"]:not(.own)')].find((node) => Number(node.dataset.seq) > afterSeq);
    if (!first) return;
    divider = h("li", { class: "new-divider", role: "separator", "aria-label": "New messages", "data-testid": "new-divider" }, h("span", {}, "New messages"));
    list.insertBefore(divider, first);
  }

  let markTimer = null;
  function markRead() {
    clearTimeout(markTimer);
    markTimer = setTimeout(async () => {
      if (document.hidden || client.state !== "online" || !stuck) return;
      const seq = Math.max(contiguous, ...seqs);
      if (!Number.isFinite(seq) || seq <= lastReadSent) {
        sidebar.setUnread(roomId, 0);
        return;
      }
      try {
        const ack = await client.request("mark_as_read", { room: roomId, seq });
        lastReadSent = Math.max(lastReadSent, ack.last_read_seq ?? seq);
        sidebar.setUnread(roomId, ack.unread ?? 0);
      } catch (error) {
        /* retried on the next message, scroll or reconnect */
      }
    }, 250);
  }

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) markRead();
  });

  // --- Typing ------------------------------------------------------------------------------------

  const typers = new Map(); // user id -> expiry timer

  function renderTyping() {
    const names = [...typers.keys()].map((id) => nameOf(id));
    let text = "";
    if (names.length === 1) text = `${names[0]} is typing`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing`;
    else if (names.length > 2) text = "Several people are typing";
    typingLine.replaceChildren(...(text ? [h("span", { class: "typing-dots", "aria-hidden": "true" }, h("i"), h("i"), h("i")), h("span", {}, text)] : []));
    typingLine.classList.toggle("active", Boolean(text));
  }

  function stopTyper(userId) {
    clearTimeout(typers.get(userId));
    if (typers.delete(userId)) renderTyping();
  }

  client.on("user_typing", showTyper);
  function showTyper(data) {
    const userId = Number(typeof data.user === "object" ? data.user?.id : data.user);
    if (Number(data.room) !== roomId || userId === me.id) return;
    if (typeof data.user === "object" && data.user && !members.has(userId)) members.set(userId, { user: data.user });
    clearTimeout(typers.get(userId));
    typers.set(userId, setTimeout(() => stopTyper(userId), TYPING_EXPIRES_MS));
    renderTyping();
  }
  client.on("user_stopped_typing", (data) => {
    if (Number(data.room) === roomId) stopTyper(Number(typeof data.user === "object" ? data.user?.id : data.user));
  });

  let typingSentAt = 0;
  function typingInput() {
    const now = Date.now();
    if (composer.value.trim()) {
      if (now - typingSentAt > TYPING_SEND_EVERY_MS) {
        typingSentAt = now;
        client.notify("typing_start", { room: roomId });
      }
    } else stopOwnTyping();
  }
  function stopOwnTyping() {
    if (typingSentAt) {
      typingSentAt = 0;
      client.notify("typing_stop", { room: roomId });
    }
  }

  // --- Server events for this room ---------------------------------------------------------------

  function received(message, { live = true } = {}) {
    const wasStuck = stuck && atBottom();
    const fresh = upsert(message);
    if (!fresh) return false;
    elementFor(message.id)?.classList.add("fresh"); // fades in (history and replaced messages do not)
    if (message.seq > contiguous + 1 && live) client.sync({ [roomId]: contiguous }); // a gap: fetch what is missing
    const fromMe = message.sender?.id === me.id;
    stopTyper(message.sender?.id);
    if (!fromMe && live) {
      announce(`${message.sender.display_name}: ${message.body ? plainText(message.body_html).slice(0, 200) : "sent an attachment"}`);
      if (!divider && (document.hidden || !wasStuck)) placeDivider(message.seq - 1);
    }
    if (wasStuck || fromMe) queueMicrotask(scrollToBottom);
    else if (!fromMe) {
      unseenBelow += 1;
      jumpPill.querySelector("span").textContent = `${unseenBelow} new message${unseenBelow === 1 ? "" : "s"}`;
      jumpPill.hidden = false;
    }
    return true;
  }

  client.on("new_message", ({ message }) => {
    if (message.room !== roomId) return;
    const fresh = received(message);
    decorate();
    if (fresh) markRead();
  });

  client.on("synced", async ({ room: syncedRoom, messages: missed, changed = [], has_more: more }) => {
    if (syncedRoom !== roomId) return;
    let any = false;
    for (const message of changed) if (messages.has(message.id)) upsert(message);
    for (const message of missed) any = received(message, { live: false }) || any;
    if (more) await loadNewer().catch(() => {});
    decorate();
    if (any) {
      announce(`${missed.length} message${missed.length === 1 ? "" : "s"} arrived while you were offline`);
      if (stuck) scrollToBottom();
    }
    markRead();
  });

  // Changes to a message carry what changed, not the message: patch the one held and re-render it.
  // A message not held is left alone (it comes whole with history or sync).
  function patch(room, messageId, change) {
    if (Number(room) !== roomId) return;
    const message = messages.get(Number(messageId));
    if (!message || message.deleted) return;
    upsert({ ...message, ...change(message) });
    refreshReplies(message.id);
    decorate();
  }

  client.on("message_edited", (data) => {
    patch(data.room, data.message, () => ({ body: data.body, body_html: data.body_html, edited_at: data.edited_at }));
  });

  client.on("message_restored", ({ message }) => {
    if (message?.room !== roomId || !messages.has(message.id)) return;
    upsert(message);
    refreshReplies(message.id);
    decorate();
  });

  client.on("attachment_removed", (data) => {
    patch(data.room, data.message, (message) => ({
      attachments: (message.attachments || []).filter((upload) => upload.id !== Number(data.upload)),
    }));
  });

  for (const type of ["message_pinned", "message_unpinned"]) {
    client.on(type, (data) => {
      if (Number(data.room) !== roomId) return;
      patch(data.room, data.message, () => ({ pinned: type === "message_pinned" }));
      if (!pinsPanel.hidden) loadPins();
    });
  }

  /** The message's reactions after one change: the server's count for the emoji, the user added or taken out. */
  function reactionsAfter(message, { emoji, user, count }, added) {
    const userId = Number(user);
    const reactions = (message.reactions || []).map((reaction) => ({ ...reaction, users: [...reaction.users] }));
    let reaction = reactions.find((each) => each.emoji === emoji);
    if (!reaction) {
      reaction = { emoji, count: 0, users: [] };
      reactions.push(reaction);
    }
    reaction.users = reaction.users.filter((id) => id !== userId);
    if (added) reaction.users.push(userId);
    reaction.count = count;
    return reactions.filter((each) => each.count > 0);
  }

  for (const type of ["reaction_added", "reaction_removed"]) {
    client.on(type, (data) => {
      patch(data.room, data.message, (message) => ({ reactions: reactionsAfter(message, data, type === "reaction_added") }));
    });
  }

  /** Replies quote their parent: re-render them when it changes. */
  function refreshReplies(parentId) {
    for (const reply of messages.values()) if (reply.reply_to === parentId) upsert(reply);
  }

  client.on("message_deleted", (data) => {
    if (Number(data.room) !== roomId) return;
    const message = messages.get(Number(data.message));
    if (!message) return;
    upsert({ ...message, deleted: true, body: "", body_html: "", attachments: [], reactions: [], pinned: false });
    refreshReplies(message.id);
    decorate();
  });

  client.on("messages_read", (data) => {
    if (Number(data.room) !== roomId) return;
    const userId = Number(typeof data.user === "object" ? data.user?.id : data.user);
    const member = members.get(userId);
    if (member) member.last_read_seq = Math.max(member.last_read_seq || 0, data.last_read_seq);
    if (userId === me.id) lastReadSent = Math.max(lastReadSent, data.last_read_seq);
    updateReceipt();
  });

  function updateMemberCount() {
    if (isDirect) return;
    const sub = document.getElementById("room-sub");
    sub.textContent = `${members.size} member${members.size === 1 ? "" : "s"}${room.topic ? ` · ${room.topic}` : ""}`;
  }
  client.on("member_joined", (data) => {
    if (Number(data.room) !== roomId || !data.user) return;
    members.set(data.user.id, data.member || { user: data.user, last_read_seq: 0 });
    updateMemberCount();
    renderMembers();
  });
  client.on("member_left", (data) => {
    if (Number(data.room) !== roomId) return;
    members.delete(Number(typeof data.user === "object" ? data.user?.id : data.user));
    updateMemberCount();
    renderMembers();
  });
  client.on("room_updated", ({ room: update }) => {
    if (update?.id !== roomId) return;
    Object.assign(room, update);
    document.getElementById("room-title").textContent = roomTitle(room);
    updateMemberCount();
  });
  client.on("ready", (data) => {
    for (const userId of [...typers.keys()]) stopTyper(userId); // the snapshot below is the truth now
    for (const item of data.typing || []) showTyper(item);
    markRead();
  });

  // --- The outbox on the page ----------------------------------------------------------------------

  function pendingNode(entry) {
    const failed = entry.status === "failed";
    const attachments = entry.meta?.attachments || [];
    return h(
      "li",
      {
        class: `message own pending${failed ? " failed" : ""}`,
        "data-testid": "pending-message",
        dataset: { clientId: entry.client_id, sender: me.id, created: entry.queued_at },
      },
      avatar(me),
      h("span", { class: "gutter-time" }),
      h(
        "div",
        { class: "message-main" },
        h("div", { class: "message-meta" }, h("strong", { class: "sender" }, me.display_name)),
        h("div", { class: "message-body pending-body" }, entry.body),
        attachments.length ? h("div", { class: "pending-files" }, attachments.map((upload) => h("span", { class: "chip" }, icon("file"), upload.name))) : null,
        h(
          "div",
          { class: "pending-status", role: failed ? "alert" : undefined },
          failed
            ? [
                icon("alert"),
                h("span", {}, `Not sent: ${entry.error?.message || "error"}`),
                h("button", { type: "button", class: "btn btn-link", onclick: () => client.retry(entry.client_id) }, "Retry"),
                h("button", { type: "button", class: "btn btn-link", onclick: () => client.discard(entry.client_id) }, "Discard"),
              ]
            : [icon("clock"), h("span", {}, client.state === "online" ? "Sending…" : "Waiting for connection…")],
        ),
      ),
    );
  }

  function showPending(entry) {
    if (entry.room !== roomId) return;
    const existing = list.querySelector(`[data-client-id="${CSS.escape(entry.client_id)}"]`);
    const node = pendingNode(entry);
    if (existing) existing.replaceWith(node);
    else {
      node.classList.add("fresh");
      list.append(node);
    }
    decorate();
  }

  client.on("outbox", ({ entry, action }) => {
    if (action === "discarded") list.querySelector(`[data-client-id="${CSS.escape(entry.client_id)}"]`)?.remove();
    else {
      showPending(entry);
      if (action === "queued") scrollToBottom();
    }
  });
  client.on("sent", ({ message }) => {
    if (message.room !== roomId) return;
    received(message);
    decorate();
  });
  client.on("failed", ({ entry, error }) => {
    showPending(entry);
    if (entry.room === roomId) toast({ title: "Message not sent", body: error.message, tone: "error" });
  });
  client.on("state", () => {
    for (const entry of client.pendingFor(roomId)) showPending(entry);
  });

  // --- Actions on messages -------------------------------------------------------------------------

  async function act(type, data, failure) {
    try {
      return await client.request(type, data);
    } catch (error) {
      toast({ title: failure, body: error.code === "offline" ? "You are offline." : error.message, tone: "error" });
      return null;
    }
  }

  async function react(message, emoji, add) {
    const ack = await act(add ? "add_reaction" : "remove_reaction", { message: message.id, emoji }, "Could not react");
    if (ack?.message) {
      upsert(ack.message);
      decorate();
    }
  }

  async function pin(message) {
    const ack = await act(message.pinned ? "unpin_message" : "pin_message", { message: message.id }, "Could not pin");
    if (ack?.message) {
      upsert(ack.message);
      decorate();
      announce(ack.message.pinned ? "Message pinned" : "Message unpinned");
      if (!pinsPanel.hidden) loadPins();
    }
  }

  function startEdit(message) {
    const node = elementFor(message.id);
    if (!node || message.deleted) return;
    cancelEdit();
    editing = message;
    const body = node.querySelector(".message-body");
    const input = h("textarea", { class: "edit-input", "data-testid": "edit-input", "aria-label": "Edit message", rows: 2 });
    input.value = message.body;
    const save = async () => {
      const text = input.value.trim();
      if (!text || text === message.body) return cancelEdit();
      const ack = await act("edit_message", { message: message.id, body: text }, "Could not save the edit");
      if (ack?.message) {
        editing = null;
        upsert(ack.message);
        decorate();
        composer.focus();
      }
    };
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        save();
      } else if (event.key === "Escape") {
        event.preventDefault();
        cancelEdit();
        composer.focus();
      }
    });
    const box = h(
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
    );
    body.replaceWith(box);
    node.classList.add("editing");
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  }

  function cancelEdit() {
    if (!editing) return;
    const message = messages.get(editing.id);
    editing = null;
    if (message) {
      upsert(message);
      decorate();
    }
  }

  const confirmDialog = h(
    "dialog",
    { class: "modal confirm", "aria-labelledby": "confirm-title" },
    h(
      "form",
      { method: "dialog", class: "modal-form" },
      h("h2", { id: "confirm-title" }, "Delete this message?"),
      h("p", { class: "muted" }, "Everyone in the room will see that it was deleted. This cannot be undone."),
      h(
        "footer",
        { class: "modal-actions" },
        h("button", { class: "btn btn-ghost", value: "cancel" }, "Cancel"),
        h("button", { class: "btn btn-danger", value: "delete", "data-testid": "confirm-delete" }, "Delete"),
      ),
    ),
  );
  document.body.append(confirmDialog);

  function confirmDelete(message) {
    confirmDialog.returnValue = "";
    confirmDialog.showModal();
    confirmDialog.querySelector("[value=cancel]").focus();
    confirmDialog.addEventListener(
      "close",
      async () => {
        if (confirmDialog.returnValue !== "delete") return;
        const ack = await act("delete_message", { message: message.id }, "Could not delete");
        if (ack) {
          upsert({ ...message, deleted: true, body: "", body_html: "", attachments: [], reactions: [], pinned: false });
          decorate();
          announce("Message deleted");
        }
      },
      { once: true },
    );
  }

  const reportReason = h("textarea", {
    id: "report-reason",
    rows: 3,
    maxlength: 1000,
    required: true,
    "data-testid": "report-reason",
    placeholder: "What is wrong with this message?",
  });
  const reportDialog = h(
    "dialog",
    { class: "modal confirm", "aria-labelledby": "report-title" },
    h(
      "form",
      { method: "dialog", class: "modal-form" },
      h("h2", { id: "report-title" }, "Report this message?"),
      h("label", { for: "report-reason", class: "muted" }, "Moderators will see the message, its context and your reason."),
      reportReason,
      h(
        "footer",
        { class: "modal-actions" },
        h("button", { class: "btn btn-ghost", value: "cancel", formnovalidate: true }, "Cancel"),
        h("button", { class: "btn btn-danger", value: "report", "data-testid": "confirm-report" }, "Report"),
      ),
    ),
  );
  document.body.append(reportDialog);

  function openReport(message) {
    reportDialog.returnValue = "";
    reportReason.value = "";
    reportDialog.showModal();
    reportReason.focus();
    reportDialog.addEventListener(
      "close",
      async () => {
        if (reportDialog.returnValue !== "report") return;
        try {
          await api(`messages/${message.id}/report/`, { method: "POST", body: { reason: reportReason.value } });
          toast({ title: "Reported", body: "Thank you. A moderator will look at it." });
        } catch (error) {
          toast({ title: "Could not report", body: error.message, tone: "error" });
        }
      },
      { once: true },
    );
  }

  // --- Emoji picker -----------------------------------------------------------------------------

  const picker = h("div", { class: "emoji-picker", role: "dialog", "aria-label": "Pick a reaction", hidden: true });
  let pickerFor = null;
  let pickerOpener = null;
  picker.append(
    ...EMOJI.map((emoji) =>
      h(
        "button",
        {
          type: "button",
          class: "emoji",
          "aria-label": `React with ${emoji}`,
          "data-testid": "emoji-option",
          dataset: { emoji },
          onclick: () => {
            const message = messages.get(pickerFor);
            closePicker();
            if (message) {
              const mine = message.reactions?.find((reaction) => reaction.emoji === emoji)?.users.includes(me.id);
              react(message, emoji, !mine);
            }
          },
        },
        emoji,
      ),
    ),
  );
  document.body.append(picker);

  function openPicker(button, message) {
    pickerFor = message.id;
    pickerOpener = button;
    picker.hidden = false;
    const rect = button.getBoundingClientRect();
    const width = picker.offsetWidth;
    const height = picker.offsetHeight;
    const left = Math.max(8, Math.min(window.innerWidth - width - 8, rect.right - width));
    const top = rect.top - height - 8 > 8 ? rect.top - height - 8 : rect.bottom + 8;
    picker.style.left = `${left}px`;
    picker.style.top = `${top}px`;
    picker.querySelector("button").focus();
  }

  function closePicker() {
    if (picker.hidden) return;
    picker.hidden = true;
    pickerOpener?.focus({ preventScroll: true });
    pickerFor = null;
  }

  picker.addEventListener("keydown", (event) => {
    const buttons = [...picker.querySelectorAll("button")];
    const index = buttons.indexOf(document.activeElement);
    const move = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: 8, ArrowUp: -8 }[event.key];
    if (event.key === "Escape") {
      event.preventDefault();
      closePicker();
    } else if (move) {
      event.preventDefault();
      buttons[(index + move + buttons.length) % buttons.length].focus();
    }
  });
  document.addEventListener("pointerdown", (event) => {
    if (!picker.hidden && !picker.contains(event.target) && !event.target.closest?.(".add-reaction, [data-testid=react-button]")) closePicker();
  });

  // --- Replies ---------------------------------------------------------------------------------

  function startReply(message) {
    replyTo = message;
    replyBar.hidden = false;
    document.getElementById("reply-label").textContent = `Replying to ${message.sender.display_name}`;
    document.getElementById("reply-snippet").textContent = (plainText(message.body_html) || "Attachment").slice(0, 140);
    composer.focus();
  }
  function cancelReply() {
    replyTo = null;
    replyBar.hidden = true;
  }
  document.getElementById("reply-cancel").addEventListener("click", () => {
    cancelReply();
    composer.focus();
  });

  // --- Pins panel ------------------------------------------------------------------------------

  const pinsPanel = document.getElementById("pins-panel");
  const pinsButton = document.getElementById("pins-button");
  const pinsList = document.getElementById("pins-list");

  async function loadPins() {
    try {
      const pins = await api(`rooms/${roomId}/pins/`);
      pinsList.replaceChildren(
        ...pins.map((message) => {
          const body = h("div", { class: "pin-body" });
          body.innerHTML = message.body_html || ""; // sanitised by the server
          if (!message.body_html && message.attachments?.length) body.textContent = message.attachments.map((upload) => upload.name).join(", ");
          return h(
            "li",
            { class: "pin-item" },
            h("div", { class: "pin-meta" }, avatar(message.sender, "avatar avatar-xs"), h("strong", {}, message.sender.display_name), h("time", { datetime: message.created_at }, formatDay(message.created_at))),
            body,
            h("button", { type: "button", class: "btn btn-link", onclick: () => jumpTo(message.id) }, "Jump to message"),
          );
        }),
      );
      document.getElementById("pins-empty").hidden = pins.length > 0;
    } catch (error) {
      toast({ title: "Could not load pinned messages", body: error.message, tone: "error" });
    }
  }
  // --- Members panel: who is here, with presence and last seen -------------------------------------

  const membersPanel = document.getElementById("members-panel");
  const membersButton = document.getElementById("members-button");
  const membersList = document.getElementById("members-list");

  function renderMembers() {
    if (membersPanel.hidden) return;
    const rank = (member) => (presenceOf(member.user.id)?.status && presenceOf(member.user.id).status !== "offline" ? 0 : 1);
    const sorted = [...members.values()].sort(
      (a, b) => rank(a) - rank(b) || a.user.display_name.localeCompare(b.user.display_name),
    );
    membersList.replaceChildren(
      ...sorted.map((member) => {
        const face = avatar(member.user, "avatar avatar-sm");
        face.append(h("span", { class: "presence-dot", dataset: { presenceUser: member.user.id, status: presenceOf(member.user.id)?.status || "offline" } }));
        return h(
          "li",
          { class: "member-row", "data-testid": "member" },
          face,
          h(
            "span",
            { class: "pick-text" },
            h("strong", {}, member.user.id === me.id ? `${member.user.display_name} (you)` : member.user.display_name),
            h("small", { dataset: { lastSeenUser: member.user.id } }, presenceText(member.user.id) || "Offline"),
          ),
          member.role && member.role !== "member" ? h("span", { class: "role-badge" }, member.role) : null,
        );
      }),
    );
  }
  document.addEventListener("confab:presence", () => renderMembers());

  const panels = {
    pins: { panel: pinsPanel, button: pinsButton, load: loadPins },
    members: { panel: membersPanel, button: membersButton, load: renderMembers },
  };
  function togglePanel(name, open = panels[name].panel.hidden) {
    for (const [other, parts] of Object.entries(panels)) {
      const show = other === name && open;
      parts.panel.hidden = !show;
      parts.button.setAttribute("aria-expanded", String(show));
    }
    if (open) panels[name].load();
  }
  pinsButton.addEventListener("click", () => togglePanel("pins"));
  membersButton.addEventListener("click", () => togglePanel("members"));
  document.getElementById("pins-close").addEventListener("click", () => {
    togglePanel("pins", false);
    pinsButton.focus();
  });
  document.getElementById("members-close").addEventListener("click", () => {
    togglePanel("members", false);
    membersButton.focus();
  });

  // --- Lightbox ---------------------------------------------------------------------------------

  const lightbox = document.getElementById("lightbox");
  function openLightbox(upload) {
    const image = document.getElementById("lightbox-img");
    image.src = upload.url;
    image.alt = upload.name;
    const link = document.getElementById("lightbox-link");
    link.href = upload.url;
    link.setAttribute("download", upload.name);
    lightbox.showModal();
  }
  lightbox.addEventListener("click", (event) => {
    if (event.target === lightbox) lightbox.close();
  });

  // --- Uploads ----------------------------------------------------------------------------------

  const uploads = []; // {key, file, status: uploading|done|error, upload, abort, node}

  function renderTray() {
    tray.hidden = uploads.length === 0;
  }

  function addFiles(files) {
    for (const file of files) {
      const key = Math.random().toString(36).slice(2);
      const preview = /^image\//.test(file.type) ? h("img", { src: URL.createObjectURL(file), alt: "" }) : icon("file");
      const bar = h("span", { class: "progress-fill" });
      const progress = h("span", { class: "progress", role: "progressbar", "aria-label": `Uploading ${file.name}`, "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": "0" }, bar);
      const status = h("small", { class: "upload-status" }, formatSize(file.size));
      const item = { key, file, status: "uploading", upload: null, abort: null };
      const remove = h("button", { type: "button", class: "icon-btn upload-cancel", "aria-label": `Cancel ${file.name}`, "data-testid": "upload-cancel", onclick: () => removeUpload(item) }, icon("x"));
      item.node = h("li", { class: "upload-item uploading", "data-testid": "upload-item", dataset: { state: "uploading" } }, h("span", { class: "upload-preview" }, preview), h("span", { class: "upload-text" }, h("strong", {}, file.name), status, progress), remove);
      tray.append(item.node);
      uploads.push(item);
      renderTray();
      const task = uploadFile(file, {
        onProgress: (fraction) => {
          const percent = Math.round(fraction * 100);
          bar.style.width = `${percent}%`;
          progress.setAttribute("aria-valuenow", String(percent));
        },
      });
      item.abort = task.abort;
      task.promise.then(
        (upload) => {
          item.status = "done";
          item.upload = upload;
          item.node.classList.replace("uploading", "done");
          item.node.dataset.state = "done";
          status.textContent = `${formatSize(upload.size)} · ready`;
          remove.setAttribute("aria-label", `Remove ${file.name}`);
          announce(`${file.name} is ready to send`);
        },
        (error) => {
          if (error.status === -1) return; // cancelled: already removed
          item.status = "error";
          item.node.classList.replace("uploading", "error");
          item.node.dataset.state = "error";
          status.textContent = error.message;
          toast({ title: `Could not upload ${file.name}`, body: error.message, tone: "error" });
        },
      );
    }
  }

  function removeUpload(item) {
    if (item.status === "uploading") item.abort?.();
    uploads.splice(uploads.indexOf(item), 1);
    const image = item.node.querySelector("img");
    if (image) URL.revokeObjectURL(image.src);
    item.node.remove();
    renderTray();
    composer.focus();
  }

  document.getElementById("file-input").addEventListener("change", (event) => {
    addFiles([...event.target.files]);
    event.target.value = "";
  });

  const dropZone = document.getElementById("drop-zone");
  let dragDepth = 0;
  const hasFiles = (event) => [...(event.dataTransfer?.types || [])].includes("Files");
  section.addEventListener("dragenter", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    dragDepth += 1;
    dropZone.hidden = false;
  });
  section.addEventListener("dragover", (event) => {
    if (hasFiles(event)) event.preventDefault();
  });
  section.addEventListener("dragleave", () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (!dragDepth) dropZone.hidden = true;
  });
  section.addEventListener("drop", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    dragDepth = 0;
    dropZone.hidden = true;
    addFiles([...event.dataTransfer.files]);
  });
  composer.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData?.files || [])];
    if (files.length) {
      event.preventDefault();
      addFiles(files);
    }
  });

  // --- Composer ---------------------------------------------------------------------------------

  function autosize() {
    composer.style.height = "auto";
    composer.style.height = `${Math.min(composer.scrollHeight, 200)}px`;
  }

  function send() {
    const body = composer.value.trim();
    if (uploads.some((item) => item.status === "uploading")) {
      toast({ title: "Still uploading", body: "Your message goes out once the files are up. Press Enter again then." });
      return;
    }
    const ready = uploads.filter((item) => item.status === "done");
    if (!body && !ready.length) return;
    client.sendMessage(roomId, {
      body,
      reply_to: replyTo?.id || null,
      attachments: ready.map((item) => item.upload.id),
      meta: { attachments: ready.map((item) => ({ id: item.upload.id, name: item.upload.name })) },
    });
    for (const item of [...uploads]) if (item.status !== "uploading") removeUpload(item);
    composer.value = "";
    autosize();
    cancelReply();
    stopOwnTyping();
    divider?.remove();
    divider = null;
    composer.focus();
  }

  composer.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    } else if (event.key === "Escape" && replyTo) {
      cancelReply();
    } else if (event.key === "ArrowUp" && !composer.value) {
      const own = [...messages.values()].filter((message) => message.sender?.id === me.id && !message.deleted).sort((a, b) => b.seq - a.seq)[0];
      if (own) {
        event.preventDefault();
        startEdit(own);
      }
    }
  });
  composer.addEventListener("input", () => {
    autosize();
    typingInput();
  });
  composer.addEventListener("blur", stopOwnTyping);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });

  // --- Start: the server-rendered history, then the outbox ---------------------------------------------------

  list.replaceChildren();
  const initial = boot.history?.messages || [];
  // Sync resumes after the newest message the page was rendered with.
  contiguous = initial.length ? initial[0].seq - 1 : room.last_seq || 0;
  for (const message of initial) upsert(message);
  client.track(roomId, contiguous);
  for (const entry of client.pendingFor(roomId)) list.append(pendingNode(entry));
  if ((room.unread || 0) > 0) placeDivider(room.last_read_seq || 0);
  decorate();
  showHistoryStart();
  section.classList.add("mounted");
  if (divider) divider.scrollIntoView({ block: "center" });
  else scrollToBottom();
  stuck = atBottom();
  if (stuck) {
    jumpPill.hidden = true;
  }
  if (!matchMedia("(pointer: coarse)").matches) composer.focus({ preventScroll: true });
  sidebar.setUnread(roomId, room.unread || 0);

  window.confab.room = { messages, get contiguous() { return contiguous; } };
  return { roomId };
}

export { ApiError };
