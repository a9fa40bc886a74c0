/**
 * problem+json answers of the federation endpoints. Titles are upstream's
 * error names (`UnknownPeer`, `InvalidSignature`, …) so peers can match on them.
 *
 * @module
 */
import { problem } from "../http/mod.ts";

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

/** The problem+json answer of a refused federation request. */
export function problemResponse(p: FederationProblem): Response {
  return problem(p.status, p.message, { title: p.title });
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
        // Best effort: the 413 is the answer either way; a body that fails to
        // cancel (client already gone) has nothing left to release.
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
