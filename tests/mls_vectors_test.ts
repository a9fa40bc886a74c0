/**
 * The MLS working group's interoperability vectors (RFC 9420; `../shared/test-vectors/mls/`, never
 * copied into the repository) run through ts-mls, the implementation src/e2e/ uses. Each file is
 * checked for every cipher suite (1–7) whose ts-mls backend loads here; suites whose optional
 * backend is not installed are counted and named in the test's output. The suite CommuCat sends
 * (83, X-Wing) has no official vectors: these check the suite-independent machinery it shares
 * (tree math, key schedule, secret tree, message framing, TreeKEM, Welcome processing, following a
 * group as a passive client) plus the HPKE/signature code paths of the classical suites.
 *
 * @module
 */
import assert from "node:assert/strict";

const assertEquals = (a: unknown, b: unknown, m?: string) => assert.deepEqual(a, b, m);
import {
  type CiphersuiteImpl,
  type ClientState,
  decodeMlsMessage,
  emptyPskIndex,
  getCiphersuiteImpl,
  joinGroup,
  makePskIndex,
  type MlsPrivateMessage,
  type MlsPublicMessage,
  processMessage,
} from "ts-mls";

type Processable = MlsPrivateMessage | MlsPublicMessage;
import { acceptAll } from "ts-mls/incomingMessageAction.js";
import { getCiphersuiteFromId, getCiphersuiteNameFromId } from "ts-mls/crypto/ciphersuite.js";
import { deriveSecret, deriveTreeSecret, expandWithLabel } from "ts-mls/crypto/kdf.js";
import { refhash } from "ts-mls/crypto/hash.js";
import { signWithLabel, verifyWithLabel } from "ts-mls/crypto/signature.js";
import { decryptWithLabel, encryptWithLabel } from "ts-mls/crypto/hpke.js";
import { left, parent, right, root, sibling } from "ts-mls/treemath.js";
import { decodeRatchetTree, encodeRatchetTree } from "ts-mls/ratchetTree.js";
import { encodeMlsMessage } from "ts-mls";
import { makeKeyPackageRef } from "ts-mls/keyPackage.js";
import { decryptGroupInfo, decryptGroupSecrets } from "ts-mls/welcome.js";
import { verifyGroupInfoConfirmationTag, verifyGroupInfoSignature } from "ts-mls/groupInfo.js";
import { createSecretTree, deriveKey, deriveNonce } from "ts-mls/secretTree.js";
import { encodeGroupContext, type GroupContext } from "ts-mls/groupContext.js";
import { initializeEpoch } from "ts-mls/keySchedule.js";
import { computePskSecret } from "ts-mls/presharedkey.js";
import "@hpke/hybridkem-x-wing";

const DIR = new URL("../../shared/test-vectors/mls/", import.meta.url);

function vectorsPresent(): boolean {
  try {
    Deno.statSync(new URL("tree-math.json", DIR));
    return true;
  } catch {
    return false;
  }
}
const PRESENT = vectorsPresent();
const MISSING = " (skipped: ../shared/test-vectors/mls missing)";

// deno-lint-ignore no-explicit-any
type Json = any;

function load(name: string): Json[] {
  return JSON.parse(Deno.readTextFileSync(new URL(name, DIR)));
}

function hex(text: string): Uint8Array {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const impls = new Map<number, CiphersuiteImpl | null>();
/** The ts-mls backend of suite `id`, or null when its optional dependency is not installed. */
async function suite(id: number): Promise<CiphersuiteImpl | null> {
  if (!impls.has(id)) {
    try {
      // deno-lint-ignore no-explicit-any
      impls.set(id, await getCiphersuiteImpl(getCiphersuiteFromId(id as any)));
    } catch {
      impls.set(id, null);
    }
  }
  return impls.get(id)!;
}

/**
 * Runs `check` on every vector of `file` whose suite loads; asserts at least one ran (suite 1
 * always loads) and reports the suites that were skipped.
 */
async function eachVector(
  file: string,
  check: (vector: Json, cs: CiphersuiteImpl) => Promise<void>,
): Promise<void> {
  let ran = 0;
  const skipped = new Set<number>();
  for (const vector of load(file)) {
    const id = Number(vector.cipher_suite);
    const cs = await suite(id);
    if (cs === null) {
      skipped.add(id);
      continue;
    }
    try {
      await check(vector, cs);
    } catch (error) {
      throw new Error(`${file}, suite ${id} (${getCiphersuiteNameFromId(id as 1)}): ${error}`);
    }
    ran++;
  }
  assert(ran > 0, `${file}: no vector ran`);
  if (skipped.size > 0) {
    console.log(`${file}: ${ran} vectors; suites without a backend here: ${[...skipped]}`);
  }
}

Deno.test({
  name: `MLS vectors: tree-math${PRESENT ? "" : MISSING}`,
  ignore: !PRESENT,
  fn() {
    for (const v of load("tree-math.json")) {
      const leaves = v.n_leaves as number;
      assertEquals(root(leaves), v.root);
      for (let i = 0; i < v.n_nodes; i++) {
        const isLeaf = i % 2 === 0;
        // deno-lint-ignore no-explicit-any
        const node = i as any;
        assertEquals(isLeaf ? null : left(node), v.left[i], `left(${i})`);
        assertEquals(isLeaf ? null : right(node), v.right[i], `right(${i})`);
        assertEquals(i === v.root ? null : parent(node, leaves), v.parent[i], `parent(${i})`);
        assertEquals(i === v.root ? null : sibling(node, leaves), v.sibling[i], `sibling(${i})`);
      }
    }
  },
});

Deno.test({
  name: `MLS vectors: crypto-basics${PRESENT ? "" : MISSING}`,
  ignore: !PRESENT,
  async fn() {
    await eachVector("crypto-basics.json", async (v, cs) => {
      const r = v.ref_hash;
      assertEquals(toHex(await refhash(r.label, hex(r.value), cs.hash)), r.out, "ref_hash");
      const e = v.expand_with_label;
      assertEquals(
        toHex(await expandWithLabel(hex(e.secret), e.label, hex(e.context), e.length, cs.kdf)),
        e.out,
        "expand_with_label",
      );
      const d = v.derive_secret;
      assertEquals(toHex(await deriveSecret(hex(d.secret), d.label, cs.kdf)), d.out);
      const t = v.derive_tree_secret;
      assertEquals(
        toHex(await deriveTreeSecret(hex(t.secret), t.label, t.generation, t.length, cs.kdf)),
        t.out,
        "derive_tree_secret",
      );
      const s = v.sign_with_label;
      assert(
        await verifyWithLabel(hex(s.pub), s.label, hex(s.content), hex(s.signature), cs.signature),
      );
      const mine = await signWithLabel(hex(s.priv), s.label, hex(s.content), cs.signature);
      assert(await verifyWithLabel(hex(s.pub), s.label, hex(s.content), mine, cs.signature));
      const h = v.encrypt_with_label;
      const priv = await cs.hpke.importPrivateKey(hex(h.priv));
      const pub = await cs.hpke.importPublicKey(hex(h.pub));
      const plain = await decryptWithLabel(
        priv,
        h.label,
        hex(h.context),
        hex(h.kem_output),
        hex(h.ciphertext),
        cs.hpke,
      );
      assertEquals(toHex(plain), h.plaintext, "decrypt_with_label");
      const again = await encryptWithLabel(pub, h.label, hex(h.context), hex(h.plaintext), cs.hpke);
      const back = await decryptWithLabel(
        priv,
        h.label,
        hex(h.context),
        again.enc,
        again.ct,
        cs.hpke,
      );
      assertEquals(toHex(back), h.plaintext, "encrypt_with_label round trip");
    });
  },
});

Deno.test({
  name: `MLS vectors: secret-tree${PRESENT ? "" : MISSING}`,
  ignore: !PRESENT,
  async fn() {
    await eachVector("secret-tree.json", async (v, cs) => {
      const tree = await createSecretTree(v.leaves.length, hex(v.encryption_secret), cs.kdf);
      for (let leaf = 0; leaf < v.leaves.length; leaf++) {
        // The secret tree is indexed by node: leaf i is node 2i (RFC 9420 §4.2).
        const node = tree[2 * leaf];
        for (const g of v.leaves[leaf]) {
          const app = await ratchetTo(node.application.secret, g.generation, cs);
          const hs = await ratchetTo(node.handshake.secret, g.generation, cs);
          assertEquals(toHex(await deriveKey(app, g.generation, cs)), g.application_key);
          assertEquals(toHex(await deriveNonce(app, g.generation, cs)), g.application_nonce);
          assertEquals(toHex(await deriveKey(hs, g.generation, cs)), g.handshake_key);
          assertEquals(toHex(await deriveNonce(hs, g.generation, cs)), g.handshake_nonce);
        }
      }
    });
  },
});

/** The ratchet secret of `generation`, from the chain's generation-0 secret (RFC 9420 §9.1). */
async function ratchetTo(
  secret: Uint8Array,
  generation: number,
  cs: CiphersuiteImpl,
): Promise<Uint8Array> {
  let current = secret;
  for (let g = 0; g < generation; g++) {
    current = await deriveTreeSecret(current, "secret", g, cs.kdf.size, cs.kdf);
  }
  return current;
}

Deno.test({
  name: `MLS vectors: key-schedule${PRESENT ? "" : MISSING}`,
  ignore: !PRESENT,
  async fn() {
    await eachVector("key-schedule.json", async (v, cs) => {
      let initSecret = hex(v.initial_init_secret);
      for (const [index, e] of (v.epochs as Json[]).entries()) {
        const context: GroupContext = {
          version: "mls10",
          cipherSuite: getCiphersuiteNameFromId(Number(v.cipher_suite) as 1),
          groupId: hex(v.group_id),
          epoch: BigInt(index),
          treeHash: hex(e.tree_hash),
          confirmedTranscriptHash: hex(e.confirmed_transcript_hash),
          extensions: [],
        };
        assertEquals(toHex(encodeGroupContext(context)), e.group_context, "group_context");
        const secrets = await initializeEpoch(
          initSecret,
          hex(e.commit_secret),
          context,
          hex(e.psk_secret),
          cs.kdf,
        );
        assertEquals(toHex(secrets.joinerSecret), e.joiner_secret, "joiner_secret");
        assertEquals(toHex(secrets.welcomeSecret), e.welcome_secret, "welcome_secret");
        assertEquals(toHex(secrets.encryptionSecret), e.encryption_secret, "encryption_secret");
        const ks = secrets.keySchedule;
        assertEquals(toHex(ks.senderDataSecret), e.sender_data_secret, "sender_data_secret");
        assertEquals(toHex(ks.exporterSecret), e.exporter_secret, "exporter_secret");
        assertEquals(toHex(ks.epochAuthenticator), e.epoch_authenticator, "epoch_authenticator");
        assertEquals(toHex(ks.externalSecret), e.external_secret, "external_secret");
        assertEquals(toHex(ks.confirmationKey), e.confirmation_key, "confirmation_key");
        assertEquals(toHex(ks.membershipKey), e.membership_key, "membership_key");
        assertEquals(toHex(ks.resumptionPsk), e.resumption_psk, "resumption_psk");
        assertEquals(toHex(ks.initSecret), e.init_secret, "init_secret");
        initSecret = ks.initSecret;
      }
    });
  },
});

Deno.test({
  name: `MLS vectors: psk_secret${PRESENT ? "" : MISSING}`,
  ignore: !PRESENT,
  async fn() {
    await eachVector("psk_secret.json", async (v, cs) => {
      const psks = (v.psks as Json[]).map((p) => {
        const id = {
          psktype: "external" as const,
          pskId: hex(p.psk_id),
          pskNonce: hex(p.psk_nonce),
        };
        return [id, hex(p.psk)] as [typeof id, Uint8Array];
      });
      // deno-lint-ignore no-explicit-any
      assertEquals(toHex(await computePskSecret(psks as any, cs)), v.psk_secret);
    });
  },
});

Deno.test({
  name: `MLS vectors: welcome${PRESENT ? "" : MISSING}`,
  ignore: !PRESENT,
  async fn() {
    await eachVector("welcome.json", async (v, cs) => {
      const kp = decodeMlsMessage(hex(v.key_package), 0)![0];
      const w = decodeMlsMessage(hex(v.welcome), 0)![0];
      if (kp.wireformat !== "mls_key_package" || w.wireformat !== "mls_welcome") {
        throw new Error("unexpected wire formats");
      }
      const ref = await makeKeyPackageRef(kp.keyPackage, cs.hash);
      const initPriv = await cs.hpke.importPrivateKey(hex(v.init_priv));
      const secrets = await decryptGroupSecrets(initPriv, ref, w.welcome, cs.hpke);
      assert.ok(secrets, "group secrets decrypt with init_priv");
      const pskSecret = await computePskSecret([], cs);
      const info = await decryptGroupInfo(w.welcome, secrets.joinerSecret, pskSecret, cs);
      assert.ok(info, "group info decrypts");
      assert.ok(await verifyGroupInfoSignature(info, hex(v.signer_pub), cs.signature));
      assert.ok(await verifyGroupInfoConfirmationTag(info, secrets.joinerSecret, pskSecret, cs));
    });
  },
});

Deno.test({
  name: `MLS vectors: messages (decode, re-encode byte for byte)${PRESENT ? "" : MISSING}`,
  ignore: !PRESENT,
  fn() {
    const wrapped = [
      "mls_welcome",
      "mls_group_info",
      "mls_key_package",
      "public_message_application",
      "public_message_proposal",
      "public_message_commit",
      "private_message",
    ];
    let checked = 0;
    for (const v of load("messages.json")) {
      for (const field of wrapped) {
        const bytes = hex(v[field]);
        const decoded = decodeMlsMessage(bytes, 0);
        assert.ok(decoded && decoded[1] === bytes.length, `${field} decodes`);
        assertEquals(toHex(encodeMlsMessage(decoded[0])), v[field], `${field} re-encodes`);
        checked++;
      }
      const tree = decodeRatchetTree(hex(v.ratchet_tree), 0);
      assert.ok(tree, "ratchet_tree decodes");
      assertEquals(toHex(encodeRatchetTree(tree[0])), v.ratchet_tree, "ratchet_tree re-encodes");
    }
    assert.ok(checked > 0);
  },
});

/**
 * Passive client (RFC 9420 as a member that only receives): join from the Welcome, then apply
 * every epoch's proposals and commit; the epoch authenticator must match after each step.
 */
async function passiveClient(v: Json, cs: CiphersuiteImpl): Promise<void> {
  const kpMessage = decodeMlsMessage(hex(v.key_package), 0)![0];
  if (kpMessage.wireformat !== "mls_key_package") throw new Error("key_package is not one");
  const welcomeMessage = decodeMlsMessage(hex(v.welcome), 0)![0];
  if (welcomeMessage.wireformat !== "mls_welcome") throw new Error("welcome is not one");
  const external: Record<string, Uint8Array> = {};
  for (const p of v.external_psks as Json[]) {
    external[btoa(String.fromCharCode(...hex(p.psk_id)))] = hex(p.psk);
  }
  const tree = v.ratchet_tree ? decodeRatchetTree(hex(v.ratchet_tree), 0)![0] : undefined;
  let state: ClientState = await joinGroup(
    welcomeMessage.welcome,
    kpMessage.keyPackage,
    {
      initPrivateKey: hex(v.init_priv),
      hpkePrivateKey: hex(v.encryption_priv),
      signaturePrivateKey: hex(v.signature_priv),
    },
    makePskIndex(undefined, external),
    cs,
    tree,
  );
  assertEquals(toHex(state.keySchedule.epochAuthenticator), v.initial_epoch_authenticator);
  for (const [index, epoch] of (v.epochs as Json[]).entries()) {
    for (const proposal of epoch.proposals as string[]) {
      const message = decodeMlsMessage(hex(proposal), 0)![0];
      const result = await processMessage(
        message as Processable,
        state,
        makePskIndex(state, external),
        acceptAll,
        cs,
      );
      state = result.newState;
    }
    const commit = decodeMlsMessage(hex(epoch.commit), 0)![0];
    const result = await processMessage(
      commit as Processable,
      state,
      makePskIndex(state, external),
      acceptAll,
      cs,
    );
    state = result.newState;
    assertEquals(
      toHex(state.keySchedule.epochAuthenticator),
      epoch.epoch_authenticator,
      `epoch ${index + 1}`,
    );
  }
}

for (
  const file of [
    "passive-client-welcome",
    "passive-client-handling-commit",
    "passive-client-random",
  ]
) {
  Deno.test({
    name: `MLS vectors: ${file}${PRESENT ? "" : MISSING}`,
    ignore: !PRESENT,
    async fn() {
      await eachVector(`${file}.json`, passiveClient);
    },
  });
}

Deno.test("MLS: the X-Wing suite CommuCat uses loads (no official vectors exist for it)", async () => {
  const cs = await suite(83);
  assert(cs !== null, "suite 83 (MLS_256_XWING_AES256GCM_SHA512_Ed25519) must load");
  void emptyPskIndex;
});
