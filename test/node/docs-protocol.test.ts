/**
 * docs/protocol.md describes every frame type once, with an example and a
 * table of its fields: every `content` the protocol's types name
 * (src/protocol/frames.ts) has its section, in the direction it travels, and
 * every section's example is JSON of the type and content its heading names,
 * with no field its table leaves out. A frame added to the protocol without
 * its documentation fails here.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./devserver.ts";

const doc = readFileSync(join(ROOT, "docs/protocol.md"), "utf8");
const frames = readFileSync(join(ROOT, "src/protocol/frames.ts"), "utf8");

interface Section {
  heading: string;
  body: string;
}

/** The `###` sections under a `##` heading. */
function sections(chapter: string): Section[] {
  const start = doc.indexOf(`\n## ${chapter}\n`);
  expect(start, chapter).toBeGreaterThan(-1);
  const end = doc.indexOf("\n## ", start + 1);
  return doc
    .slice(start, end === -1 ? undefined : end)
    .split("\n### ")
    .slice(1)
    .map((s) => ({ heading: s.slice(0, s.indexOf("\n")), body: s }));
}

/** A type's string literals, following the unions it is made of (`UserContent = MessageContent | ChangeContent`). */
function literals(type: string): string[] {
  const union = new RegExp(`export type ${type} = ([^;]+);`).exec(frames)?.[1];
  expect(union, `the type ${type} in frames.ts`).toBeDefined();
  return union!.split("|").flatMap((part) => {
    const t = part.trim();
    return t.startsWith('"') ? [t.slice(1, -1)] : literals(t);
  });
}

/** Every `content` one part of frames.ts (between two of its section comments) names. */
function contents(part: "server → client" | "client → server"): Set<string> {
  const start = frames.indexOf(`// ---- ${part} frames`);
  const end = frames.indexOf("// ----", start + 1);
  const text = frames.slice(start, end === -1 ? undefined : end);
  return new Set(
    [...text.matchAll(/content: ("[A-Z_]+"|\w+)/g)].flatMap((m) => (m[1]!.startsWith('"') ? [m[1]!.slice(1, -1)] : literals(m[1]!))),
  );
}

function check(chapter: string, part: "server → client" | "client → server") {
  const documented = sections(chapter).filter((s) => !s.heading.startsWith("ping"));
  it(`${chapter}: one section per content, each with an example and a field table`, () => {
    // A content is documented by the section whose heading or `content` row names it.
    const named = documented.map((s) => [s.heading, ...s.body.split("\n").filter((l) => /^\| `(type`, `)?content`/.test(l))].join(" "));
    for (const content of contents(part)) {
      expect(
        named.some((n) => n.includes(content)),
        `${content} has a section in ${chapter}`,
      ).toBe(true);
    }
    for (const { heading, body } of documented) {
      const example = /```json\n([\s\S]*?)\n```/.exec(body)?.[1];
      expect(example, `${heading}: an example`).toBeDefined();
      const frame = JSON.parse(example!) as Record<string, unknown>;
      expect(heading.startsWith(`${String(frame.type)}:`), `${heading}: the example's type`).toBe(true);
      const table = body.split("\n").filter((l) => l.startsWith("| `"));
      expect(table.length, `${heading}: a field table`).toBeGreaterThan(2);
      const rows = table.map((l) => l.split("|")[1]!);
      for (const field of Object.keys(frame)) {
        expect(
          rows.some((r) => r.includes(`\`${field}\``) || r.includes(`\`${field}.`)),
          `${heading}: the table names ${field}`,
        ).toBe(true);
      }
    }
  });
}

describe("docs/protocol.md", () => {
  check("Frames a client sends", "client → server");
  check("Frames the server sends", "server → client");
});
