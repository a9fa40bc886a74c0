/**
 * The behaviour every {@link Store} backend must show, as runnable test
 * cases. A backend's test file calls {@link runStoreConformance} with a
 * factory returning a fresh, empty, migrated store; each case gets its own.
 *
 * Semantics pinned here beyond the interface's doc comments: updates of a
 * missing row are no-ops; inserts of a duplicate key or with an unknown
 * user/device/group raise {@link StoreConflictError}; lists come back in
 * creation order (users, devices, group members) or newest first (secrets).
 *
 * @module
 */

import type { Store } from "../store.ts";
import { accountCases } from "./accounts.ts";
import { boundCases } from "./bounds.ts";
import { federationCases } from "./federation.ts";
import { identityCases } from "./identity.ts";
import { keyPackageCases } from "./key_packages.ts";
import { messagingCases } from "./messaging.ts";
import { pqKeyCases } from "./pq_keys.ts";

/** One conformance case: gets a fresh empty store, throws on failure. */
export interface ConformanceCase {
  name: string;
  fn: (store: Store) => Promise<void>;
}

/** Every conformance case, grouped users, devices, sessions, routes, groups, relay, secrets. */
export const STORE_CONFORMANCE_CASES: readonly ConformanceCase[] = [
  {
    name: "ping answers and backend is named",
    fn: async (store) => {
      await store.ping();
      if (store.backend.length === 0) throw new Error("backend name is empty");
    },
  },
  ...identityCases,
  ...messagingCases,
  ...accountCases,
  ...boundCases,
  ...federationCases,
  ...pqKeyCases,
  ...keyPackageCases,
];

/**
 * Runs the suite against stores from `open` (each case opens one and closes it).
 * With `t`, the cases run as steps of that test; without, each is registered
 * as its own `Deno.test` named `<name> store: <case>`.
 */
export async function runStoreConformance(
  name: string,
  open: () => Promise<Store>,
  t?: Deno.TestContext,
): Promise<void> {
  for (const c of STORE_CONFORMANCE_CASES) {
    const fn = async () => {
      const store = await open();
      try {
        await c.fn(store);
      } finally {
        await store.close();
      }
    };
    if (t === undefined) {
      Deno.test(`${name} store: ${c.name}`, fn);
    } else {
      await t.step(c.name, fn);
    }
  }
}
