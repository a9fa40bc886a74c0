import assert from "node:assert/strict";
import { fallbackNote } from "./client_side.ts";
import { buildNoDelayShim, NO_PRELOAD, procMaps, shimPath } from "./nodelay_shim.ts";

Deno.test("shimPath: keyed by the source's hash, in the temp directory", async () => {
  const a = await shimPath(new TextEncoder().encode("int x;"), "/tmp");
  const b = await shimPath(new TextEncoder().encode("int y;"), "/tmp");
  assert.match(a, /^\/tmp\/commucat-nodelay-[0-9a-f]{16}\.so$/);
  assert.notEqual(a, b);
  assert.equal(a, await shimPath(new TextEncoder().encode("int x;"), "/tmp"));
});

Deno.test("buildNoDelayShim: a built file or an error, never a throw; cached", async () => {
  const first = await buildNoDelayShim();
  if ("error" in first) {
    assert.ok(first.error.length > 0);
    return;
  }
  assert.ok((await Deno.stat(first.path)).isFile);
  assert.deepEqual(await buildNoDelayShim(), first);
});

Deno.test("server-side processes get an empty LD_PRELOAD", () => {
  assert.deepEqual(NO_PRELOAD, { LD_PRELOAD: "" });
});

Deno.test("the fallback note says the floor has the client's Nagle in it", () => {
  const note = fallbackNote("cc: not found");
  assert.match(note, /cc: not found/);
  assert.match(note, /Nagle/);
});

Deno.test("procMaps: this process's maps name its executable", () => {
  const maps = procMaps(Deno.pid);
  if (maps !== null) assert.ok(maps.includes(Deno.execPath()));
});
