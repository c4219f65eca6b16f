// @ts-check
// Dialogs: new room, direct chat, public rooms (in templates/chat/app.html), and the
// room's own: delete confirmation, report, a moderator's restore and mute, earlier versions
// of an edited message, the image lightbox and the reaction picker.

import { api, avatar, debounce, formatFull, h, icon } from "./dom.js";

const EMOJI = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "🔥", "👀", "✅", "🚀", "💯", "👏", "🤔", "😄", "🙌"];

/** How long a moderator may mute someone from the chat: minutes, or "until" a chosen time. */
export const MUTE_DURATIONS = [
  ["10", "10 minutes"],
  ["60", "1 hour"],
  ["1440", "1 day"],
  ["10080", "7 days"],
  ["until", "Until…"],
];

/**
 * The body of `POST rooms/{id}/members/{user}/mute/`: `minutes` for a preset, `until` (UTC) for a chosen
 * time (a `datetime-local` value, read in the browser's zone), and the reason.
 * @param {{duration: string, until?: string, reason?: string}} choice
 */
export function muteBody({ duration, until = "", reason = "" }) {
  const body = duration === "until" ? { until: until ? new Date(until).toISOString() : "" } : { minutes: Number(duration) };
  return { ...body, reason: reason.trim() };
}

/** What the mute dialog says of a member's mute (`GET .../mute/`). */
export function muteStatus(mute, name) {
  if (!mute?.muted_until) return `${name} may send messages here.`;
  return `${name} is muted until ${formatFull(mute.muted_until)}${mute.reason ? `. Reason: ${mute.reason}` : "."}`;
}

function showError(id, message) {
  const node = /** @type {HTMLElement} */ (document.getElementById(id));
  node.textContent = message;
  node.hidden = false;
}

export function openDialog(id) {
  const dialog = /** @type {HTMLDialogElement} */ (document.getElementById(id));
  dialog.querySelector(".form-error")?.setAttribute("hidden", "");
  dialog.showModal();
  /** @type {HTMLElement|null} */ (dialog.querySelector("input"))?.focus();
  dialog.dispatchEvent(new Event("opened"));
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

const searchUsers = (query) => api(`users/?q=${encodeURIComponent(query)}`);

/** The dialogs every signed-in page has. @param {{me: any}} options */
export function mountAppDialogs({ me }) {
  document.getElementById("new-room-button")?.addEventListener("click", () => openDialog("new-room-dialog"));
  document.getElementById("new-direct-button")?.addEventListener("click", () => openDialog("direct-dialog"));
  document.getElementById("browse-button")?.addEventListener("click", () => openDialog("browse-dialog"));
  for (const button of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("[data-open]"))) {
    button.addEventListener("click", () => openDialog(button.dataset.open));
  }
  for (const button of document.querySelectorAll("dialog [data-close]")) {
    button.addEventListener("click", () => /** @type {HTMLDialogElement} */ (button.closest("dialog")).close());
  }
  for (const dialog of /** @type {NodeListOf<HTMLDialogElement>} */ (document.querySelectorAll("dialog.modal"))) closeOnBackdropAndEscape(dialog);

  // Start a direct chat.
  const directResults = /** @type {HTMLElement} */ (document.getElementById("direct-results"));
  const directSearch = /** @type {HTMLInputElement} */ (document.getElementById("direct-search"));
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
  document.getElementById("direct-dialog")?.addEventListener("opened", runDirectSearch);

  // Create a group room.
  const newRoomForm = /** @type {HTMLFormElement} */ (document.getElementById("new-room-form"));
  const chosen = new Map();
  const chosenList = /** @type {HTMLElement} */ (document.getElementById("new-room-chosen"));
  const peopleSearch = /** @type {HTMLInputElement} */ (document.getElementById("new-room-people"));
  const peopleResults = /** @type {HTMLElement} */ (document.getElementById("new-room-results"));
  function drawChosen() {
    chosenList.replaceChildren(
      ...[...chosen.values()].map((user) =>
        h("li", { class: "chip" }, user.display_name, h("button", { type: "button", class: "chip-remove", "aria-label": `Remove ${user.display_name}`, onclick: () => { chosen.delete(user.id); drawChosen(); } }, icon("x"))),
      ),
    );
  }
  const runPeopleSearch = debounce(async () => {
    const query = peopleSearch.value.trim();
    if (!query) return peopleResults.replaceChildren();
    try {
      const users = (await searchUsers(query)).filter((user) => !chosen.has(user.id));
      peopleResults.replaceChildren(
        ...users.slice(0, 6).map((user) =>
          personRow(user, {
            action: "Add",
            label: "Invite",
            onPick: (picked) => {
              chosen.set(picked.id, picked);
              drawChosen();
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
        body: { name: String(form.get("name") || "").trim(), topic: String(form.get("topic") || "").trim(), is_public: form.get("is_public") === "on", members: [...chosen.keys()] },
      });
      location.assign(`/rooms/${room.id}/`);
    } catch (error) {
      showError("new-room-error", error.message);
    }
  });

  // Browse and join public rooms.
  const browseResults = /** @type {HTMLElement} */ (document.getElementById("browse-results"));
  const browseSearch = /** @type {HTMLInputElement} */ (document.getElementById("browse-search"));
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
                  h("span", { class: "pick-text" }, h("strong", {}, room.name), h("small", {}, `${room.member_count ?? "?"} member${room.member_count === 1 ? "" : "s"}${room.topic ? ` · ${room.topic}` : ""}`)),
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
  document.getElementById("browse-dialog")?.addEventListener("opened", runBrowse);
}

function closeOnBackdropAndEscape(dialog) {
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

/**
 * Where focus goes when a dialog opened from a message's toolbar closes. A pointer user gets the
 * composer: focus left on the toolbar button would keep that toolbar shown (:focus-within) next to
 * the one under the pointer. A keyboard user gets the button back, where they were.
 */
function returnFocus(opener, byPointer, composer) {
  if (byPointer) composer?.focus({ preventScroll: true });
  else if (opener?.isConnected) opener.focus({ preventScroll: true });
  else composer?.focus({ preventScroll: true });
}

/** The room's dialogs. @param {{toast: Function, composer: () => HTMLElement|null}} options */
export function mountRoomDialogs({ toast, composer }) {
  const modal = (titleId, ...content) => {
    const dialog = /** @type {HTMLDialogElement} */ (h("dialog", { class: "modal confirm", "aria-labelledby": titleId }, h("form", { method: "dialog", class: "modal-form" }, ...content)));
    document.body.append(dialog);
    closeOnBackdropAndEscape(dialog);
    return dialog;
  };

  const confirmDialog = modal(
    "confirm-title",
    h("h2", { id: "confirm-title" }, "Delete this message?"),
    h("p", { class: "muted" }, "Everyone in the room will see that it was deleted. This cannot be undone."),
    h("footer", { class: "modal-actions" }, h("button", { class: "btn btn-ghost", value: "cancel" }, "Cancel"), h("button", { class: "btn btn-danger", value: "delete", "data-testid": "confirm-delete" }, "Delete")),
  );

  /** Resolves true when the user confirms. */
  function confirmDelete(opener) {
    confirmDialog.returnValue = "";
    confirmDialog.showModal();
    /** @type {HTMLElement} */ (confirmDialog.querySelector("[value=cancel]")).focus();
    return new Promise((resolve) => {
      confirmDialog.addEventListener("close", () => {
        returnFocus(opener, true, composer());
        resolve(confirmDialog.returnValue === "delete");
      }, { once: true });
    });
  }

  const reportReason = /** @type {HTMLTextAreaElement} */ (h("textarea", { id: "report-reason", rows: 3, maxlength: 1000, required: true, "data-testid": "report-reason", placeholder: "What is wrong with this message?" }));
  const reportDialog = modal(
    "report-title",
    h("h2", { id: "report-title" }, "Report this message?"),
    h("label", { for: "report-reason", class: "muted" }, "Moderators will see the message, its context and your reason."),
    reportReason,
    h("footer", { class: "modal-actions" }, h("button", { class: "btn btn-ghost", value: "cancel", formnovalidate: true }, "Cancel"), h("button", { class: "btn btn-danger", value: "report", "data-testid": "confirm-report" }, "Report")),
  );

  function report(message, opener, event) {
    const byPointer = Boolean(event?.detail); // a click, not Enter or Space on the button
    reportDialog.returnValue = "";
    reportReason.value = "";
    reportDialog.showModal();
    reportReason.focus();
    reportDialog.addEventListener(
      "close",
      async () => {
        returnFocus(opener, byPointer, composer());
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

  const restoreReason = /** @type {HTMLTextAreaElement} */ (h("textarea", { rows: 3, maxlength: 500, "data-testid": "restore-reason", placeholder: "Why it comes back" }));
  const restoreDialog = modal(
    "restore-title",
    h("h2", { id: "restore-title" }, "Restore this message?"),
    h("p", { class: "muted" }, "Everyone in the room will see it again."),
    h("label", { class: "field" }, h("span", {}, "Reason ", h("small", {}, "(optional; kept in the audit log)")), restoreReason),
    h("footer", { class: "modal-actions" }, h("button", { class: "btn btn-ghost", value: "cancel", formnovalidate: true }, "Cancel"), h("button", { class: "btn btn-primary", value: "restore", "data-testid": "confirm-restore" }, "Restore")),
  );

  /**
   * A moderator brings a deleted message back (`POST messages/{id}/restore/`). Resolves with the restored
   * message, or null when cancelled or refused (the refusal is toasted).
   */
  function restore(message, opener, event) {
    const byPointer = Boolean(event?.detail);
    restoreDialog.returnValue = "";
    restoreReason.value = "";
    restoreDialog.showModal();
    restoreReason.focus();
    return new Promise((resolve) => {
      restoreDialog.addEventListener(
        "close",
        async () => {
          returnFocus(opener, byPointer, composer());
          if (restoreDialog.returnValue !== "restore") return resolve(null);
          try {
            resolve(await api(`messages/${message.id}/restore/`, { method: "POST", body: { reason: restoreReason.value } }));
          } catch (error) {
            toast({ title: "Could not restore", body: error.message, tone: "error" });
            resolve(null);
          }
        },
        { once: true },
      );
    });
  }

  // --- Mute (moderators): for how long and why; the member is told the reason when they send. ---
  const muteTitle = h("h2", { id: "mute-title" }, "Mute");
  const muteState = h("p", { class: "muted", "data-testid": "mute-status", role: "status" }, "");
  const muteDuration = /** @type {HTMLSelectElement} */ (h("select", { "data-testid": "mute-duration" }, ...MUTE_DURATIONS.map(([value, label]) => h("option", { value }, label))));
  const muteUntil = /** @type {HTMLInputElement} */ (h("input", { type: "datetime-local", "data-testid": "mute-until" }));
  const muteUntilField = h("label", { class: "field", hidden: true }, h("span", {}, "Until"), muteUntil);
  const muteReasonHelp = h("small", {}, "");
  const muteReason = /** @type {HTMLTextAreaElement} */ (h("textarea", { rows: 3, maxlength: 500, "data-testid": "mute-reason", placeholder: "What they did" }));
  const muteError = h("p", { class: "form-error", role: "alert", "data-testid": "mute-error", hidden: true });
  const unmuteButton = h("button", { class: "btn btn-ghost", value: "unmute", "data-testid": "confirm-unmute", hidden: true }, "Unmute");
  const muteDialog = modal(
    "mute-title",
    muteTitle,
    muteState,
    h("label", { class: "field" }, h("span", {}, "For"), muteDuration),
    muteUntilField,
    h("label", { class: "field" }, h("span", {}, "Reason ", muteReasonHelp), muteReason),
    muteError,
    h("footer", { class: "modal-actions" }, h("button", { class: "btn btn-ghost", value: "cancel", formnovalidate: true }, "Cancel"), unmuteButton, h("button", { class: "btn btn-danger", value: "mute", "data-testid": "confirm-mute" }, "Mute")),
  );
  muteDuration.addEventListener("change", () => {
    muteUntilField.hidden = muteDuration.value !== "until";
    muteUntil.required = muteDuration.value === "until";
  });
  /** @type {{user: any, roomId: number, opener: any, byPointer: boolean}|null} */
  let muting = null;
  muteDialog.addEventListener("close", () => {
    if (muting) returnFocus(muting.opener, muting.byPointer, composer());
    muting = null;
  });
  muteDialog.querySelector("form")?.addEventListener("submit", async (event) => {
    event.preventDefault(); // the dialog stays open on a refusal, showing the server's reason
    const choice = /** @type {HTMLButtonElement|null} */ (/** @type {SubmitEvent} */ (event).submitter)?.value;
    if (!muting || choice === "cancel") return muteDialog.close();
    const { user, roomId } = muting;
    const url = `rooms/${roomId}/members/${user.id}/mute/`;
    muteError.hidden = true;
    try {
      if (choice === "unmute") {
        await api(url, { method: "DELETE", body: { reason: muteReason.value.trim() } });
        toast({ title: `${user.display_name} may send again` });
      } else {
        const mute = await api(url, { method: "POST", body: muteBody({ duration: muteDuration.value, until: muteUntil.value, reason: muteReason.value }) });
        toast({ title: `${user.display_name} is muted`, body: `Until ${formatFull(mute.muted_until)}` });
      }
      muteDialog.close();
    } catch (error) {
      muteError.textContent = error.message;
      muteError.hidden = false;
    }
  });

  /** Open the mute dialog for a member of the room (from the members panel or a message's toolbar). */
  async function mute(user, roomId, opener, event) {
    muting = { user, roomId, opener, byPointer: Boolean(event?.detail) };
    muteTitle.textContent = `Mute ${user.display_name} in this room`;
    muteReasonHelp.textContent = `(${user.display_name} sees it when they try to send; kept in the audit log)`;
    muteState.textContent = "Checking…";
    muteDuration.value = "60";
    muteUntilField.hidden = true;
    muteUntil.required = false;
    muteUntil.value = "";
    muteReason.value = "";
    muteError.hidden = true;
    unmuteButton.hidden = true;
    muteDialog.showModal();
    muteDuration.focus();
    try {
      const current = await api(`rooms/${roomId}/members/${user.id}/mute/`);
      if (muting?.user !== user) return; // opened for someone else meanwhile
      muteState.textContent = muteStatus(current, user.display_name);
      unmuteButton.hidden = !current.muted_until;
    } catch (error) {
      muteState.textContent = "";
      muteError.textContent = error.message;
      muteError.hidden = false;
    }
  }

  const historyList = h("ol", { class: "edit-history", "data-testid": "edit-history" });
  const historyDialog = modal(
    "history-title",
    h("h2", { id: "history-title" }, "Earlier versions"),
    historyList,
    h("footer", { class: "modal-actions" }, h("button", { class: "btn btn-ghost", value: "close" }, "Close")),
  );

  async function editHistory(message) {
    historyList.replaceChildren(h("li", { class: "panel-loading" }, h("span", { class: "spinner" })));
    historyDialog.showModal();
    try {
      const { edits } = await api(`messages/${message.id}/edits/`);
      historyList.replaceChildren(
        h("li", { class: "edit-version current", "data-testid": "edit-version" }, h("small", {}, `Now (edited ${formatFull(message.edited_at)})`), h("p", {}, message.body)),
        ...edits.map((edit) => h("li", { class: "edit-version", "data-testid": "edit-version" }, h("small", {}, `Until ${formatFull(edit.edited_at)}`), h("p", {}, edit.body))),
      );
    } catch (error) {
      historyList.replaceChildren(h("li", { class: "panel-error" }, `Earlier versions are not available: ${error.message}`));
    }
  }

  const lightbox = /** @type {HTMLDialogElement} */ (document.getElementById("lightbox"));
  lightbox.addEventListener("click", (event) => {
    if (event.target === lightbox) lightbox.close();
  });
  function openLightbox(upload) {
    const image = /** @type {HTMLImageElement} */ (document.getElementById("lightbox-img"));
    image.src = upload.url;
    image.alt = upload.name;
    const link = /** @type {HTMLAnchorElement} */ (document.getElementById("lightbox-link"));
    link.href = upload.url;
    link.setAttribute("download", upload.name);
    lightbox.showModal();
  }

  return { confirmDelete, report, restore, mute, editHistory, lightbox: openLightbox };
}

const RECENT_EMOJI_KEY = "confab.recentEmoji";
const RECENT_EMOJI_MAX = 16;
const SEARCH_RESULTS_MAX = 64;

/** The picked emoji first, then the earlier ones without it, at most `max`. */
export function withRecent(recent, emoji, max = RECENT_EMOJI_MAX) {
  return [emoji, ...recent.filter((each) => each !== emoji)].slice(0, max);
}

/**
 * The emoji table's rows (`GET emoji/`) that match a search: shortcodes that start with it first,
 * then shortcodes that contain it, then keywords that start with it.
 * @param {{shortcode: string, emoji: string, keywords: string[]}[]} table
 */
export function searchEmoji(table, query, max = SEARCH_RESULTS_MAX) {
  const words = query.trim().toLowerCase().replace(/^:|:$/g, "");
  if (!words) return [];
  const ranked = [[], [], []];
  for (const row of table) {
    if (row.shortcode.startsWith(words)) ranked[0].push(row);
    else if (row.shortcode.includes(words)) ranked[1].push(row);
    else if ((row.keywords || []).some((word) => word.startsWith(words))) ranked[2].push(row);
  }
  ranked[0].sort((a, b) => a.shortcode.length - b.shortcode.length);
  // Some emoji have several shortcodes (:tada:, :party_popper:): each is offered once.
  const seen = new Set();
  return ranked.flat().filter((row) => !seen.has(row.emoji) && (seen.add(row.emoji), true)).slice(0, max);
}

function readRecent() {
  try {
    const stored = JSON.parse(localStorage.getItem(RECENT_EMOJI_KEY) || "[]");
    return Array.isArray(stored) ? stored.filter((each) => typeof each === "string").slice(0, RECENT_EMOJI_MAX) : [];
  } catch (error) {
    return []; // unreadable: start afresh
  }
}

/** The reaction picker, one for the page: recent and frequent emoji, and the whole table to search. */
export function mountPicker() {
  const search = /** @type {HTMLInputElement} */ (
    h("input", { type: "search", class: "emoji-search", "data-testid": "emoji-search", placeholder: "Search emoji", "aria-label": "Search emoji", autocomplete: "off" })
  );
  const grid = h("div", { class: "emoji-grid", "data-testid": "emoji-grid" });
  const picker = h("div", { class: "emoji-picker", role: "dialog", "aria-label": "Pick a reaction", hidden: true }, search, grid);
  /** @type {{shortcode: string, emoji: string, keywords: string[]}[]} */
  let table = [];
  let loading = null;
  let onPick = null;
  let opener = null;
  const nameOf = (emoji) => table.find((row) => row.emoji === emoji)?.shortcode;

  const option = (emoji) =>
    h(
      "button",
      {
        type: "button",
        class: "emoji",
        "aria-label": `React with ${emoji}`,
        title: nameOf(emoji) ? `:${nameOf(emoji)}:` : undefined,
        "data-testid": "emoji-option",
        dataset: { emoji },
        onclick: () => {
          const pick = onPick;
          localStorage.setItem(RECENT_EMOJI_KEY, JSON.stringify(withRecent(readRecent(), emoji)));
          close();
          pick?.(emoji);
        },
      },
      emoji,
    );
  const section = (title, emojis) =>
    emojis.length ? [h("p", { class: "emoji-section", "data-testid": "emoji-section" }, title), h("div", { class: "emoji-row" }, ...emojis.map(option))] : [];

  /** Redraws the grid; an option that had the focus keeps it, so a keyboard user is not dropped to the page when the table arrives. */
  function draw() {
    const focused = /** @type {HTMLElement} */ (document.activeElement);
    const focusedEmoji = grid.contains(focused) ? focused.dataset.emoji : null;
    fillGrid();
    if (focusedEmoji) /** @type {HTMLElement | null} */ (grid.querySelector(`button[data-emoji="${CSS.escape(focusedEmoji)}"]`))?.focus();
  }

  function fillGrid() {
    const query = search.value;
    if (query.trim()) {
      const found = searchEmoji(table, query);
      grid.replaceChildren(...(found.length ? section("Results", found.map((row) => row.emoji)) : [h("p", { class: "emoji-empty" }, table.length ? "No emoji found." : "Loading…")]));
      return;
    }
    const recent = readRecent();
    const frequent = EMOJI.filter((emoji) => !recent.includes(emoji));
    const shown = new Set([...recent, ...EMOJI]);
    grid.replaceChildren(
      ...section("Recent", recent),
      ...section("Frequent", frequent),
      ...section("All", table.map((row) => row.emoji).filter((emoji) => !shown.has(emoji) && (shown.add(emoji), true))),
    );
  }

  function load() {
    loading ||= api("emoji/")
      .then((rows) => {
        table = Array.isArray(rows) ? rows : [];
        if (!picker.hidden) draw();
      })
      .catch(() => {
        loading = null; // try again next time
      });
  }

  search.addEventListener("input", draw);
  document.body.append(picker);

  function open(button, pick) {
    onPick = pick;
    opener = button;
    search.value = "";
    draw();
    load();
    picker.hidden = false;
    const rect = button.getBoundingClientRect();
    const left = Math.max(8, Math.min(window.innerWidth - picker.offsetWidth - 8, rect.right - picker.offsetWidth));
    const top = rect.top - picker.offsetHeight - 8 > 8 ? rect.top - picker.offsetHeight - 8 : Math.max(8, Math.min(rect.bottom + 8, window.innerHeight - picker.offsetHeight - 8));
    picker.style.left = `${left}px`;
    picker.style.top = `${top}px`;
    /** @type {HTMLElement} */ (grid.querySelector("button") || search).focus();
  }

  function close() {
    if (picker.hidden) return;
    picker.hidden = true;
    opener?.focus({ preventScroll: true });
    onPick = null;
  }

  picker.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      close();
      return;
    }
    const buttons = /** @type {HTMLElement[]} */ ([...grid.querySelectorAll("button")]);
    const index = buttons.indexOf(/** @type {HTMLElement} */ (document.activeElement));
    if (index === -1) {
      // In the search box: Down or Enter goes to the first result.
      if ((event.key === "ArrowDown" || event.key === "Enter") && buttons.length) {
        event.preventDefault();
        if (event.key === "Enter") buttons[0].click();
        else buttons[0].focus();
      }
      return;
    }
    const move = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: 8, ArrowUp: -8 }[event.key];
    if (move) {
      event.preventDefault();
      if (move < 0 && index + move < 0) return search.focus();
      buttons[(index + move + buttons.length) % buttons.length].focus();
    } else if (event.key.length === 1 && !event.ctrlKey && !event.metaKey && !event.altKey && event.key !== " ") {
      search.focus(); // typing on the grid searches: the key lands in the box
    }
  });
  document.addEventListener("pointerdown", (event) => {
    const target = /** @type {HTMLElement} */ (event.target);
    if (!picker.hidden && !picker.contains(target) && !target.closest?.(".add-reaction, [data-testid=react-button]")) close();
  });
  return { open, close };
}
