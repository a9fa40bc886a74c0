/**
 * Echo probes over `GET /p2p/probe` (WebSocket, session bearer): the server
 * measures one path between a device and itself. It sends `count` probes
 * `{"probe": <random u32>}` one after another; the client echoes each text
 * unchanged on the same socket; each waits at most `timeoutMs` for its echo
 * (a missing echo is a lost probe). The server then sends
 * `{"done": true, "path", "rtt_ms", "jitter_ms", "packet_loss_percent",
 * "samples"}` and closes (1000). Every figure is a round trip the server
 * timed itself; a client can only make itself look worse, never better
 * (the nonce is unpredictable, so it cannot answer early).
 *
 * The figures are kept per device and path label (`?path=`, e.g. `tls-ws`,
 * `shadowsocks`) in a bounded {@link ProbeBook}, which `/api/p2p/assist`
 * reports as that device's paths.
 *
 * @module
 */
import { problem } from "../http/mod.ts";
import { holdSlotWhileOpen } from "../transport/listener.ts";
import type { LivePath } from "./assist.ts";
import { PathQualityMeter } from "./path_quality.ts";
import type { RelayIdentity } from "./relay.ts";

const LABEL = /^[A-Za-z0-9_.-]{1,32}$/;

/** Measurements per device and path label, bounded and expiring. */
export class ProbeBook {
  readonly #maxDevices: number;
  readonly #maxPaths: number;
  readonly #ttlMs: number;
  readonly #now: () => number;
  /** device → label → meter and when it was last fed (insertion order = least recent first). */
  readonly #devices = new Map<string, Map<string, { meter: PathQualityMeter; at: number }>>();

  constructor(
    options: { maxDevices?: number; maxPaths?: number; ttlMs?: number; now?: () => number } = {},
  ) {
    this.#maxDevices = options.maxDevices ?? 10_000;
    this.#maxPaths = options.maxPaths ?? 8;
    this.#ttlMs = options.ttlMs ?? 10 * 60_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * A fresh meter for `label` of `deviceId` (a new probe run replaces the old
   * figures); `timeoutMs` is how long the run waits for one echo.
   */
  meter(deviceId: string, label: string, timeoutMs: number): PathQualityMeter {
    let paths = this.#devices.get(deviceId);
    if (paths) this.#devices.delete(deviceId);
    paths ??= new Map();
    this.#devices.set(deviceId, paths);
    while (this.#devices.size > this.#maxDevices) {
      this.#devices.delete(this.#devices.keys().next().value!);
    }
    paths.delete(label);
    const entry = { meter: new PathQualityMeter({ window: 64, timeoutMs }), at: this.#now() };
    paths.set(label, entry);
    while (paths.size > this.#maxPaths) paths.delete(paths.keys().next().value!);
    return entry.meter;
  }

  /** The device's probed paths, oldest first (expired ones dropped). */
  paths(deviceId: string): LivePath[] {
    const paths = this.#devices.get(deviceId);
    if (!paths) return [];
    const now = this.#now();
    const out: LivePath[] = [];
    for (const [label, entry] of paths) {
      if (now - entry.at > this.#ttlMs) {
        paths.delete(label);
        continue;
      }
      out.push({ id: label, mode: "probe", quality: entry.meter.snapshot(now) });
    }
    return out;
  }
}

/** Options of {@link PathProber}. */
export interface PathProberOptions {
  authenticate(request: Request): Promise<RelayIdentity | Response>;
  book: ProbeBook;
  /** Probes per run (default 10). */
  count?: number;
  /** Wait for one echo (default 1000 ms). */
  timeoutMs?: number;
  /** Runs started per device per minute (default 6). */
  runsPerMinute?: number;
  now?: () => number;
}

/** Serves `GET /p2p/probe`; see the module doc. */
export class PathProber {
  readonly #o: Required<PathProberOptions>;
  /** device → start times of its runs in the last minute. */
  readonly #runs = new Map<string, number[]>();
  readonly #sockets = new Set<WebSocket>();

  constructor(options: PathProberOptions) {
    this.#o = {
      count: 10,
      timeoutMs: 1000,
      runsPerMinute: 6,
      now: () => performance.now(),
      ...options,
    };
  }

  /** Serves one probe request. */
  async handle(request: Request): Promise<Response> {
    if (request.method !== "GET") {
      return problem(405, "use GET with a WebSocket upgrade", { headers: { allow: "GET" } });
    }
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return problem(426, "the probe is a WebSocket: send Upgrade: websocket", {
        headers: { upgrade: "websocket" },
      });
    }
    const label = new URL(request.url).searchParams.get("path") ?? "default";
    if (!LABEL.test(label)) {
      return problem(400, "path must be 1-32 characters of A-Z a-z 0-9 _ . -");
    }
    const who = await this.#o.authenticate(request);
    if (who instanceof Response) return who;
    const now = this.#o.now();
    const recent = (this.#runs.get(who.deviceId) ?? []).filter((t) => now - t < 60_000);
    if (recent.length >= this.#o.runsPerMinute) {
      const wait = Math.max(1, Math.ceil((60_000 - (now - recent[0])) / 1000));
      return problem(429, `probe rate limit exceeded; retry after ${wait} s`, {
        headers: { "retry-after": String(wait) },
      });
    }
    recent.push(now);
    this.#runs.delete(who.deviceId);
    this.#runs.set(who.deviceId, recent);
    if (this.#runs.size > 65_536) this.#runs.delete(this.#runs.keys().next().value!);
    const { socket, response } = Deno.upgradeWebSocket(request);
    holdSlotWhileOpen(request, socket);
    this.#run(socket, this.#o.book.meter(who.deviceId, label, this.#o.timeoutMs), label);
    return response;
  }

  /** Closes every probe socket (the server is stopping). */
  shutdown(): void {
    for (const s of this.#sockets) s.close(1001, "server is stopping");
  }

  #run(socket: WebSocket, meter: PathQualityMeter, label: string): void {
    this.#sockets.add(socket);
    let sent = 0;
    let nonce = -1;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const next = () => {
      clearTimeout(timer);
      if (socket.readyState !== WebSocket.OPEN) return;
      if (sent === this.#o.count) {
        const q = meter.snapshot(this.#o.now())!;
        socket.send(JSON.stringify({
          done: true,
          path: label,
          rtt_ms: q.rttMs,
          jitter_ms: q.jitterMs,
          packet_loss_percent: q.lossRatio * 100,
          samples: q.samples,
        }));
        socket.close(1000, "done");
        return;
      }
      sent++;
      nonce = crypto.getRandomValues(new Uint32Array(1))[0];
      meter.sent(nonce, this.#o.now());
      socket.send(JSON.stringify({ probe: nonce }));
      timer = setTimeout(() => {
        meter.lost(nonce);
        nonce = -1;
        next();
      }, this.#o.timeoutMs);
    };
    socket.onopen = next;
    socket.onmessage = (event) => {
      if (typeof event.data !== "string" || nonce < 0) return;
      let echoed: unknown;
      try {
        echoed = JSON.parse(event.data);
      } catch {
        return;
      }
      const value = (echoed as { probe?: unknown } | null)?.probe;
      if (value !== nonce) return;
      nonce = -1;
      meter.answered(value, this.#o.now());
      next();
    };
    socket.onclose = () => {
      clearTimeout(timer);
      this.#sockets.delete(socket);
    };
    socket.onerror = () => {};
  }
}
