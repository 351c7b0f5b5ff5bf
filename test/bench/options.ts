/**
 * The benchmark's knobs: defaults (the issue's setting), `--quick`, then
 * environment variables (BENCH_PAIRS=4), then flags (--pairs=4), later wins.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

export const SCENARIOS = [
  "pairs",
  "fanin",
  "connect",
  "drain",
  "crash",
  "history",
  "group",
  "biggroup",
  "presence",
  "storm",
  "files",
] as const;
/** Scenarios with no floor to compare with: they measure the server against itself. */
export const SERVER_ONLY: readonly ScenarioName[] = ["crash", "history", "presence", "storm"];
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchOptions {
  /** Server/floor alternations per scenario (A B A B A B is 3). */
  rounds: number;
  scenarios: ScenarioName[];
  /** pairs: users in pairs, messages each way, unacked window per user, payload size. */
  pairs: number;
  messages: number;
  window: number;
  payloadBytes: number;
  /** Messages per user sent before the clock starts, so both sides are warm. */
  warmup: number;
  faninSenders: number;
  faninMessages: number;
  connects: number;
  connectConcurrency: number;
  drain: number;
  drainWindow: number;
  /** crash: messages pipelined before the SIGKILL at half of them acked. */
  crashMessages: number;
  /** crash: how long to wait after the restart for the outbox to redeliver. */
  crashRedeliverMs: number;
  /** history: rows in the large log (half in the paged conversation, the rest over 999 others), timed requests per case. */
  historyRows: number;
  historyRequests: number;
  /** group: members (one socket each), senders among them, messages per sender. */
  groupMembers: number;
  groupSenders: number;
  groupMessages: number;
  /** biggroup: members (added over the HTTP API, a create then batches of 1,000), those with a socket, senders among them, messages per sender. */
  biggroupMembers: number;
  biggroupSockets: number;
  biggroupSenders: number;
  biggroupMessages: number;
  /** GROUP_SHARD_SIZE for the server and the floor in every scenario; null: as wrangler.toml has it (100). */
  groupShardSize: number | null;
  /** presence: users (in groups of 21, each watching the other 20), online/offline cycles timed. */
  presenceUsers: number;
  presenceCycles: number;
  /** storm: users connected through the client library when the server restarts, and how many of them keep sending. */
  stormUsers: number;
  stormSenders: number;
  /** files: the file's size (MiB), and transfers timed each way. */
  fileMiB: number;
  fileTransfers: number;
  /** Upper bound on any one scenario run. */
  scenarioTimeoutMs: number;
  /** Profile the real server's (and the floor's) hot path instead of the timed run. */
  profile: boolean;
  profileScenario: "pairs" | "fanin" | "drain" | "connect" | "return";
  /** µs between CPU samples. */
  profileIntervalUs: number;
  outDir: string;
  /** A different checkout to benchmark as "server" (src/ and wrangler.toml), e.g. to try a change; default: this one. */
  serverDir: string | null;
  /**
   * The floor's Durable Object class: SQLite-backed like the server's (the
   * design card's storage class; default), or a plain class for reference;
   * `log` is the SQLite floor writing one log row per message at each end.
   */
  floorStorage: "sqlite" | "plain" | "log";
  /**
   * What runs in the floor's place: the floor, or (`no-state`) this server
   * built without its message state rows (snapshot.ts), for the A/B of what
   * writing them costs; or another checkout's server (a directory: the
   * server before a change), for a same-run before/after.
   */
  against: "floor" | "no-state" | { dir: string };
}

export const DEFAULTS: BenchOptions = {
  rounds: 3,
  scenarios: [...SCENARIOS],
  pairs: 10,
  messages: 500,
  window: 16,
  payloadBytes: 64,
  warmup: 20,
  faninSenders: 20,
  faninMessages: 250,
  connects: 2000,
  connectConcurrency: 16,
  drain: 5000,
  drainWindow: 64,
  crashMessages: 1000,
  crashRedeliverMs: 15_000,
  historyRows: 10_000,
  historyRequests: 200,
  groupMembers: 100,
  groupSenders: 5,
  groupMessages: 40,
  biggroupMembers: 1000,
  biggroupSockets: 200,
  biggroupSenders: 5,
  biggroupMessages: 50,
  groupShardSize: null,
  presenceUsers: 1000,
  presenceCycles: 20,
  stormUsers: 2000,
  stormSenders: 200,
  fileMiB: 10,
  fileTransfers: 5,
  scenarioTimeoutMs: 120_000,
  profile: false,
  profileScenario: "pairs",
  profileIntervalUs: 100,
  outDir: "bench-results",
  serverDir: null,
  floorStorage: "sqlite",
  against: "floor",
};

/** A run that finishes in about a minute: for trying changes, not for docs/performance.md. */
export const QUICK: Partial<BenchOptions> = {
  rounds: 1,
  pairs: 4,
  messages: 150,
  faninSenders: 8,
  faninMessages: 100,
  connects: 200,
  drain: 1000,
  crashMessages: 300,
  crashRedeliverMs: 12_000,
  historyRows: 2000,
  historyRequests: 50,
  groupMembers: 30,
  groupMessages: 20,
  biggroupMembers: 250,
  biggroupSockets: 50,
  biggroupMessages: 20,
  presenceUsers: 105,
  presenceCycles: 5,
  stormUsers: 200,
  stormSenders: 20,
  fileTransfers: 3,
};

const NUMERIC = [
  "rounds",
  "pairs",
  "messages",
  "window",
  "payloadBytes",
  "warmup",
  "faninSenders",
  "faninMessages",
  "connects",
  "connectConcurrency",
  "drain",
  "drainWindow",
  "crashMessages",
  "crashRedeliverMs",
  "historyRows",
  "historyRequests",
  "groupMembers",
  "groupSenders",
  "groupMessages",
  "biggroupMembers",
  "biggroupSockets",
  "biggroupSenders",
  "biggroupMessages",
  "presenceUsers",
  "presenceCycles",
  "stormUsers",
  "fileMiB",
  "fileTransfers",
  "stormSenders",
  "scenarioTimeoutMs",
  "profileIntervalUs",
] as const satisfies readonly (keyof BenchOptions)[];

const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();

export const USAGE = `npm run bench [-- options]

  --quick                 a small run (1 round, fewer users and messages) for trying changes
  --only=a,b              scenarios to run: ${SCENARIOS.join(",")} (default: all)
  --profile               CPU-profile the server and the floor under --profile-scenario instead
  --profile-scenario=S    pairs (default), fanin, drain, connect, or return (connect's returns alone: objects evicted first)
${NUMERIC.map((k) => `${`  --${kebab(k)}=N`.padEnd(26)}(BENCH_${snake(k)}, default ${DEFAULTS[k]})`).join("\n")}
  --group-shard-size=N    (BENCH_GROUP_SHARD_SIZE) GROUP_SHARD_SIZE, 2..10000, for the server and the floor
                          (default: wrangler.toml's, 100); biggroup's tree has ceil(members / N) shards
  --out-dir=DIR           (BENCH_OUT_DIR, default bench-results)
  --server-dir=DIR        (BENCH_SERVER_DIR) benchmark another checkout's src/ and wrangler.toml as the server
  --floor-storage=S       (BENCH_FLOOR_STORAGE) the floor's object class: sqlite (default, as the server's), plain, or
                          log: sqlite, and one log row per message at each end (the least storage the guarantees allow)
  --against=W             (BENCH_AGAINST) what runs as "floor": floor (default); no-state: the same server source
                          built without message state rows (edits/deletes/reactions change no state), an A/B; or
                          a directory: another checkout's server (e.g. \`git worktree add --detach /tmp/before HEAD~1\`),
                          so server/floor reads after/before

Every numeric option can also be set as BENCH_<NAME>; flags win over the environment.`;

export function parseOptions(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): BenchOptions {
  const flagSpec: Record<string, { type: "string" | "boolean" }> = {
    quick: { type: "boolean" },
    profile: { type: "boolean" },
    help: { type: "boolean" },
    only: { type: "string" },
    "out-dir": { type: "string" },
    "server-dir": { type: "string" },
    "floor-storage": { type: "string" },
    against: { type: "string" },
    "profile-scenario": { type: "string" },
    "group-shard-size": { type: "string" },
  };
  for (const k of NUMERIC) flagSpec[kebab(k)] = { type: "string" };
  const { values } = parseArgs({ args: [...argv], options: flagSpec, strict: true, allowPositionals: false });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = values.quick === true || env.BENCH_QUICK === "1";
  const opts: BenchOptions = { ...DEFAULTS, scenarios: [...DEFAULTS.scenarios], ...(quick ? QUICK : {}) };
  for (const k of NUMERIC) {
    const raw = (values[kebab(k)] as string | undefined) ?? env[`BENCH_${snake(k)}`];
    if (raw === undefined || raw === "") continue;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${kebab(k)} must be a non-negative integer, got ${JSON.stringify(raw)}`);
    opts[k] = n;
  }
  const only = (values.only as string | undefined) ?? env.BENCH_ONLY;
  if (only) {
    const names = only
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    for (const n of names)
      if (!(SCENARIOS as readonly string[]).includes(n)) throw new Error(`unknown scenario ${n}; expected ${SCENARIOS.join(", ")}`);
    opts.scenarios = names as ScenarioName[];
  }
  if (values.profile === true || env.BENCH_PROFILE === "1") opts.profile = true;
  const ps = (values["profile-scenario"] as string | undefined) ?? env.BENCH_PROFILE_SCENARIO;
  if (ps) {
    if (!["pairs", "fanin", "drain", "connect", "return"].includes(ps))
      throw new Error(`--profile-scenario must be pairs, fanin, drain, connect or return`);
    opts.profileScenario = ps as BenchOptions["profileScenario"];
  }
  opts.outDir = (values["out-dir"] as string | undefined) ?? env.BENCH_OUT_DIR ?? opts.outDir;
  opts.serverDir = (values["server-dir"] as string | undefined) ?? env.BENCH_SERVER_DIR ?? null;
  const fs = (values["floor-storage"] as string | undefined) ?? env.BENCH_FLOOR_STORAGE;
  if (fs) {
    if (fs !== "sqlite" && fs !== "plain" && fs !== "log") throw new Error("--floor-storage must be sqlite, plain or log");
    opts.floorStorage = fs;
  }
  const against = (values.against as string | undefined) ?? env.BENCH_AGAINST;
  if (against) {
    if (against === "floor" || against === "no-state") opts.against = against;
    else if (existsSync(join(against, "src")) && existsSync(join(against, "wrangler.toml"))) opts.against = { dir: against };
    else throw new Error("--against must be floor, no-state, or a checkout's directory (with src/ and wrangler.toml)");
  }
  const shardSize = (values["group-shard-size"] as string | undefined) ?? env.BENCH_GROUP_SHARD_SIZE;
  if (shardSize) {
    const n = Number(shardSize);
    if (!Number.isInteger(n) || n < 2 || n > 10_000)
      throw new Error(`--group-shard-size must be a whole number 2..10000, got ${JSON.stringify(shardSize)}`);
    opts.groupShardSize = n;
  }
  if (opts.biggroupMembers > 10_000) throw new Error("--biggroup-members must be at most 10000 (MAX_GROUP_MEMBERS' ceiling)");
  if (opts.rounds < 1) throw new Error("--rounds must be at least 1");
  if (opts.window < 1) throw new Error("--window must be at least 1");
  return opts;
}
