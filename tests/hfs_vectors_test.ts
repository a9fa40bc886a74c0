/**
 * The published HFS vectors (tests/vectors/noise-hfs-vectors.json): exactly
 * what the generator makes from its fixed seeds, replayed on both backends,
 * and recomputed by a second implementation not written here — Python's
 * `cryptography` (tests/hfs_vectors.py, from the spec text).
 */
import assert from "node:assert/strict";
import {
  checkHfsVector,
  generateHfsVectors,
  type HfsVectorFile,
} from "../src/crypto/noise/hfs_vectors.ts";

const FILE = new URL("./vectors/noise-hfs-vectors.json", import.meta.url);
const SCRIPT = new URL("./hfs_vectors.py", import.meta.url);

async function committed(): Promise<HfsVectorFile> {
  return JSON.parse(await Deno.readTextFile(FILE));
}

/** Runs the Python check on `path`; null when python3 or cryptography ≥ 48 is missing. */
async function python(path: string): Promise<{ code: number; out: string } | null> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("python3", { args: [SCRIPT.pathname, path] }).output();
  } catch {
    console.warn("SKIP: python3 is not installed; the HFS vectors are not cross-checked");
    return null;
  }
  const out = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  if (output.code === 2) {
    console.warn(`SKIP: ${out.trim()}`);
    return null;
  }
  return { code: output.code, out };
}

Deno.test("hfs vectors: the committed file is what the fixed seeds generate", async () => {
  const generated = JSON.stringify(await generateHfsVectors(), null, 2) + "\n";
  assert.equal(await Deno.readTextFile(FILE), generated, "regenerate with generateHfsVectors()");
});

Deno.test("hfs vectors: replayed on the native (WebCrypto) and noble backends", async () => {
  const file = await committed();
  assert.equal(file.vectors.length, 4);
  for (const vector of file.vectors) {
    await checkHfsVector(vector, "native");
    await checkHfsVector(vector, "noble");
  }
  const tampered = { ...file.vectors[0], pq_signature: file.vectors[1].pq_signature };
  await assert.rejects(checkHfsVector(tampered, "native"), /pq_signature does not verify/);
});

Deno.test("hfs vectors: Python cryptography recomputes them from the spec", async () => {
  const result = await python(FILE.pathname);
  if (result === null) return;
  assert.equal(result.code, 0, result.out);
  assert.match(result.out, /^4 passed, 0 failed$/m);
});

Deno.test("hfs vectors: the Python check notices a changed byte anywhere", async () => {
  const file = await committed();
  const dir = await Deno.makeTempDir({ prefix: "commucat-hfs-" });
  try {
    const edits: [string, (f: HfsVectorFile) => void][] = [
      ["a message 2 byte (inside ekem1)", (f) => flip(f.vectors[0].messages[1], 32 + 300)],
      ["a transport byte", (f) => flip(f.vectors[1].messages[3], 0)],
      ["the KEM seed", (f) => {
        const v = f.vectors[2];
        v.init_kem_seed = (v.init_kem_seed[0] === "0" ? "1" : "0") + v.init_kem_seed.slice(1);
      }],
      ["the signature", (f) => {
        f.vectors[3].pq_signature = f.vectors[0].pq_signature;
      }],
    ];
    for (const [what, edit] of edits) {
      const copy = structuredClone(file);
      edit(copy);
      const path = `${dir}/tampered.json`;
      await Deno.writeTextFile(path, JSON.stringify(copy));
      const result = await python(path);
      if (result === null) return;
      assert.equal(result.code, 1, `${what}: ${result.out}`);
      assert.match(result.out, /3 passed, 1 failed/, what);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

function flip(message: { ciphertext: string }, byte: number): void {
  const hex = message.ciphertext;
  const at = byte * 2;
  const nibble = (parseInt(hex[at], 16) ^ 1).toString(16);
  message.ciphertext = hex.slice(0, at) + nibble + hex.slice(at + 1);
}
