// @ts-check
// The composer: typing a message, replying, attaching files, telling others we type,
// and saying why a message waits when the server asks us to slow down.

import { formatSize, h, icon, plainText } from "./dom.js";
import { mountAutocomplete } from "./autocomplete.js";
import { uploadFile } from "./upload.js";

const TYPING_SEND_EVERY_MS = 3000;

/** The seconds left until `until` (ms since the epoch), at least 1 while any remain. */
export function secondsLeft(until, now) {
  return Math.max(0, Math.ceil((until - now) / 1000));
}

/** Where the unsent text of a room waits in localStorage (per user: a shared browser keeps them apart). */
export function draftKey(userId, roomId) {
  return `confab.draft.${userId}.${roomId}`;
}

function storage() {
  try {
    return window.localStorage;
  } catch (error) {
    return null; // storage disabled: drafts live as long as the page
  }
}

/**
 * @param {{store: any, client: any, ui: any, roomId: number}} options
 */
export function mountComposer({ store, client, ui, roomId }) {
  const section = /** @type {HTMLElement} */ (document.getElementById("room"));
  const composer = /** @type {HTMLTextAreaElement} */ (document.getElementById("composer"));
  const form = /** @type {HTMLFormElement} */ (document.getElementById("composer-form"));
  const tray = /** @type {HTMLElement} */ (document.getElementById("upload-tray"));
  const replyBar = /** @type {HTMLElement} */ (document.getElementById("reply-bar"));
  const notice = /** @type {HTMLElement} */ (document.getElementById("composer-notice"));
  let replyTo = null;
  const me = store.getState().me;
  const completion = mountAutocomplete({
    input: composer,
    members: () => Object.values(store.getState().members[roomId] || {}).map((member) => member.user),
    meId: me.id,
  });

  // --- Drafts: what was typed and not sent stays with the room, across reloads -----------------------

  const key = draftKey(me.id, roomId);
  function saveDraft() {
    try {
      if (composer.value.trim()) storage()?.setItem(key, composer.value);
      else storage()?.removeItem(key);
    } catch (error) {
      /* storage full: the draft lives as long as the page */
    }
  }

  // --- Replies ----------------------------------------------------------------------------------

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
  document.getElementById("reply-cancel")?.addEventListener("click", () => {
    cancelReply();
    composer.focus();
  });

  // --- Uploads ------------------------------------------------------------------------------------

  /** @type {{file: File, status: string, upload: any, abort: any, node: HTMLElement}[]} */
  const uploads = [];
  const renderTray = () => {
    tray.hidden = uploads.length === 0;
  };

  function addFiles(files) {
    for (const file of files) {
      const preview = /^image\//.test(file.type) ? h("img", { src: URL.createObjectURL(file), alt: "" }) : icon("file");
      const bar = h("span", { class: "progress-fill" });
      const progress = h("span", { class: "progress", role: "progressbar", "aria-label": `Uploading ${file.name}`, "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": "0" }, bar);
      const status = h("small", { class: "upload-status" }, formatSize(file.size));
      const item = { file, status: "uploading", upload: null, abort: null, node: /** @type {any} */ (null) };
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
          ui.announce(`${file.name} is ready to send`);
        },
        (error) => {
          if (error.status === -1) return; // cancelled: already removed
          item.status = "error";
          item.node.classList.replace("uploading", "error");
          item.node.dataset.state = "error";
          // The bytes may all have left before the server refused them: a full bar would say "done".
          progress.hidden = true;
          bar.style.width = "0%";
          status.textContent = error.message;
          remove.setAttribute("aria-label", `Remove ${file.name}`);
          ui.toast({ title: `Could not upload ${file.name}`, body: error.message, tone: "error" });
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

  document.getElementById("file-input")?.addEventListener("change", (event) => {
    const input = /** @type {HTMLInputElement} */ (event.target);
    addFiles([...(input.files || [])]);
    input.value = "";
  });

  const dropZone = /** @type {HTMLElement} */ (document.getElementById("drop-zone"));
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
    addFiles([...(event.dataTransfer?.files || [])]);
  });
  composer.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData?.files || [])];
    if (files.length) {
      event.preventDefault();
      addFiles(files);
    }
  });

  // --- Typing -------------------------------------------------------------------------------------

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

  // --- Sending --------------------------------------------------------------------------------------

  function autosize() {
    composer.style.height = "auto";
    composer.style.height = `${Math.min(composer.scrollHeight, 200)}px`;
  }

  function send() {
    const body = composer.value.trim();
    if (uploads.some((item) => item.status === "uploading")) {
      ui.toast({ title: "Still uploading", body: "Your message goes out once the files are up. Press Enter again then." });
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
    saveDraft();
    autosize();
    cancelReply();
    stopOwnTyping();
    ui.timeline.clearDivider();
    composer.focus();
  }

  composer.addEventListener("keydown", (event) => {
    if (completion.handles(event)) return;
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    } else if (event.key === "Escape" && replyTo) {
      event.stopPropagation();
      cancelReply();
    } else if (event.key === "ArrowUp" && !composer.value && !event.altKey) {
      const own = ui.timeline.lastOwnMessage();
      if (own) {
        event.preventDefault();
        ui.timeline.startEdit(own);
      }
    }
  });
  composer.addEventListener("input", () => {
    autosize();
    typingInput();
    saveDraft();
  });
  composer.addEventListener("blur", stopOwnTyping);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });

  // --- Slowing down: the server's `rate_limited` says for how long ----------------------------------

  let countdown = null;
  function drawNotice(state) {
    const until = state.delayedUntil[roomId];
    clearInterval(countdown);
    if (!until) {
      notice.hidden = true;
      return;
    }
    const tick = () => {
      const seconds = secondsLeft(until, Date.now());
      notice.hidden = false;
      notice.textContent = seconds
        ? `You are sending faster than this server allows. Your message goes out in ${seconds} s.`
        : "Sending your message now…";
    };
    tick();
    countdown = setInterval(tick, 1000);
  }
  let previous = null;
  store.subscribe((state) => {
    if (state.delayedUntil !== previous?.delayedUntil) drawNotice(state);
    previous = state;
  });

  const draft = storage()?.getItem(key);
  if (draft) {
    composer.value = draft;
    autosize();
  }
  if (!matchMedia("(pointer: coarse)").matches) {
    composer.focus({ preventScroll: true });
    composer.setSelectionRange(composer.value.length, composer.value.length);
  }

  return { startReply, focus: () => composer.focus(), element: composer };
}
