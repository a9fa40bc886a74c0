/**
 * The types an `E2EDevice` (device.ts) speaks in: group members, directory entries, the key package
 * source it fetches from, and the events receiving a payload produces.
 *
 * @module
 */
import type { FetchedKeyPackage } from "./key_package.ts";

/** A member device as the group knows it. */
export interface GroupMember {
  /** Its address as this device knows it: a local id, or `dev@domain` (federated domain). */
  deviceId: string;
  publicKey: Uint8Array;
  leafIndex: number;
}

/** A device to add: its address and the device key the directory lists for it. */
export interface DirectoryEntry {
  /** A local id, or `dev@domain` for a device of a federated domain (as the directory lists it). */
  deviceId: string;
  publicKey: Uint8Array;
}

/** What the device fetches key packages from (the server's key directory). */
export interface KeyPackageSource {
  fetchKeyPackage(deviceId: string): Promise<FetchedKeyPackage>;
}

/** What receiving a payload meant. */
export type E2EEvent =
  | { kind: "message"; channel: number; sender: string; data: Uint8Array; epoch: bigint }
  | { kind: "plaintext"; channel: number; data: Uint8Array }
  | { kind: "joined"; channel: number; members: string[]; epoch: bigint }
  | {
    kind: "membership";
    channel: number;
    added: string[];
    removed: string[];
    epoch: bigint;
    by: string;
  }
  | { kind: "removed"; channel: number; by: string }
  | { kind: "key_changed"; deviceId: string; before: string; after: string }
  | { kind: "duplicate"; channel: number }
  | { kind: "held"; channel: number; epoch: bigint }
  | { kind: "ignored"; channel: number; reason: string }
  | { kind: "refused"; channel: number; code: string; reason: string };
