/**
 * `npm run bench:blocks`: what the block check costs (issue 22, item 7). The
 * pairs scenario of `npm run bench`, run A B A B … in one run on freshly
 * started `wrangler dev`s: A is the server as it is, B the same snapshot of
 * the source with the block check taken out of the paths every message
 * takes (deliver(), live(), a socket's send). B is made here, for the
 * bench only, from the same source: nothing in the server can switch the
 * check off. Prints the medians and the B/A ratio of throughput and ack p99.
 * Knobs: the bench's own (`--pairs`, `--messages`, `--window`, `--payload`,
 * `--rounds`, `--quick`).
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { type DevServer, ROOT, startDevServer } from "../node/devserver.ts";
import { parseOptions } from "./options.ts";
import { type Ctx, pairs } from "./scenarios.ts";
import { FLOOR_PATH, snapshotServer } from "./snapshot.ts";
import { type Metrics, medianMetrics } from "./stats.ts";

/** Each edit must find its text: a B that silently kept the check would measure nothing. */
const STRIP: { file: string; text: string }[] = [
  { file: "src/user/deliver.ts", text: "    if (withheld(u, envelope)) continue;\n" },
  { file: "src/user/deliver.ts", text: "  if (from !== undefined && u.blocks.has(from)) return;\n" },
  { file: "src/user/inbox.ts", text: "          refuseBlocked(this.u, frame);\n" },
];

/** The snapshot in `dir` without the block check on the message path (the now unused imports stay: esbuild drops them). */
export function withoutBlockCheck(dir: string): void {
  for (const { file, text } of STRIP) {
    const path = join(dir, file);
    const source = readFileSync(path, "utf8");
    if (!source.includes(text)) throw new Error(`${file} no longer has ${JSON.stringify(text.trim())}: update test/bench/blocks-ab.ts`);
    writeFileSync(path, source.replace(text, ""));
  }
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2), process.env);
  const a = snapshotServer(ROOT, join(ROOT, FLOOR_PATH), join(ROOT, "node_modules"));
  const b = snapshotServer(ROOT, join(ROOT, FLOOR_PATH), join(ROOT, "node_modules"));
  const live = new Set<DevServer>();
  const cleanup = () => {
    a.cleanup();
    b.cleanup();
  };
  process.once("exit", cleanup);
  withoutBlockCheck(b.dir);
  const runs: Record<"A" | "B", Metrics[]> = { A: [], B: [] };
  const vars = { RATE_LIMIT_PER_SECOND: "1000000", RATE_LIMIT_BURST: "1000000", MAX_SOCKETS_PER_USER: "100000" };
  try {
    for (let round = 1; round <= opts.rounds; round++) {
      // A B, then B A: a machine that drifts during the run weighs on both alike.
      const order = [
        ["A", a],
        ["B", b],
      ] as const;
      for (const [name, snap] of round % 2 === 1 ? order : [...order].reverse()) {
        const server = await startDevServer({ config: snap.config, vars });
        live.add(server);
        try {
          const ctx: Ctx = { server, opts, runId: `${name}${round}${Date.now().toString(36)}`, log: console.error, kind: "server" };
          const out = await pairs(ctx);
          const { lost = 0, duplicated = 0, outOfOrder = 0 } = out.metrics;
          runs[name].push({ ...out.metrics, anomalies: lost + duplicated + outOfOrder });
          console.error(
            `round ${round} ${name}: ${out.metrics.msgsPerSec?.toFixed(0)} msg/s, lost ${lost}, duplicated ${duplicated}, out of order ${outOfOrder}`,
          );
        } finally {
          await server.stop();
          live.delete(server);
          rmSync(server.persistTo, { recursive: true, force: true });
        }
      }
    }
  } finally {
    await Promise.all([...live].map((s) => s.stop()));
  }
  const [ma, mb] = [medianMetrics(runs.A), medianMetrics(runs.B)];
  const row = (label: string, key: string) =>
    `| ${label} | ${ma[key]?.toFixed(1)} | ${mb[key]?.toFixed(1)} | ${((ma[key] ?? Number.NaN) / (mb[key] ?? Number.NaN)).toFixed(3)} |`;
  console.log(
    [
      `pairs, ${opts.pairs} pairs × ${opts.messages} messages each way, medians of ${opts.rounds} A/B rounds (A: with the block check, B: without)`,
      "",
      "| metric | A | B | A/B |",
      "| --- | --- | --- | --- |",
      row("throughput (msg/s)", "msgsPerSec"),
      row("ack p50 (ms)", "ackP50"),
      row("ack p99 (ms)", "ackP99"),
      `| lost + duplicated + out of order, worst run | ${Math.max(...runs.A.map((m) => m.anomalies!))} | ${Math.max(...runs.B.map((m) => m.anomalies!))} | |`,
      "",
      `A runs (msg/s): ${runs.A.map((m) => m.msgsPerSec!.toFixed(0)).join(", ")}; B runs: ${runs.B.map((m) => m.msgsPerSec!.toFixed(0)).join(", ")}; load average at the end: ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`,
    ].join("\n"),
  );
}

await main();
