/**
 * MLS clients for tests, through ts-mls (imported by sub-path: its index
 * pulls an optional provider whose undeclared dependency Deno's npm cache
 * cannot resolve). Key packages of a device (basic credential = device id,
 * signed by its device key as the server requires) and a two-member group
 * whose ciphertexts the server only routes.
 */
import { decodeMlsMessage, encodeMlsMessage } from "ts-mls/message.js";
import { generateKeyPackage, type KeyPackage, type PrivateKeyPackage } from "ts-mls/keyPackage.js";
import { type ClientState, createGroup, joinGroup } from "ts-mls/clientState.js";
import { createCommit } from "ts-mls/createCommit.js";
import { createApplicationMessage } from "ts-mls/createMessage.js";
import { processPrivateMessage } from "ts-mls/processMessages.js";
import { getCiphersuiteImpl } from "ts-mls/crypto/getCiphersuiteImpl.js";
import { type CiphersuiteImpl, getCiphersuiteFromName } from "ts-mls/crypto/ciphersuite.js";
import { defaultCapabilities } from "ts-mls/defaultCapabilities.js";
import { defaultLifetime, type Lifetime } from "ts-mls/lifetime.js";
import { emptyPskIndex } from "ts-mls/pskIndex.js";
import { signDeviceKeyPackage } from "../../src/crypto/mod.ts";
import { encodeBase64 as toBase64 } from "../../src/proto/mod.ts";

/** MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519 (suite 1), WebCrypto only. */
export function suite(): Promise<CiphersuiteImpl> {
  return getCiphersuiteImpl(
    getCiphersuiteFromName("MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519"),
  );
}

/** A fresh KeyPackage whose basic credential names `identity`, with its private half. */
export async function keyPackageFor(
  cs: CiphersuiteImpl,
  identity: string,
  lifetime: Lifetime = defaultLifetime,
): Promise<{ publicPackage: KeyPackage; privatePackage: PrivateKeyPackage; bytes: Uint8Array }> {
  const credential = {
    credentialType: "basic" as const,
    identity: new TextEncoder().encode(identity),
  };
  const pair = await generateKeyPackage(credential, defaultCapabilities(), lifetime, [], cs);
  const bytes = encodeMlsMessage({
    version: "mls10",
    wireformat: "mls_key_package",
    keyPackage: pair.publicPackage,
  });
  return { ...pair, bytes };
}

/** The upload entry for `bytes`, signed by the device's Ed25519 key. */
export function uploadEntry(
  device: { deviceId: string; privateKey: Uint8Array },
  bytes: Uint8Array,
  lastResort = false,
) {
  return {
    data: toBase64(bytes),
    signature: toBase64(signDeviceKeyPackage(device.privateKey, device.deviceId, bytes)),
    last_resort: lastResort,
  };
}

/** The KeyPackage inside fetched `MLSMessage` bytes. */
export function keyPackageOf(bytes: Uint8Array): KeyPackage {
  const decoded = decodeMlsMessage(bytes, 0);
  if (decoded === undefined) throw new Error("not an MLSMessage");
  const [message] = decoded;
  if (message.wireformat !== "mls_key_package") throw new Error(`not a key package`);
  return message.keyPackage;
}

/** Creates a group of `creator` and adds the holder of `joiner`: the Welcome bytes and the new state. */
export async function startGroup(
  cs: CiphersuiteImpl,
  groupId: string,
  creator: { publicPackage: KeyPackage; privatePackage: PrivateKeyPackage },
  joiner: KeyPackage,
): Promise<{ state: ClientState; welcome: Uint8Array }> {
  const initial = await createGroup(
    new TextEncoder().encode(groupId),
    creator.publicPackage,
    creator.privatePackage,
    [],
    cs,
  );
  const commit = await createCommit({ state: initial, cipherSuite: cs }, {
    extraProposals: [{ proposalType: "add", add: { keyPackage: joiner } }],
    ratchetTreeExtension: true,
  });
  if (commit.welcome === undefined) throw new Error("no welcome");
  const welcome = encodeMlsMessage({
    version: "mls10",
    wireformat: "mls_welcome",
    welcome: commit.welcome,
  });
  return { state: commit.newState, welcome };
}

/** Joins from Welcome bytes. */
export async function join(
  cs: CiphersuiteImpl,
  welcomeBytes: Uint8Array,
  own: { publicPackage: KeyPackage; privatePackage: PrivateKeyPackage },
): Promise<ClientState> {
  const decoded = decodeMlsMessage(welcomeBytes, 0);
  if (decoded === undefined || decoded[0].wireformat !== "mls_welcome") {
    throw new Error("not a welcome");
  }
  return await joinGroup(
    decoded[0].welcome,
    own.publicPackage,
    own.privatePackage,
    emptyPskIndex,
    cs,
  );
}

/** Encrypts `text` as an MLS application message: the new state and the `MLSMessage` bytes. */
export async function encrypt(
  cs: CiphersuiteImpl,
  state: ClientState,
  text: string,
): Promise<{ state: ClientState; bytes: Uint8Array }> {
  const out = await createApplicationMessage(state, new TextEncoder().encode(text), cs);
  const bytes = encodeMlsMessage({
    version: "mls10",
    wireformat: "mls_private_message",
    privateMessage: out.privateMessage,
  });
  return { state: out.newState, bytes };
}

/** Decrypts `MLSMessage` bytes of an application message. */
export async function decrypt(
  cs: CiphersuiteImpl,
  state: ClientState,
  bytes: Uint8Array,
): Promise<{ state: ClientState; text: string }> {
  const decoded = decodeMlsMessage(bytes, 0);
  if (decoded === undefined || decoded[0].wireformat !== "mls_private_message") {
    throw new Error("not a private message");
  }
  const result = await processPrivateMessage(state, decoded[0].privateMessage, emptyPskIndex, cs);
  if (result.kind !== "applicationMessage") throw new Error(`not an application message`);
  return { state: result.newState, text: new TextDecoder().decode(result.message) };
}
