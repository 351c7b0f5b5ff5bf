/**
 * `npm run bench`: the real server against the floor worker (a bare per-user
 * Durable Object relay, test/bench/floor), each scenario run A B A B A B on a
 * freshly started `wrangler dev` with fresh persisted state, driven from here
 * by real WebSocket clients on loopback. Writes bench-results/ (JSON, markdown,
 * SVG) and prints the markdown. `npm run bench -- --help` lists the knobs;
 * `--quick` is a one-minute run; `--profile` takes CPU profiles instead.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { type DevServer, ROOT, startDevServer } from "../node/devserver.ts";
import { biggroup } from "./biggroup.ts";
import { type ChartData, FLOOR_COLOR, renderChart, SERVER_COLOR } from "./chart.ts";
import { files } from "./files.ts";
import { type BenchOptions, parseOptions, type ScenarioName, SERVER_ONLY } from "./options.ts";
import { cpuDelta, sampleWorkerd } from "./proc.ts";
import { type CpuProfile, type ModuleMap, profiled, profileMarkdown, projectFunctions, summarizeProfile } from "./profile.ts";
import { resultsTable, SCENARIO_TITLES, TARGETS, targetsTable } from "./report.ts";
import { type Ctx, connect, crash, drain, fanin, pairs, type RunOutput } from "./scenarios.ts";
import { FLOOR_PATH, plainFloorToml, type Snapshot, snapshotCounting, snapshotServer, snapshotWithoutMessageState } from "./snapshot.ts";
import { aggregateRuns, evaluateTargets, type Metrics, ratios, type ScenarioMedians } from "./stats.ts";
import { storm } from "./storm.ts";
import { group, history, presence } from "./v2.ts";

type Kind = "server" | "floor";
/** Counts where one bad run must show: the worst run is reported, not the median. */
const WORST = new Set([
  "lost",
  "duplicated",
  "outOfOrder",
  "errors",
  "anomalies",
  "missingFromSenderLog",
  "missingAtRecipient",
  "unacked",
  "withoutSince",
]);
/** The whole run's hard limit, whatever the knobs say. */
const RUN_LIMIT_MS = 45 * 60_000;

const opts = parseOptions(process.argv.slice(2), process.env);
const outDir = resolve(ROOT, opts.outDir);
mkdirSync(outDir, { recursive: true });

// ---- servers: every one we start is stopped, however the run ends ------------------------

const snapshot = snapshotServer(opts.serverDir ? resolve(opts.serverDir) : ROOT, join(ROOT, FLOOR_PATH), join(ROOT, "node_modules"));
process.once("exit", () => snapshot.cleanup());
// `--against=no-state` or `--against=<checkout>`: another server runs in the floor's place (an A/B).
const variant =
  opts.against === "no-state"
    ? snapshotWithoutMessageState(opts.serverDir ? resolve(opts.serverDir) : ROOT, join(ROOT, FLOOR_PATH), join(ROOT, "node_modules"))
    : opts.against === "floor"
      ? null
      : snapshotServer(resolve(opts.against.dir), join(ROOT, FLOOR_PATH), join(ROOT, "node_modules"));
if (variant) process.once("exit", () => variant.cleanup());
const floorConfig = variant ? variant.config : join(snapshot.floorDir, "wrangler.toml");
if (opts.floorStorage === "plain" && !variant) writeFileSync(floorConfig, plainFloorToml(readFileSync(floorConfig, "utf8")));
// biggroup runs a copy of both whose entries count the calls between objects (calls.ts); the other scenarios never do.
const counting: Snapshot | null = opts.scenarios.includes("biggroup")
  ? snapshotCounting(opts.serverDir ? resolve(opts.serverDir) : ROOT, join(ROOT, FLOOR_PATH), join(ROOT, "node_modules"))
  : null;
if (counting) {
  process.once("exit", () => counting.cleanup());
  const toml = join(counting.floorDir, "wrangler.toml");
  if (opts.floorStorage === "plain") writeFileSync(toml, plainFloorToml(readFileSync(toml, "utf8")));
}
const live = new Set<DevServer>();
/**
 * Starts a fresh server. Its persisted state (a temp dir; thousands of SQLite
 * files after a connect run) is removed when it stops, unless `keepState`
 * (crash and storm restart on it, and the restarted server removes it).
 */
async function start(kind: Kind, persistTo?: string, keepState = false, port?: number, counted = false): Promise<DevServer> {
  const vars: Record<string, string> = {
    // Rate limits out of the way for the run (the floor ignores them).
    RATE_LIMIT_PER_SECOND: "1000000",
    RATE_LIMIT_BURST: "1000000",
    MAX_SOCKETS_PER_USER: "100000",
  };
  // Keep every queued message in the log (the default keeps 10,000 rows per user).
  if (opts.drain * 2 > 10_000 || opts.crashMessages * 2 > 10_000) vars.LOG_MAX_ROWS = String(Math.max(opts.drain, opts.crashMessages) * 2);
  if (kind === "floor" && opts.floorStorage === "log" && !variant) vars.FLOOR_LOG = "1";
  if (opts.groupShardSize !== null) vars.GROUP_SHARD_SIZE = String(opts.groupShardSize);
  if (opts.biggroupMembers > 1024) vars.MAX_GROUP_MEMBERS = String(opts.biggroupMembers);
  const config =
    counted && counting
      ? kind === "floor"
        ? join(counting.floorDir, "wrangler.toml")
        : counting.config
      : kind === "floor"
        ? floorConfig
        : snapshot.config;
  const server = await startDevServer({ config, vars, persistTo, port });
  live.add(server);
  const stop = server.stop.bind(server);
  server.stop = async () => {
    await stop();
    live.delete(server);
    if (!keepState) rmSync(server.persistTo, { recursive: true, force: true });
  };
  return server;
}
async function stopAll(): Promise<void> {
  await Promise.all([...live].map((s) => s.stop()));
}
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    console.error(`\n${sig}: stopping ${live.size} server(s)`);
    void stopAll().finally(() => process.exit(130));
  });
}
const watchdog = setTimeout(() => {
  console.error(`bench: over the ${RUN_LIMIT_MS / 60_000} min limit, stopping`);
  void stopAll().finally(() => process.exit(2));
}, RUN_LIMIT_MS);
watchdog.unref();

const log = (msg: string) => console.error(msg);
type Restarting = "crash" | "storm";
const runners: Record<Exclude<ScenarioName, Restarting>, (ctx: Ctx) => Promise<RunOutput>> = {
  pairs,
  fanin,
  connect,
  drain,
  history,
  group: (ctx) => group(ctx, ctx.kind),
  biggroup,
  presence,
  files,
};
/**
 * Server only, and they restart the server on its own state: each gets a
 * start function, not a server. The first server keeps its state for the
 * restart; the restarted one removes it.
 */
const restart = (persistTo?: string, port?: number) => start("server", persistTo, persistTo === undefined, port);
const restarting: Record<Restarting, (id: string) => Promise<RunOutput>> = {
  crash: (id) => crash(opts, id, restart),
  storm: (id) => storm(opts, id, restart, log),
};
const isRestarting = (s: ScenarioName): s is Restarting => s in restarting;
let runCounter = 0;
const runId = () => `${Date.now().toString(36)}${(runCounter++).toString(36)}`;
const load = () => loadavg().map((l) => Number(l.toFixed(2)));

// ---- the timed benchmark ------------------------------------------------------------------

interface RunRecord {
  round: number;
  metrics: Metrics;
  notes: string[];
  load: number[];
  error?: string;
}

interface ScenarioRecord extends ScenarioMedians {
  runs: { server: RunRecord[]; floor: RunRecord[] };
}

async function bench(): Promise<void> {
  const startedAt = new Date();
  const loadBefore = load();
  if (loadBefore[0]! > 0.7) log(`note: load average is ${loadBefore.join(" ")} on ${cpus().length} cores; numbers will be noisy`);
  const results: Record<string, ScenarioRecord> = {};
  const samples: Record<string, Partial<Record<Kind, { ack: number[]; delivery: number[]; connect: number[] }>>> = {};

  const record = (scenario: string, kind: Kind, round: number, out: RunOutput | null, error?: unknown): void => {
    results[scenario] ??= { runs: { server: [], floor: [] } };
    const rec = results[scenario];
    const metrics = out?.metrics ?? {};
    if ("lost" in metrics) metrics.anomalies = (metrics.lost ?? 0) + (metrics.duplicated ?? 0) + (metrics.outOfOrder ?? 0);
    const run: RunRecord = { round, metrics, notes: out?.notes ?? [], load: load() };
    if (error !== undefined) run.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
    rec.runs[kind].push(run);
    samples[scenario] ??= {};
    samples[scenario][kind] ??= { ack: [], delivery: [], connect: [] };
    const pool = samples[scenario][kind];
    for (const k of ["ack", "delivery", "connect"] as const) for (const v of out?.samples[k] ?? []) pool[k].push(v);
    log(
      `  ${scenario.padEnd(7)} round ${round}/${opts.rounds} ${kind.padEnd(6)} ${error ? `FAILED: ${run.error?.split("\n")[0]}` : brief(metrics)}${run.notes.length ? `  [${run.notes.join("; ")}]` : ""}`,
    );
  };

  for (const scenario of opts.scenarios) {
    if (isRestarting(scenario)) continue;
    for (let round = 1; round <= opts.rounds; round++) {
      for (const kind of SERVER_ONLY.includes(scenario) ? (["server"] as const) : (["server", "floor"] as const)) {
        let server: DevServer | undefined;
        try {
          server = await start(kind, undefined, false, undefined, scenario === "biggroup");
          const pids = workerdPids(server);
          const out = await runners[scenario]({ server, opts, runId: runId(), log, kind });
          if (workerdPids(server) !== pids) out.notes.push("workerd restarted during the run: numbers are suspect");
          record(scenario, kind, round, out);
        } catch (err) {
          record(scenario, kind, round, null, err);
        } finally {
          await server?.stop();
        }
      }
    }
  }
  for (const scenario of opts.scenarios.filter(isRestarting)) {
    for (let round = 1; round <= opts.rounds; round++) {
      try {
        record(scenario, "server", round, await restarting[scenario](runId()));
      } catch (err) {
        record(scenario, "server", round, null, err);
      }
      await stopAll();
    }
  }

  const medians: Record<string, ScenarioMedians> = {};
  for (const [name, rec] of Object.entries(results)) {
    const ok = (runs: RunRecord[]) => runs.filter((r) => !r.error).map((r) => r.metrics);
    if (rec.runs.server.length) rec.server = aggregateRuns(ok(rec.runs.server), WORST);
    if (rec.runs.floor.length) rec.floor = aggregateRuns(ok(rec.runs.floor), WORST);
    if (rec.server && rec.floor) rec.ratio = ratios(rec.server, rec.floor);
    // A scenario with a failed run cannot claim zero anomalies.
    if (rec.server && rec.runs.server.some((r) => r.error)) rec.server.anomalies = NaN;
    medians[name] = rec;
  }
  const targets = evaluateTargets(TARGETS, medians);
  const loadAfter = load();
  const meta = {
    date: startedAt.toISOString(),
    durationS: Math.round((Date.now() - startedAt.getTime()) / 1000),
    command: commandLine(),
    machine: `${cpus().length} × ${cpus()[0]?.model.trim() ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Linux ${release()}`,
    node: process.version,
    wrangler: pkgVersion("wrangler"),
    workerd: pkgVersion("workerd"),
    commit: process.env.BENCH_COMMIT ?? git(["rev-parse", "--short", "HEAD"]) ?? "unknown",
    srcDirty: process.env.BENCH_COMMIT ? false : (git(["status", "--porcelain", "--", "src", "wrangler.toml"]) ?? "") !== "",
    serverDir: opts.serverDir,
    /** What ran: a hash of the snapshot of src/ and wrangler.toml taken at the start. */
    snapshot: snapshot.hash,
    loadBefore,
    loadAfter,
  };

  const chart: ChartData = {
    title: "LunarLoom Edge vs the floor (bare DO relay), wrangler dev on loopback",
    subtitle: `${meta.machine}; ${meta.date.slice(0, 10)}; ${opts.rounds} round(s) A B per scenario; medians`,
    latency: [
      latencyPanel("pairs", `pairs: ${opts.pairs * 2} users, ${opts.messages} msgs each, window ${opts.window}`),
      latencyPanel("fanin", `fan-in: ${opts.faninSenders} senders → 1, ${opts.faninMessages} msgs each`),
      {
        title: `connect: ${opts.connects} sockets, time to CONNECTION_ID`,
        series: (["server", "floor"] as const).map((k) => ({
          label: `${k}`,
          color: k === "server" ? SERVER_COLOR : FLOOR_COLOR,
          samples: samples.connect?.[k]?.connect ?? [],
        })),
      },
    ],
    bars: [
      { label: "pairs", unit: "msgs/s", server: medians.pairs?.server?.msgsPerSec ?? NaN, floor: medians.pairs?.floor?.msgsPerSec ?? NaN },
      { label: "fan-in", unit: "msgs/s", server: medians.fanin?.server?.msgsPerSec ?? NaN, floor: medians.fanin?.floor?.msgsPerSec ?? NaN },
      {
        label: "offline drain",
        unit: "msgs/s",
        server: medians.drain?.server?.msgsPerSec ?? NaN,
        floor: medians.drain?.floor?.msgsPerSec ?? NaN,
      },
      {
        label: "connect",
        unit: "conn/s",
        server: medians.connect?.server?.connectsPerSec ?? NaN,
        floor: medians.connect?.floor?.connectsPerSec ?? NaN,
      },
    ],
  };
  function latencyPanel(name: string, title: string) {
    const s = samples[name];
    return {
      title,
      series: [
        { label: "server ack", color: SERVER_COLOR, samples: s?.server?.ack ?? [] },
        { label: "floor ack", color: FLOOR_COLOR, samples: s?.floor?.ack ?? [] },
        { label: "server delivery", color: SERVER_COLOR, dashed: true, samples: s?.server?.delivery ?? [] },
        { label: "floor delivery", color: FLOOR_COLOR, dashed: true, samples: s?.floor?.delivery ?? [] },
      ],
    };
  }
  writeFileSync(join(outDir, "chart.svg"), renderChart(chart));
  const json = { meta, options: opts, scenarios: results, targets };
  writeFileSync(
    join(outDir, "results.json"),
    `${JSON.stringify(json, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 2)}\n`,
  );

  const notes = Object.entries(results).flatMap(([name, rec]) =>
    (["server", "floor"] as const).flatMap((k) =>
      rec.runs[k].flatMap((r) =>
        [...r.notes, ...(r.error ? [`FAILED: ${r.error.split("\n")[0]}`] : [])].map(
          (n) => `- ${SCENARIO_TITLES[name]}, ${k}, round ${r.round}: ${n}`,
        ),
      ),
    ),
  );
  const md = [
    `## Benchmark: ${meta.date}`,
    "",
    `\`${meta.command}\` on ${meta.machine}; Node ${meta.node}, wrangler ${meta.wrangler}, workerd ${meta.workerd}; commit ${meta.commit}${meta.srcDirty ? " with uncommitted changes in src/" : ""} (snapshot ${meta.snapshot}).`,
    `Load average before ${loadBefore.join(" ")}, after ${loadAfter.join(" ")}. ${meta.durationS} s in all.`,
    `Each scenario ran ${opts.rounds}× server and floor alternately (A B A B …), each on a fresh \`wrangler dev\` with fresh persisted state; medians of the runs, except lost/duplicated/out-of-order/missing, which are the worst run.`,
    `Floor: ${variant && opts.against !== "floor" ? `**not the floor**: ${againstText(opts.against)}` : FLOOR_TEXT[opts.floorStorage]}. Settings: pairs ${opts.pairs}×2 users × ${opts.messages} msgs, window ${opts.window}, payload ${opts.payloadBytes} B, warm-up ${opts.warmup}/user; fan-in ${opts.faninSenders} → 1 × ${opts.faninMessages}; biggroup ${opts.biggroupMembers} members (${opts.biggroupSockets} with sockets), ${opts.biggroupSenders} senders × ${opts.biggroupMessages}, GROUP_SHARD_SIZE ${opts.groupShardSize ?? "as wrangler.toml"}${counting ? ` (counting build ${counting.hash})` : ""}; connect ${opts.connects} users, ${opts.connectConcurrency} handshakes in flight; drain ${opts.drain} queued; crash ${opts.crashMessages} msgs, SIGKILL at half acked; storm ${opts.stormUsers} client-library users, ${opts.stormSenders} sending, SIGTERM and restart on the same state and port.`,
    "",
    resultsTable(medians),
    "",
    // The targets are ratios to the floor; against anything else a "met" would mean nothing.
    opts.against === "floor" && opts.floorStorage === "sqlite"
      ? targetsTable(targets)
      : "Targets: not evaluated, since the floor of this run is not the floor they are set against.",
    "",
    "![latency and throughput](chart.svg)",
    ...(notes.length ? ["", "Notes:", ...notes] : []),
    "",
  ].join("\n");
  writeFileSync(join(outDir, "results.md"), md);
  console.log(md);
  log(`wrote ${join(opts.outDir, "results.json")}, results.md, chart.svg`);
}

function workerdPids(server: DevServer): string {
  return sampleWorkerd(server.process.pid!, server.port)
    .processes.map((p) => p.pid)
    .sort()
    .join(",");
}

function brief(m: Metrics): string {
  const parts: string[] = [];
  const f = (k: string, label: string, digits = 0) => {
    if (m[k] !== undefined && Number.isFinite(m[k])) parts.push(`${label} ${m[k]!.toFixed(digits)}`);
  };
  f("msgsPerSec", "msgs/s");
  f("ackP50", "ack p50", 1);
  f("ackP99", "p99", 1);
  f("deliveryP99", "deliv p99", 1);
  f("connectsPerSec", "conn/s");
  if (m.bytesPerConn !== undefined) parts.push(`${(m.bytesPerConn / 1024).toFixed(0)} KB/conn`);
  f("runtimeCpuUsPerMsg", "cpu µs/msg");
  f("acked", "acked");
  f("missingFromSenderLog", "missing(sender log)");
  f("missingAtRecipient", "missing(recipient)");
  f("redeliverMs", "redeliver ms");
  f("page100P50", "page@100 p50", 2);
  f("page10kP50", "page@large p50", 2);
  f("list10kP50", "list@large p50", 2);
  f("deliveriesPerSec", "deliveries/s");
  f("lastMemberP99", "last-member p99", 1);
  f("busiestCallsPerSec", "busiest object calls/s");
  f("presenceFramesPerTransition", "watcher RPCs/transition", 1);
  f("cpuUsPerTransitionWatched", "cpu µs/transition (20 watchers)");
  f("cpuUsPerTransitionAlone", "(no watchers)");
  f("backMs", "all back ms");
  f("caughtUpMs", "all caught up ms");
  f("peakConnectsPerSec", "peak conn/s");
  if (m.anomalies !== undefined) parts.push(`anomalies ${m.anomalies}`);
  return parts.join(", ");
}

const FLOOR_TEXT: Record<BenchOptions["floorStorage"], string> = {
  sqlite: "a SQLite-backed class, as the server's",
  plain: "a plain (non-SQLite) class",
  log: "a SQLite-backed class writing one log row per message at the sender (before the ack) and one at the recipient (`--floor-storage=log`): the least storage the guarantees allow",
};

/** What ran in the floor's place, for the report. */
function againstText(against: Exclude<BenchOptions["against"], "floor">): string {
  if (against === "no-state")
    return "the same server source built without message state rows (`--against=no-state`), so server/floor is the A/B of writing them";
  const commit = git(["-C", resolve(against.dir), "rev-parse", "--short", "HEAD"]) ?? "?";
  return `the server in \`${against.dir}\` (commit ${commit}, \`--against\`), so server/floor reads this server against that one`;
}

function pkgVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
}

function git(args: string[]): string | null {
  try {
    return execFileSync("git", args, {
      cwd: opts.serverDir ? resolve(opts.serverDir) : ROOT,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return null;
  }
}

// ---- the profile --------------------------------------------------------------------------

async function profile(o: BenchOptions): Promise<void> {
  const scenario = o.profileScenario;
  const sections: string[] = [
    `## CPU profiles: ${scenario} (${new Date().toISOString()})`,
    "",
    `\`${commandLine()}\`: V8's sampling profiler (every ${o.profileIntervalUs} µs) on the worker's isolate through wrangler's inspector port, which covers the Worker, every Durable Object, and the runtime's own work on that thread as "(program)". ` +
      `Samples are counted one each and shares converted to time with workerd's CPU time from /proc. Load average before: ${load().join(" ")}.`,
  ];
  for (const kind of ["server", "floor"] as const) {
    const server = await start(kind);
    try {
      const pid = server.process.pid!;
      // The profiler and the CPU reading cover the same span: the whole scenario, or connect's returns alone.
      const spans: { profile: CpuProfile; modules: ModuleMap; cpu: ReturnType<typeof cpuDelta> }[] = [];
      const measured = async <T>(work: () => Promise<T>): Promise<T> => {
        const before = sampleWorkerd(pid, server.port);
        const { result, ...span } = await profiled(server.inspectorPort, o.profileIntervalUs, work);
        spans.push({ ...span, cpu: cpuDelta(before, sampleWorkerd(pid, server.port)) });
        return result;
      };
      const ctx: Ctx = { server, opts: o, runId: runId(), log, kind };
      const result = scenario === "return" ? await connect({ ...ctx, returns: measured }) : await measured(() => runners[scenario](ctx));
      const { profile: prof, modules, cpu } = spans[0]!;
      const file = `profile-${scenario}-${kind}.cpuprofile`;
      writeFileSync(join(outDir, file), JSON.stringify(prof));
      const [units, unit] =
        scenario === "return"
          ? [o.connects, "return"]
          : scenario === "connect"
            ? [3 * o.connects + 8, "conn"]
            : // first connects, reconnects, returns, warm-up
              scenario === "drain"
              ? [o.drain, "msg"]
              : scenario === "fanin"
                ? [o.faninSenders * (o.faninMessages + o.warmup), "msg"]
                : [o.pairs * 2 * (o.messages + o.warmup), "msg"];
      const summary = summarizeProfile(prof, modules, 30);
      const own = projectFunctions(prof, modules);
      log(`  profiled ${kind}: ${brief(result.metrics)}; ${file}`);
      sections.push(
        "",
        profileMarkdown(`${kind}: ${brief(result.metrics)} (under the profiler)`, summary, own, (cpu.runtime * 1000) / units, unit),
        "",
        `Raw profile: ${file} (Chrome DevTools → Performance → Load profile).`,
      );
    } finally {
      await server.stop();
    }
  }
  const md = `${sections.join("\n")}\n`;
  writeFileSync(join(outDir, `profile-${scenario}.md`), md);
  console.log(md);
}

function commandLine(): string {
  return `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;
}

try {
  if (opts.profile) await profile(opts);
  else await bench();
} finally {
  await stopAll();
  clearTimeout(watchdog);
  snapshot.cleanup();
}
