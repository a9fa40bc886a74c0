/**
 * The web client's static assets under `/app/`: the page, its stylesheet,
 * the page script and the session worker (built by `deno task web:build`,
 * see ./build.ts). Served with a strict Content-Security-Policy (scripts,
 * workers, styles and connections from this origin only; no inline script
 * or style, no framing), Subresource Integrity on the page's script and
 * stylesheet, content-versioned URLs cached as immutable, and ETags.
 *
 * @module
 */
import { encodeBase64 } from "../proto/mod.ts";
import { DEFAULT_DIST, UI_SOURCES } from "./build.ts";

export { buildWebClient, DEFAULT_DIST } from "./build.ts";

/** URL prefix of the web client. */
export const WEB_PREFIX = "/app";

/**
 * The page's policy. `connect-src 'self'` covers this origin's `wss:` too
 * (CSP3); `worker-src 'self'` the session worker.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "worker-src 'self'",
  "connect-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "x-frame-options": "DENY",
  "permissions-policy": "camera=(), microphone=(), geolocation=()",
};

interface Asset {
  body: Uint8Array<ArrayBuffer>;
  type: string;
  /** Short content hash, the `?v=` of versioned URLs and the ETag. */
  hash: string;
  /** `sha384-…` for the integrity attribute. */
  sri: string;
}

async function asset(body: Uint8Array<ArrayBuffer>, type: string): Promise<Asset> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-384", body));
  const hex = Array.from(digest.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
  return { body, type, hash: hex, sri: `sha384-${encodeBase64(digest)}` };
}

/** Options of {@link createWebClient}. */
export interface WebClientOptions {
  /** Directory holding the built `main.js` and `worker.js` (default: ./dist/ beside this module). */
  dist?: URL;
}

/** Serves the web client; `null` when the bundle was not built (see {@link WebClient.missing}). */
export interface WebClient {
  /** Answers a request whose path is `/app` or under `/app/`. */
  handle(request: Request): Response;
  /** Why the client cannot be served (bundle not built), else null. */
  readonly missing: string | null;
}

/** Loads the assets once (they are immutable for the server's life). */
export async function createWebClient(options: WebClientOptions = {}): Promise<WebClient> {
  const dist = options.dist ?? DEFAULT_DIST;
  const ui = UI_SOURCES;
  const assets = new Map<string, Asset>();
  let missing: string | null = null;
  try {
    assets.set(
      "main.js",
      await asset(await Deno.readFile(new URL("main.js", dist)), "text/javascript"),
    );
    assets.set(
      "worker.js",
      await asset(await Deno.readFile(new URL("worker.js", dist)), "text/javascript"),
    );
    assets.set("app.css", await asset(await Deno.readFile(new URL("app.css", ui)), "text/css"));
    let page = await Deno.readTextFile(new URL("index.html", ui));
    for (const [name, item] of assets) {
      page = page.replaceAll(`{{${name}:hash}}`, item.hash).replaceAll(`{{${name}:sri}}`, item.sri);
    }
    assets.set(
      "index.html",
      await asset(new TextEncoder().encode(page), "text/html; charset=utf-8"),
    );
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    missing = "web client not built: run `deno task web:build`";
  }
  return {
    missing,
    handle(request) {
      return serve(request, assets, missing);
    },
  };
}

function problem(status: number, detail: string, extra: Record<string, string> = {}): Response {
  return new Response(
    JSON.stringify({
      type: "about:blank",
      title: STATUS_TITLES[status] ?? "Error",
      status,
      detail,
    }),
    {
      status,
      headers: { "content-type": "application/problem+json", ...SECURITY_HEADERS, ...extra },
    },
  );
}

const STATUS_TITLES: Record<number, string> = {
  404: "Not Found",
  405: "Method Not Allowed",
  503: "Service Unavailable",
};

function serve(request: Request, assets: Map<string, Asset>, missing: string | null): Response {
  const url = new URL(request.url);
  if (request.method !== "GET" && request.method !== "HEAD") {
    return problem(405, "use GET, HEAD", { allow: "GET, HEAD" });
  }
  if (url.pathname === WEB_PREFIX) {
    return new Response(null, { status: 308, headers: { location: `${WEB_PREFIX}/` } });
  }
  if (missing !== null) return problem(503, missing);
  const name = url.pathname.slice(WEB_PREFIX.length + 1) || "index.html";
  const item = assets.get(name);
  if (item === undefined) return problem(404, "resource not found");
  // A versioned URL names exactly this content: cache it for good. Anything else revalidates.
  const versioned = url.searchParams.get("v") === item.hash;
  const headers: Record<string, string> = {
    ...SECURITY_HEADERS,
    "content-type": item.type,
    etag: `"${item.hash}"`,
    "cache-control": versioned ? "public, max-age=31536000, immutable" : "no-cache",
  };
  if (request.headers.get("if-none-match") === `"${item.hash}"`) {
    return new Response(null, { status: 304, headers });
  }
  return new Response(request.method === "HEAD" ? null : item.body, { headers });
}
