// @ts-check
// Side panels: pinned messages and members of the open room, and the notification centre.

import { api, avatar, debounce, formatDay, h, relativeTime } from "./dom.js";
import { mayRemoveMember, roleToGive } from "./members.js";
import { presenceText } from "./sidebar.js";
import { previewText } from "./text.js";

/** How a notification reads: "Bob mentioned you in #General". */
export function notificationText(note) {
  const actor = note.actor?.display_name || note.message?.sender?.display_name || "";
  const where = note.room_name ? ` in #${note.room_name}` : "";
  const verb =
    { mention: `mentioned you${where}`, reply: `replied to you${where}`, thread_reply: `replied in a thread${where}`, dm: "sent you a message" }[note.kind] || "Notification";
  const body = note.message ? (note.message.deleted ? "Message deleted" : previewText(note.message.body)) : "";
  return { title: actor ? `${actor} ${verb}` : verb, body };
}

/** @param {{store: any, ui: any}} options */
export function mountNotificationCentre({ store, ui }) {
  const button = /** @type {HTMLElement} */ (document.getElementById("notif-button"));
  const roomButton = document.getElementById("room-notif-button");
  const panel = /** @type {HTMLElement} */ (document.getElementById("notif-panel"));
  const list = /** @type {HTMLElement} */ (document.getElementById("notif-list"));
  const empty = /** @type {HTMLElement} */ (document.getElementById("notif-empty"));
  let opener = button;

  function item(note) {
    const { title, body } = notificationText(note);
    const unread = !note.read_at;
    const open = () => {
      if (unread) api("notifications/read/", { method: "POST", body: { ids: [note.id] } }).catch(() => {});
    };
    return h(
      "li",
      { class: `notif-item${unread ? " unread" : ""}`, "data-testid": "notification", dataset: { notificationId: note.id, messageId: note.message?.id ?? "" } },
      h(
        note.room ? "a" : "div",
        { href: note.room ? `/rooms/${note.room}/` : undefined, class: "notif-link", onclick: open },
        avatar(note.actor || { display_name: "!" }, "avatar avatar-sm"),
        h("span", { class: "notif-text" }, h("strong", {}, title), body ? h("span", { class: "notif-body" }, body) : null, h("time", { datetime: note.created_at }, relativeTime(note.created_at))),
      ),
    );
  }

  function draw(state) {
    const items = state.notifications.items;
    if (items === null) return;
    list.replaceChildren(...items.map(item));
    empty.hidden = items.length > 0;
  }

  async function load() {
    list.replaceChildren(h("li", { class: "panel-loading" }, h("span", { class: "spinner" })));
    try {
      store.dispatch({ type: "notifications_loaded", data: await api("notifications/") });
      draw(store.getState());
    } catch (error) {
      list.replaceChildren(h("li", { class: "panel-error" }, "Notifications are not available right now."));
    }
  }

  function toggle(open = panel.hidden, from = button) {
    panel.hidden = !open;
    for (const each of [button, roomButton]) each?.setAttribute("aria-expanded", String(open && each === from));
    if (open) {
      opener = from;
      load();
      /** @type {HTMLElement} */ (document.getElementById("notif-desktop-row")).hidden = !("Notification" in window) || Notification.permission !== "default";
      /** @type {HTMLElement|null} */ (panel.querySelector("button:not([hidden])"))?.focus();
    } else opener.focus();
  }

  button.addEventListener("click", () => toggle(undefined, button));
  roomButton?.addEventListener("click", () => toggle(undefined, roomButton));
  document.getElementById("notif-close")?.addEventListener("click", () => toggle(false));
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") toggle(false);
  });
  document.getElementById("notif-read-all")?.addEventListener("click", async () => {
    try {
      const answer = await api("notifications/read/", { method: "POST", body: {} });
      store.dispatch({ type: "notifications_read", data: { ids: null, unread_count: answer?.unread_count ?? 0 } });
    } catch (error) {
      ui.toast({ title: "Could not mark notifications read", body: error.message, tone: "error" });
    }
  });
  document.getElementById("notif-desktop")?.addEventListener("click", async () => {
    const permission = await Notification.requestPermission();
    /** @type {HTMLElement} */ (document.getElementById("notif-desktop-row")).hidden = true;
    if (permission === "granted") ui.toast({ title: "Desktop alerts are on", body: "We'll alert you while this tab is in the background." });
  });

  let previous = null;
  store.subscribe((state) => {
    if (!panel.hidden && state.notifications.items !== previous?.notifications.items) draw(state);
    previous = state;
  });
}

/** The open room's panels: pinned messages and members. @param {{store: any, ui: any, roomId: number}} options */
export function mountRoomPanels({ store, ui, roomId }) {
  const pinsPanel = /** @type {HTMLElement} */ (document.getElementById("pins-panel"));
  const pinsButton = /** @type {HTMLElement} */ (document.getElementById("pins-button"));
  const pinsList = /** @type {HTMLElement} */ (document.getElementById("pins-list"));
  const membersPanel = /** @type {HTMLElement} */ (document.getElementById("members-panel"));
  const membersButton = /** @type {HTMLElement} */ (document.getElementById("members-button"));
  const membersList = /** @type {HTMLElement} */ (document.getElementById("members-list"));
  const me = store.getState().me;

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
            h("button", { type: "button", class: "btn btn-link", onclick: () => ui.timeline.jumpTo(message.id) }, "Jump to message"),
          );
        }),
      );
      /** @type {HTMLElement} */ (document.getElementById("pins-empty")).hidden = pins.length > 0;
    } catch (error) {
      ui.toast({ title: "Could not load pinned messages", body: error.message, tone: "error" });
    }
  }

  /** "Make admin" / "Remove admin" (or "Step down" for oneself), for those the room's rules allow. */
  function roleControl(state, member) {
    const role = roleToGive(state.rooms[roomId], member, me.id, state.moderator);
    if (!role) return null;
    const name = member.user.display_name;
    const self = member.user.id === me.id;
    const [label, aria] =
      role === "admin" ? ["Make admin", `Make ${name} an admin`] : self ? ["Step down", "Step down as admin"] : ["Remove admin", `Make ${name} a member again`];
    return h("button", { type: "button", class: "btn btn-ghost btn-sm member-role", "data-testid": "member-role", dataset: { role }, "aria-label": aria, onclick: () => ui.members?.setRole(member, role) }, label);
  }

  /** What the caller may do to a member, on a line of its own under the name (none: no line). */
  function memberActions(state, member) {
    const actions = [
      roleControl(state, member),
      mayRemoveMember(state.rooms[roomId], member, me.id, state.moderator)
        ? h("button", { type: "button", class: "btn btn-ghost btn-sm member-remove", "data-testid": "member-remove", "aria-label": `Remove ${member.user.display_name} from the room`, onclick: () => ui.members?.remove(member) }, "Remove")
        : null,
      // A moderator's mute: for how long and why, in the room's mute dialog (which also unmutes).
      state.moderator && member.user.id !== me.id && member.role !== "owner"
        ? h("button", { type: "button", class: "btn btn-ghost btn-sm", "data-testid": "member-mute", "aria-label": `Mute or unmute ${member.user.display_name} in this room (moderation)`, onclick: (event) => ui.dialogs?.mute(member.user, roomId, event.currentTarget, event) }, "Mute…")
        : null,
    ].filter(Boolean);
    return actions.length ? h("div", { class: "member-actions" }, ...actions) : null;
  }

  function drawMembers(state = store.getState()) {
    if (membersPanel.hidden) return;
    const presenceOf = (id) => state.presence[id];
    const rank = (member) => (presenceOf(member.user.id)?.status && presenceOf(member.user.id).status !== "offline" ? 0 : 1);
    const sorted = Object.values(state.members[roomId] || {}).sort((a, b) => rank(a) - rank(b) || a.user.display_name.localeCompare(b.user.display_name));
    membersList.replaceChildren(
      ...sorted.map((member) => {
        const face = avatar(member.user, "avatar avatar-sm");
        face.append(h("span", { class: "presence-dot", dataset: { presenceUser: member.user.id, status: presenceOf(member.user.id)?.status || "offline" } }));
        return h(
          "li",
          { class: "member-row", "data-testid": "member" },
          face,
          h("span", { class: "pick-text" }, h("strong", {}, member.user.id === me.id ? `${member.user.display_name} (you)` : member.user.display_name), h("small", { dataset: { lastSeenUser: member.user.id } }, presenceText(presenceOf(member.user.id)) || "Offline")),
          member.role && member.role !== "member" ? h("span", { class: "role-badge", "data-testid": "role-badge" }, member.role) : null,
          memberActions(state, member),
        );
      }),
    );
  }

  // Search (REST `GET search/?q=&room=`): the room's live messages, best matches first.
  const searchPanel = /** @type {HTMLElement} */ (document.getElementById("search-panel"));
  const searchButton = /** @type {HTMLElement} */ (document.getElementById("search-button"));
  const searchInput = /** @type {HTMLInputElement} */ (document.getElementById("search-input"));
  const searchResults = /** @type {HTMLElement} */ (document.getElementById("search-results"));
  const runSearch = debounce(async () => {
    const query = searchInput.value.trim();
    if (!query) {
      searchResults.replaceChildren();
      /** @type {HTMLElement} */ (document.getElementById("search-empty")).hidden = true;
      return;
    }
    try {
      const found = await api(`search/?q=${encodeURIComponent(query)}&room=${roomId}`);
      if (searchInput.value.trim() !== query) return; // a newer search is on its way
      searchResults.replaceChildren(
        ...found.map((message) =>
          h(
            "li",
            { class: "pin-item", "data-testid": "search-result" },
            h("div", { class: "pin-meta" }, avatar(message.sender, "avatar avatar-xs"), h("strong", {}, message.sender?.display_name || "System"), h("time", { datetime: message.created_at }, formatDay(message.created_at))),
            h("div", { class: "pin-body" }, previewText(message.body) || "Attachment"),
            h("button", { type: "button", class: "btn btn-link", onclick: () => (message.thread_root && !message.also_to_room ? ui.threads?.open(message) : ui.timeline.jumpTo(message.id)) }, "Jump to message"),
          ),
        ),
      );
      /** @type {HTMLElement} */ (document.getElementById("search-empty")).hidden = found.length > 0;
    } catch (error) {
      searchResults.replaceChildren(h("li", { class: "panel-error" }, error.message));
    }
  }, 250);
  searchInput.addEventListener("input", runSearch);
  document.getElementById("search-form")?.addEventListener("submit", (event) => {
    event.preventDefault();
    runSearch();
  });

  const panels = {
    search: { panel: searchPanel, button: searchButton, load: () => searchInput.focus() },
    pins: { panel: pinsPanel, button: pinsButton, load: loadPins },
    members: { panel: membersPanel, button: membersButton, load: () => drawMembers() },
  };
  function toggle(name, open = panels[name].panel.hidden) {
    for (const [other, parts] of Object.entries(panels)) {
      const show = other === name && open;
      parts.panel.hidden = !show;
      parts.button.setAttribute("aria-expanded", String(show));
    }
    if (open) {
      ui.threads?.close();
      panels[name].load();
    }
  }
  searchButton.addEventListener("click", () => toggle("search"));
  document.getElementById("search-close")?.addEventListener("click", () => {
    toggle("search", false);
    searchButton.focus();
  });
  pinsButton.addEventListener("click", () => toggle("pins"));
  membersButton.addEventListener("click", () => toggle("members"));
  document.getElementById("pins-close")?.addEventListener("click", () => {
    toggle("pins", false);
    pinsButton.focus();
  });
  document.getElementById("members-close")?.addEventListener("click", () => {
    toggle("members", false);
    membersButton.focus();
  });

  let previous = store.getState();
  store.subscribe((state) => {
    if (state.members[roomId] !== previous.members[roomId] || state.presence !== previous.presence || state.rooms[roomId] !== previous.rooms[roomId]) drawMembers(state);
    const before = previous.messages[roomId] || {};
    const pinChanged = Object.values(state.messages[roomId] || {}).some((message) => before[message.id] && before[message.id].pinned !== message.pinned);
    if (pinChanged && !pinsPanel.hidden) loadPins();
    previous = state;
  });

  return { refreshPins: () => !pinsPanel.hidden && loadPins(), closeAll: () => toggle("pins", false) };
}
