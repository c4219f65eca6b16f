// The views' pure parts (what a room entry, a presence line and a notification say; which messages
// group): `node --test tests/js/`.
import assert from "node:assert/strict";
import { test } from "node:test";

import { notificationText } from "../../static/confab/panels.js";
import { presenceText, roomPreview } from "../../static/confab/sidebar.js";
import { muteBody, muteStatus, searchEmoji, withRecent } from "../../static/confab/dialogs.js";
import { formatFull } from "../../static/confab/dom.js";
import { idleTransition } from "../../static/confab/idle.js";
import { mayAddMembers, mayRemoveMember, roleToGive } from "../../static/confab/members.js";
import { roomSettingsChanges } from "../../static/confab/room-settings.js";
import { groupedWith } from "../../static/confab/timeline.js";

const ann = { id: 1, username: "ann", display_name: "Ann", avatar_url: null };
const bob = { id: 2, username: "bob", display_name: "Bob", avatar_url: null };

test("a room entry previews its last message as plain text, naming the sender in groups", () => {
  const last = { id: 1, seq: 1, sender: bob, kind: "text", body: "*Design* | review |", deleted: false, created_at: "x" };
  assert.equal(roomPreview({ kind: "group", last_message: last }, ann), "Bob: Design review");
  assert.equal(roomPreview({ kind: "direct", last_message: last }, ann), "Design review");
  assert.equal(roomPreview({ kind: "direct", last_message: { ...last, sender: ann } }, ann), "You: Design review");
  assert.equal(roomPreview({ kind: "group", last_message: { ...last, deleted: true } }, ann), "Message deleted");
  assert.equal(roomPreview({ kind: "group", last_message: { ...last, body: "", kind: "image" } }, ann), "Bob: Photo");
  assert.equal(roomPreview({ kind: "group", topic: "Plans", last_message: null }, ann), "Plans");
});

test("presence reads as a status or as when the person was last seen", () => {
  assert.equal(presenceText({ status: "busy", status_text: "focus", last_seen: null }), "Busy · focus");
  assert.equal(presenceText({ status: "offline", status_text: "", last_seen: null }), "Offline");
  assert.equal(presenceText(undefined), "");
});

test("a notification says who did what where", () => {
  const note = { kind: "thread_reply", room_name: "General", actor: bob, message: { body: "**ok**", deleted: false } };
  assert.deepEqual(notificationText(note), { title: "Bob replied in a thread in #General", body: "ok" });
  assert.equal(notificationText({ ...note, kind: "mention" }).title, "Bob mentioned you in #General");
});

test("a message groups under the previous one of the same sender within five minutes, the same day", () => {
  const first = { sender: "2", created: "2026-11-24T10:00:00Z", system: false };
  assert.equal(groupedWith(first, { sender: "2", created: "2026-11-24T10:04:00Z", system: false, reply: false }), true);
  assert.equal(groupedWith(first, { sender: "2", created: "2026-11-24T10:06:00Z", system: false, reply: false }), false);
  assert.equal(groupedWith(first, { sender: "1", created: "2026-11-24T10:01:00Z", system: false, reply: false }), false);
  assert.equal(groupedWith(first, { sender: "2", created: "2026-11-24T10:01:00Z", system: false, reply: true }), false, "a reply shows its own header");
  assert.equal(groupedWith(null, { sender: "2", created: "2026-11-24T10:01:00Z" }), false);
});

test("room settings send only the fields the admin changed, trimmed", () => {
  const room = { name: "General", topic: "", is_public: false, members_can_pin: true };
  assert.deepEqual(roomSettingsChanges(room, { name: " General ", topic: "", is_public: false, members_can_pin: true }), {});
  assert.deepEqual(roomSettingsChanges(room, { name: "Hall", topic: " Plans ", is_public: true, members_can_pin: false }), {
    name: "Hall", topic: "Plans", is_public: true, members_can_pin: false,
  });
  assert.deepEqual(roomSettingsChanges({ ...room, topic: null }, { ...room, topic: "" }), {});
});

test("admins add people, and anyone in a public room; direct rooms take nobody", () => {
  assert.equal(mayAddMembers({ kind: "group", role: "admin", is_public: false }), true);
  assert.equal(mayAddMembers({ kind: "group", role: "member", is_public: false }), false);
  assert.equal(mayAddMembers({ kind: "group", role: "member", is_public: true }), true);
  assert.equal(mayAddMembers({ kind: "direct", role: "owner", is_public: false }), false);
});

test("the owner removes anyone but themself, admins only members, members nobody", () => {
  const group = (role) => ({ kind: "group", role });
  const member = (id, role) => ({ user: { id }, role });
  assert.equal(mayRemoveMember(group("owner"), member(2, "admin"), 1), true);
  assert.equal(mayRemoveMember(group("owner"), member(1, "owner"), 1), false);
  assert.equal(mayRemoveMember(group("admin"), member(3, "member"), 2), true);
  assert.equal(mayRemoveMember(group("admin"), member(4, "admin"), 2), false);
  assert.equal(mayRemoveMember(group("admin"), member(1, "owner"), 2), false);
  assert.equal(mayRemoveMember(group("member"), member(4, "member"), 3), false);
  assert.equal(mayRemoveMember({ kind: "direct", role: "owner" }, member(2, "member"), 1), false);
});

test("owners and admins make members admins; only the owner demotes another admin; an admin steps down", () => {
  const group = (role) => ({ kind: "group", role });
  const member = (id, role) => ({ user: { id }, role });
  assert.equal(roleToGive(group("owner"), member(2, "member"), 1), "admin");
  assert.equal(roleToGive(group("owner"), member(2, "admin"), 1), "member");
  assert.equal(roleToGive(group("owner"), member(1, "owner"), 1), null);
  assert.equal(roleToGive(group("admin"), member(3, "member"), 2), "admin");
  assert.equal(roleToGive(group("admin"), member(4, "admin"), 2), null);
  assert.equal(roleToGive(group("admin"), member(2, "admin"), 2), "member", "stepping down");
  assert.equal(roleToGive(group("admin"), member(1, "owner"), 2), null);
  assert.equal(roleToGive(group("member"), member(4, "member"), 3), null);
  assert.equal(roleToGive(group("member"), member(3, "member"), 3), null);
  assert.equal(roleToGive({ kind: "direct", role: "member" }, member(2, "member"), 1), null);
  assert.equal(roleToGive(group("member"), member(4, "admin"), 9, true), "member", "a moderator");
  assert.equal(roleToGive(group("member"), member(4, "member"), 9, true), "admin", "a moderator");
  assert.equal(roleToGive(group("member"), member(1, "owner"), 9, true), null, "not even a moderator");
});

test("a mute sends minutes for a preset and a UTC time for a chosen end, with the reason trimmed", () => {
  assert.deepEqual(muteBody({ duration: "60", reason: "  spam  " }), { minutes: 60, reason: "spam" });
  assert.deepEqual(muteBody({ duration: "10080" }), { minutes: 10080, reason: "" });
  const local = "2030-01-02T03:04";
  assert.deepEqual(muteBody({ duration: "until", until: local, reason: "x" }), { until: new Date(local).toISOString(), reason: "x" });
  assert.deepEqual(muteBody({ duration: "until", until: "" }), { until: "", reason: "" }, "the server names the missing time");
});

test("the mute dialog says whether the member may send, and until when and why not", () => {
  assert.equal(muteStatus({ muted_until: null, reason: "" }, "Bob"), "Bob may send messages here.");
  const until = "2030-01-02T03:04:00Z";
  assert.equal(muteStatus({ muted_until: until, reason: "spam" }, "Bob"), `Bob is muted until ${formatFull(until)}. Reason: spam`);
  assert.equal(muteStatus({ muted_until: until, reason: "" }, "Bob"), `Bob is muted until ${formatFull(until)}.`);
});

test("idle goes away only over a plain online, and activity comes back only from an automatic away", () => {
  const idle = { idleFor: 600_000, idleAfter: 300_000 };
  const active = { idleFor: 1_000, idleAfter: 300_000 };
  assert.equal(idleTransition({ ...idle, status: "online", autoAway: false }), "away");
  assert.equal(idleTransition({ ...idle, status: "busy", autoAway: false }), null);
  assert.equal(idleTransition({ ...idle, status: "away", autoAway: false }), null);
  assert.equal(idleTransition({ ...idle, status: "away", autoAway: true }), null);
  assert.equal(idleTransition({ ...active, status: "away", autoAway: true }), "online");
  assert.equal(idleTransition({ ...active, status: "away", autoAway: false }), null);
  assert.equal(idleTransition({ ...active, status: "online", autoAway: false }), null);
  assert.equal(idleTransition({ ...idle, status: undefined, autoAway: false }), null);
});

test("a moderator removes admins and members of any room, never its owner or themself", () => {
  const room = { kind: "group", role: "member" };
  assert.equal(mayRemoveMember(room, { user: { id: 2 }, role: "admin" }, 9, true), true);
  assert.equal(mayRemoveMember(room, { user: { id: 3 }, role: "member" }, 9, true), true);
  assert.equal(mayRemoveMember(room, { user: { id: 1 }, role: "owner" }, 9, true), false);
  assert.equal(mayRemoveMember(room, { user: { id: 9 }, role: "member" }, 9, true), false);
});

test("the emoji search ranks shortcode prefixes, then inner matches, then keywords", () => {
  const table = [
    { shortcode: "tada", emoji: "🎉", keywords: ["party"] },
    { shortcode: "partying_face", emoji: "🥳", keywords: ["celebration"] },
    { shortcode: "thumbsup", emoji: "👍", keywords: ["yes"] },
    { shortcode: "pizza", emoji: "🍕", keywords: [] },
    { shortcode: "sparty", emoji: "✨", keywords: [] },
  ];
  assert.deepEqual(searchEmoji(table, "party").map((row) => row.emoji), ["🥳", "✨", "🎉"]);
  assert.deepEqual(searchEmoji(table, ":tada:").map((row) => row.emoji), ["🎉"]);
  assert.deepEqual(searchEmoji(table, "  "), []);
  assert.deepEqual(searchEmoji(table, "zzz"), []);
  const twice = [...table, { shortcode: "party_popper", emoji: "🎉", keywords: [] }];
  assert.deepEqual(searchEmoji(twice, "party").map((row) => row.emoji), ["🎉", "🥳", "✨"]);
});

test("a picked emoji goes first among the recent ones, once, and the list stays short", () => {
  assert.deepEqual(withRecent(["👍", "🎉"], "🎉"), ["🎉", "👍"]);
  assert.deepEqual(withRecent([], "🔥"), ["🔥"]);
  assert.deepEqual(withRecent(["a", "b", "c"], "d", 3), ["d", "a", "b"]);
});
