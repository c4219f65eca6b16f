// @ts-check
// Keyboard shortcuts of the signed-in pages, and the dialog that lists them:
// Ctrl+K switches rooms, Alt+Up/Down moves between rooms, Esc marks the open room read,
// Up in the empty composer edits one's last message (composer.js), ? shows this list.

import { h } from "./dom.js";
import { roomTitle, sortedRooms } from "./store.js";

export const SHORTCUTS = [
  ["Ctrl + K", "Switch to a room"],
  ["Alt + ↑ / Alt + ↓", "Previous / next room"],
  ["Esc", "Mark this room read"],
  ["↑ (empty message box)", "Edit your last message"],
  ["Enter / Shift + Enter", "Send / new line"],
  ["@ / :", "Complete a member / an emoji"],
  ["?", "Show these shortcuts"],
];

/** The rooms a switcher query finds, best first: names that start with it, then those that contain it. */
export function switcherMatches(rooms, query, titleOf) {
  const wanted = query.trim().toLowerCase();
  const scored = [];
  for (const room of rooms) {
    const title = titleOf(room).toLowerCase();
    const rank = !wanted || title.startsWith(wanted) ? 0 : title.includes(wanted) ? 1 : -1;
    if (rank >= 0) scored.push({ rank, room });
  }
  return scored.sort((a, b) => a.rank - b.rank).map((each) => each.room);
}

/** The room before or after `currentId` in the list's order, wrapping around. */
export function neighbourRoom(roomIds, currentId, step) {
  if (!roomIds.length) return null;
  const index = roomIds.indexOf(currentId);
  if (index === -1) return roomIds[step > 0 ? 0 : roomIds.length - 1];
  return roomIds[(index + step + roomIds.length) % roomIds.length];
}

const typing = (target) => Boolean(target?.closest?.("input, textarea, select, [contenteditable=true]"));

/** @param {{store: any, ui: any}} options */
export function mountShortcuts({ store, ui }) {
  const modal = (titleId, ...content) => {
    const dialog = /** @type {HTMLDialogElement} */ (h("dialog", { class: "modal", "aria-labelledby": titleId }, h("form", { method: "dialog", class: "modal-form" }, ...content)));
    document.body.append(dialog);
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) dialog.close();
    });
    return dialog;
  };

  const help = modal(
    "shortcuts-title",
    h("h2", { id: "shortcuts-title" }, "Keyboard shortcuts"),
    h("dl", { class: "shortcut-list", "data-testid": "shortcuts" }, SHORTCUTS.map(([keys, what]) => [h("dt", {}, h("kbd", {}, keys)), h("dd", {}, what)])),
    h("footer", { class: "modal-actions" }, h("button", { class: "btn btn-ghost", value: "close" }, "Close")),
  );

  const search = /** @type {HTMLInputElement} */ (h("input", { type: "search", id: "switcher-search", "data-testid": "switcher-search", autocomplete: "off", placeholder: "Jump to a room", "aria-controls": "switcher-results" }));
  const results = h("ul", { class: "pick-list", id: "switcher-results", role: "listbox", "aria-label": "Rooms" });
  const switcher = modal("switcher-title", h("h2", { id: "switcher-title" }, "Switch room"), search, results);
  let found = [];
  let active = 0;

  function drawSwitcher() {
    const state = store.getState();
    found = switcherMatches(sortedRooms(state), search.value, (room) => roomTitle(state, room)).slice(0, 8);
    active = Math.min(active, Math.max(0, found.length - 1));
    results.replaceChildren(
      ...found.map((room, index) =>
        h(
          "li",
          { role: "option", "aria-selected": String(index === active), class: `switcher-option${index === active ? " active" : ""}`, "data-testid": "switcher-option" },
          h("a", { href: `/rooms/${room.id}/`, class: "pick-row" }, h("span", { class: "pick-text" }, h("strong", {}, roomTitle(state, room)), room.unread ? h("small", {}, `${room.unread} unread`) : null)),
        ),
      ),
    );
  }
  search.addEventListener("input", () => {
    active = 0;
    drawSwitcher();
  });
  search.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      active = (active + (event.key === "ArrowDown" ? 1 : -1) + found.length) % Math.max(1, found.length);
      drawSwitcher();
    } else if (event.key === "Enter" && found[active]) {
      event.preventDefault();
      location.assign(`/rooms/${found[active].id}/`);
    }
  });

  function openSwitcher() {
    search.value = "";
    active = 0;
    drawSwitcher();
    switcher.showModal();
    search.focus();
  }

  function goToNeighbour(step) {
    const ids = [...document.querySelectorAll('.room-list [data-testid="room"]')].map((node) => Number(/** @type {HTMLElement} */ (node).dataset.roomId));
    const next = neighbourRoom(ids, store.getState().currentRoomId, step);
    if (next !== null && next !== store.getState().currentRoomId) location.assign(`/rooms/${next}/`);
  }

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented) return;
    const target = /** @type {HTMLElement} */ (event.target);
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "k") {
      event.preventDefault();
      openSwitcher();
    } else if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
      event.preventDefault();
      goToNeighbour(event.key === "ArrowUp" ? -1 : 1);
    } else if (event.key === "?" && !typing(target) && !document.querySelector("dialog[open]")) {
      event.preventDefault();
      help.showModal();
    } else if (event.key === "Escape" && !document.querySelector("dialog[open]") && ui.timeline && !event.altKey) {
      // Nothing else took the Escape (reply bar, edit box, picker and panels stop it): read the room.
      ui.timeline.markAllRead();
    }
  });

  return { openSwitcher, help };
}
