/**
 * `commucat client connect`: the interactive chat. It stays connected: when
 * the session ends it reconnects, and what was delivered meanwhile arrives
 * from the device's offline queue.
 *
 * A device has one live session (PROTOCOL.md §4, error `replaced`): another
 * `commucat client` command on the same profile (a one-shot `send`, say)
 * takes the session over. The chat then waits a moment, so that command can
 * finish, and reconnects; a one-shot command does not acknowledge what it
 * receives, so nothing the chat should show is consumed by it. Should
 * something keep taking the session over (a second chat on the profile), the
 * chat gives up after a few rounds instead of fighting over it forever.
 *
 * @module
 */
import type { CommuCatClient, E2EClient } from "../src/client/mod.ts";
import { describePaths } from "./client_paths.ts";
import type { PathSlotStatus } from "../src/client/mod.ts";
import { ServerError } from "../src/client/mod.ts";
import { FrameType } from "../src/proto/mod.ts";
import type { ConnectMode } from "../src/transport/mod.ts";
import { exitWithError } from "./errors.ts";
import { channelArgument } from "./client_options.ts";
import {
  befriendHandle,
  connect,
  describeFrame,
  fail,
  friendsText,
  messageBody,
} from "./client_session.ts";
import type { ClientProfile } from "./client_profile.ts";
import {
  attachE2E,
  describeEvents,
  PLAINTEXT_BANNER,
  safetyText,
  syncAll,
  usersOfDevices,
} from "./client_e2e.ts";

/** First wait after a take-over (doubles per quick repeat, up to {@link MAX_REPLACED_WAIT_MS}). */
export const REPLACED_WAIT_MS = 2_000;
const MAX_REPLACED_WAIT_MS = 30_000;
/** A session that lasted this long resets the take-over count. */
const STABLE_SESSION_MS = 60_000;
/** Take-overs in a row (each within {@link STABLE_SESSION_MS} of connecting) before giving up. */
const MAX_QUICK_REPLACEMENTS = 5;

/** How often the chat brings its conversations in line with the key directory. */
const SYNC_EVERY_MS = 30_000;

/** Options of {@link runChat}. */
export interface ChatOptions {
  profilePath: string;
  mode?: ConnectMode;
  channel: number;
  /** Plaintext-in-tunnel mode (bots, bridges) instead of end-to-end encryption. */
  plaintext?: boolean;
  /** A multipath session over these modes (`--paths`), with this FEC policy (`--fec`). */
  paths?: ConnectMode[];
  fecPolicy?: string;
}

/** Why a session ended, from the Error frame the server sent last (if any). */
function endReason(frame: { type: number; control?: unknown }): string | null {
  if (frame.type !== FrameType.Error) return null;
  const control = frame.control as { error?: unknown } | undefined;
  return typeof control?.error === "string" ? control.error : null;
}

/** Runs the chat until `/quit` or the end of standard input. */
export async function runChat(options: ChatOptions): Promise<void> {
  const how = {
    mode: options.mode,
    acknowledgeDeliveries: true,
    paths: options.paths,
    fecPolicy: options.fecPolicy,
    // Path status as it changes: "* paths: binary up, websocket up, sse attaching".
    onPaths: (paths: PathSlotStatus[]) => console.log(`* paths: ${describePaths(paths)}`),
  };
  let session: { client: CommuCatClient; profile: ClientProfile };
  try {
    session = await connect(options.profilePath, how);
  } catch (error) {
    fail("connect", error);
  }
  const profile = session.profile;
  let c: CommuCatClient | null = session.client;
  let quitting = false;
  // End-to-end by default; re-attached (state re-read from the profile) on every reconnect, so a
  // one-shot command that used the profile meanwhile is taken into account.
  let e2e = null as E2EClient | null;
  const attach = async (client: CommuCatClient) => {
    e2e = options.plaintext ? null : await attachE2E(options.profilePath, profile, client);
  };
  // Paired devices join, revoked ones leave every conversation this device commits for: at each
  // (re)connect and then every SYNC_EVERY_MS. A failure (say, a directory hiccup) waits for the next.
  const syncNow = async () => {
    const live = c;
    const secure = e2e;
    if (live === null || secure === null || live.closed) return;
    try {
      for (const line of describeEvents(await syncAll(profile, live, secure))) console.log(line);
      // Key packages others took to add this device elsewhere are made up for.
      await secure.replenishKeyPackages();
    } catch { /* retried at the next round */ }
  };
  try {
    await attach(session.client);
  } catch (error) {
    fail("connect", error);
  }
  console.log(
    `connected as ${profile.user_handle ?? profile.user_id} (device ${profile.device_id})`,
  );
  if (e2e) {
    console.log(
      `* end-to-end encrypted (MLS, X-Wing); this device's fingerprint: ${await e2e!
        .fingerprint()}`,
    );
  } else {
    console.log(PLAINTEXT_BANNER);
  }
  const syncTimer = setInterval(syncNow, SYNC_EVERY_MS);
  Deno.unrefTimer(syncTimer);
  await syncNow();
  console.log(
    "commands: /friend <handle> | /friends | /join <channel> [device…] | /leave <channel> | " +
      "/channel <n> | /safety <handle> | /sync <channel> <handle…> | /quit",
  );

  // Prints deliveries; reconnects whenever a session ends (until /quit).
  (async () => {
    let quickReplacements = 0;
    while (true) {
      const live = c!;
      const started = Date.now();
      let reason: string | null = null;
      for (let f = await live.next(); f; f = await live.next()) {
        const ended = endReason(f);
        if (ended === "replaced" || ended === "shutdown" || ended === "revoked") {
          reason = ended;
          continue;
        }
        if (f.type === FrameType.Msg && e2e) {
          for (const line of describeEvents(await e2e.device.receive(f.channel, f.payload))) {
            (line.startsWith("!") ? console.error : console.log)(line);
          }
          continue;
        }
        console.log(
          f.type === FrameType.Msg
            ? describeFrame(f).replace("] ", "] (plaintext) ")
            : describeFrame(f),
        );
      }
      if (quitting) return;
      c = null;
      let waitMs = 0;
      if (reason === "replaced") {
        quickReplacements = Date.now() - started < STABLE_SESSION_MS ? quickReplacements + 1 : 1;
        if (quickReplacements > MAX_QUICK_REPLACEMENTS) {
          exitWithError(
            "client connect",
            "another client keeps taking over this device's session " +
              "(a second `client connect` on the same profile?); giving up",
          );
        }
        waitMs = Math.min(MAX_REPLACED_WAIT_MS, REPLACED_WAIT_MS * 2 ** (quickReplacements - 1));
        console.log(
          `* session taken over by another connection of this device (another commucat client ` +
            `command on this profile); reconnecting in ${Math.round(waitMs / 1000)} s`,
        );
      } else {
        console.log(`* disconnected${reason ? ` (${reason})` : ""}; reconnecting`);
      }
      await new Promise((resolve) => setTimeout(resolve, waitMs));
      if (quitting) return;
      try {
        c = (await connect(options.profilePath, { ...how, backoff: { maxMs: 10_000 } })).client;
        await attach(c);
        await syncNow();
      } catch (error) {
        // Only a refusal (revoked device, unknown key) ends up here: retrying cannot help.
        fail("connect", error);
      }
      console.log("* reconnected");
    }
  })().catch((error) => fail("connect", error));

  let channel = options.channel;
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  let buffer = "";
  for await (const chunk of lines) {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (!line) continue;
      const [cmd, ...args] = line.split(/\s+/);
      if (cmd === "/quit") {
        quitting = true;
        await c?.closeGracefully();
        Deno.exit(0);
      }
      try {
        const live = c;
        if (live === null) throw new Error("not connected (reconnecting); try again in a moment");
        const secure = e2e as E2EClient | null;
        if (cmd === "/join") {
          channel = channelArgument(args[0]);
          if (secure) {
            const users = await usersOfDevices(profile, live, args.slice(1));
            for (const line of describeEvents(await secure.open(channel, users))) console.log(line);
          } else {
            await live.join(channel, args.slice(1));
          }
          console.log(`joined ${channel}`);
        } else if (cmd === "/safety") {
          if (!secure) throw new Error("plaintext mode: no end-to-end keys to compare");
          console.log(await safetyText(secure, args[0]));
        } else if (cmd === "/sync") {
          if (!secure) throw new Error("plaintext mode: nothing to sync");
          const events = await secure.sync(channelArgument(args[0]), args.slice(1));
          for (const line of describeEvents(events)) console.log(line);
          console.log(`synced ${args[0]}`);
        } else if (cmd === "/leave") {
          await live.leave(channelArgument(args[0]));
          console.log(`left ${args[0]}`);
        } else if (cmd === "/friend") {
          console.log(await befriendHandle(profile, live, args[0]));
        } else if (cmd === "/friends") {
          console.log(await friendsText(profile, live));
        } else if (cmd === "/channel") {
          channel = channelArgument(args[0]);
        } else if (secure) {
          if (!secure.device.hasGroup(channel)) {
            throw new Error(
              `no end-to-end conversation on channel ${channel} yet: /join ${channel} <device> ` +
                `opens one (or wait for the other side's); --plaintext for plaintext mode`,
            );
          }
          await secure.send(channel, messageBody(profile, line));
        } else {
          await live.send(channel, messageBody(profile, line));
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
  // End of input is /quit. Not waiting for `receiving`: it may be retrying a
  // connection to a server that is down.
  quitting = true;
  await c?.closeGracefully();
  Deno.exit(0);
}
