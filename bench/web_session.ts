// deno-lint-ignore-file no-explicit-any -- page-side callbacks run in Chromium, typed loosely
/**
 * Time from page load to an established session in headless Chromium on
 * loopback. Stored keys: from navigation start of a reload (page, bundle,
 * keys from IndexedDB, server info, handshake). Cold: from the register
 * submit (key generation, server info, handshake), plus the page load until
 * the register form shows. Prints medians; docs/PERFORMANCE.md has them.
 *
 *   scripts/deno run -A bench/web_session.ts [runs]
 */
import {
  launchChromium,
  type Page,
  register,
  startWebServer,
  waitFor,
} from "../tests/helpers/browser.ts";

const runs = Number(Deno.args[0] ?? 7);

async function sessionMs(page: Page): Promise<[number, string]> {
  await waitFor(page, "body[data-session-ms]");
  const [ms, pattern] = await page.$eval(
    "body",
    (b: any) => [Number(b.dataset.sessionMs), String(b.dataset.sessionPattern)],
  );
  return [Number(ms), String(pattern)];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const srv = await startWebServer();
const browser = await launchChromium();
try {
  const cold: number[] = [];
  const warm: number[] = [];
  const load: number[] = [];
  let pattern = "";
  for (let i = 0; i < runs; i++) {
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    await page.goto(`${srv.url}/app/`);
    await waitFor(page, "#register:not([hidden])");
    load[i] = await page.evaluate(() => performance.now());
    await register(page, srv.url, `bench${i}`, "bench");
    [cold[i], pattern] = await sessionMs(page);
    await page.reload();
    [warm[i]] = await sessionMs(page);
    await context.close();
  }
  console.log(`pattern ${pattern}, ${runs} runs`);
  console.log(`page load to register form: median ${median(load).toFixed(0)} ms`);
  console.log(`cold (register submit): median ${median(cold)} ms, all ${cold.join(", ")}`);
  console.log(`stored keys (reload): median ${median(warm)} ms, all ${warm.join(", ")}`);
} finally {
  await browser.close();
  await srv.stop();
}
