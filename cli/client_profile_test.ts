import assert from "node:assert/strict";
import { InvalidArgumentError } from "@commander-js/extra-typings";
import { profileNameOption, profilePath, saveProfile } from "./client_profile.ts";

const envOf = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("client profiles live in the user's config directory, by name", () => {
  const xdg = envOf({ XDG_CONFIG_HOME: "/x/config", HOME: "/home/a" });
  assert.equal(profilePath("alice", xdg), "/x/config/commucat/alice/client.json");
  assert.equal(profilePath(undefined, xdg), "/x/config/commucat/default/client.json");
  const home = envOf({ HOME: "/home/a" });
  assert.equal(profilePath("bob", home), "/home/a/.config/commucat/bob/client.json");
  // COMMUCAT_CLIENT_HOME names the profile directory when no --profile is given.
  const explicit = envOf({ HOME: "/home/a", COMMUCAT_CLIENT_HOME: "/srv/me" });
  assert.equal(profilePath(undefined, explicit), "/srv/me/client.json");
  assert.equal(profilePath("bob", explicit), "/home/a/.config/commucat/bob/client.json");
  assert.throws(() => profilePath("bob", envOf({})), /neither XDG_CONFIG_HOME nor HOME/);
});

Deno.test("client --profile takes a name, not a path", () => {
  assert.equal(profileNameOption("alice-2.work"), "alice-2.work");
  for (const bad of ["", "../x", "a/b", ".hidden", "./alice"]) {
    assert.throws(() => profileNameOption(bad), InvalidArgumentError, bad);
  }
});

Deno.test("client profile files are written mode 0600, also over a wider existing file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "commucat-profile-" });
  try {
    const path = `${dir}/p/client.json`;
    await Deno.mkdir(`${dir}/p`);
    await Deno.writeTextFile(path, "{}", { mode: 0o644 });
    await Deno.chmod(path, 0o644);
    const profile = {
      server_url: "https://localhost:8443",
      domain: "localhost",
      server_static: "00",
      device_id: "d",
      private_key: "secret",
      public_key: "00",
      noise_pattern: "XK" as const,
      prologue: "commucat",
    };
    await saveProfile(path, profile);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(path)), profile);
    const fresh = `${dir}/new/deeper/client.json`;
    await saveProfile(fresh, profile);
    assert.equal((await Deno.stat(`${dir}/new/deeper`)).mode! & 0o077, 0, "directory private");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
