// The room list's previews are plain text: `node --test tests/js/`.
import assert from "node:assert/strict";
import { test } from "node:test";

import { secondsLeft } from "../../static/confab/composer.js";
import { previewText } from "../../static/confab/text.js";

test("emphasis, code and links read as their words", () => {
  assert.equal(previewText("*Design* review at **3** with `make` and [the doc](https://x.test/)"), "Design review at 3 with make and the doc");
  assert.equal(previewText("_soon_ ~~never~~"), "soon never");
});

test("a table reads as its cells, without pipes or the separator line", () => {
  assert.equal(previewText("| Name | Role |\n|---|:---:|\n| Ann | Owner |"), "Name Role Ann Owner");
});

test("headings, quotes, lists and code fences lose their markers", () => {
  assert.equal(previewText("# Title\n> quoted\n- one\n2. two\n```js\nlet x = 1\n```"), "Title quoted one two let x = 1");
});

test("snake_case and 2*3*4 stay as typed", () => {
  assert.equal(previewText("snake_case_name 2*3*4"), "snake_case_name 2*3*4");
});

test("the rate-limit countdown rounds up and stops at zero", () => {
  assert.equal(secondsLeft(10_500, 0), 11);
  assert.equal(secondsLeft(1000, 5000), 0);
});
