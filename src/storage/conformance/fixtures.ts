/**
 * Records and helpers shared by the conformance cases: fixed times (no clock
 * in tests), and comparison that ignores how a backend represents bytes
 * (Uint8Array vs a subclass such as Buffer).
 *
 * @module
 */

import assert from "node:assert/strict";
import type { DeviceRecord, Store, UserRecord } from "../store.ts";

/** A fixed origin for every time in the suite. */
export const T0: Date = new Date("2025-03-01T12:00:00.000Z");

/** `T0` plus `seconds`. */
export function at(seconds: number): Date {
  return new Date(T0.getTime() + seconds * 1000);
}

/** Bytes `[...values]`. */
export function bytes(...values: number[]): Uint8Array {
  return new Uint8Array(values);
}

/** Deep copy with every byte array turned into a plain array of numbers. */
export function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return Array.from(value);
  if (value instanceof Date || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(plain);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
}

/** `assert.deepEqual` through {@link plain}. */
export function assertSame(actual: unknown, expected: unknown, message?: string): void {
  assert.deepEqual(plain(actual), plain(expected), message);
}

/** A user record with defaults. */
export function user(userId: string, overrides: Partial<UserRecord> = {}): UserRecord {
  return {
    userId,
    handle: userId,
    displayName: null,
    avatarUrl: null,
    domain: "local",
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

/** A device record with defaults. */
export function device(
  deviceId: string,
  userId: string,
  overrides: Partial<DeviceRecord> = {},
): DeviceRecord {
  return {
    deviceId,
    userId,
    publicKey: new Uint8Array(32).fill(deviceId.length),
    status: "active",
    createdAt: T0,
    ...overrides,
  };
}

/** Creates user `userId` with one active device per id in `deviceIds`. */
export async function seedDevices(
  store: Store,
  userId: string,
  deviceIds: string[],
): Promise<void> {
  await store.createUser(user(userId));
  for (const [i, id] of deviceIds.entries()) {
    await store.insertDevice(device(id, userId, { createdAt: at(i) }));
  }
}
