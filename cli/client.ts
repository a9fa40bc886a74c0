/**
 * `commucat client …`: a person's terminal client (profile file, readable
 * output) so two terminals can chat through a server.
 *
 * @module
 */
import { type Command, InvalidArgumentError } from "@commander-js/extra-typings";
import { CommuCatClient, ServerError } from "../src/client/mod.ts";
import {
  certificateToJson,
  fromHex,
  fromUtf8,
  generateDeviceKeys,
  parseCertificate,
  SESSION_PATTERN_NAMES,
  toHex,
} from "../src/crypto/mod.ts";
import { FrameType, frameTypeLabel } from "../src/proto/mod.ts";
import { exitWithError, messageOf } from "./errors.ts";
import { type ConnectMode, parseModeAlias } from "../src/transport/mod.ts";

/** The saved identity and server of one device (JSON, mode 0600). */
export interface ClientProfile {
  server_url: string;
  domain: string;
  server_static: string;
  device_ca_public?: string;
  device_id: string;
  private_key: string;
  public_key: string;
  /** A name from `SESSION_PATTERN_NAMES`. */
  noise_pattern: string;
  prologue: string;
  tls_ca_path?: string;
  user_handle?: string;
  display_name?: string;
  user_id?: string;
  session_token?: string;
  /** Canonical JSON text of the device certificate. */
  device_certificate?: string;
}

/** Default profile location: `$COMMUCAT_CLIENT_HOME/client.json` or `~/.config/commucat/client.json`. */
export function defaultProfilePath(): string {
  const home = Deno.env.get("COMMUCAT_CLIENT_HOME");
  if (home) return `${home}/client.json`;
  const base = Deno.env.get("XDG_CONFIG_HOME") ?? `${Deno.env.get("HOME") ?? "."}/.config`;
  return `${base}/commucat/client.json`;
}

async function loadProfile(path: string = defaultProfilePath()): Promise<ClientProfile> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as ClientProfile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(`no profile at ${path}: run "commucat client init" first`);
    }
    throw new Error(`cannot read profile ${path}: ${(error as Error).message}`);
  }
}

async function saveProfile(path: string, profile: ClientProfile): Promise<void> {
  const dir = path.slice(0, Math.max(0, path.lastIndexOf("/")));
  if (dir) await Deno.mkdir(dir, { recursive: true });
  const tmp = `${path}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(profile, null, 2) + "\n", { mode: 0o600 });
  await Deno.rename(tmp, path);
}

async function caCerts(profile: { tls_ca_path?: string }): Promise<string[] | undefined> {
  return profile.tls_ca_path ? [await Deno.readTextFile(profile.tls_ca_path)] : undefined;
}

async function connect(path: string | undefined, mode: ConnectMode | undefined): Promise<{
  client: CommuCatClient;
  profile: ClientProfile;
}> {
  path ??= defaultProfilePath();
  const profile = await loadProfile(path);
  const client = await CommuCatClient.connect({
    url: profile.server_url,
    mode: mode ?? "binary",
    pattern: profile.noise_pattern,
    serverStatic: fromHex(profile.server_static, 32),
    domain: profile.domain,
    deviceId: profile.device_id,
    devicePrivateKey: fromHex(profile.private_key, 32),
    user: profile.user_id
      ? { id: profile.user_id }
      : { handle: profile.user_handle, display_name: profile.display_name },
    certificate: profile.device_certificate as string | undefined,
    prologue: profile.prologue,
    caCerts: await caCerts(profile),
  });
  const ack = client.session.ack;
  profile.user_id = client.session.userId;
  profile.session_token = client.session.sessionId;
  // Kept as canonical JSON text: the u64 serial must survive exactly.
  if (ack.device_certificate) {
    profile.device_certificate = certificateToJson(
      parseCertificate(ack.device_certificate as object),
    );
  }
  profile.device_ca_public = String(ack.device_ca_public ?? profile.device_ca_public ?? "");
  await saveProfile(path, profile);
  return { client, profile };
}

/** Calls the REST API with the connection's session token; throws with the problem detail. */
async function rest(
  profile: ClientProfile,
  session: CommuCatClient,
  method: string,
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const certs = await caCerts(profile);
  const http = certs ? Deno.createHttpClient({ caCerts: certs }) : undefined;
  try {
    const response = await fetch(`${profile.server_url}${path}`, {
      method,
      client: http,
      headers: {
        authorization: `Bearer ${session.session.sessionId}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const json = text ? JSON.parse(text) as Record<string, unknown> : {};
    if (!response.ok) throw new Error(`${response.status}: ${json.detail ?? json.title ?? text}`);
    return json;
  } finally {
    http?.close();
  }
}

/** Sends a friend request to `handle`, or accepts one from them when it exists. */
async function befriendHandle(
  profile: ClientProfile,
  c: CommuCatClient,
  handle: string,
): Promise<string> {
  const target = encodeURIComponent(handle);
  // Accepting succeeds only when they asked first; otherwise ask them.
  try {
    await rest(profile, c, "POST", `/api/friends/requests/${target}/accept`);
    return `accepted ${handle}'s friend request`;
  } catch {
    await rest(profile, c, "POST", `/api/friends/requests/${target}`, {});
    return `friend request sent to ${handle}`;
  }
}

async function friendsText(profile: ClientProfile, c: CommuCatClient): Promise<string> {
  const friends = await rest(profile, c, "GET", "/api/friends");
  const requests = await rest(profile, c, "GET", "/api/friends/requests");
  const devices = friends.devices as Record<string, { device_id: string }[]> | undefined;
  const lines = ((friends.friends as { user_id: string; alias?: string }[]) ?? []).map((f) =>
    `friend ${f.alias ?? f.user_id}: devices ${
      (devices?.[f.user_id] ?? []).map((d) => d.device_id).join(", ") || "-"
    }`
  );
  for (const r of (requests.incoming as { from_user_id: string }[]) ?? []) {
    lines.push(`request from ${r.from_user_id} (accept: friend ${r.from_user_id})`);
  }
  return lines.length ? lines.join("\n") : "no friends yet";
}

/** Renders a delivered frame as one readable line. */
export function describeFrame(
  frame: { type: number; channel: number; payload: Uint8Array },
): string {
  if (frame.type === FrameType.Msg) {
    let text: string;
    try {
      text = fromUtf8(frame.payload);
    } catch {
      return `[${frame.channel}] <${frame.payload.length} bytes>`;
    }
    try {
      const msg = JSON.parse(text) as { from?: unknown; text?: unknown };
      if (typeof msg.text === "string") return `[${frame.channel}] ${msg.from ?? "?"}: ${msg.text}`;
    } catch { /* plain text */ }
    return `[${frame.channel}] ${text}`;
  }
  let body = "";
  try {
    body = fromUtf8(frame.payload);
  } catch { /* binary */ }
  return `[${frame.channel}] ${frameTypeLabel(frame.type as FrameType)} ${body}`;
}

function messageBody(profile: ClientProfile, text: string): string {
  return JSON.stringify({ from: profile.user_handle ?? profile.device_id, text });
}

/** `--mode`: a bad value is a usage error (one line, exit 1), not an exception. */
export function modeOption(value: string): ConnectMode {
  const mode = parseModeAlias(value);
  if (!mode) {
    throw new InvalidArgumentError(`unknown mode "${value}" (binary, sse, long-poll, websocket)`);
  }
  return mode;
}

/** `--channel`: a CCP channel id (u32). */
export function channelOption(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n) || n < 0 || n > 0xffff_ffff) {
    throw new InvalidArgumentError("must be a channel id (an integer from 0 to 4294967295)");
  }
  return n;
}

/** `--count`: how many messages; 0 = connect (registering the device) and exit. */
export function countOption(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isSafeInteger(n) || n < 0) {
    throw new InvalidArgumentError("must be a non-negative integer");
  }
  return n;
}

/** A channel typed in chat (`/join 5`); throws a one-line error. */
function channelArgument(value: string | undefined): number {
  try {
    return channelOption(value ?? "");
  } catch {
    throw new Error(`${JSON.stringify(value ?? "")} is not a channel id (0 to 4294967295)`);
  }
}

/** A network error's useful part: Deno's fetch says "fetch failed" and keeps the reason in `cause`. */
function networkReason(error: unknown): string {
  const e = error as Error & { cause?: unknown };
  const reason = e.cause instanceof Error ? e.cause.message : String(e?.message ?? error);
  const text = reason.replace(/^error sending request for url \([^)]*\): /, "").replaceAll(
    "\n",
    " ",
  );
  return /UnknownIssuer|certificate/i.test(text)
    ? `${text} (for a self-signed server certificate pass --tls-ca, e.g. var/tls/cert.pem)`
    : text;
}

/** One line for a failed `fetch`: the URL and the underlying cause (TLS, DNS, refused…). */
export function fetchFailure(url: string, error: unknown): Error {
  return new Error(`cannot reach ${url}: ${networkReason(error)}`);
}

/** Ends `client <command>` with its one error line (exit 1). */
function fail(command: string, error: unknown): never {
  const text = error instanceof ServerError
    ? `server refused: ${error.code}: ${error.body.detail ?? ""}`
    : (error as { cause?: unknown }).cause instanceof Error
    ? `cannot reach the server: ${networkReason(error)}`
    : messageOf(error);
  exitWithError(`client ${command}`, text);
}

const PROFILE_HELP =
  "profile file (default: $COMMUCAT_CLIENT_HOME/client.json or ~/.config/commucat/client.json)";

/** Adds `client init | connect | send | listen | friend | friends`. */
export function registerClientCommands(program: Command): void {
  const client = program.command("client").description("terminal client for people and scripts");
  client.command("init")
    .description("create a device profile (keys, server key, handle)")
    .requiredOption("--server <url>", "server base URL, e.g. https://localhost:8443")
    .option("--username <handle>", "handle to register (new users)")
    .option("--display-name <name>", "display name")
    .option("--device-id <id>", "device id (default: random)")
    .option("--tls-ca <path>", "PEM certificate to trust (e.g. var/tls/cert.pem)")
    .option(`--pattern <${SESSION_PATTERN_NAMES.join("|")}>`, "Noise pattern", "XK")
    .option("--profile <path>", PROFILE_HELP)
    .option("--force", "overwrite an existing profile")
    .action(async (o) => {
      try {
        const profilePath = o.profile ?? defaultProfilePath();
        const exists = await Deno.stat(profilePath).then(() => true, () => false);
        if (exists && !o.force) {
          throw new Error(`profile ${profilePath} exists (use --force to replace it)`);
        }
        if (!SESSION_PATTERN_NAMES.includes(o.pattern)) {
          throw new Error(`--pattern must be ${SESSION_PATTERN_NAMES.join(" or ")}`);
        }
        if (!/^https?:\/\/[^/]/.test(o.server)) {
          throw new Error(
            `--server must be a URL such as https://localhost:8443, got "${o.server}"`,
          );
        }
        const tls = o.tlsCa ? [await Deno.readTextFile(o.tlsCa)] : undefined;
        const http = tls ? Deno.createHttpClient({ caCerts: tls }) : undefined;
        const infoUrl = `${o.server.replace(/\/+$/, "")}/api/server-info`;
        const response = await fetch(infoUrl, { client: http }).catch((error) => {
          throw fetchFailure(infoUrl, error);
        });
        if (!response.ok) throw new Error(`${infoUrl}: HTTP ${response.status}`);
        const info = await response.json() as {
          domain: string;
          noise_public: string;
          device_ca_public: string;
        };
        http?.close();
        const keys = generateDeviceKeys();
        const profile: ClientProfile = {
          server_url: o.server.replace(/\/+$/, ""),
          domain: info.domain,
          server_static: info.noise_public,
          device_ca_public: info.device_ca_public,
          device_id: o.deviceId ?? `device-${crypto.randomUUID()}`,
          private_key: toHex(keys.privateKey),
          public_key: toHex(keys.publicKey),
          noise_pattern: o.pattern,
          prologue: "commucat",
          tls_ca_path: o.tlsCa ? await Deno.realPath(o.tlsCa) : undefined,
          user_handle: o.username,
          display_name: o.displayName,
        };
        await saveProfile(profilePath, profile);
        console.log(`profile written: ${profilePath}`);
        console.log(`device_id=${profile.device_id}`);
        console.log(`server=${profile.server_url} domain=${profile.domain}`);
      } catch (error) {
        fail("init", error);
      }
    });

  client.command("connect")
    .description("connect and chat interactively (stdin lines; /join, /leave, /channel, /quit)")
    .option("--profile <path>", PROFILE_HELP)
    .option("--mode <mode>", "binary | sse | long-poll | websocket", modeOption)
    .option("--channel <n>", "channel to start on", channelOption, 1)
    .action(async (o) => {
      let session: Awaited<ReturnType<typeof connect>>;
      try {
        session = await connect(o.profile, o.mode);
      } catch (error) {
        fail("connect", error);
      }
      const { client: c, profile } = session;
      console.log(
        `connected as ${profile.user_handle ?? profile.user_id} (device ${profile.device_id})`,
      );
      console.log(
        "commands: /friend <handle> | /friends | /join <channel> [device…] | /leave <channel> | " +
          "/channel <n> | /quit",
      );
      let channel = o.channel;
      (async () => {
        for (let f = await c.next(); f; f = await c.next()) console.log(describeFrame(f));
        console.log("disconnected");
        Deno.exit(0);
      })();
      const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
      let buffer = "";
      for await (const chunk of lines) {
        buffer += chunk;
        let nl: number;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          if (!line) continue;
          try {
            const [cmd, ...args] = line.split(/\s+/);
            if (cmd === "/quit") {
              await c.closeGracefully();
              Deno.exit(0);
            } else if (cmd === "/join") {
              channel = channelArgument(args[0]);
              await c.join(channel, args.slice(1));
              console.log(`joined ${channel}`);
            } else if (cmd === "/leave") {
              await c.leave(channelArgument(args[0]));
              console.log(`left ${args[0]}`);
            } else if (cmd === "/friend") {
              console.log(await befriendHandle(profile, c, args[0]));
            } else if (cmd === "/friends") {
              console.log(await friendsText(profile, c));
            } else if (cmd === "/channel") {
              channel = channelArgument(args[0]);
            } else {
              await c.send(channel, messageBody(profile, line));
            }
          } catch (error) {
            console.error(
              error instanceof ServerError
                ? `! ${error.code}: ${error.body.detail}`
                : `! ${(error as Error).message}`,
            );
          }
        }
      }
      await c.closeGracefully();
    });

  client.command("friend")
    .description("send a friend request to a handle, or accept theirs")
    .argument("<handle>", "the other user's handle (or user id)")
    .option("--profile <path>", PROFILE_HELP)
    .action(async (handle, o) => {
      try {
        const { client: c, profile } = await connect(o.profile, undefined);
        console.log(await befriendHandle(profile, c, handle));
        await c.closeGracefully();
      } catch (error) {
        fail("friend", error);
      }
    });

  client.command("friends")
    .description("list friends (with their devices) and pending requests")
    .option("--profile <path>", PROFILE_HELP)
    .action(async (o) => {
      try {
        const { client: c, profile } = await connect(o.profile, undefined);
        console.log(await friendsText(profile, c));
        await c.closeGracefully();
      } catch (error) {
        fail("friends", error);
      }
    });

  client.command("send")
    .description("send one message and exit")
    .requiredOption("--channel <n>", "channel id", channelOption)
    .option("--to <devices>", "comma-separated devices to add to the channel first")
    .option("--profile <path>", PROFILE_HELP)
    .option("--mode <mode>", "binary | sse | long-poll | websocket", modeOption)
    .argument("<text...>", "message text")
    .action(async (text, o) => {
      try {
        const { client: c, profile } = await connect(o.profile, o.mode);
        const channel = o.channel;
        if (o.to) await c.join(channel, o.to.split(",").map((d) => d.trim()).filter(Boolean));
        const ack = await c.send(channel, messageBody(profile, text.join(" ")));
        console.log(`sent (ack ${ack.ack})`);
        await c.closeGracefully();
      } catch (error) {
        fail("send", error);
      }
    });

  client.command("listen")
    .description("print delivered messages until interrupted")
    .option("--profile <path>", PROFILE_HELP)
    .option("--mode <mode>", "binary | sse | long-poll | websocket", modeOption)
    .option("--join <channel>", "join (or create) this channel first", channelOption)
    .option(
      "--count <n>",
      "exit after n messages (0: connect, which registers, and exit)",
      countOption,
    )
    .action(async (o) => {
      try {
        const { client: c } = await connect(o.profile, o.mode);
        if (o.join !== undefined) await c.join(o.join, []);
        console.log("listening");
        let left = o.count ?? Infinity;
        while (left > 0) {
          const f = await c.next();
          if (!f) break;
          console.log(describeFrame(f));
          if (f.type === FrameType.Msg) left--;
        }
        await c.closeGracefully();
      } catch (error) {
        fail("listen", error);
      }
    });
}
