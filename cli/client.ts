/**
 * `commucat client …`: a person's terminal client (a profile per device in
 * the user's configuration directory, readable output) so two terminals can
 * chat through a server. Profiles: ./client_profile.ts; the interactive chat:
 * ./client_chat.ts.
 *
 * @module
 */
import { type Command, InvalidArgumentError } from "@commander-js/extra-typings";
import { generateDeviceKeys, SESSION_PATTERN_NAMES, toHex } from "../src/crypto/mod.ts";
import { FrameType, parsePaddingPolicy } from "../src/proto/mod.ts";
import { registerCallCommands } from "./client_call.ts";
import { parseTransportSpecs, registerTransportCommands } from "./client_transports.ts";
import { fetchThroughTransports } from "../src/client/mod.ts";
import { transportsFromSpecs, type TransportSpec } from "../src/client/transports/mod.ts";
import { runChat } from "./client_chat.ts";
import {
  attachE2E,
  describeEvents,
  PLAINTEXT_BANNER,
  safetyText,
  usersOfDevices,
} from "./client_e2e.ts";
import {
  channelOption,
  countOption,
  fecOption,
  modeOption,
  pathsOption,
} from "./client_options.ts";
import {
  type ClientProfile,
  profileNameOption,
  profilePath,
  saveProfile,
} from "./client_profile.ts";
import {
  attemptLine,
  befriendHandle,
  connect,
  describeFrame,
  fail,
  fetchFailure,
  friendsText,
  messageBody,
  TRANSPORT_TIMEOUT_MS,
} from "./client_session.ts";

const PROFILE_HELP = "profile name: ~/.config/commucat/<name> (or $XDG_CONFIG_HOME/commucat/" +
  "<name>); default: $COMMUCAT_CLIENT_HOME if set, else the profile named default";

/** The profile file of a command's `--profile`; a bad environment is the command's error. */
function resolveProfile(command: string, name: string | undefined): string {
  try {
    return profilePath(name);
  } catch (error) {
    fail(command, error);
  }
}

/** What `client init` reads from /api/server-info. */
interface ServerInfo {
  domain: string;
  noise_public: string;
  device_ca_public: string;
  post_quantum?: { enabled?: boolean; signing_public?: string | null };
}

/** /api/server-info straight from the server. */
async function serverInfoDirect(server: string, tls: string[] | undefined) {
  const http = tls ? Deno.createHttpClient({ caCerts: tls }) : undefined;
  const infoUrl = `${server.replace(/\/+$/, "")}/api/server-info`;
  try {
    const response = await fetch(infoUrl, { client: http }).catch((error) => {
      throw fetchFailure(infoUrl, error);
    });
    if (!response.ok) throw new Error(`${infoUrl}: HTTP ${response.status}`);
    return { info: await response.json() as ServerInfo, transport: undefined };
  } finally {
    http?.close();
  }
}

/** /api/server-info through the first of `specs` that gets through (logged like a connect's). */
async function serverInfoThrough(
  server: string,
  specs: TransportSpec[],
  tls: string[] | undefined,
) {
  const got = await fetchThroughTransports(
    server.replace(/\/+$/, ""),
    "/api/server-info",
    transportsFromSpecs(specs),
    {
      caCerts: tls,
      attemptTimeoutMs: TRANSPORT_TIMEOUT_MS,
      onAttempt: (a) => console.error(attemptLine(a)),
    },
  );
  if (got.status !== 200) throw new Error(`/api/server-info: HTTP ${got.status}`);
  return { info: JSON.parse(got.text) as ServerInfo, transport: got.transport.label };
}

/** `--padding`: a padding policy's text form (checked here, stored as given). */
function paddingOption(value: string): string {
  try {
    parsePaddingPolicy(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  return value;
}

/** Adds `client init | connect | send | listen | friend | friends | safety | call | answer | transports`. */
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
    .option(
      "--padding <off|classes|block:N>",
      "length padding inside Noise (pad1; docs/PROTOCOL.md §2 Padding)",
      paddingOption,
      "classes",
    )
    .option(
      "--transports <json>",
      "ordered ways to reach the server, as `client transports --set` (init uses them too)",
    )
    .option("--profile <name>", PROFILE_HELP, profileNameOption)
    .option("--force", "overwrite an existing profile")
    .action(async (o) => {
      const path = resolveProfile("init", o.profile);
      try {
        const exists = await Deno.stat(path).then(() => true, () => false);
        if (exists && !o.force) {
          throw new Error(`profile ${path} exists (use --force to replace it)`);
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
        const specs = o.transports === undefined
          ? undefined
          : parseTransportSpecs(o.transports, "--transports");
        const fetched = specs
          ? await serverInfoThrough(o.server, specs, tls)
          : await serverInfoDirect(o.server, tls);
        const info = fetched.info;
        const keys = generateDeviceKeys();
        const profile: ClientProfile = {
          server_url: o.server.replace(/\/+$/, ""),
          domain: info.domain,
          server_static: info.noise_public,
          server_pq_public: info.post_quantum?.enabled && info.post_quantum.signing_public
            ? info.post_quantum.signing_public
            : undefined,
          device_ca_public: info.device_ca_public,
          device_id: o.deviceId ?? `device-${crypto.randomUUID()}`,
          private_key: toHex(keys.privateKey),
          public_key: toHex(keys.publicKey),
          noise_pattern: o.pattern,
          padding: o.padding,
          prologue: "commucat",
          tls_ca_path: o.tlsCa ? await Deno.realPath(o.tlsCa) : undefined,
          user_handle: o.username,
          display_name: o.displayName,
          transports: specs,
          last_transport: fetched.transport,
        };
        await saveProfile(path, profile);
        console.log(`profile written: ${path}`);
        console.log(`device_id=${profile.device_id}`);
        console.log(`server=${profile.server_url} domain=${profile.domain}`);
      } catch (error) {
        fail("init", error);
      }
    });

  client.command("connect")
    .description("connect and chat interactively (stdin lines; /join, /leave, /channel, /quit)")
    .option("--profile <name>", PROFILE_HELP, profileNameOption)
    .option("--mode <mode>", "binary | sse | long-poll | websocket", modeOption)
    .option("--channel <n>", "channel to start on", channelOption, 1)
    .option("--plaintext", "plaintext mode (bots, bridges): not end-to-end encrypted")
    .option(
      "--paths <modes>",
      "a multipath session over these modes, e.g. ws,binary,sse (the first connects first)",
      pathsOption,
    )
    .option(
      "--fec <policy>",
      "multipath FEC: auto | off | duplicate | raptorq[:overhead]",
      fecOption,
    )
    .action(async (o) => {
      const profilePath = resolveProfile("connect", o.profile);
      await runChat({
        profilePath,
        mode: o.mode,
        channel: o.channel,
        plaintext: o.plaintext,
        paths: o.paths,
        fecPolicy: o.fec,
      });
    });

  client.command("safety")
    .description("show this device's key fingerprint, another user's and your safety number")
    .argument("<handle>", "the other user's handle (or user id)")
    .option("--profile <name>", PROFILE_HELP, profileNameOption)
    .action(async (handle, o) => {
      const path = resolveProfile("safety", o.profile);
      try {
        const { client: c, profile } = await connect(path, oneShot);
        console.log(await safetyText(await attachE2E(path, profile, c), handle));
        await c.closeGracefully();
      } catch (error) {
        fail("safety", error);
      }
    });

  // One-shot commands do not acknowledge deliveries: what arrives while they
  // hold the device's session stays queued for the device's chat.
  const oneShot = { acknowledgeDeliveries: false };

  client.command("friend")
    .description("send a friend request to a handle, or accept theirs")
    .argument("<handle>", "the other user's handle (or user id)")
    .option("--profile <name>", PROFILE_HELP, profileNameOption)
    .action(async (handle, o) => {
      const path = resolveProfile("friend", o.profile);
      try {
        const { client: c, profile } = await connect(path, oneShot);
        console.log(await befriendHandle(profile, c, handle));
        await c.closeGracefully();
      } catch (error) {
        fail("friend", error);
      }
    });

  client.command("friends")
    .description("list friends (handles, with their devices) and pending requests")
    .option("--profile <name>", PROFILE_HELP, profileNameOption)
    .action(async (o) => {
      const path = resolveProfile("friends", o.profile);
      try {
        const { client: c, profile } = await connect(path, oneShot);
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
    .option("--profile <name>", PROFILE_HELP, profileNameOption)
    .option("--mode <mode>", "binary | sse | long-poll | websocket", modeOption)
    .option("--plaintext", "plaintext mode (bots, bridges): not end-to-end encrypted")
    .argument("<text...>", "message text")
    .action(async (text, o) => {
      const path = resolveProfile("send", o.profile);
      try {
        const { client: c, profile } = await connect(path, { ...oneShot, mode: o.mode });
        const channel = o.channel;
        const to = (o.to ?? "").split(",").map((d) => d.trim()).filter(Boolean);
        const body = messageBody(profile, text.join(" "));
        let ack;
        if (o.plaintext) {
          console.log(PLAINTEXT_BANNER);
          if (to.length) await c.join(channel, to);
          ack = await c.send(channel, body);
        } else {
          const e2e = await attachE2E(path, profile, c);
          if (to.length || !e2e.device.hasGroup(channel)) {
            await e2e.open(channel, await usersOfDevices(profile, c, to));
          }
          ack = await e2e.send(channel, body);
        }
        // The Ack means routed: handed to online members, stored for offline ones
        // (PROTOCOL.md §4). The sequence is this message's own, counted per connection.
        console.log(
          `sent on channel ${channel}: routed (live to online members, queued for offline ones); ` +
            `frame sequence ${ack.sequence} of this connection`,
        );
        await c.closeGracefully();
      } catch (error) {
        fail("send", error);
      }
    });

  client.command("listen")
    .description("print delivered messages until interrupted")
    .option("--profile <name>", PROFILE_HELP, profileNameOption)
    .option("--mode <mode>", "binary | sse | long-poll | websocket", modeOption)
    .option("--join <channel>", "join (or create) this channel first", channelOption)
    .option(
      "--count <n>",
      "exit after n messages (0: connect, which registers, and exit)",
      countOption,
    )
    .action(async (o) => {
      const path = resolveProfile("listen", o.profile);
      try {
        const { client: c, profile } = await connect(path, {
          mode: o.mode,
          // Listening shows what arrives: acknowledge it (with --count 0 nothing is read, nothing consumed).
          acknowledgeDeliveries: (o.count ?? 1) > 0,
        });
        if (o.join !== undefined) await c.join(o.join, []);
        // Decrypts what it can (end-to-end state of the profile); plaintext ones say so.
        // Registering (--count 0) publishes the device's key packages too.
        const e2e = await attachE2E(path, profile, c);
        console.log("listening");
        let left = o.count ?? Infinity;
        while (left > 0) {
          const f = await c.next();
          if (!f) break;
          if (f.type === FrameType.Msg && e2e) {
            const events = await e2e.device.receive(f.channel, f.payload);
            for (const line of describeEvents(events)) console.log(line);
            left -= events.filter((e) => e.kind === "message" || e.kind === "plaintext").length;
            continue;
          }
          console.log(describeFrame(f));
          if (f.type === FrameType.Msg) left--;
        }
        await c.closeGracefully();
      } catch (error) {
        fail("listen", error);
      }
    });

  registerCallCommands(client, resolveProfile, PROFILE_HELP);
  registerTransportCommands(client, resolveProfile, PROFILE_HELP);
}
