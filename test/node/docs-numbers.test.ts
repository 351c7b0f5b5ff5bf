/**
 * The README's performance line is a summary of docs/performance.md, which
 * carries the tables: every measured number it quotes (a ratio to the floor,
 * a rate, a time) must appear there too, so a re-measured table cannot leave
 * the front door quoting the old run.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { ROOT } from "./devserver.ts";

/** Ratios (0.57×), rates (8,890 msgs/s) and times (250 µs) in a text; line breaks read as spaces. */
function measured(text: string): string[] {
  const flat = text.replace(/\s+/g, " ");
  return [...flat.matchAll(/\d[\d,]*(?:\.\d+)?×|\d[\d,]*(?:\.\d+)? (?:msgs\/s|µs|ms)\b/g)].map((m) => m[0]);
}

it("every number the README's performance line quotes is in docs/performance.md", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const start = readme.indexOf("\n## Performance\n");
  expect(start).toBeGreaterThan(-1);
  const line = readme.slice(start, readme.indexOf("\n## ", start + 1));
  const quoted = measured(line);
  expect(quoted.length).toBeGreaterThan(3);
  const page = readFileSync(join(ROOT, "docs/performance.md"), "utf8").replace(/\s+/g, " ");
  // Tables give the unit in the header, so a rate or a time is looked for as its number.
  expect(quoted.filter((n) => !page.includes(n.replace(/ \S+$/, "")))).toEqual([]);
});

it("finds ratios, rates and times, and only those", () => {
  expect(measured("pairs 0.57×, drain 8,890\nmsgs/s, 250 µs less, 3 runs, 2-vCPU")).toEqual(["0.57×", "8,890 msgs/s", "250 µs"]);
});
