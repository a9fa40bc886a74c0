/**
 * The permission flags of `deno task serve`, read from deno.json, for
 * everything that spawns the real server (tests, the load tool), so each runs
 * it with exactly the operators' permissions instead of its own copy of them.
 *
 * @module
 */

const REPO = new URL("../../", import.meta.url);

/** The `--allow-env=…` flag of `deno task serve`. */
export const SERVE_ALLOW_ENV: string = (() => {
  const config = JSON.parse(Deno.readTextFileSync(new URL("deno.json", REPO)));
  const flag = String(config.tasks.serve).match(/--allow-env=\S+/)?.[0];
  if (!flag) throw new Error("deno.json: the serve task has no --allow-env=… flag");
  return flag;
})();
