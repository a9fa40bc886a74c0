/**
 * Test helpers for `commucat client` run as a child process: its environment
 * (profiles under a test home), a run to completion, and the profiles the
 * client tests start from.
 */
import assert from "node:assert/strict";

/** The entry point the child runs (`deno run main.ts client …`). */
export const MAIN: string = new URL("../../main.ts", import.meta.url).pathname;

/**
 * The environment of a client command: profiles under `<home>/config` (as
 * `~/.config` would be), and none of the test runner's own client settings.
 */
export function clientEnv(home: string): Record<string, string> {
  return { XDG_CONFIG_HOME: `${home}/config`, HOME: home, COMMUCAT_CLIENT_HOME: "", NO_COLOR: "1" };
}

/** Runs `commucat client …args` to its end: exit code and stdout + stderr. */
export async function runClient(
  home: string,
  ...args: string[]
): Promise<{ code: number; text: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--allow-all", MAIN, "client", ...args],
    env: clientEnv(home),
    stdin: "null",
  }).output();
  return {
    code: out.code,
    text: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr),
  };
}

/** `commucat client <command> --profile <who> …args`, which must exit 0: its output. */
export async function clientOk(
  home: string,
  who: string,
  command: string,
  ...args: string[]
): Promise<string> {
  const { code, text } = await runClient(home, command, "--profile", who, ...args);
  assert.equal(code, 0, `client ${command} ${args.join(" ")}:\n${text}`);
  return text;
}

/**
 * `client init` of a profile per name (username `who`, device `who-1`)
 * against `server`, trusting its certificate, saved as `<home>/cert.pem`.
 */
export async function initProfiles(
  home: string,
  server: { url: string; certificatePem: string },
  ...names: string[]
): Promise<void> {
  const ca = `${home}/cert.pem`;
  await Deno.writeTextFile(ca, server.certificatePem);
  for (const who of names) {
    await clientOk(
      home,
      who,
      "init",
      "--server",
      server.url,
      "--username",
      who,
      "--tls-ca",
      ca,
      "--device-id",
      `${who}-1`,
    );
  }
}
