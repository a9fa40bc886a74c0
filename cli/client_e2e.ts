/**
 * End-to-end encryption in the terminal client (docs/PROTOCOL.md "End-to-end encryption"): the
 * profile's MLS state lives in its directory (`e2e/`, files 0600), conversations are opened with
 * the users behind the named devices, deliveries are decrypted and key changes shown. Plaintext
 * mode (`--plaintext`) stays for bots and bridges and says so.
 *
 * @module
 */
import { dirname } from "node:path";
import { type CommuCatClient, E2EClient } from "../src/client/mod.ts";
import { fromHex } from "../src/crypto/mod.ts";
import { deviceFingerprint, type E2EEvent } from "../src/e2e/mod.ts";
import { DirectoryE2EStore } from "../src/e2e/file_store.ts";
import type { ClientProfile } from "./client_profile.ts";
import { caCerts, rest } from "./client_session.ts";

/** The line a plaintext-mode command prints first. */
export const PLAINTEXT_BANNER =
  "* PLAINTEXT MODE: not end-to-end encrypted, the server can read what you send (for bots and bridges)";

/** Opens the profile's end-to-end state for a connected client (uploads key packages if low). */
export async function attachE2E(
  profilePath: string,
  profile: ClientProfile,
  client: CommuCatClient,
): Promise<E2EClient> {
  // The key directory is reached the way the session was (a transport's route), like rest().
  const via = client.reachedVia;
  const routed = via.httpClient;
  return await E2EClient.attach(client, {
    store: new DirectoryE2EStore(`${dirname(profilePath)}/e2e`),
    deviceId: profile.device_id,
    devicePrivateKey: fromHex(profile.private_key, 32),
    rest: routed
      ? {
        url: via.url || profile.server_url,
        fetch: (input, init) => fetch(input, { ...init, client: routed }),
      }
      : { url: via.url || profile.server_url, caCerts: await caCerts(profile) },
  });
}

/** The users owning `deviceIds` (own devices and friends' devices, from `/api/friends`). */
export async function usersOfDevices(
  profile: ClientProfile,
  client: CommuCatClient,
  deviceIds: string[],
): Promise<string[]> {
  const friends = await rest(profile, client, "GET", "/api/friends");
  const devices = (friends.devices ?? {}) as Record<string, { device_id: string }[]>;
  const users = new Set<string>();
  const remote: string[] = [];
  for (const id of deviceIds) {
    const owner = Object.entries(devices).find(([, list]) => list.some((d) => d.device_id === id));
    if (owner) users.add(owner[0]);
    // A device of a federated domain (`dev@domain`): its owner is found below.
    else if (id.includes("@")) remote.push(id);
    // Otherwise not a friend's device: one of ours, which every conversation includes anyway.
  }
  // `/api/friends` lists no devices of federated friends: ask the key directory (forwarded to
  // their home server) for those on the remote devices' domains. A member whose owner is not
  // found is left out, and the committer's sync would remove it: so an unreachable domain fails.
  const domains = new Set(remote.map((id) => id.slice(id.indexOf("@") + 1)));
  const rows = (friends.friends ?? []) as { user_id?: string }[];
  for (const friend of rows.map((f) => f.user_id ?? "")) {
    if (remote.length === 0) break;
    if (!domains.has(friend.slice(friend.indexOf("@") + 1)) || !friend.includes("@")) continue;
    const listed = await rest(
      profile,
      client,
      "GET",
      `/api/e2e/devices/${encodeURIComponent(friend)}`,
    );
    const ids = ((listed.devices ?? []) as { device_id: string }[]).map((d) => d.device_id);
    if (remote.some((id) => ids.includes(id))) users.add(friend);
  }
  return [...users];
}

function textOf(data: Uint8Array): { from?: string; text: string } {
  const raw = new TextDecoder().decode(data);
  try {
    const body = JSON.parse(raw) as { from?: unknown; text?: unknown };
    if (typeof body.text === "string") {
      return { from: typeof body.from === "string" ? body.from : undefined, text: body.text };
    }
  } catch { /* plain text */ }
  return { text: raw };
}

/** Readable lines for end-to-end events (empty for duplicates and Welcomes of others). */
export function describeEvents(events: E2EEvent[]): string[] {
  const lines: string[] = [];
  for (const e of events) {
    switch (e.kind) {
      case "message": {
        const body = textOf(e.data);
        lines.push(`[${e.channel}] ${body.from ?? e.sender}: ${body.text}`);
        break;
      }
      case "plaintext": {
        const body = textOf(e.data);
        lines.push(`[${e.channel}] (plaintext) ${body.from ? `${body.from}: ` : ""}${body.text}`);
        break;
      }
      case "joined":
        lines.push(
          `* end-to-end conversation on channel ${e.channel} (members: ${e.members.join(", ")})`,
        );
        break;
      case "membership":
        if (e.added.length || e.removed.length) {
          lines.push(
            `* channel ${e.channel}: ${e.added.length ? `added ${e.added.join(", ")} ` : ""}` +
              `${e.removed.length ? `removed ${e.removed.join(", ")} ` : ""}(by ${e.by})`,
          );
        }
        break;
      case "removed":
        lines.push(`* this device was removed from channel ${e.channel}'s conversation`);
        break;
      case "key_changed":
        lines.push(`! KEY CHANGED for device ${e.deviceId}: ${e.before} -> ${e.after}`);
        break;
      case "refused":
        lines.push(`! [${e.channel}] refused (${e.code}): ${e.reason}`);
        break;
      default:
        break;
    }
  }
  return lines;
}

/** `client safety`: own fingerprint, the other user's device fingerprints, the safety number. */
export async function safetyText(e2e: E2EClient, userOrHandle: string): Promise<string> {
  const theirs = (await e2e.directory.user(userOrHandle)).devices;
  const mine = await e2e.fingerprint();
  const lines = [`this device ${e2e.device.identity.deviceId}: ${mine}`];
  for (const d of theirs) {
    lines.push(`${userOrHandle} device ${d.deviceId}: ${await deviceFingerprint(d.publicKey)}`);
  }
  lines.push(`safety number with ${userOrHandle}: ${await e2e.safetyNumber(userOrHandle)}`);
  return lines.join("\n");
}

/**
 * Brings every conversation of this device in line with the directory (a paired device added,
 * a revoked one removed: only where this device is the committer, docs/PROTOCOL.md §8). The
 * other users of a conversation are the owners of its members' devices, from `/api/friends`.
 */
export async function syncAll(
  profile: ClientProfile,
  client: CommuCatClient,
  e2e: E2EClient,
): Promise<E2EEvent[]> {
  const events: E2EEvent[] = [];
  for (const channel of e2e.device.channels()) {
    const others = e2e.device.members(channel).map((m) => m.deviceId)
      .filter((id) => id !== profile.device_id);
    const users = await usersOfDevices(profile, client, others);
    events.push(...await e2e.sync(channel, users));
  }
  return events;
}
