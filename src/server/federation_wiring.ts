/**
 * Builds the federation service from the server's parts, so the
 * composition root only mounts it.
 *
 * @module
 */
import { fromHex } from "../crypto/mod.ts";
import { Federation } from "../federation/mod.ts";
import type { Ledger } from "../ledger/mod.ts";
import type { Metrics } from "../metrics/mod.ts";
import type { Router } from "../router/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Store } from "../storage/mod.ts";
import type { ServerKeys } from "./keys.ts";
import type { ServerSettings } from "./settings.ts";

/** The server parts federation is wired to. */
export interface FederationParts {
  settings: ServerSettings;
  keys: ServerKeys;
  store: Store;
  router: Router;
  metrics: Metrics;
  ledger: Ledger;
  log: Logger;
  newId: (context: string) => string;
  version: string;
}

/** Every PEM certificate in `text`. */
export function pemCertificates(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** The federation service of this server (not started). */
export async function buildFederation(p: FederationParts): Promise<Federation> {
  const f = p.settings.federation;
  const caCerts = f?.caFile ? pemCertificates(await Deno.readTextFile(f.caFile)) : [];
  if (f?.caFile && caCerts.length === 0) {
    throw new Error(`federation.ca_file ${f.caFile} holds no PEM certificate`);
  }
  const counter = (key: Parameters<Metrics["upstreamCounter"]>[0]) => () =>
    p.metrics.upstreamCounter(key).inc();
  return new Federation({
    store: p.store,
    domain: p.settings.domain,
    key: p.keys.ca,
    peers: (f?.peers ?? []).map((peer) => ({
      domain: peer.domain,
      endpoint: peer.endpoint,
      publicKey: typeof peer.publicKey === "string" ? fromHex(peer.publicKey, 32) : peer.publicKey,
    })),
    caCerts,
    deliver: (deviceId, frame, senderUser) => p.router.deliverTo(deviceId, frame, senderUser),
    notifyChannel: p.settings.deviceRotation.notifyChannel,
    freshnessMs: (f?.freshnessSeconds ?? 600) * 1000,
    metrics: {
      outboxEnqueued: counter("federationOutboxEnqueued"),
      outboxDelivered: counter("federationOutboxDelivered"),
      outboxAttempt: () => p.metrics.federationOutboxAttempts.inc(),
      inboundProcessed: counter("federationInboundProcessed"),
      inboundRejected: counter("federationInboundRejected"),
    },
    ledger: p.ledger,
    log: p.log,
    newId: p.newId,
    version: p.version,
    outbox: f?.outbox,
  });
}
