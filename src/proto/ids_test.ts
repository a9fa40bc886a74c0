import assert from "node:assert/strict";
import {
  checkDeviceId,
  checkHandle,
  deviceIdProblem,
  handleKey,
  handleLookupForms,
  handleProblem,
  InvalidNameError,
  MAX_DEVICE_ID_LENGTH,
  normalizeHandle,
} from "./ids.ts";

Deno.test("device ids: the forms our clients and the server make are valid", () => {
  for (
    const id of [
      "d1",
      "device-3f2a9c1e-8b7d-4e21-9a0b-1c2d3e4f5a6b",
      "a".repeat(64),
      "load-17",
      "x.y_z:1",
    ]
  ) {
    assert.equal(deviceIdProblem(id), null, id);
    assert.equal(checkDeviceId(id), id);
  }
});

Deno.test("device ids: empty, remote-looking, oversized or odd ones are refused", () => {
  const cases: [string, RegExp][] = [
    ["", /empty/],
    ["something@peer.domain", /'@'.*another server/],
    ["@", /'@'/],
    ["a".repeat(MAX_DEVICE_ID_LENGTH + 1), /at most 128/],
    ["has space", /may only contain/],
    ["-leading", /start with a letter or digit/],
    ["../etc", /may only contain|start with/],
    ["dev\u200b", /may only contain/],
    ["dévice", /may only contain/],
  ];
  for (const [id, reason] of cases) {
    assert.match(deviceIdProblem(id) ?? "", reason, JSON.stringify(id));
    assert.throws(
      () => checkDeviceId(id),
      (e) =>
        e instanceof InvalidNameError && e.field === "device_id" && /^device_id /.test(e.message),
    );
  }
});

Deno.test("handles: case and compatibility forms fold to one handle", () => {
  assert.equal(normalizeHandle("Bob"), "bob");
  assert.equal(normalizeHandle("ＢＯＢ"), "bob"); // full-width
  assert.equal(handleKey("Bob"), handleKey("bob"));
  assert.equal(normalizeHandle("ﬁona"), "fiona"); // ligature
  assert.equal(normalizeHandle("Ωmega"), "ωmega");
  assert.equal(normalizeHandle("e\u0301"), "é"); // composed
});

Deno.test("handles: invisible, control and separator characters are refused, not stripped", () => {
  for (
    const handle of [
      "bob\u200b", // zero-width space
      "b\u200dob", // zero-width joiner
      "\u202ebob", // right-to-left override
      "bob\u00ad", // soft hyphen
      "bo\u3164b", // Hangul filler (a letter that renders as nothing)
      "bob\u0000",
      "bob\n",
      "b ob",
      "bob\u00a0",
      "bob@peer.domain",
      "a/b",
      "",
    ]
  ) {
    assert.notEqual(handleProblem(handle), null, JSON.stringify(handle));
    assert.throws(() => normalizeHandle(handle), InvalidNameError, JSON.stringify(handle));
  }
});

Deno.test("handles: length is bounded after normalisation and before the work", () => {
  assert.equal(handleProblem("a".repeat(64)), null);
  assert.match(handleProblem("a".repeat(65)) ?? "", /at most 64/);
  assert.match(handleProblem("a".repeat(10_000)) ?? "", /at most 64/);
  // U+FDFA expands to 18 characters under NFKC.
  assert.match(handleProblem("\ufdfa".repeat(4)) ?? "", /at most 64|spaces/);
});

Deno.test("handles: lookups try the normal form, then the text as stored before", () => {
  assert.deepEqual(handleLookupForms("bob"), ["bob"]);
  assert.deepEqual(handleLookupForms("Bob"), ["bob", "Bob"]);
  // With the normal form the caller already made: the same forms.
  for (const handle of ["bob", "Bob", "ＢＯＢ", "e\u0301"]) {
    assert.deepEqual(handleLookupForms(handle, handleKey(handle)), handleLookupForms(handle));
  }
});

Deno.test("handles: checkHandle is handleProblem, with handleKey when there is none", () => {
  const handles = ["bob", "Bob", "ＢＯＢ", "ﬁona", "e\u0301", "a".repeat(64), "a".repeat(65)];
  for (const handle of [...handles, "bob\u200b", "a/b", "", "\ufdfa".repeat(4), "x".repeat(300)]) {
    const checked = checkHandle(handle);
    assert.equal(checked.problem, handleProblem(handle), JSON.stringify(handle));
    assert.equal(checked.key, checked.problem === null ? handleKey(handle) : null);
  }
});
