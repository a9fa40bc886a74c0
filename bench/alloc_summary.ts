/**
 * Summarizes a V8 sampling heap profile (`bench/inprocess_pairs.ts
 * --alloc-profile FILE`): bytes allocated per function (self), largest
 * first, and per file, divided by the deliveries of the measured rounds.
 *
 *   scripts/deno run -A bench/alloc_summary.ts FILE DELIVERIES [TOP=40]
 *
 * @module
 */
interface Node {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: Node[];
}

const [file, deliveriesText, topText] = Deno.args;
const deliveries = Number(deliveriesText);
const top = Number(topText ?? 40);
const profile = JSON.parse(await Deno.readTextFile(file)) as { head: Node };
const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
let total = 0;
const walk = (node: Node) => {
  const { functionName, url, lineNumber } = node.callFrame;
  const short = url.replace(/^.*\/(src|bench|ext|tests)\//, "$1/");
  const key = `${functionName || "(anonymous)"} ${short}:${lineNumber + 1}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + node.selfSize);
  byFile.set(short || "(native)", (byFile.get(short || "(native)") ?? 0) + node.selfSize);
  total += node.selfSize;
  for (const child of node.children) walk(child);
};
walk(profile.head);
const per = (bytes: number) => (bytes / deliveries).toFixed(1).padStart(8);
console.log(`${per(total)} B/delivery in all`);
for (const [key, bytes] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${per(bytes)}  ${key}`);
}
console.log("--- by file");
for (const [key, bytes] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${per(bytes)}  ${key}`);
}
