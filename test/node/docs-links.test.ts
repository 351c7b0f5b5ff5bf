/**
 * The README is the front door and docs/ the reference: every relative link
 * between them (and to files in the repository) must land on a file that
 * exists, and a link with a #fragment on a heading that exists, as GitHub
 * renders it. A page moved or a heading renamed breaks the test, not a reader.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./devserver.ts";

interface Link {
  file: string;
  line: number;
  target: string;
}

/** The lines of Markdown outside fenced code blocks (the lines inside are blanked). */
function prose(markdown: string): string[] {
  let fence = false;
  return markdown.split("\n").map((line) => {
    if (/^\s*```/.test(line)) {
      fence = !fence;
      return "";
    }
    return fence ? "" : line;
  });
}

function links(file: string, markdown: string): Link[] {
  const found: Link[] = [];
  prose(markdown).forEach((line, i) => {
    const text = line.replace(/`[^`]*`/g, "``"); // a link inside code is an example, not a link
    for (const m of text.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) found.push({ file, line: i + 1, target: m[1]! });
  });
  return found;
}

/** GitHub's heading anchors (github-slugger): lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of prose(markdown)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const text = heading[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, "$1");
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
      .replace(/ /g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** A file's text ("" for a file that is not Markdown), or undefined when it does not exist. */
function fromDisk(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  return path.endsWith(".md") ? readFileSync(path, "utf8") : "";
}

/** What is wrong with a link, or null when it resolves. */
function broken(link: Link, source: (path: string) => string | undefined = fromDisk): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(link.target) || link.target.startsWith("//")) return null; // not relative
  const [path = "", fragment] = link.target.split("#", 2) as [string, string | undefined];
  const to = path === "" ? link.file : join(dirname(link.file), decodeURIComponent(path));
  const text = source(to);
  if (text === undefined) return `${relative(ROOT, to)} does not exist`;
  if (fragment === undefined || !to.endsWith(".md")) return null;
  return anchors(text).has(decodeURIComponent(fragment)) ? null : `${relative(ROOT, to)} has no heading #${fragment}`;
}

const docsDir = join(ROOT, "docs");
const pages = [join(ROOT, "README.md"), ...readdirSync(docsDir).map((f) => join(docsDir, f))].filter((f) => f.endsWith(".md"));

describe("documentation", () => {
  it("every relative link in README.md and docs/ resolves, fragments included", () => {
    const all = pages.flatMap((file) => links(file, readFileSync(file, "utf8")));
    const problems = all
      .map((link) => ({ link, why: broken(link) }))
      .filter((p) => p.why !== null)
      .map(({ link, why }) => `${relative(ROOT, link.file)}:${link.line} (${link.target}): ${why}`);
    expect(problems).toEqual([]);
    expect(all.length).toBeGreaterThan(30); // the pages do link to each other: an empty scan proves nothing
    // Every page is reached from the README, so none is an orphan nobody finds.
    const fromReadme = new Set(
      links(join(ROOT, "README.md"), readFileSync(join(ROOT, "README.md"), "utf8")).map((l) => join(ROOT, l.target.split("#")[0]!)),
    );
    expect(pages.filter((p) => !p.endsWith("README.md") && !fromReadme.has(p)).map((p) => relative(ROOT, p))).toEqual([]);
  });

  it("the check finds a missing page, a missing heading and a wrong in-page anchor", () => {
    const file = join(docsDir, "example.md");
    const page = "# Title\n\n## Close codes\n\n[a](nowhere.md) [b](protocol.md#no-such-heading) [c](#close-codes) [d](#closecodes)\n";
    const why = links(file, page).map((l) => broken(l, (p) => (p === file ? page : fromDisk(p))));
    expect(why).toEqual([
      "docs/nowhere.md does not exist",
      "docs/protocol.md has no heading #no-such-heading",
      null,
      "docs/example.md has no heading #closecodes",
    ]);
  });

  it("slugs headings as GitHub does", () => {
    expect([...anchors("## The relay's cost, and `src/relay.ts`\n## Groups\n## Groups\n```\n# not a heading\n```\n")]).toEqual([
      "the-relays-cost-and-srcrelayts",
      "groups",
      "groups-1",
    ]);
  });

  it("the README stays a front door and every docs page opens with the question it answers", () => {
    expect(readFileSync(join(ROOT, "README.md"), "utf8").split("\n").length).toBeLessThanOrEqual(250);
    for (const page of pages.filter((p) => !p.endsWith("README.md"))) {
      const opening = readFileSync(page, "utf8").split("\n\n")[1] ?? "";
      expect(opening, relative(ROOT, page)).toMatch(/^What this page answers: /);
    }
  });
});
