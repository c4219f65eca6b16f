// @ts-check
// A room's notification settings for the caller: mute, and which messages notify (`notify_level`).
// One menu serves every button with `data-notify-menu-for` (the room header's, each sidebar
// entry's); a choice is saved with `PATCH rooms/{id}/` and its answer applied to the store, which
// greys the room's badge and takes it out of the title's count.

import { api, h } from "./dom.js";

/** The levels of `notify_level` (docs/protocol.md, Notifications), as the menu words them. */
export const NOTIFY_LEVELS = [
  ["all", "All messages"],
  ["mentions", "Mentions and replies"],
  ["none", "Nothing"],
];

/** @param {{store: any, ui: any}} options */
export function mountNotifyMenu({ store, ui }) {
  const menu = h("div", { class: "notify-menu", role: "menu", "data-testid": "notify-menu", "aria-label": "Notifications of the room" });
  menu.hidden = true;
  document.body.append(menu);
  /** @type {number|null} */
  let roomId = null;
  /** @type {HTMLElement|null} */
  let opener = null;

  const item = (label, checked, onPick, testId) =>
    h("button", { type: "button", role: "menuitemradio", "aria-checked": String(checked), "data-testid": testId, onclick: onPick }, label);

  function open(id, button) {
    const room = store.getState().rooms[id];
    if (!room) return;
    roomId = id;
    opener = button;
    const level = room.notify_level || "all";
    menu.replaceChildren(
      h("button", { type: "button", role: "menuitemcheckbox", "aria-checked": String(Boolean(room.muted)), "data-testid": "notify-mute", onclick: () => save({ muted: !room.muted }) }, "Mute this room"),
      h("hr", { "aria-hidden": "true" }),
      ...NOTIFY_LEVELS.map(([value, label]) => item(label, level === value, () => save({ notify_level: value }), `notify-level-${value}`)),
    );
    menu.hidden = false;
    const box = button.getBoundingClientRect();
    const width = menu.offsetWidth;
    menu.style.left = `${Math.max(8, Math.min(box.left, window.innerWidth - width - 8))}px`;
    menu.style.top = `${Math.min(box.bottom + 4, window.innerHeight - menu.offsetHeight - 8)}px`;
    button.setAttribute("aria-expanded", "true");
    /** @type {HTMLElement|null} */ (menu.querySelector('[aria-checked="true"]') || menu.querySelector("button"))?.focus();
  }

  function close(returnFocus = false) {
    if (menu.hidden) return;
    menu.hidden = true;
    opener?.setAttribute("aria-expanded", "false");
    if (returnFocus) opener?.focus();
  }

  async function save(changes) {
    const id = roomId;
    close(true);
    try {
      const room = await api(`rooms/${id}/`, { method: "PATCH", body: changes });
      store.dispatch({ type: "membership_saved", data: { room } });
    } catch (problem) {
      ui.toast({ title: "Could not change the notifications", body: problem.message, tone: "error" });
    }
  }

  document.addEventListener("click", (event) => {
    const target = /** @type {Element} */ (event.target);
    const button = /** @type {HTMLElement|null} */ (target.closest?.("[data-notify-menu-for]"));
    if (button) {
      event.preventDefault();
      if (!menu.hidden && opener === button) return close();
      return open(Number(button.dataset.notifyMenuFor), button);
    }
    if (!menu.contains(target)) close();
  });
  menu.addEventListener("keydown", (event) => {
    const items = /** @type {HTMLElement[]} */ ([...menu.querySelectorAll("button")]);
    const at = items.indexOf(/** @type {HTMLElement} */ (document.activeElement));
    if (event.key === "Escape") close(true);
    else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      items[(at + (event.key === "ArrowDown" ? 1 : items.length - 1)) % items.length]?.focus();
    } else return;
    event.stopPropagation();
  });

  // The header's bell follows the open room's mute.
  const headerButton = document.getElementById("room-notify-menu");
  store.subscribe((state) => {
    const id = Number(headerButton?.dataset.notifyMenuFor);
    if (headerButton && state.rooms[id]) headerButton.classList.toggle("muted", Boolean(state.rooms[id].muted));
  });
  return { open, close };
}
