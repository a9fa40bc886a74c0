/**
 * shadowsocks-libev children for the Shadowsocks tests: `ss-local` (a SOCKS5
 * proxy into a Shadowsocks server) and `ss-server`, each on a free loopback
 * port, ready once that port accepts. Tests that need them skip loudly when
 * the package is missing (`.ci/run` installs it).
 */
import { closedPort } from "./censor.ts";

/** True when `program` is on PATH. */
export async function hasProgram(program: string): Promise<boolean> {
  return await new Deno.Command("sh", {
    args: ["-c", `command -v ${program}`],
    stdout: "null",
  }).output().then((o) => o.success, () => false);
}

/** A running child on `port`. */
export interface SsChild {
  port: number;
  stop(): Promise<void>;
}

async function start(program: string, args: string[], port: number): Promise<SsChild> {
  const child = new Deno.Command(program, { args, stdout: "null", stderr: "null" }).spawn();
  for (let i = 0;; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch (error) {
      if (i > 400) {
        child.kill("SIGKILL");
        await child.status;
        throw error;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  return {
    port,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

/** `ss-local` towards the Shadowsocks server at 127.0.0.1:`serverPort`; `port` is its SOCKS5 port. */
export function startSsLocal(serverPort: number, method: string, password: string) {
  const port = closedPort();
  return start("ss-local", [
    ..."-s 127.0.0.1 -p".split(" "),
    String(serverPort),
    ..."-b 127.0.0.1 -l".split(" "),
    String(port),
    "-k",
    password,
    "-m",
    method,
  ], port);
}

/** `ss-server` on a free port (it connects to whatever target its clients name). */
export function startSsServer(method: string, password: string) {
  const port = closedPort();
  return start("ss-server", [
    ..."-s 127.0.0.1 -p".split(" "),
    String(port),
    "-k",
    password,
    "-m",
    method,
  ], port);
}
