/**
 * Reading `/metrics` in tests: a scrape with the admin token over the
 * server's TLS, and one sample picked out of the text exposition.
 */
import type { ServerHandle } from "./devices.ts";

/** GET `/metrics` with `token`; the exposition text, or the status when it is not 200. */
export async function scrapeMetrics(
  server: ServerHandle,
  token: string,
): Promise<{ status: number; text: string }> {
  const client = Deno.createHttpClient({ caCerts: [server.certificatePem] });
  try {
    const response = await fetch(`${server.url}/metrics`, {
      client,
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: response.status, text: await response.text() };
  } finally {
    client.close();
  }
}

/** The value of the sample `name` whose labels include every pair of `labels`. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = m[2] ?? "";
    if (Object.entries(labels).every(([k, v]) => have.includes(`${k}="${v}"`))) {
      return Number(m[3]);
    }
  }
  throw new Error(`no sample ${name} ${JSON.stringify(labels)} in exposition`);
}

/** `commucat_connections_refused_total` of the HTTP listeners (TLS, h2c) for `reason`. */
export function httpRefusals(text: string, reason: string): number {
  return sample(text, "commucat_connections_refused_total", { listener: "http", reason });
}
