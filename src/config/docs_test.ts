import assert from "node:assert/strict";
import { parse } from "smol-toml";
import {
  embedConfigReference,
  REFERENCE_BEGIN,
  REFERENCE_END,
  renderConfigReference,
  renderSampleConfig,
} from "./docs.ts";
import { CONFIG_KEYS } from "./tree.ts";

Deno.test("the reference table mentions every key, its env var and its default", () => {
  const table = renderConfigReference();
  const rows = table.trimEnd().split("\n");
  assert.equal(rows.length, CONFIG_KEYS.length + 2);
  for (const d of CONFIG_KEYS) {
    const row = rows.find((r) => r.startsWith(`| \`${d.key}\` |`));
    assert.ok(row, `no row for ${d.key}`);
    if (d.env) assert.ok(row.includes(`\`${d.env}\``), `${d.key}: env missing`);
    if (d.default !== undefined && d.defaultText === undefined) {
      assert.ok(row.includes(JSON.stringify(d.default)), `${d.key}: default missing`);
    }
    // Cells stay cells: every row has exactly 6 unescaped pipes.
    assert.equal(row.replaceAll("\\|", "").split("|").length, 7, row);
  }
});

Deno.test("embedConfigReference replaces only the marked block", () => {
  const doc = `# Ops\n\n${REFERENCE_BEGIN}\nstale\n${REFERENCE_END}\n\nafter\n`;
  const out = embedConfigReference(doc);
  assert.ok(out.startsWith(`# Ops\n\n${REFERENCE_BEGIN}\n\n| Key |`));
  assert.ok(out.endsWith(`${REFERENCE_END}\n\nafter\n`));
  assert.ok(!out.includes("stale"));
  assert.equal(embedConfigReference(out), out, "idempotent");
  assert.equal(embedConfigReference("no markers"), "no markers");
});

Deno.test("the committed commucat.toml is the generated sample", () => {
  const committed = Deno.readTextFileSync(new URL("../../commucat.toml", import.meta.url));
  assert.equal(committed, renderSampleConfig(), "regenerate with `commucat config sample`");
});

Deno.test("the sample lists every key under its section, and uncommented is valid TOML", () => {
  const sample = renderSampleConfig();
  let section = "";
  const seen = new Set<string>();
  for (const line of sample.split("\n")) {
    const header = /^(?:# )?\[([a-z_.]+)\]$/.exec(line);
    if (header) section = header[1].replace(".example", ".<name>");
    const assignment = /^# ([a-z0-9_]+) = /.exec(line);
    if (assignment && !line.startsWith("# ... ")) seen.add(`${section}.${assignment[1]}`);
  }
  for (const d of CONFIG_KEYS) assert.ok(seen.has(d.key), `sample lacks ${d.key}`);
  // Every commented assignment is itself valid TOML (values are well-formed).
  for (const line of sample.split("\n")) {
    const m = /^# ([a-z0-9_]+ = .*?)(?: {2}# .*)?$/.exec(line);
    if (m) parse(m[1]);
  }
});
