import assert from "node:assert/strict";
import { decodePem, decodePemAll, encodePem, PemError } from "./pem.ts";

Deno.test("pem: 64-column lines and round trip, several blocks", () => {
  const der = crypto.getRandomValues(new Uint8Array(200));
  const pem = encodePem("CERTIFICATE", der);
  const lines = pem.trimEnd().split("\n");
  assert.equal(lines[0], "-----BEGIN CERTIFICATE-----");
  assert.equal(lines.at(-1), "-----END CERTIFICATE-----");
  assert.ok(lines.slice(1, -1).every((l) => l.length <= 64));
  assert.equal(lines[1].length, 64);
  assert.deepEqual(decodePem(pem.replaceAll("\n", "\r\n"), "CERTIFICATE"), der);
  const other = Uint8Array.of(1, 2, 3);
  assert.deepEqual(decodePemAll(pem + encodePem("CERTIFICATE", other), "CERTIFICATE"), [
    der,
    other,
  ]);
  assert.throws(() => decodePem(pem, "PRIVATE KEY"), PemError);
  assert.throws(
    () => decodePem("-----BEGIN X-----\n!!!!\n-----END X-----\n", "X"),
    PemError,
  );
});
