// Completion and shortcut helpers of the composer and the page: `node --test tests/js/`.
import assert from "node:assert/strict";
import { test } from "node:test";

import { insertCompletion, matchEmoji, matchMembers, tokenAt } from "../../static/confab/autocomplete.js";
import { draftKey } from "../../static/confab/composer.js";
import { neighbourRoom, switcherMatches } from "../../static/confab/keyboard.js";

test("the token at the caret: a mention, a shortcode, or nothing", () => {
  assert.deepEqual(tokenAt("hi @an", 6), { trigger: "@", query: "an", start: 3 });
  assert.deepEqual(tokenAt("nice :ta", 8), { trigger: ":", query: "ta", start: 5 });
  assert.equal(tokenAt("at 10:30", 8), null, "a time is no shortcode");
  assert.equal(tokenAt("mail ann@example", 16), null, "an address is no mention");
  assert.equal(tokenAt("so :", 4), null);
  assert.deepEqual(tokenAt("@", 1), { trigger: "@", query: "", start: 0 });
});

test("members match by username or name, prefixes first, never oneself", () => {
  const users = [
    { id: 1, username: "ann", display_name: "Ann" },
    { id: 2, username: "bob", display_name: "Bob Annan" },
    { id: 3, username: "joanna", display_name: "Jo" },
  ];
  assert.deepEqual(matchMembers(users, "ann", 1).map((user) => user.username), ["bob", "joanna"]);
  assert.deepEqual(matchMembers(users, "", 2).map((user) => user.username), ["ann", "joanna"]);
});

test("emoji match by shortcode prefix, shortest first, then by keyword", () => {
  const table = [
    { shortcode: "tada", emoji: "🎉", keywords: ["party"] },
    { shortcode: "taco", emoji: "🌮", keywords: ["food"] },
    { shortcode: "ta", emoji: "X", keywords: [] },
    { shortcode: "confetti_ball", emoji: "🎊", keywords: ["party"] },
  ];
  assert.deepEqual(matchEmoji(table, "ta").map((row) => row.shortcode), ["ta", "tada", "taco"]);
  assert.deepEqual(matchEmoji(table, "part").map((row) => row.shortcode), ["tada", "confetti_ball"]);
});

test("a completion replaces the token and leaves the caret after a space", () => {
  assert.deepEqual(insertCompletion("hi @an!", { start: 3 }, 6, "@ann"), { text: "hi @ann !", caret: 8 });
});

test("drafts are kept per user and room", () => {
  assert.equal(draftKey(1, 3), "confab.draft.1.3");
});

test("the room switcher finds prefixes first, and Alt+arrows wrap around the list", () => {
  const rooms = [{ id: 1, name: "design" }, { id: 2, name: "general" }, { id: 3, name: "gen-z" }];
  assert.deepEqual(switcherMatches(rooms, "gen", (room) => room.name).map((room) => room.id), [2, 3]);
  assert.deepEqual(switcherMatches(rooms, "sign", (room) => room.name).map((room) => room.id), [1]);
  assert.equal(neighbourRoom([5, 6, 7], 6, 1), 7);
  assert.equal(neighbourRoom([5, 6, 7], 7, 1), 5);
  assert.equal(neighbourRoom([5, 6, 7], 5, -1), 7);
  assert.equal(neighbourRoom([], 5, 1), null);
});
