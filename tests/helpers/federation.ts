/**
 * Two federated domains for the process tests: each site has its own data
 * directory, federation signing seed, self-signed certificate and port; a
 * site is started with the other as its only federation peer.
 *
 * @module
 */
import { deviceKeysFromSeed, toHex } from "../../src/crypto/mod.ts";
import { DatabaseSync } from "node:sqlite";
import { ensureSelfSignedCertificate } from "../../src/security/tls/mod.ts";
import { type ServerProcess, spawnServer } from "./process.ts";
import { freePort } from "./services.ts";

/** One domain's files and keys, before its server runs. */
export interface FederationSite {
  domain: string;
  dataDir: string;
  port: number;
  /** The Ed25519 signing seed the server derives from `federation.seed`. */
  seed: Uint8Array;
  publicKey: Uint8Array;
  certPem: string;
}

/** Prepares a site for `domain` (a temporary data dir named with `prefix`). */
export async function federationSite(domain: string, prefix: string): Promise<FederationSite> {
  const dataDir = await Deno.makeTempDir({ prefix: `commucat-${prefix}-${domain}-` });
  const seed = crypto.getRandomValues(new Uint8Array(32));
  await Deno.writeTextFile(`${dataDir}/federation.seed`, toHex(seed) + "\n");
  const tls = await ensureSelfSignedCertificate(dataDir, { domain });
  const keys = deviceKeysFromSeed(seed);
  return {
    domain,
    dataDir,
    port: freePort(),
    seed: keys.privateKey,
    publicKey: keys.publicKey,
    certPem: await Deno.readTextFile(tls.certPath),
  };
}

/** Starts `self` with `peer` as its only federation peer (trusting the peer's certificate). */
export async function startFederated(
  self: FederationSite,
  peer: FederationSite,
): Promise<ServerProcess> {
  await Deno.writeTextFile(`${self.dataDir}/peer-ca.pem`, peer.certPem);
  return await spawnServer({
    dataDir: self.dataDir,
    port: self.port,
    env: {
      COMMUCAT_DOMAIN: self.domain,
      COMMUCAT_FEDERATION_PEERS: `${peer.domain},https://localhost:${peer.port},${
        toHex(peer.publicKey)
      }`,
      COMMUCAT_FEDERATION_CA_FILE: `${self.dataDir}/peer-ca.pem`,
    },
  });
}

/** Every row of every table of the SQLite database in `dataDir`, as searchable text. */
export function sqliteRows(dataDir: string): string[] {
  const db = new DatabaseSync(`${dataDir}/commucat.db`, { readOnly: true });
  try {
    const out: string[] = [];
    for (
      const { name } of db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()
    ) {
      for (const row of db.prepare(`SELECT * FROM "${String(name)}"`).all()) {
        out.push(
          `${String(name)}: ` +
            Object.values(row).map((v) =>
              v instanceof Uint8Array ? new TextDecoder("latin1").decode(v) : String(v)
            ).join("\u0000"),
        );
      }
    }
    return out;
  } finally {
    db.close();
  }
}
