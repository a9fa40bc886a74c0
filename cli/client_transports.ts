/**
 * `commucat client transports`: shows or sets the profile's ordered transport
 * list (direct TLS, a WebSocket path behind a CDN, Shadowsocks, SOCKS5, …;
 * docs/OPERATIONS.md "Client transports"). Every entry is checked as it is
 * set, so a bad one is a one-line error naming it, not a surprise at the next
 * connect. Passwords are never printed.
 *
 * @module
 */
import type { Command } from "@commander-js/extra-typings";
import { transportsFromSpecs, type TransportSpec } from "../src/client/transports/mod.ts";
import { countOption } from "./client_options.ts";
import { loadProfile, profileNameOption, saveProfile } from "./client_profile.ts";
import { fail, TRANSPORT_TIMEOUT_MS } from "./client_session.ts";

/** A JSON array of transport specs given to `option`; each is checked (one-line errors). */
export function parseTransportSpecs(text: string, option: string): TransportSpec[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${option} must be a JSON array of transports: ${(error as Error).message}`);
  }
  if (!Array.isArray(value)) throw new Error(`${option} must be a JSON array of transports`);
  transportsFromSpecs(value as TransportSpec[]);
  return value as TransportSpec[];
}

/** Adds `client transports` to `client`; `profilePath` resolves `--profile`. */
export function registerTransportCommands(
  client: Command,
  profilePath: (command: string, name: string | undefined) => string,
  profileHelp: string,
): void {
  client.command("transports")
    .description("show or set the ordered ways to reach the server (tried in turn, with a timeout)")
    .option("--set <json>", 'JSON array, e.g. [{"kind":"direct"},{"kind":"shadowsocks",…}]')
    .option("--clear", "forget the list (direct only)")
    .option("--timeout-ms <n>", "time for one attempt", countOption)
    .option("--profile <name>", profileHelp, profileNameOption)
    .action(async (o) => {
      const path = profilePath("transports", o.profile);
      try {
        const profile = await loadProfile(path);
        let changed = false;
        if (o.clear) {
          delete profile.transports;
          delete profile.last_transport;
          changed = true;
        }
        if (o.set !== undefined) {
          profile.transports = parseTransportSpecs(o.set, "--set");
          delete profile.last_transport;
          changed = true;
        }
        if (o.timeoutMs !== undefined) {
          if (o.timeoutMs < 100) throw new Error("--timeout-ms must be at least 100");
          profile.transport_timeout_ms = o.timeoutMs;
          changed = true;
        }
        if (changed) await saveProfile(path, profile);
        const list = transportsFromSpecs(profile.transports ?? [{ kind: "direct" }]);
        console.log(
          `transports (each tried for ${
            profile.transport_timeout_ms ?? TRANSPORT_TIMEOUT_MS
          } ms; the last one that worked first):`,
        );
        list.forEach((t, i) =>
          console.log(
            `${i + 1}. ${t.label}${t.label === profile.last_transport ? "  (last worked)" : ""}`,
          )
        );
      } catch (error) {
        fail("transports", error);
      }
    });
}
