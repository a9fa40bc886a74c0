/**
 * Documentation generated from the schema: the markdown key reference and
 * the sample `commucat.toml`. Tests keep the committed copies current.
 *
 * @module
 */
import { CONFIG_KEYS, type KeyDescriptor } from "./tree.ts";

/** Marker lines between which {@linkcode embedConfigReference} puts the table. */
export const REFERENCE_BEGIN =
  "<!-- BEGIN config-reference (generated: commucat config reference) -->";
/** See {@linkcode REFERENCE_BEGIN}. */
export const REFERENCE_END = "<!-- END config-reference -->";

function cell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

function defaultCell(d: KeyDescriptor): string {
  if (d.defaultText !== undefined) return d.defaultText;
  if (d.default === undefined) return "—";
  return `\`${JSON.stringify(d.default)}\``;
}

/** The markdown table of every configuration key. */
export function renderConfigReference(): string {
  const lines = [
    "| Key | Env | Type | Default | Description |",
    "|---|---|---|---|---|",
  ];
  for (const d of CONFIG_KEYS) {
    const secret = d.secret ? " *Secret: never logged.*" : "";
    lines.push(
      `| \`${d.key}\` | ${d.env ? `\`${d.env}\`` : "—"} | ${cell(d.type)} | ${
        cell(defaultCell(d))
      } | ` +
        `${cell(d.description)}${secret} |`,
    );
  }
  return lines.join("\n") + "\n";
}

/**
 * Replaces whatever sits between {@linkcode REFERENCE_BEGIN} and
 * {@linkcode REFERENCE_END} in `markdown` with the current reference. Returns
 * `markdown` unchanged when the markers are absent.
 */
export function embedConfigReference(markdown: string): string {
  const begin = markdown.indexOf(REFERENCE_BEGIN);
  const end = markdown.indexOf(REFERENCE_END, begin);
  if (begin < 0 || end < 0) return markdown;
  return markdown.slice(0, begin + REFERENCE_BEGIN.length) + "\n\n" + renderConfigReference() +
    "\n" +
    markdown.slice(end);
}

function toml(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(toml).join(", ")}]`;
  return String(value);
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line !== "" && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "") out.push(line);
  return out;
}

const SAMPLE_HEADER = `# CommuCat configuration (sample).
#
# Generated from the schema by \`commucat config sample\`; the reference table is
# \`commucat config reference\`. Every key is optional: with no file at all the
# server runs as a single node on 0.0.0.0:8443 with SQLite, a self-signed
# certificate and keys generated under ./var. Each key below is commented out and
# shows its default (or an example for keys that are unset by default).
#
# Precedence: defaults < this file < environment variables (shown as "env") <
# programmatic overrides. File path: --config, else $COMMUCAT_CONFIG, else
# ./commucat.toml. Unknown keys are an error. \`<data_dir>\` expands to
# server.data_dir; \`{domain}\` to server.domain.
`;

function sectionOf(d: KeyDescriptor): string {
  const parts = d.key.split(".");
  return parts.slice(0, -1).join(".");
}

/** The sample `commucat.toml`: every key, commented out, with docs and default. */
export function renderSampleConfig(): string {
  const out = [SAMPLE_HEADER];
  let section: string | undefined;
  for (const d of CONFIG_KEYS) {
    const s = sectionOf(d);
    if (s !== section) {
      section = s;
      out.push(s.includes("<name>") ? `# [${s.replace("<name>", "example")}]` : `[${s}]`);
    }
    const leaf = d.key.slice(s.length + 1);
    for (const line of wrap(d.description, 86)) out.push(`# ${line}`);
    const facts = [d.env ? `env ${d.env}` : undefined, d.type, d.secret ? "secret" : undefined]
      .filter((f) => f !== undefined).join(" · ");
    out.push(`# (${facts})`);
    const value = d.default === undefined ? d.example : d.default;
    const note = d.default !== undefined
      ? ""
      : !d.optional
      ? "  # required"
      : d.defaultText
      ? `  # default: ${d.defaultText}`
      : "  # unset by default";
    out.push(`# ${leaf} = ${toml(value)}${note}`);
    if (d.key === "federation.peers") {
      out.push(
        "# ... or as tables:",
        "# [[federation.peers]]",
        '# domain = "peer.example.org"',
        '# endpoint = "https://peer.example.org:8443"',
        '# public_key = "<64 hex characters>"',
      );
    }
    out.push("");
  }
  return out.join("\n").replace(/\n+$/, "\n");
}
