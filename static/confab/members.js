// @ts-check
// The members panel's controls: adding people (`GET users/?q=`, `POST rooms/{id}/members/`),
// removing a member (`DELETE rooms/{id}/members/{user}/`), leaving (the same with one's own id) and
// changing a member's role (`PATCH rooms/{id}/members/{user}/`). The list itself is drawn by
// panels.js from the store; `member_joined`, `member_left` and `member_updated` redraw it for
// everyone, so nothing here edits the list by hand.

import { api, avatar, debounce, h } from "./dom.js";

/** Whether the caller may add people: admins, and any member of a public room (docs/protocol.md). */
export function mayAddMembers(room) {
  return room?.kind === "group" && (room.role === "owner" || room.role === "admin" || Boolean(room.is_public));
}

/**
 * Whether the caller may remove this member: admins remove members, only the owner and moderators
 * remove admins, nobody removes the owner, and one leaves rather than removes oneself.
 * @param {any} room the room with the caller's `role`
 * @param {any} member a member object (`user`, `role`)
 * @param {number} meId
 * @param {boolean} [moderator] the caller is a site moderator
 */
export function mayRemoveMember(room, member, meId, moderator = false) {
  if (room?.kind !== "group" || member.user.id === meId || member.role === "owner") return false;
  if (room.role === "owner" || moderator) return true;
  return room.role === "admin" && member.role === "member";
}

/**
 * The role the caller may give this member, or null: the owner and admins make members admins, only the
 * owner (or a site moderator) makes an admin a member again, an admin may step down, and nobody changes
 * the owner's role; direct rooms have no roles (docs/protocol.md).
 * @param {any} room the room with the caller's `role`
 * @param {any} member a member object (`user`, `role`)
 * @param {number} meId
 * @param {boolean} [moderator] the caller is a site moderator
 * @returns {"admin"|"member"|null}
 */
export function roleToGive(room, member, meId, moderator = false) {
  if (room?.kind !== "group" || !member.role || member.role === "owner") return null;
  const admin = room.role === "owner" || room.role === "admin";
  if (member.role === "member") return admin || moderator ? "admin" : null;
  if (room.role === "owner" || moderator || (room.role === "admin" && member.user.id === meId)) return "member";
  return null;
}

/** @param {{store: any, ui: any, roomId: number}} options */
export function mountMemberControls({ store, ui, roomId }) {
  const addForm = /** @type {HTMLFormElement|null} */ (document.getElementById("member-add-form"));
  const addSearch = /** @type {HTMLInputElement|null} */ (document.getElementById("member-add-search"));
  const addResults = /** @type {HTMLElement|null} */ (document.getElementById("member-add-results"));
  const error = /** @type {HTMLElement} */ (document.getElementById("members-error"));
  const fail = (message) => {
    error.textContent = message;
    error.hidden = false;
  };
  const room = () => store.getState().rooms[roomId];

  function showAdd() {
    if (addForm) addForm.hidden = !mayAddMembers(room());
  }

  const runSearch = debounce(async () => {
    if (!addSearch || !addResults) return;
    const query = addSearch.value.trim();
    if (!query) return addResults.replaceChildren();
    try {
      const members = store.getState().members[roomId] || {};
      const users = (await api(`users/?q=${encodeURIComponent(query)}`)).filter((user) => !members[user.id]);
      if (addSearch.value.trim() !== query) return; // a newer search is on its way
      addResults.replaceChildren(
        ...(users.length
          ? users.slice(0, 8).map((user) =>
              h(
                "li",
                {},
                h(
                  "button",
                  { type: "button", class: "pick-row", "data-testid": "member-add-pick", "aria-label": `Add ${user.display_name}`, onclick: () => add(user) },
                  avatar(user, "avatar avatar-sm"),
                  h("span", { class: "pick-text" }, h("strong", {}, user.display_name), h("small", {}, `@${user.username}`)),
                  h("span", { class: "pick-action" }, "Add"),
                ),
              ),
            )
          : [h("li", { class: "pick-empty" }, "Nobody found. Someone you share no room with is found by their exact username.")]),
      );
    } catch (problem) {
      fail(problem.message);
    }
  }, 200);

  async function add(user) {
    error.hidden = true;
    try {
      await api(`rooms/${roomId}/members/`, { method: "POST", body: { user: user.id } });
      if (addSearch) addSearch.value = "";
      addResults?.replaceChildren();
      addSearch?.focus();
      ui.announce?.(`${user.display_name} was added`);
    } catch (problem) {
      fail(problem.message);
    }
  }

  /** Remove a member; the panel's row goes when `member_left` arrives. */
  async function remove(member) {
    error.hidden = true;
    try {
      await api(`rooms/${roomId}/members/${member.user.id}/`, { method: "DELETE" });
    } catch (problem) {
      fail(problem.message);
    }
  }

  /** Make a member an admin or a member again; the store takes the answer as `member_updated` does. */
  async function setRole(member, role) {
    error.hidden = true;
    try {
      const answer = await api(`rooms/${roomId}/members/${member.user.id}/`, { method: "PATCH", body: { role } });
      store.dispatch({ type: "member_updated", data: { room: roomId, user: member.user.id, role: answer.role } });
      const name = member.user.id === store.getState().me.id ? "You are" : `${member.user.display_name} is`;
      ui.announce?.(`${name} ${role === "admin" ? "an admin" : "a member"} now`);
    } catch (problem) {
      fail(problem.message);
    }
  }

  addSearch?.addEventListener("input", runSearch);
  addForm?.addEventListener("submit", (event) => {
    event.preventDefault();
    runSearch();
  });

  const leaveConfirm = document.getElementById("leave-confirm");
  document.getElementById("leave-room")?.addEventListener("click", () => {
    error.hidden = true;
    const note = document.getElementById("leave-note");
    if (note && room()?.role === "owner") {
      note.textContent = "You own this room: an admin, else its longest-standing member, becomes its owner when you leave.";
    }
    if (leaveConfirm) leaveConfirm.hidden = false;
    document.getElementById("leave-room-confirm")?.focus();
  });
  document.getElementById("leave-room-confirm")?.addEventListener("click", async () => {
    try {
      await api(`rooms/${roomId}/members/${store.getState().me.id}/`, { method: "DELETE" });
      location.assign("/");
    } catch (problem) {
      fail(problem.message);
    }
  });

  showAdd();
  let previous = room();
  store.subscribe((state) => {
    if (state.rooms[roomId] !== previous) showAdd();
    previous = state.rooms[roomId];
  });
  return { remove, setRole };
}
