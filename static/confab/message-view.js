// @ts-check
// One message on the page: a clone of <template id="message-template">, filled.
//
// The template is templates/chat/_message.html rendered once with one of each
// part (an image, a file card, a reaction chip) and the whole toolbar; the same
// partial renders the history before any script runs, so a message has one
// markup. Text goes in through textContent; bodies are the server's sanitised
// `body_html`.

import { fillAvatar, formatFull, formatSize, formatTime, plainText, relativeTime } from "./dom.js";

/** @typedef {import("./store.js").Message} Message */
/** @typedef {import("./store.js").User} User */

/**
 * @param {HTMLTemplateElement} template
 * @param {{me: User}} options
 */
export function messageRenderer(template, { me }) {
  // A copy: the parts are taken out of it, and other renderers (the thread panel's) need the template whole.
  const prototype = /** @type {HTMLElement} */ (template.content.querySelector('[data-testid="message"]')?.cloneNode(true));
  const take = (selector) => {
    const node = /** @type {HTMLElement} */ (prototype.querySelector(selector));
    node.remove();
    return node;
  };
  const thumbPrototype = take(".thumb");
  const filePrototype = take(".file-card");
  const reactionPrototype = take('[data-testid="reaction"]');

  function attachmentNode(upload) {
    if (upload.thumbnail_url || /^image\//.test(upload.content_type || "")) {
      const link = /** @type {HTMLAnchorElement} */ (thumbPrototype.cloneNode(true));
      link.href = upload.url;
      link.setAttribute("aria-label", `Open image ${upload.name}`);
      const image = /** @type {HTMLImageElement} */ (link.querySelector("img"));
      const scale = upload.width && upload.height ? Math.min(1, 300 / Math.max(upload.width, upload.height)) : 1;
      image.src = upload.thumbnail_url || upload.url;
      image.alt = upload.name;
      if (upload.width) image.width = Math.round(upload.width * scale);
      else image.removeAttribute("width");
      if (upload.height) image.height = Math.round(upload.height * scale);
      else image.removeAttribute("height");
      return link;
    }
    const card = /** @type {HTMLAnchorElement} */ (filePrototype.cloneNode(true));
    card.href = upload.url;
    card.setAttribute("download", upload.name);
    card.querySelector(".file-name").textContent = upload.name;
    card.querySelector(".file-size").textContent = `${formatSize(upload.size)}${upload.content_type ? ` · ${upload.content_type}` : ""}`;
    return card;
  }

  /**
   * A message of the outbox, not yet stored: the same markup, with its state where the reactions go.
   * @param {{client_id: string, body: string, queued_at: string, status: string, meta?: any}} entry
   * @param {(Node|string)[]} status what the status line says (and offers: retry, discard)
   */
  function renderPending(entry, status) {
    const node = /** @type {HTMLElement} */ (prototype.cloneNode(true));
    node.classList.add("own", "pending");
    node.classList.toggle("failed", entry.status === "failed");
    node.dataset.testid = "pending-message";
    node.removeAttribute("tabindex");
    Object.assign(node.dataset, { clientId: entry.client_id, sender: String(me.id), created: entry.queued_at });
    delete node.dataset.messageId;
    delete node.dataset.seq;
    const face = /** @type {HTMLElement} */ (node.querySelector(".avatar"));
    face.textContent = "";
    fillAvatar(face, me);
    for (const time of node.querySelectorAll(".gutter-time, .sent-at")) time.textContent = "";
    node.querySelector(".sender").textContent = me.display_name;
    /** @type {HTMLElement} */ (node.querySelector(".bot-tag")).hidden = !me.is_bot;
    const body = /** @type {HTMLElement} */ (node.querySelector(".message-body"));
    body.classList.add("pending-body");
    body.removeAttribute("data-testid");
    body.textContent = entry.body;
    const attachments = /** @type {HTMLElement} */ (node.querySelector(".attachments"));
    const uploads = entry.meta?.attachments || [];
    if (uploads.length) {
      attachments.replaceChildren(
        ...uploads.map((upload) => {
          const card = /** @type {HTMLElement} */ (filePrototype.cloneNode(true));
          card.removeAttribute("href");
          card.removeAttribute("data-testid");
          card.querySelector(".file-name").textContent = upload.name;
          card.querySelector(".file-size").textContent = "Attached";
          return card;
        }),
      );
    } else attachments.remove();
    for (const part of node.querySelectorAll(".reactions, .message-actions, .thread-summary, .reply-quote")) part.remove();
    const line = document.createElement("div");
    line.className = "pending-status";
    if (entry.status === "failed") line.setAttribute("role", "alert");
    line.append(...status);
    node.querySelector(".message-main")?.append(line);
    return node;
  }

  /**
   * @param {Message} message
   * @param {{nameOf: (id: any) => string, parent?: Message|null, canPin: boolean, canDeleteAny?: boolean, moderator?: boolean}} context
   */
  function renderMessage(message, { nameOf, parent = null, canPin, canDeleteAny = false, moderator = false }) {
    const node = /** @type {HTMLElement} */ (prototype.cloneNode(true));
    const own = message.sender?.id === me.id;
    const system = message.kind === "system";
    node.classList.toggle("own", own);
    node.classList.toggle("deleted", message.deleted);
    node.classList.toggle("pinned", message.pinned);
    node.classList.toggle("system", system);
    Object.assign(node.dataset, {
      messageId: String(message.id),
      seq: String(message.seq),
      sender: String(message.sender?.id ?? ""),
      created: message.created_at,
    });

    const face = /** @type {HTMLElement} */ (node.querySelector(".avatar"));
    face.textContent = "";
    fillAvatar(face, message.sender);
    for (const time of node.querySelectorAll(".gutter-time, .sent-at")) {
      time.setAttribute("datetime", message.created_at);
      time.setAttribute("title", formatFull(message.created_at));
      time.textContent = formatTime(message.created_at);
    }
    // An incoming webhook's post may name itself; the sender stays the webhook's bot.
    node.querySelector(".sender").textContent = message.sender_name || message.sender?.display_name || "System";
    /** @type {HTMLElement} */ (node.querySelector(".bot-tag")).hidden = !message.sender?.is_bot;
    const edited = /** @type {HTMLElement} */ (node.querySelector(".edited"));
    edited.hidden = !message.edited_at || message.deleted;
    if (message.edited_at) edited.title = `Edited ${formatFull(message.edited_at)}: show earlier versions`;
    /** @type {HTMLElement} */ (node.querySelector(".pinned-badge")).hidden = !message.pinned;

    const quote = /** @type {HTMLElement} */ (node.querySelector(".reply-quote"));
    quote.hidden = !message.reply_to;
    if (message.reply_to) {
      quote.dataset.target = String(message.reply_to);
      node.querySelector(".quote-sender").textContent = parent ? nameOf(parent.sender) : "";
      const snippet = parent ? (parent.deleted ? "Deleted message" : plainText(parent.body_html) || "Attachment") : "Earlier message";
      node.querySelector(".quote-text").textContent = snippet.slice(0, 120);
    }

    const body = /** @type {HTMLElement} */ (node.querySelector(".message-body"));
    if (message.deleted) {
      const note = document.createElement("em");
      note.className = "deleted-note";
      note.textContent = "This message was deleted.";
      body.replaceChildren(note);
    } else {
      body.innerHTML = message.body_html || ""; // sanitised by the server (markdown-it + nh3)
      for (const pre of body.querySelectorAll("pre")) {
        const copy = document.createElement("button");
        copy.type = "button";
        copy.className = "copy-code";
        copy.setAttribute("aria-label", "Copy code");
        copy.title = "Copy code";
        copy.textContent = "Copy";
        pre.classList.add("code-block");
        pre.append(copy);
      }
    }

    const attachments = /** @type {HTMLElement} */ (node.querySelector(".attachments"));
    const uploads = message.deleted ? [] : message.attachments || [];
    // No files, no box: an empty one would still be "attachments" to a screen reader or a test.
    if (uploads.length) attachments.replaceChildren(...uploads.map(attachmentNode));
    else attachments.remove();

    const summary = /** @type {HTMLElement} */ (node.querySelector(".thread-summary"));
    const thread = message.deleted ? null : message.thread_summary;
    summary.hidden = !thread?.replies;
    if (thread?.replies) {
      summary.querySelector(".thread-replies").textContent = `${thread.replies} ${thread.replies === 1 ? "reply" : "replies"}`;
      summary.querySelector(".thread-last").textContent = `last reply ${relativeTime(thread.last_reply_at)}`;
    }

    const reactions = /** @type {HTMLElement} */ (node.querySelector(".reactions"));
    const chips = message.deleted ? [] : message.reactions || [];
    reactions.hidden = chips.length === 0;
    const addButton = reactions.querySelector(".add-reaction");
    reactions.replaceChildren(
      ...chips.map((reaction) => {
        const mine = reaction.users.includes(me.id);
        const who = reaction.users.map((id) => (id === me.id ? "You" : nameOf(id))).join(", ");
        const chip = /** @type {HTMLElement} */ (reactionPrototype.cloneNode(true));
        chip.classList.toggle("mine", mine);
        chip.dataset.emoji = reaction.emoji;
        chip.setAttribute("aria-pressed", String(mine));
        chip.setAttribute("aria-label", `${reaction.emoji} ${reaction.count}, ${who}`);
        chip.title = who;
        chip.querySelector(".reaction-emoji").textContent = reaction.emoji;
        chip.querySelector(".reaction-count").textContent = String(reaction.count);
        return chip;
      }),
      ...(addButton ? [addButton] : []),
    );

    const toolbar = node.querySelector(".message-actions");
    const drop = (action) => toolbar?.querySelector(`[data-action="${action}"]`)?.remove();
    if (system || (message.deleted && !moderator)) toolbar?.remove();
    else if (message.deleted) {
      // A moderator may bring a deleted message back: its toolbar holds Restore alone.
      for (const button of toolbar?.querySelectorAll("[data-action]") || []) if (button.getAttribute("data-action") !== "restore") button.remove();
    } else if (toolbar) {
      drop("restore");
      if (!canPin) drop("pin");
      if (!moderator || own || !message.sender) drop("mute-sender");
      if (!own) {
        drop("edit");
        // Room admins and moderators delete anyone's message (docs/protocol.md, Moderation).
        if (!canDeleteAny) drop("delete");
      } else drop("report");
      if (message.thread_root) drop("thread"); // one level deep: a reply has no thread of its own
      const pin = toolbar.querySelector('[data-action="pin"]');
      if (pin && message.pinned) {
        pin.setAttribute("aria-label", "Unpin");
        pin.setAttribute("title", "Unpin");
      }
    }
    return node;
  }

  return { renderMessage, renderPending };
}
