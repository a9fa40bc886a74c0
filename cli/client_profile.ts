/**
 * Profiles of the terminal client: one device's identity and server (JSON,
 * private key and session token included) per profile, kept in the user's
 * configuration directory — never in the working directory, where a checkout
 * could commit it. The file is mode 0600 in a 0700 directory.
 *
 * Where a profile lives:
 * - `--profile NAME` → `$XDG_CONFIG_HOME/commucat/NAME/client.json`
 *   (`~/.config/commucat/NAME/client.json` without `XDG_CONFIG_HOME`);
 * - no `--profile`: `$COMMUCAT_CLIENT_HOME/client.json` when that is set,
 *   else the profile named `default`.
 *
 * @module
 */
import { InvalidArgumentError } from "@commander-js/extra-typings";
import type { TransportSpec } from "../src/client/transports/mod.ts";

/** The saved identity and server of one device. */
export interface ClientProfile {
  server_url: string;
  domain: string;
  server_static: string;
  /**
   * The server's ML-DSA-65 public key (hex), pinned at `client init` from
   * /api/server-info when the server offers post-quantum handshakes: the
   * client then uses the hybrid of `noise_pattern` and refuses a server whose
   * signature does not verify against it.
   */
  server_pq_public?: string;
  device_ca_public?: string;
  device_id: string;
  private_key: string;
  public_key: string;
  /** A name from `SESSION_PATTERN_NAMES`. */
  noise_pattern: string;
  /**
   * Length padding policy (`off`, `classes`, `block:<bytes>`; absent:
   * `classes`), docs/PROTOCOL.md §2 "Padding".
   */
  padding?: string;
  prologue: string;
  tls_ca_path?: string;
  user_handle?: string;
  display_name?: string;
  user_id?: string;
  session_token?: string;
  /** Canonical JSON text of the device certificate. */
  device_certificate?: string;
  /**
   * Ordered ways to reach the server (docs/OPERATIONS.md "Client transports"):
   * `{"kind":"direct"}`, `{"kind":"websocket","url":…}`,
   * `{"kind":"shadowsocks","server":…,"method":…,"password":…}`,
   * `{"kind":"socks5","proxy":…}`, … Absent: direct only.
   */
  transports?: TransportSpec[];
  /** Time for one transport attempt, ms (default 10 000). */
  transport_timeout_ms?: number;
  /** Label of the transport that worked last: tried first next time. */
  last_transport?: string;
}

/** Name of the profile used without `--profile` (and without `COMMUCAT_CLIENT_HOME`). */
export const DEFAULT_PROFILE = "default";

/** `--profile`: a name, not a path (letters, digits, `.`, `_`, `-`). */
export function profileNameOption(value: string): string {
  if (!/^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/.test(value)) {
    throw new InvalidArgumentError(
      "must be a profile name (letters, digits, . _ -; it lives in ~/.config/commucat/<name>)",
    );
  }
  return value;
}

/** The user's configuration directory: `$XDG_CONFIG_HOME`, else `$HOME/.config`. */
function configHome(env: (name: string) => string | undefined): string {
  const xdg = env("XDG_CONFIG_HOME");
  if (xdg) return xdg;
  const home = env("HOME");
  if (!home) {
    throw new Error(
      "cannot place the profile: neither XDG_CONFIG_HOME nor HOME is set " +
        "(set one, or COMMUCAT_CLIENT_HOME to a directory)",
    );
  }
  return `${home}/.config`;
}

/** The profile file for `--profile name` (or the default when absent). */
export function profilePath(
  name?: string,
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): string {
  if (name === undefined) {
    const home = env("COMMUCAT_CLIENT_HOME");
    if (home) return `${home}/client.json`;
  }
  return `${configHome(env)}/commucat/${name ?? DEFAULT_PROFILE}/client.json`;
}

/** Reads a profile; a missing one says how to create it. */
export async function loadProfile(path: string): Promise<ClientProfile> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as ClientProfile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(`no profile at ${path}: run "commucat client init" first`);
    }
    throw new Error(`cannot read profile ${path}: ${(error as Error).message}`);
  }
}

/**
 * Writes a profile atomically, mode 0600 (it holds the device's private key
 * and a bearer token).
 */
export async function saveProfile(path: string, profile: ClientProfile): Promise<void> {
  const dir = path.slice(0, Math.max(0, path.lastIndexOf("/")));
  // A directory created here is 0700 (the umask may only narrow it); an existing one is left as is.
  if (dir) await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${crypto.randomUUID()}`;
  // `mode` applies only to a file that is created: the fresh temporary name guarantees it.
  await Deno.writeTextFile(tmp, JSON.stringify(profile, null, 2) + "\n", {
    mode: 0o600,
    createNew: true,
  });
  await Deno.chmod(tmp, 0o600);
  await Deno.rename(tmp, path);
}
