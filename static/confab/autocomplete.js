// @ts-check
// Completion in the composer: `@` offers the room's members, `:` the emoji shortcodes of
// `GET /api/v1/emoji/` (the table the server renders `:shortcode:` with). The matching is pure
// (tested in node); the list is a listbox under the composer, driven by the arrows, Enter or
// Tab to take, Esc to close.

import { api, h } from "./dom.js";

const MAX_SUGGESTIONS = 8;

/**
 * The word being completed at the caret: `@ann` or `:ta` (at least one character after `:`,
 * so "10:30" or a lone colon offers nothing).
 * @param {string} text
 * @param {number} caret
 * @returns {{trigger: "@"|":", query: string, start: number}|null}
 */
export function tokenAt(text, caret) {
  const before = text.slice(0, caret);
  const match = /(^|[\s(])([@:])([\w+-]*)$/.exec(before);
  if (!match) return null;
  const trigger = /** @type {"@"|":"} */ (match[2]);
  if (trigger === ":" && match[3].length < 1) return null;
  return { trigger, query: match[3].toLowerCase(), start: before.length - match[3].length - 1 };
}

/** Members whose username or name starts with (then contains) the query, never oneself. */
export function matchMembers(users, query, meId) {
  const scored = [];
  for (const user of users) {
    if (user.id === meId) continue;
    const username = user.username.toLowerCase();
    const name = (user.display_name || "").toLowerCase();
    const rank = username.startsWith(query) || name.startsWith(query) ? 0 : username.includes(query) || name.includes(query) ? 1 : -1;
    if (rank >= 0) scored.push({ rank, user });
  }
  scored.sort((a, b) => a.rank - b.rank || a.user.username.localeCompare(b.user.username));
  return scored.slice(0, MAX_SUGGESTIONS).map((each) => each.user);
}

/** Shortcodes that start with the query first, then those whose keywords do. */
export function matchEmoji(table, query) {
  const starts = [];
  const keyword = [];
  for (const row of table) {
    if (row.shortcode.startsWith(query)) starts.push(row);
    else if (row.keywords.some((word) => word.startsWith(query))) keyword.push(row);
    if (starts.length >= MAX_SUGGESTIONS) break;
  }
  starts.sort((a, b) => a.shortcode.length - b.shortcode.length);
  return [...starts, ...keyword].slice(0, MAX_SUGGESTIONS);
}

/** The text with the token replaced by the pick, and where the caret goes. */
export function insertCompletion(text, token, caret, replacement) {
  const next = `${text.slice(0, token.start)}${replacement} ${text.slice(caret)}`;
  return { text: next, caret: token.start + replacement.length + 1 };
}

/**
 * @param {{input: HTMLTextAreaElement, members: () => any[], meId: number}} options
 */
export function mountAutocomplete({ input, members, meId }) {
  const box = h("ul", { class: "autocomplete", role: "listbox", id: `${input.id}-suggestions`, "data-testid": "autocomplete", hidden: true });
  input.closest("form")?.append(box);
  input.setAttribute("aria-controls", box.id);
  input.setAttribute("aria-autocomplete", "list");
  /** @type {any[]|null} */
  let emojiTable = null;
  let loadingEmoji = null;
  let options = [];
  let active = 0;
  let token = null;

  function loadEmoji() {
    loadingEmoji ||= api("emoji/")
      .then((rows) => {
        emojiTable = rows;
        update();
      })
      .catch(() => {
        emojiTable = [];
      });
  }

  function close() {
    box.hidden = true;
    options = [];
    token = null;
    input.removeAttribute("aria-activedescendant");
  }

  function draw() {
    box.replaceChildren(
      ...options.map((option, index) =>
        h(
          "li",
          {
            id: `${box.id}-${index}`,
            role: "option",
            class: `autocomplete-option${index === active ? " active" : ""}`,
            "aria-selected": String(index === active),
            "data-testid": "autocomplete-option",
            onmousedown: (event) => {
              event.preventDefault(); // keep the focus in the composer
              take(index);
            },
          },
          option.label,
          h("small", {}, option.hint),
        ),
      ),
    );
    box.hidden = options.length === 0;
    if (options.length) input.setAttribute("aria-activedescendant", `${box.id}-${active}`);
  }

  function update() {
    token = tokenAt(input.value, input.selectionStart ?? input.value.length);
    if (!token) return close();
    if (token.trigger === "@") {
      options = matchMembers(members(), token.query, meId).map((user) => ({ label: `@${user.username}`, hint: user.display_name, insert: `@${user.username}` }));
    } else {
      if (emojiTable === null) return loadEmoji();
      options = matchEmoji(emojiTable, token.query).map((row) => ({ label: `${row.emoji} :${row.shortcode}:`, hint: "", insert: row.emoji }));
    }
    active = 0;
    draw();
  }

  function take(index) {
    const option = options[index];
    if (!option || !token) return;
    const caret = input.selectionStart ?? input.value.length;
    const next = insertCompletion(input.value, token, caret, option.insert);
    input.value = next.text;
    input.setSelectionRange(next.caret, next.caret);
    close();
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }

  input.addEventListener("input", update);
  input.addEventListener("blur", () => setTimeout(close, 100));

  return {
    /** Keys the open list takes for itself; true when it did. */
    handles(event) {
      if (box.hidden || !options.length) return false;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        active = (active + (event.key === "ArrowDown" ? 1 : -1) + options.length) % options.length;
        draw();
      } else if (event.key === "Enter" || event.key === "Tab") take(active);
      else if (event.key === "Escape") close();
      else return false;
      event.preventDefault();
      event.stopPropagation();
      return true;
    },
  };
}
