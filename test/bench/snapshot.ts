/**
 * The server as it is when the benchmark starts, copied to a temp directory:
 * `wrangler dev` reloads on every source change, and others edit src/ while
 * a run takes minutes, so the benchmark runs a snapshot (src/, wrangler.toml,
 * package.json, tsconfig.json, node_modules linked) and records its hash.
 *
 * The floor worker (test/bench/floor) is copied alongside, at the same
 * relative path: it imports the server's auth and frame builders from src/, so
 * it must get the snapshot's, the code being benchmarked.
 *
 * The snapshot's wrangler.toml (and the floor's) has its [[ratelimits]] raised: those are
 * bindings, not vars, and the connect scenario makes thousands of upgrades
 * from one loopback address. The limiter is still called on every connect.
 */
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export interface Snapshot {
  dir: string;
  /** The snapshot's wrangler.toml. */
  config: string;
  /** The floor's directory in the snapshot (its wrangler.toml and index.ts). */
  floorDir: string;
  /** sha256 over src/, wrangler.toml and the floor, first 12 hex digits. */
  hash: string;
  cleanup(): void;
}

/** Every `limit = N` inside a `simple = { ... }` rate limit set to `limit`. */
export function raiseRateLimits(toml: string, limit = 1_000_000): string {
  return toml.replace(/^(\s*simple\s*=\s*\{[^}\n]*\blimit\s*=\s*)\d+/gm, `$1${limit}`);
}

/** The floor's wrangler.toml for a plain (non-SQLite) class, for reference runs (`--floor-storage=plain`). */
export function plainFloorToml(toml: string): string {
  const out = toml.replace(/^new_sqlite_classes = /gm, "new_classes = ");
  if (out === toml) throw new Error("the floor's wrangler.toml has no new_sqlite_classes migration");
  return out;
}

/** Where the floor lives, in the repository and in a snapshot. */
export const FLOOR_PATH = "test/bench/floor";

function files(dir: string, root = dir, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files(path, root, out);
    else out.push(relative(root, path));
  }
  return out;
}

/**
 * Copies `root`'s server (src/, wrangler.toml, package.json, tsconfig.json)
 * and the floor from `floorDir`; `nodeModules` is linked in.
 */
export function snapshotServer(root: string, floorDir: string, nodeModules = join(root, "node_modules")): Snapshot {
  const dir = mkdtempSync(join(tmpdir(), "lunarloom-bench-src-"));
  cpSync(join(root, "src"), join(dir, "src"), { recursive: true });
  cpSync(floorDir, join(dir, FLOOR_PATH), { recursive: true });
  const floorToml = join(dir, FLOOR_PATH, "wrangler.toml");
  writeFileSync(floorToml, raiseRateLimits(readFileSync(floorToml, "utf8")));
  for (const f of ["package.json", "tsconfig.json"]) if (existsSync(join(root, f))) cpSync(join(root, f), join(dir, f));
  const toml = readFileSync(join(root, "wrangler.toml"), "utf8");
  writeFileSync(join(dir, "wrangler.toml"), raiseRateLimits(toml));
  symlinkSync(nodeModules, join(dir, "node_modules"), "dir");
  const hash = createHash("sha256");
  for (const f of files(join(dir, "src")))
    hash
      .update(f)
      .update("\0")
      .update(readFileSync(join(dir, "src", f)))
      .update("\0");
  hash.update(toml);
  for (const f of files(join(dir, FLOOR_PATH)))
    hash
      .update(f)
      .update("\0")
      .update(readFileSync(join(dir, FLOOR_PATH, f)))
      .update("\0");
  return {
    dir,
    config: join(dir, "wrangler.toml"),
    floorDir: join(dir, FLOOR_PATH),
    hash: hash.digest("hex").slice(0, 12),
    cleanup() {
      // The link first, so nothing can follow it into the real node_modules.
      try {
        unlinkSync(join(dir, "node_modules"));
      } catch {
        // already gone
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Where the user's object applies a logged edit, delete or reaction to the message's state row. */
const APPLY = "export function apply(u: User, e: Envelope): void {";

/**
 * The A/B's other side (`--against=no-state`): a snapshot of the same server
 * whose user objects never write message state rows (src/user/state.ts's
 * `apply` returns at once), so it differs from the server only by them.
 * Built here, never in src/: production has no such switch.
 */
export function snapshotWithoutMessageState(root: string, floorDir: string, nodeModules?: string): Snapshot {
  const snap = snapshotServer(root, floorDir, nodeModules);
  const file = join(snap.dir, "src", "user", "state.ts");
  const source = readFileSync(file, "utf8");
  if (!source.includes(APPLY)) {
    snap.cleanup();
    throw new Error(`src/user/state.ts has no ${JSON.stringify(APPLY)}: the no-state variant needs updating`);
  }
  writeFileSync(file, source.replace(APPLY, `${APPLY}\n  if (u) return; // bench variant: no message state rows`));
  return { ...snap, hash: `${snap.hash}-no-state` };
}

/** The class names a wrangler.toml binds ([[durable_objects.bindings]] class_name). */
export function boundClasses(toml: string): string[] {
  return [...toml.matchAll(/^class_name = "(\w+)"$/gm)].map((m) => m[1]!);
}

/** An entry module that re-exports `original`'s Worker and `classes` with their calls counted (calls.ts). */
export function countingEntry(original: string, calls: string, classes: readonly string[]): string {
  return [
    `import worker, * as code from ${JSON.stringify(original)};`,
    `import { countedClass, countedWorker } from ${JSON.stringify(calls)};`,
    ...classes.map((c) => `export const ${c} = countedClass(code.${c});`),
    "export default countedWorker(worker);",
    "",
  ].join("\n");
}

/** Points a wrangler.toml's `main` at `entry`; throws if it has none. */
function withMain(toml: string, entry: string): string {
  const out = toml.replace(/^main = ".*"$/m, `main = ${JSON.stringify(entry)}`);
  if (out === toml) throw new Error("wrangler.toml has no main to replace");
  return out;
}

/**
 * The biggroup scenario's server and floor: the snapshot with each
 * worker's entry replaced by one that counts the calls between objects
 * (calls.ts), every source file as it was. Built here, never in src/.
 */
export function snapshotCounting(root: string, floorDir: string, nodeModules?: string): Snapshot {
  const snap = snapshotServer(root, floorDir, nodeModules);
  cpSync(fileURLToPath(new URL("./calls.ts", import.meta.url)), join(snap.dir, "test/bench/calls.ts"));
  const serverToml = readFileSync(snap.config, "utf8");
  writeFileSync(
    join(snap.dir, "test/bench/counted-server.ts"),
    countingEntry("../../src/index.ts", "./calls.ts", boundClasses(serverToml)),
  );
  writeFileSync(snap.config, withMain(serverToml, "test/bench/counted-server.ts"));
  const floorToml = join(snap.floorDir, "wrangler.toml");
  const floor = readFileSync(floorToml, "utf8");
  writeFileSync(join(snap.floorDir, "counted.ts"), countingEntry("./index.ts", "../calls.ts", boundClasses(floor)));
  writeFileSync(floorToml, withMain(floor, "counted.ts"));
  return { ...snap, hash: `${snap.hash}-counting` };
}
