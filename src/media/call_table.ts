/**
 * Server call state (upstream §6.5), in memory: one call per channel, its
 * participants (the route's members at offer time), who accepted, the media
 * profile and when it started. Bounded: a cap on calls per server and on
 * participants per call.
 *
 * @module
 */
import type { CallMediaProfile } from "../proto/mod.ts";

/** One call in progress. */
export interface Call {
  readonly id: string;
  readonly channel: number;
  readonly initiator: string;
  /** Devices invited (route members at offer time); decliners are removed. */
  readonly participants: Set<string>;
  /** Participants in the media session: the initiator and those who accepted. */
  readonly accepted: Set<string>;
  media: CallMediaProfile;
  readonly startedAt: number;
  /** ICE ufrag → password the participants declared (their STUN short-term credentials). */
  readonly ice?: Map<string, string>;
  /** Consent keepalive interval the participants asked for, if any. */
  consentIntervalSecs?: number;
}

/** Why a call could not be added. */
export type AddCallRefusal = "call_id_in_use" | "channel_busy" | "server_full" | "too_many";

/** Limits of a {@link CallTable}. */
export interface CallLimits {
  /** Calls in progress on this server at most. */
  maxCalls: number;
  /** Participants of one call at most. */
  maxParticipants: number;
}

/** The calls of this server, by id and by channel. */
export class CallTable {
  readonly #byId = new Map<string, Call>();
  readonly #byChannel = new Map<number, Call>();
  readonly #limits: CallLimits;

  constructor(limits: CallLimits) {
    this.#limits = limits;
  }

  /** Calls in progress. */
  get size(): number {
    return this.#byId.size;
  }

  /** Adds `call`, or says why it cannot be. */
  add(call: Call): AddCallRefusal | null {
    if (this.#byId.has(call.id)) return "call_id_in_use";
    if (this.#byChannel.has(call.channel)) return "channel_busy";
    if (this.#byId.size >= this.#limits.maxCalls) return "server_full";
    if (call.participants.size > this.#limits.maxParticipants) return "too_many";
    this.#byId.set(call.id, call);
    this.#byChannel.set(call.channel, call);
    return null;
  }

  /** The call with id `id`. */
  get(id: string): Call | undefined {
    return this.#byId.get(id);
  }

  /** The call on `channel`. */
  onChannel(channel: number): Call | undefined {
    return this.#byChannel.get(channel);
  }

  /** Removes `call`; false when it was already gone. */
  remove(call: Call): boolean {
    if (this.#byId.get(call.id) !== call) return false;
    this.#byId.delete(call.id);
    this.#byChannel.delete(call.channel);
    return true;
  }

  /** The calls `deviceId` takes part in (snapshot). */
  withParticipant(deviceId: string): Call[] {
    return [...this.#byId.values()].filter((c) => c.participants.has(deviceId));
  }

  /** The ICE password of `ufrag` in a call in progress, or null. */
  icePassword(ufrag: string): string | null {
    for (const call of this.#byId.values()) {
      const password = call.ice?.get(ufrag);
      if (password !== undefined) return password;
    }
    return null;
  }

  /** All calls (snapshot). */
  all(): Call[] {
    return [...this.#byId.values()];
  }
}
