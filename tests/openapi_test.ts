/**
 * `GET /openapi.json` against an in-process server: the document is sound
 * OpenAPI 3.1, it describes exactly the routes the API registers (and the
 * methods they answer), every operation answers with a status it documents,
 * documented response schemas accept real responses, and the hand-validated
 * request bodies agree with their documented schemas.
 */
import assert from "node:assert/strict";
import { CommuCatClient } from "../src/client/mod.ts";
import {
  type ApiDeps,
  createApi,
  csrBody,
  friendsBody,
  healthSchema,
  openApiPath,
  OPERATIONS,
  parseFriendsPayload,
  readySchema,
  SERVER_ENDPOINTS,
} from "../src/api/mod.ts";
import { api, assertProblem, befriend } from "./helpers/api.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer, type TestServer } from "./helpers/inprocess.ts";

type Json = Record<string, unknown>;
const METHODS = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];

async function withServer(fn: (srv: TestServer) => Promise<void>): Promise<void> {
  const srv = await startTestServer();
  try {
    await fn(srv);
  } finally {
    await srv.stop();
  }
}

async function fetchDocument(srv: TestServer): Promise<Json> {
  const r = await api(srv, "GET", "/openapi.json");
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get("content-type"), "application/json");
  return r.body as Json;
}

/** Every operation of the document as [path, method, operation]. */
function operations(doc: Json): [string, string, Json][] {
  const out: [string, string, Json][] = [];
  for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
    for (const [method, op] of Object.entries(item)) {
      assert.ok(METHODS.includes(method), `${path}: ${method} is not an HTTP method`);
      out.push([path, method, op as Json]);
    }
  }
  return out;
}

/** The value a JSON pointer (`#/a/b`) names in `doc`. */
function resolve(doc: Json, ref: string): unknown {
  assert.ok(ref.startsWith("#/"), `only local refs: ${ref}`);
  let at: unknown = doc;
  for (const part of ref.slice(2).split("/")) at = (at as Json | undefined)?.[part];
  return at;
}

function allRefs(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => allRefs(v, out));
  else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (k === "$ref" && typeof v === "string") out.push(v);
      else allRefs(v, out);
    }
  }
  return out;
}

/** The API's own paths of the document (the server's endpoints are listed by hand). */
function apiPaths(doc: Json): string[] {
  return Object.keys(doc.paths as Json).filter((p) => !(p in SERVER_ENDPOINTS));
}

/** A concrete path for an OpenAPI path template. */
function concrete(path: string): string {
  return path.replace(/\{[^}]+\}/g, "nobody-here");
}

Deno.test("openapi: a sound OpenAPI 3.1 document with version, servers and security", async () => {
  await withServer(async (srv) => {
    const doc = await fetchDocument(srv);
    assert.equal(doc.openapi, "3.1.0");
    const info = doc.info as Json;
    assert.equal(info.title, "CommuCat");
    const health = await api(srv, "GET", "/healthz");
    assert.equal(info.version, health.body?.version, "the version /healthz reports");
    const servers = doc.servers as { url: string }[];
    assert.equal(servers[0].url, srv.url, "the server as this request reached it");

    const components = doc.components as Json;
    const schemes = components.securitySchemes as Record<string, Json>;
    assert.deepEqual(Object.keys(schemes).sort(), ["admin", "session"]);
    for (const scheme of Object.values(schemes)) {
      assert.equal(scheme.type, "http");
      assert.equal(scheme.scheme, "bearer");
    }
    const problem = (components.schemas as Record<string, Json>).Problem;
    assert.deepEqual(Object.keys(problem.properties as Json), [
      "type",
      "title",
      "status",
      "detail",
    ]);
    assert.deepEqual(problem.required, ["type", "title", "status"]);
    for (const ref of allRefs(doc)) assert.ok(resolve(doc, ref), `dangling $ref ${ref}`);

    const ids = new Set<string>();
    for (const [path, method, op] of operations(doc)) {
      const where = `${method.toUpperCase()} ${path}`;
      assert.equal(typeof op.operationId, "string", where);
      assert.ok(!ids.has(op.operationId as string), `${where}: duplicate operationId`);
      ids.add(op.operationId as string);
      assert.ok(typeof op.summary === "string" && op.summary !== "", `${where}: summary`);
      const responses = op.responses as Record<string, Json>;
      assert.ok(Object.keys(responses).length > 0, `${where}: responses`);
      for (const [status, response] of Object.entries(responses)) {
        assert.match(status, /^[1-5]\d\d$/, where);
        assert.equal(typeof response.description, "string", `${where} ${status}`);
        if (Number(status) >= 400 && path !== "/readyz") { // readyz: its JSON either way
          const content = response.content as Record<string, { schema: Json }>;
          assert.deepEqual(
            content["application/problem+json"].schema,
            { $ref: "#/components/schemas/Problem" },
            `${where} ${status} is problem+json`,
          );
        }
      }
      // Path parameters: OpenAPI syntax, each declared.
      assert.doesNotMatch(path, /:/, `${path}: Hono syntax leaked`);
      const declared = ((op.parameters ?? []) as Json[]).filter((p) => p.in === "path");
      const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      assert.deepEqual(declared.map((p) => p.name), inPath, `${where}: path parameters`);

      if (!apiPaths(doc).includes(path)) continue;
      // What every API operation may answer, by its auth and body.
      assert.ok(responses["429"], `${where}: 429`);
      const security = op.security as Record<string, unknown>[] | undefined;
      const auth = security ? Object.keys(security[0])[0] : "none";
      if (auth !== "none") assert.ok(responses["401"], `${where}: 401`);
      if (auth === "session") assert.ok(responses["403"], `${where}: 403`);
      if (op.requestBody) assert.ok(responses["413"], `${where}: 413`);
    }
    for (const path of ["/connect", "/healthz", "/readyz", "/metrics"]) {
      assert.ok((doc.paths as Json)[path], `${path} is described`);
    }
    assert.ok((doc.paths as Record<string, Json>)["/connect"].get);
    assert.ok((doc.paths as Record<string, Json>)["/connect"].post);
  });
});

Deno.test("openapi: documents exactly the routes the API registers, with their methods", async () => {
  // The Hono app's own route list (registration ignores the dependencies).
  const registered = new Set(createApi({} as ApiDeps).routes.map((r) => openApiPath(r.path)));
  await withServer(async (srv) => {
    const doc = await fetchDocument(srv);
    assert.deepEqual(new Set(apiPaths(doc)), registered, "documented API paths = registered");
    for (const path of apiPaths(doc)) {
      const documented = Object.keys((doc.paths as Record<string, Json>)[path])
        .map((m) => m.toUpperCase());
      // A method the path does not serve lists the served ones in Allow.
      const wrong = await api(srv, "PATCH", concrete(path));
      assertProblem(wrong, 405);
      const allow = wrong.headers.get("allow")!.split(", ").filter((m) => m !== "HEAD");
      assert.deepEqual(allow.sort(), documented.sort(), `${path}: Allow vs documented`);
    }
  });
});

Deno.test("openapi: every operation answers with a status it documents", async () => {
  await withServer(async (srv) => {
    const doc = await fetchDocument(srv);
    for (const [path, method, op] of operations(doc)) {
      if (path === "/connect") continue; // below: it streams
      const r = await api(srv, method.toUpperCase(), concrete(path), {
        json: method === "get" || method === "delete" ? undefined : {},
      });
      const statuses = Object.keys(op.responses as Json);
      assert.ok(
        statuses.includes(String(r.status)),
        `${method.toUpperCase()} ${path} (no credentials) answered ${r.status}: ${r.text}`,
      );
    }
    // The endpoints the server handles itself answer as described.
    const connect = (doc.paths as Record<string, Record<string, Json>>)["/connect"];
    const notUpgrade = await api(srv, "GET", "/connect?mode=websocket");
    assert.ok(String(notUpgrade.status) in (connect.get.responses as Json));
    assertProblem(notUpgrade, 400);
    const client = Deno.createHttpClient({ caCerts: [srv.certificatePem] });
    try {
      const stream = await fetch(`${srv.url}/connect?mode=sse`, { method: "POST", client });
      assert.equal(stream.status, 200);
      const media = (connect.post.responses as Record<string, { content: Json }>)["200"].content;
      assert.ok(stream.headers.get("content-type")! in media);
      await stream.body!.cancel();
    } finally {
      client.close();
    }
    assertProblem(await api(srv, "GET", "/metrics"), 401);
  });
});

Deno.test("openapi: documented response schemas accept real responses", async () => {
  await withServer(async (srv) => {
    const a = await CommuCatClient.connect(connectOptions(srv, newDevice("a")));
    const b = await CommuCatClient.connect(connectOptions(srv, newDevice("b")));
    try {
      await befriend(srv, a, b);
      const check = async (key: string, path: string, options: Parameters<typeof api>[3] = {}) => {
        const [method] = key.split(" ");
        const r = await api(srv, method, path, options);
        const ok = OPERATIONS[key].ok;
        assert.equal(r.status, ok.status, `${key}: ${r.text}`);
        const parsed = ok.schema!.safeParse(r.body);
        assert.ok(parsed.success, `${key}: ${parsed.error?.message}`);
      };
      await check("GET /api/server-info", "/api/server-info");
      await check("GET /api/friends", "/api/friends", { as: a });
      await check("GET /api/friends/requests", "/api/friends/requests", { as: a });
      await check("GET /api/friends/:id/devices", `/api/friends/${b.session.userId}/devices`, {
        as: a,
      });
      await check("GET /api/devices", "/api/devices", { as: a });
      await check("POST /api/pair", "/api/pair", { as: a, json: {} });
      await check("PUT /api/friends", "/api/friends", {
        as: a,
        json: { friends: [{ user_id: b.session.userId, alias: "bee" }] },
      });
      assert.ok(healthSchema.safeParse((await api(srv, "GET", "/healthz")).body).success);
      assert.ok(readySchema.safeParse((await api(srv, "GET", "/readyz")).body).success);
    } finally {
      a.close();
      b.close();
      await Promise.all([a.finished, b.finished]);
    }
  });
});

Deno.test("openapi: hand-validated bodies agree with their documented schemas", async () => {
  // PUT /api/friends: parseFriendsPayload accepts exactly what the schema accepts.
  const samples: unknown[] = [
    { friends: [] },
    { friends: [{ user_id: "u1" }, { user_id: "u2", alias: "x" }, { user_id: "u3", alias: null }] },
    { friends: [{ user_id: "u1", alias: "" }] },
    {},
    [],
    null,
    { friends: "u1" },
    { friends: [{ handle: "h" }] },
    { friends: [{ user_id: "u1", extra: 1 }] },
    { friends: [{ user_id: "  " }] },
    { friends: [{ user_id: 7 }] },
    { friends: [{ user_id: "u1", alias: 3 }] },
    { friends: [{ user_id: "u1" }, { user_id: "u1" }] },
    { friends: ["u1"] },
    { friends: Array.from({ length: 513 }, (_, i) => ({ user_id: `u${i}` })) },
  ];
  for (const sample of samples) {
    let handler = true;
    try {
      parseFriendsPayload(sample);
    } catch {
      handler = false;
    }
    assert.equal(friendsBody.safeParse(sample).success, handler, JSON.stringify(sample));
  }

  // POST /api/device/csr: bodies the schema refuses, the server refuses with 400.
  await withServer(async (srv) => {
    const c = await CommuCatClient.connect(connectOptions(srv, newDevice("csr")));
    try {
      const good = {
        public_key: "ab".repeat(32),
        signature: "cd".repeat(64),
        expires_at: new Date(Date.now() + 60_000).toISOString(),
      };
      const bad: Json[] = [
        { ...good, public_key: "ab" },
        { ...good, public_key: 7 },
        { ...good, signature: "zz" },
        { ...good, expires_at: 5 },
        { ...good, nonce: "abc" },
        { signature: good.signature, expires_at: good.expires_at },
      ];
      for (const body of bad) {
        assert.equal(csrBody.safeParse(body).success, false, JSON.stringify(body));
        assertProblem(await api(srv, "POST", "/api/device/csr", { as: c, json: body }), 400);
      }
      assert.ok(csrBody.safeParse(good).success);
    } finally {
      c.close();
      await c.finished;
    }
  });
});
