/**
 * `commucat federation peers add|list|remove|block`: the `federation_peer`
 * rows (static peers come from `federation.peers` in the configuration; a
 * stored row overrides a configured peer of the same domain). Running
 * servers read the table on every use, so changes apply at once.
 *
 * @module
 */
import type { Command } from "@commander-js/extra-typings";
import { fromHex, toHex } from "../src/crypto/mod.ts";
import type { FederationPeerRecord, Store } from "../src/storage/mod.ts";
import { errorLine, messageOf } from "./errors.ts";
import type { MigrateIo } from "./migrate.ts";

/** Options every federation command takes. */
export interface FederationCommandOptions {
  config?: string;
  db?: string;
}

/** Opens the store the options name. */
export type OpenFederationStore = (options: FederationCommandOptions) => Promise<Store>;

const stdIo: MigrateIo = {
  write: (text) => void Deno.stdout.writeSync(new TextEncoder().encode(text)),
  error: (line) => console.error(line),
};

/** A peer domain as stored: trimmed, lower-case, a plausible host name. */
export function normalizeDomain(domain: string): string {
  const d = domain.trim().toLowerCase();
  if (!/^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::[0-9]{1,5})?$/.test(d)) {
    throw new Error(`not a domain: ${JSON.stringify(domain)}`);
  }
  return d;
}

/** A peer's base URL: https (or http) with no query or fragment, no trailing slash. */
export function normalizeEndpoint(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new Error(`not a URL: ${JSON.stringify(endpoint)}`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new Error("endpoint must be an https:// (or http://) base URL");
  }
  if (url.search !== "" || url.hash !== "") throw new Error("endpoint must not have ? or #");
  return url.href.replace(/\/+$/, "");
}

/** Adds `federation peers …` to `program`. */
export function registerFederationCommands(
  program: Command,
  openStore: OpenFederationStore,
  deps: { io?: MigrateIo; now?: () => Date } = {},
): Command {
  const io = deps.io ?? stdIo;
  const now = deps.now ?? (() => new Date());
  const run = async (
    command: string,
    options: FederationCommandOptions,
    body: (store: Store) => Promise<void>,
  ) => {
    try {
      const store = await openStore(options);
      try {
        await body(store);
      } finally {
        await store.close();
      }
    } catch (error) {
      io.error(errorLine(`federation peers ${command}`, messageOf(error)));
      Deno.exitCode = 1;
    }
  };
  const configOption = "configuration file (default: $COMMUCAT_CONFIG or ./commucat.toml)";
  const dbOption = "SQLite database file (default: the configured store)";
  const peers = program.command("federation").description("federation with other domains")
    .command("peers").description("stored federation peers");
  peers.command("add")
    .description("add (or replace) an active peer: base URL and Ed25519 public key (hex)")
    .argument("<domain>")
    .argument("<endpoint>")
    .argument("<pubkeyhex>")
    .option("-c, --config <path>", configOption)
    .option("--db <path>", dbOption)
    .action((domain, endpoint, key, options) =>
      run("add", options, async (store) => {
        const peer: FederationPeerRecord = {
          domain: normalizeDomain(domain),
          endpoint: normalizeEndpoint(endpoint),
          publicKey: fromHex(key.trim(), 32),
          status: "active",
          updatedAt: now(),
        };
        await store.upsertFederationPeer(peer);
        io.write(`peer ${peer.domain} active at ${peer.endpoint}\n`);
      })
    );
  peers.command("list")
    .description("list stored peers (configured ones are in the configuration)")
    .option("-c, --config <path>", configOption)
    .option("--db <path>", dbOption)
    .action((options) =>
      run("list", options, async (store) => {
        const rows = await store.listFederationPeers();
        if (rows.length === 0) io.write("no stored peers\n");
        for (const p of rows) {
          io.write(`${p.domain}\t${p.status}\t${p.endpoint}\t${toHex(p.publicKey)}\n`);
        }
      })
    );
  peers.command("remove")
    .description("delete a stored peer (a configured one of that domain applies again)")
    .argument("<domain>")
    .option("-c, --config <path>", configOption)
    .option("--db <path>", dbOption)
    .action((domain, options) =>
      run("remove", options, async (store) => {
        const d = normalizeDomain(domain);
        if (!(await store.deleteFederationPeer(d))) throw new Error(`no stored peer ${d}`);
        io.write(`peer ${d} removed\n`);
      })
    );
  peers.command("block")
    .description("refuse a peer in and out, even one in the configuration")
    .argument("<domain>")
    .option("-c, --config <path>", configOption)
    .option("--db <path>", dbOption)
    .action((domain, options) =>
      run("block", options, async (store) => {
        const d = normalizeDomain(domain);
        const existing = await store.getFederationPeer(d);
        await store.upsertFederationPeer({
          domain: d,
          endpoint: existing?.endpoint ?? "",
          publicKey: existing?.publicKey ?? new Uint8Array(32),
          status: "blocked",
          updatedAt: now(),
        });
        io.write(`peer ${d} blocked\n`);
      })
    );
  return program;
}
