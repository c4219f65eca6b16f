// @ts-check
// The room settings dialog of a group room's admins: name, topic, public or private, who may pin,
// and (the owner) archiving. Every change goes through `PATCH rooms/{id}/` or `DELETE rooms/{id}/`;
// the server's `room_updated` redraws the header and the sidebar for every member, so this module
// only applies the answer early for the person who saved.

import { api } from "./dom.js";

/** The fields of the form that `PATCH rooms/{id}/` takes from admins. */
export const ROOM_SETTINGS_FIELDS = ["name", "topic", "is_public", "members_can_pin"];

/**
 * The body of the PATCH: only what the admin changed, so saving an untouched name writes no
 * "renamed" line and an unchanged form sends nothing.
 * @param {Record<string, any>} room the room as the store holds it
 * @param {Record<string, any>} form the form's values
 */
export function roomSettingsChanges(room, form) {
  /** @type {Record<string, any>} */
  const changes = {};
  for (const field of ROOM_SETTINGS_FIELDS) {
    const value = typeof form[field] === "string" ? form[field].trim() : form[field];
    if (value !== (room[field] ?? (typeof value === "string" ? "" : false))) changes[field] = value;
  }
  return changes;
}

/** @param {{store: any, ui: any, roomId: number}} options */
export function mountRoomSettings({ store, ui, roomId }) {
  const dialog = /** @type {HTMLDialogElement|null} */ (document.getElementById("room-settings-dialog"));
  const button = document.getElementById("room-settings-button");
  if (!dialog || !button) return null;
  const form = /** @type {HTMLFormElement} */ (document.getElementById("room-settings-form"));
  const error = /** @type {HTMLElement} */ (document.getElementById("room-settings-error"));
  const input = (name) => /** @type {HTMLInputElement} */ (form.elements.namedItem(name));
  const archiveConfirm = document.getElementById("room-archive-confirm");
  const fail = (message) => {
    error.textContent = message;
    error.hidden = false;
  };

  function open() {
    const room = store.getState().rooms[roomId] || {};
    input("name").value = room.name || "";
    input("topic").value = room.topic || "";
    input("is_public").checked = Boolean(room.is_public);
    input("members_can_pin").checked = Boolean(room.members_can_pin);
    error.hidden = true;
    if (archiveConfirm) archiveConfirm.hidden = true;
    dialog.showModal();
    input("name").focus();
  }

  async function save(event) {
    event.preventDefault();
    const changes = roomSettingsChanges(store.getState().rooms[roomId] || {}, {
      name: input("name").value,
      topic: input("topic").value,
      is_public: input("is_public").checked,
      members_can_pin: input("members_can_pin").checked,
    });
    if (!Object.keys(changes).length) return dialog.close();
    try {
      const room = await api(`rooms/${roomId}/`, { method: "PATCH", body: changes });
      store.dispatch({ type: "room_updated", data: { room } });
      dialog.close();
      ui.toast({ title: "Room settings saved" });
    } catch (problem) {
      fail(problem.message);
    }
  }

  button.addEventListener("click", open);
  form.addEventListener("submit", save);
  document.getElementById("room-archive-ask")?.addEventListener("click", () => {
    if (archiveConfirm) archiveConfirm.hidden = false;
    document.getElementById("room-archive")?.focus();
  });
  document.getElementById("room-archive")?.addEventListener("click", async () => {
    try {
      await api(`rooms/${roomId}/`, { method: "DELETE" });
      location.assign("/");
    } catch (problem) {
      fail(problem.message);
    }
  });
  return { open };
}
