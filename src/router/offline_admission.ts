/**
 * Where each enqueue's copies go, decided in call order: recipients
 * connected to another instance get a held copy carried on the bus
 * (remote_copies.ts), the others a row, unless their queue or the sender is
 * over its bound (offline_quota.ts). A sender's session does not wait for
 * one frame to be stored before routing the next (Router), so a decision
 * that reads something (presence, usage figures) must not let a later frame
 * be placed first: the reads of several enqueues run together, the
 * decisions one after the other, and each enqueue's placement runs inside
 * its decision — so the write batch takes rows in call order.
 *
 * @module
 */
import type { QuotaGate } from "./offline_quota.ts";
import type { RemoteCopies } from "./remote_copies.ts";

/** Decides enqueues in call order; see the module doc. */
export class OfflineAdmission {
  readonly #quota: QuotaGate | null;
  readonly #remote: RemoteCopies | null;
  /** The decision of the latest enqueue, null once settled. */
  #deciding: Promise<unknown> | null = null;

  /** `remote`: carry copies to other instances' devices (null: every copy is a row). */
  constructor(quota: QuotaGate | null, remote: RemoteCopies | null) {
    this.#quota = quota;
    this.#remote = remote;
  }

  /**
   * Calls `place` with the recipients of `devices` over their bound and the
   * holders (other instances) of those to carry — `carry` false: none —
   * once every earlier call's `place` ran; synchronously when nothing must
   * be read. Rejects with the quota's {@link RouteError} (`queue_full` for
   * the sender, `unavailable`) without calling `place`.
   */
  admit<R>(
    devices: readonly string[],
    size: number,
    senderUser: string,
    carry: boolean,
    place: (full: string[], holders: Map<string, string> | null) => R,
  ): R | Promise<R> {
    const quota = this.#quota;
    const holders = carry && this.#remote !== null ? this.#remote.holders(devices) : null;
    let rows: string[] | null = null;
    if (!(holders instanceof Promise)) {
      rows = stored(devices, holders);
      // Nothing earlier undecided and nothing to read (no quota, or no row
      // to count against it — every copy carried, not even the sender's
      // figure): decided now.
      if (this.#deciding === null && (quota === null || rows.length === 0)) {
        return place([], holders);
      }
    }
    const previous = this.#deciding;
    // The figures are read now, alongside those of the decisions before it
    // (QuotaGate.prepare); only the decision waits for the earlier ones.
    const early = rows === null || rows.length === 0 || quota === null
      ? null
      : quota.prepare(rows, senderUser);
    early?.catch(() => {}); // awaited below, maybe after `previous`
    if (holders instanceof Promise) holders.catch(() => {}); // the same
    const decision = (async () => {
      await previous?.catch(() => {}); // its failure went to its own caller
      // Presence down: every copy is a row, as without the window.
      const found = holders instanceof Promise ? await holders.catch(() => null) : holders;
      const rest = stored(devices, found);
      let full: string[] = [];
      if (quota !== null && rest.length > 0) {
        await (early ?? quota.prepare(rest, senderUser));
        full = await quota.overBound(rest, size, senderUser);
      }
      return place(full, found);
    })();
    this.#deciding = decision;
    decision.finally(() => {
      if (this.#deciding === decision) this.#deciding = null;
    }).catch(() => {}); // the caller awaits the failure; this chain only clears the slot
    return decision;
  }
}

/** The recipients among `devices` that get a row (not carried to a holder). */
function stored(devices: readonly string[], holders: Map<string, string> | null): string[] {
  if (holders === null || holders.size === 0) return devices as string[];
  return devices.filter((d) => !holders.has(d));
}
