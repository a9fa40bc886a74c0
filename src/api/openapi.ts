/**
 * The OpenAPI 3.1 document of the whole HTTP surface, served at
 * `GET /openapi.json`. API paths and methods come from the route table that
 * registers the handlers (src/api/app.ts), request bodies from the zod
 * schemas the handlers validate with ({@link OPERATIONS}); the endpoints the
 * server handles itself (`/connect`, `/healthz`, `/readyz`, `/metrics`) are
 * listed here by hand ({@link SERVER_ENDPOINTS}).
 *
 * @module
 */
import { z } from "zod";
import packageInfo from "../../deno.json" with { type: "json" };
import type { ApiDeps } from "./deps.ts";
import { json } from "./http.ts";
import { type Auth, type OperationDoc, OPERATIONS } from "./openapi_operations.ts";
import { healthSchema, problemSchema, readySchema } from "./openapi_schemas.ts";

/** A JSON value as it appears in the document. */
type Json = Record<string, unknown>;

/** One path of the route table: Hono syntax and the methods it serves. */
export interface ServedRoute {
  path: string;
  methods: string[];
}

/** `/api/friends/:id` → `/api/friends/{id}`. */
export function openApiPath(honoPath: string): string {
  return honoPath.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, "{$1}");
}

/** JSON Schema (draft 2020-12, as OpenAPI 3.1 uses) of a zod schema. */
export function jsonSchema(schema: z.ZodType): Json {
  // "input": objects stay open (clients must ignore fields they do not know).
  const out = z.toJSONSchema(schema, {
    io: "input",
    unrepresentable: "any",
    override: ({ jsonSchema }) => {
      // z.int()'s safe-integer bounds say nothing useful to a client.
      if (jsonSchema.minimum === Number.MIN_SAFE_INTEGER) delete jsonSchema.minimum;
      if (jsonSchema.maximum === Number.MAX_SAFE_INTEGER) delete jsonSchema.maximum;
    },
  }) as Json;
  delete out.$schema;
  return out;
}

const PROBLEM_REF = { $ref: "#/components/schemas/Problem" };

function problemResponse(description: string, headers?: Json): Json {
  const out: Json = {
    description,
    content: { "application/problem+json": { schema: PROBLEM_REF } },
  };
  if (headers) out.headers = headers;
  return out;
}

const RETRY_AFTER = { "Retry-After": { schema: { type: "integer" }, description: "seconds" } };
const WWW_AUTHENTICATE = { "WWW-Authenticate": { schema: { type: "string" } } };

const AUTH_401: Record<Exclude<Auth, "none">, string> = {
  session: "missing Authorization header, empty token, session not found or expired, " +
    "session expired (reconnect), device or user not found",
  admin: "missing Authorization header, empty token, invalid admin token",
};

/** The responses of `doc`: success, then every error it may answer. */
function responses(doc: OperationDoc, hasBody: boolean): Json {
  const out: Json = {};
  const ok: Json = { description: doc.ok.description };
  if (doc.ok.schema) {
    ok.content = { "application/json": { schema: jsonSchema(doc.ok.schema) } };
  } else if (doc.ok.media) {
    ok.content = Object.fromEntries(doc.ok.media.map((m) => [m, {}]));
  }
  out[String(doc.ok.status)] = ok;
  const errors: Record<number, string[]> = {
    400: ["invalid input (the detail names the field or problem)"],
    429: ["rate limit exceeded"],
    500: ["internal error (no detail; the x-request-id header names it in the log)"],
    503: ["storage unavailable, try again later"],
  };
  const add = (status: number, text: string) => (errors[status] ??= []).push(text);
  if (doc.auth !== "none") add(401, AUTH_401[doc.auth]);
  if (doc.auth === "session") add(403, "the calling device is revoked");
  if (hasBody) add(413, "request body too large (max 10 MiB; avatars 5 MiB)");
  for (const [status, text] of Object.entries(doc.errors ?? {})) add(Number(status), text);
  for (const status of Object.keys(errors).map(Number).sort((a, b) => a - b)) {
    const headers = status === 401 ? WWW_AUTHENTICATE : status === 429 ? RETRY_AFTER : undefined;
    out[String(status)] = problemResponse(errors[status].join("; "), headers);
  }
  return out;
}

function operation(doc: OperationDoc, path: string): Json {
  const out: Json = {
    operationId: doc.operationId,
    summary: doc.summary,
    tags: [doc.tag],
  };
  if (doc.description) out.description = doc.description;
  const params = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => ({
    name: m[1],
    in: "path",
    required: true,
    schema: { type: "string" },
    description: doc.params?.[m[1]] ?? m[1],
  }));
  if (params.length > 0) out.parameters = params;
  if (doc.auth !== "none") out.security = [{ [doc.auth]: [] }];
  if (doc.body) {
    out.requestBody = {
      required: doc.body.required,
      content: { "application/json": { schema: jsonSchema(doc.body.schema) } },
    };
  } else if (doc.rawBody) {
    out.requestBody = {
      required: true,
      content: Object.fromEntries(
        doc.rawBody.map((m) => [m, { schema: { type: "string", contentMediaType: m } }]),
      ),
    };
  }
  out.responses = responses(doc, doc.body !== undefined || doc.rawBody !== undefined);
  return out;
}

const CONNECT_DESCRIPTION =
  "Opens a CCP-1 session (docs/PROTOCOL.md §2). The mode comes from `mode`/`transport`, " +
  "the `x-connect-mode` header, a WebSocket upgrade (GET), or `Accept: text/event-stream`; " +
  "default binary. Streaming modes POST the client's bytes as the request body and read the " +
  "server's from the response body.";

function connectOperation(method: "get" | "post"): Json {
  return {
    operationId: method === "get" ? "connectGet" : "connectPost",
    summary: "Open a device connection (binary, SSE, long-poll or WebSocket)",
    description: CONNECT_DESCRIPTION,
    tags: ["connect"],
    parameters: [{
      name: "mode",
      in: "query",
      required: false,
      schema: { type: "string", enum: ["binary", "sse", "long-poll", "websocket"] },
      description: "aliases: stream, event-stream, longpoll, poll, ws (also as `transport`)",
    }],
    ...(method === "post"
      ? {
        requestBody: {
          required: false,
          content: { "application/octet-stream": { schema: { type: "string" } } },
        },
      }
      : {}),
    responses: {
      ...(method === "get" ? { "101": { description: "WebSocket upgrade (mode websocket)" } } : {}),
      "200": {
        description: "the server's stream of units",
        content: {
          "application/octet-stream": {},
          "text/event-stream": {},
          "application/x-ndjson": {},
        },
      },
      "400": problemResponse("a WebSocket request that is not a valid upgrade"),
      "405": problemResponse("another method (WebSocket needs GET)"),
      "429": problemResponse("rate limit exceeded", RETRY_AFTER),
      "503": problemResponse(
        "server is shutting down, or too many handshakes in flight",
        RETRY_AFTER,
      ),
    },
  };
}

/** The endpoints the server handles itself (src/server/app.ts), by path. */
export const SERVER_ENDPOINTS: Record<string, Json> = {
  "/connect": { get: connectOperation("get"), post: connectOperation("post") },
  "/healthz": {
    get: {
      operationId: "getHealth",
      summary: "Liveness and live counters",
      tags: ["operations"],
      responses: {
        "200": {
          description: "status `healthy`, or `stopping` during shutdown",
          content: { "application/json": { schema: jsonSchema(healthSchema) } },
        },
      },
    },
  },
  "/readyz": {
    get: {
      operationId: "getReadiness",
      summary: "Readiness: storage, presence and bus answer",
      tags: ["operations"],
      responses: Object.fromEntries(
        [["200", "ready"], ["503", "degraded (a check failed) or stopping"]].map((
          [status, description],
        ) => [status, {
          description,
          content: { "application/json": { schema: jsonSchema(readySchema) } },
        }]),
      ),
    },
  },
  "/p2p": {
    get: {
      operationId: "p2pRelay",
      summary: 'Relay between two authenticated devices (WebSocket; PROTOCOL.md §5 "P2P relay")',
      description: "Upgrade with a session bearer token; the first message is text JSON " +
        "`{session_id, peer}`. The first device waits (≤ 30 s) for the device it named, which " +
        "must name it back; then messages are relayed verbatim. Close codes: 4400 bad hello, " +
        "4403 refused or third party, 4408 timeout, 4409 already waiting, 4413 too large or " +
        "queue overflow, 1000 peer left, 1001 server stopping, 1013 relay full.",
      tags: ["p2p"],
      security: [{ session: [] }],
      responses: {
        "101": { description: "WebSocket established" },
        "401": problemResponse("missing, unknown or expired session token", WWW_AUTHENTICATE),
        "403": problemResponse("the device is revoked"),
        "426": problemResponse("not a WebSocket upgrade"),
        "429": problemResponse("rate limit exceeded", RETRY_AFTER),
        "503": problemResponse("relay full or server stopping"),
      },
    },
  },
  "/p2p/probe": {
    get: {
      operationId: "p2pProbe",
      summary: "Echo probes: the server measures this path (WebSocket; PROTOCOL.md §5)",
      description: "Upgrade with a session bearer token and `?path=<label>` (1-32 of " +
        "A-Za-z0-9_.-). The server sends 10 text probes `{probe}` one at a time; echo each " +
        "unchanged. Then `{done, path, rtt_ms, jitter_ms, packet_loss_percent, samples}` and " +
        "close 1000. `/api/p2p/assist` reports the figures as the device's path `<label>`. " +
        "6 runs per device per minute.",
      tags: ["p2p"],
      security: [{ session: [] }],
      parameters: [{ name: "path", in: "query", required: false, schema: { type: "string" } }],
      responses: {
        "101": { description: "WebSocket established" },
        "400": problemResponse("a bad path label"),
        "401": problemResponse("missing, unknown or expired session token", WWW_AUTHENTICATE),
        "403": problemResponse("the device is revoked"),
        "426": problemResponse("not a WebSocket upgrade"),
        "429": problemResponse("rate limit exceeded", RETRY_AFTER),
        "503": problemResponse("server stopping"),
      },
    },
  },
  "/metrics": {
    get: {
      operationId: "getMetrics",
      summary: "Prometheus metrics (text format 0.0.4)",
      tags: ["operations"],
      security: [{ admin: [] }],
      responses: {
        "200": { description: "metrics", content: { "text/plain; version=0.0.4": {} } },
        "401": problemResponse("no admin token configured, or a missing or wrong one"),
        "429": problemResponse("rate limit exceeded", RETRY_AFTER),
      },
    },
  },
};

/**
 * The document for `routes` (the API's route table). Throws when a served
 * operation is not documented in {@link OPERATIONS} or a documented one is
 * not served: the two cannot drift apart silently.
 */
export function buildOpenApi(
  routes: ServedRoute[],
  options: { version: string; servers?: { url: string; description?: string }[] },
): Json {
  const paths: Record<string, Json> = {};
  const documented = new Set<string>();
  for (const { path, methods } of routes) {
    const item: Json = {};
    for (const method of methods) {
      const key = `${method} ${path}`;
      const doc = OPERATIONS[key];
      if (doc === undefined) throw new Error(`openapi: ${key} is served but not documented`);
      documented.add(key);
      item[method.toLowerCase()] = operation(doc, openApiPath(path));
    }
    paths[openApiPath(path)] = item;
  }
  const stale = Object.keys(OPERATIONS).filter((key) => !documented.has(key));
  if (stale.length > 0) throw new Error(`openapi: documented but not served: ${stale.join(", ")}`);
  for (const [path, item] of Object.entries(SERVER_ENDPOINTS)) paths[path] = item;
  return {
    openapi: "3.1.0",
    info: {
      title: "CommuCat",
      version: options.version,
      description: "The CommuCat server's HTTP surface: the REST API (docs/PROTOCOL.md §5), " +
        "device connections (/connect) and operations endpoints. Errors are " +
        "application/problem+json.",
    },
    servers: options.servers ?? [],
    paths,
    components: {
      schemas: { Problem: jsonSchema(problemSchema) },
      securitySchemes: {
        session: {
          type: "http",
          scheme: "bearer",
          description: "The session id from the /connect handshake's Ack (`session`). " +
            "A bare token without `Bearer ` is accepted too.",
        },
        admin: {
          type: "http",
          scheme: "bearer",
          description: "An admin token (`admin.token` or a rotated one).",
        },
      },
    },
  };
}

const cache = new WeakMap<ServedRoute[], Json>();

/** GET /openapi.json: the document, with this request's origin and the domain as servers. */
export function serveOpenApi(deps: ApiDeps, routes: ServedRoute[], request: Request): Response {
  let doc = cache.get(routes);
  if (doc === undefined) {
    doc = buildOpenApi(routes, { version: packageInfo.version });
    cache.set(routes, doc);
  }
  const origin = new URL(request.url).origin;
  const servers = [{ url: origin, description: "this server, as reached" }];
  const canonical = `https://${deps.domain}`;
  if (!origin.startsWith(canonical)) {
    servers.push({ url: canonical, description: "server.domain" });
  }
  return json({ ...doc, servers });
}
