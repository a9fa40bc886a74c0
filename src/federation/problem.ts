/**
 * problem+json answers of the federation endpoints. Titles are upstream's
 * error names (`UnknownPeer`, `InvalidSignature`, …) so peers can match on them.
 *
 * @module
 */

/** A refused federation request. */
export class FederationProblem extends Error {
  readonly status: number;
  readonly title: string;
  constructor(status: number, title: string, detail: string) {
    super(detail);
    this.name = "FederationProblem";
    this.status = status;
    this.title = title;
  }
}

/** `application/problem+json` response. */
export function problemResponse(p: FederationProblem): Response {
  return new Response(
    JSON.stringify({ type: "about:blank", title: p.title, status: p.status, detail: p.message }),
    {
      status: p.status,
      headers: { "content-type": "application/problem+json", "cache-control": "no-store" },
    },
  );
}

/** JSON response. */
export function jsonResponse(body: unknown, status: number): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

/** Most bytes a federation request body may have. */
export const MAX_FEDERATION_BODY = 1024 * 1024;

/** The request body as text: empty → 400, over {@link MAX_FEDERATION_BODY} → 413. */
export async function readFederationBody(request: Request): Promise<string> {
  const reader = request.body?.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (reader) {
    while (true) {
      const { done, value } = await reader.read().catch(() => {
        throw new FederationProblem(400, "ReadFailure", "could not read the request body");
      });
      if (done) break;
      size += value.length;
      if (size > MAX_FEDERATION_BODY) {
        await reader.cancel().catch(() => {});
        throw new FederationProblem(413, "InvalidRequest", "request body too large (max 1 MiB)");
      }
      chunks.push(value);
    }
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.length;
  }
  const text = new TextDecoder().decode(bytes);
  if (text.trim() === "") {
    throw new FederationProblem(400, "InvalidRequest", "request body required");
  }
  return text;
}
