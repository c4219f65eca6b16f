// Unit tests of the browser client's pure functions: `node --test tests/js/` (run by `make test`).
import assert from "node:assert/strict";
import { test } from "node:test";

import { backoffDelay, roomsBehind } from "../../static/confab/client.js";

test("a room whose last_seq is past what the client holds is behind, from where the client is", () => {
  const held = new Map([
    ["1", 10],
    ["2", 5],
  ]);
  assert.deepEqual(roomsBehind({ 1: 12, 2: 5 }, held), { 1: 10 });
});

test("rooms the client does not hold are not synced from a ping", () => {
  assert.deepEqual(roomsBehind({ 7: 3 }, new Map()), {});
});

test("the reconnect delay grows and stays under its cap", () => {
  for (let attempt = 0; attempt < 12; attempt += 1) {
    const delay = backoffDelay(attempt, 500, 15000);
    assert.ok(delay > 0 && delay <= 15000, `attempt ${attempt}: ${delay}`);
  }
});
