/**
 * Builds the web client: `deno bundle` (esbuild inside Deno, so the import
 * map and npm packages resolve exactly as for the server) of the page
 * (`web/main.ts`) and the session worker (`web/worker.ts`) for browsers,
 * minified, with `import_map.browser.json` swapping the node:crypto
 * modules for browser ones. Output: `main.js` and `worker.js` in `dist/`
 * (gitignored; `deno task web:build`, and the web tests build it too).
 *
 * @module
 */

/** Where the server looks for the bundle by default. */
export const DEFAULT_DIST = new URL("./dist/", import.meta.url);

const HERE = new URL("./", import.meta.url);
/** The page's sources (a workspace member with the DOM library: web/deno.json). */
export const UI_SOURCES = new URL("../../web/", import.meta.url);

/**
 * Bundles into `outDir` (default {@link DEFAULT_DIST}). Each file is written
 * under a temporary name and renamed, so a server reading the directory, or
 * another build running at once, never sees half a file.
 */
export async function buildWebClient(outDir: URL = DEFAULT_DIST): Promise<void> {
  await Deno.mkdir(outDir, { recursive: true });
  const temp = await Deno.makeTempDir({ dir: new URL("../", outDir).pathname, prefix: ".web-" });
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--platform=browser",
        "--minify",
        "--import-map",
        new URL("./import_map.browser.json", HERE).pathname,
        "--outdir",
        temp,
        new URL("main.ts", UI_SOURCES).pathname,
        new URL("worker.ts", UI_SOURCES).pathname,
      ],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    if (!output.success) {
      throw new Error(`web client build failed:\n${new TextDecoder().decode(output.stderr)}`);
    }
    for (const name of ["main.js", "worker.js"]) {
      await Deno.rename(`${temp}/${name}`, new URL(name, outDir));
    }
  } finally {
    await Deno.remove(temp, { recursive: true }).catch(() => {
      // Already gone or never made: nothing to clean.
    });
  }
}

if (import.meta.main) {
  await buildWebClient(Deno.args[0] ? new URL(Deno.args[0], `file://${Deno.cwd()}/`) : undefined);
  console.log("web client built");
}
