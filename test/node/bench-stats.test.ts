/**
 * The benchmark's arithmetic (test/bench/stats.ts, report.ts, options.ts,
 * snapshot.ts' config rewrite, storm.ts' timeline): percentiles, medians over
 * runs, worst-run counts, server/floor ratios, target verdicts, the markdown
 * table, the knobs, and the storm's peak rate and catch-up time. Pure
 * functions only: no server is started here.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DEFAULTS, parseOptions, QUICK, SERVER_ONLY } from "../bench/options.ts";
import { fmt, resultsTable, TARGETS, targetsTable } from "../bench/report.ts";
import { plainFloorToml, raiseRateLimits, snapshotWithoutMessageState } from "../bench/snapshot.ts";
import {
  aggregateRuns,
  cdf,
  compare,
  evaluateTargets,
  median,
  medianMetrics,
  percentile,
  ratio,
  ratios,
  summarize,
} from "../bench/stats.ts";
import { caughtUpAt, peakRate, perSecond } from "../bench/storm.ts";

describe("percentile (nearest rank)", () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  it("picks the value at rank ceil(p·n)", () => {
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 99.5)).toBe(100);
    expect(percentile([5, 7, 9], 50)).toBe(7);
    expect(percentile([5, 7, 9], 67)).toBe(9);
  });
  it("clamps at the ends and is NaN when empty", () => {
    expect(percentile(hundred, 0)).toBe(1);
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile([], 50)).toBeNaN();
  });
});

describe("summarize", () => {
  it("sorts numerically, not as strings", () => {
    const s = summarize([100, 9, 20, 3]);
    expect(s).toMatchObject({ count: 4, p50: 9, p99: 100, max: 100, mean: 33 });
  });
  it("is NaN for no samples", () => {
    expect(summarize([]).p50).toBeNaN();
  });
});

describe("median and aggregation over runs", () => {
  it("takes the middle, or the mean of the two middles, of finite values", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([NaN, 5, Infinity])).toBe(5);
    expect(median([])).toBeNaN();
  });
  it("medians each metric, skipping runs that lack it", () => {
    expect(medianMetrics([{ a: 1, b: 10 }, { a: 3 }, { a: 2, b: 30 }])).toEqual({ a: 2, b: 20 });
  });
  it("reports the worst run for loss counts, so one bad run is never hidden", () => {
    const runs = [
      { msgsPerSec: 900, lost: 0 },
      { msgsPerSec: 1000, lost: 7 },
      { msgsPerSec: 800, lost: 0 },
    ];
    expect(aggregateRuns(runs, new Set(["lost"]))).toEqual({ msgsPerSec: 900, lost: 7 });
  });
});

describe("ratios and targets", () => {
  it("divides server by floor, NaN when either is missing or the floor is 0", () => {
    expect(ratio(450, 900)).toBe(0.5);
    expect(ratio(1, 0)).toBeNaN();
    expect(ratio(undefined, 2)).toBeNaN();
    expect(ratios({ a: 2, b: 3 }, { a: 4 })).toEqual({ a: 0.5 });
  });
  it("compares with >=, <= and ==, and says null when unmeasured", () => {
    expect(compare(0.5, ">=", 0.5)).toBe(true);
    expect(compare(0.49, ">=", 0.5)).toBe(false);
    expect(compare(2.01, "<=", 2)).toBe(false);
    expect(compare(0, "==", 0)).toBe(true);
    expect(compare(NaN, "==", 0)).toBeNull();
  });
  it("evaluates the issue's targets against ratios or the server's own numbers", () => {
    const results = {
      pairs: {
        server: { msgsPerSec: 4000, ackP99: 300, anomalies: 0 },
        floor: { msgsPerSec: 4300, ackP99: 125 },
        ratio: { msgsPerSec: 4000 / 4300, ackP99: 2.4 },
      },
      drain: { server: { msgsPerSec: 4999, anomalies: 0 } },
    };
    const byLabel = Object.fromEntries(evaluateTargets(TARGETS, results).map((t) => [t.label, t.met]));
    expect(byLabel["pairs throughput ≥ 0.9× floor (with the conversation index)"]).toBe(true);
    expect(byLabel["pairs ack p99 ≤ 1.3× floor"]).toBe(false);
    expect(byLabel["CPU per message ≤ 1.2× floor"]).toBeNull();
    expect(byLabel["offline drain ≥ 5,000 msgs/s"]).toBe(false);
    expect(byLabel["pairs: lost + duplicated + out-of-order = 0"]).toBe(true);
    expect(byLabel["first connects/s ≥ 0.9× floor"]).toBeNull();
    expect(byLabel["CPU per connect ≤ 1.15× floor"]).toBeNull();
    expect(byLabel["storm: every user back within 60,000 ms of the SIGTERM"]).toBeNull();
  });
  it("holds the storm to every user back within 60 s and nothing lost, duplicated or reordered", () => {
    const verdicts = (server: Record<string, number>) =>
      Object.fromEntries(
        evaluateTargets(TARGETS, { storm: { server } })
          .filter((t) => t.scenario === "storm")
          .map((t) => [t.label, t.met]),
      );
    expect(verdicts({ backMs: 41_000, anomalies: 0 })).toEqual({
      "storm: every user back within 60,000 ms of the SIGTERM": true,
      "storm: lost + duplicated + out-of-order = 0": true,
    });
    expect(verdicts({ backMs: 60_001, anomalies: 1 })).toEqual({
      "storm: every user back within 60,000 ms of the SIGTERM": false,
      "storm: lost + duplicated + out-of-order = 0": false,
    });
    // Not every user back: no time to judge, and the target is not met by default.
    expect(verdicts({ backMs: NaN, anomalies: 0 })["storm: every user back within 60,000 ms of the SIGTERM"]).toBeNull();
  });
});

describe("markdown", () => {
  it("shows server, floor and ratio per metric, with no ratio for counts", () => {
    const md = resultsTable({
      pairs: {
        server: { msgsPerSec: 2000, ackP99: 250, lost: 0 },
        floor: { msgsPerSec: 4000, ackP99: 125, lost: 0 },
        ratio: { msgsPerSec: 0.5, ackP99: 2, lost: NaN },
      },
    });
    expect(md).toContain("| pairs | throughput (msgs/s) | 2,000 | 4,000 | 0.50× |");
    expect(md).toContain("| pairs | ack p99 (ms) | 250 | 125 | 2.00× |");
    expect(md).toContain("| pairs | lost (count) | 0 | 0 | – |");
    expect(md).not.toContain("fan-in");
  });
  it("marks unmet targets in bold and unmeasured ones as such", () => {
    const md = targetsTable([
      { ...TARGETS[0]!, value: 0.4, met: false },
      { ...TARGETS.find((t) => t.label.startsWith("offline drain"))!, value: NaN, met: null },
    ]);
    expect(md).toContain("| pairs throughput ≥ 0.9× floor (with the conversation index) | 0.40× | >= 0.9× | **not met** |");
    expect(md).toContain("| offline drain ≥ 5,000 msgs/s | – | >= 5,000 | not measured |");
  });
  it("shows the storm's times, peak rate and counts for the server alone", () => {
    const md = resultsTable({ storm: { server: { backMs: 41_234, peakConnectsPerSec: 312.4, lost: 0, withoutSince: 0 } } });
    expect(md).toContain("| storm (server only) | SIGTERM to every user back (ms) | 41234 | – | – |");
    expect(md).toContain("| storm (server only) | peak connects/s (any 1 s) (conn/s) | 312 | – | – |");
    expect(md).toContain("| storm (server only) | reconnects without since (count) | 0 | – | – |");
    expect(md).toContain("| storm (server only) | lost (count) | 0 | – | – |");
  });
  it("formats bytes as KB and small latencies with decimals", () => {
    expect(fmt(350 * 1024, "KB")).toBe("350");
    expect(fmt(1.234, "ms")).toBe("1.23");
    expect(fmt(NaN, "ms")).toBe("–");
  });
});

describe("cdf", () => {
  it("rises to 1 at the maximum and never falls", () => {
    const points = cdf(
      Array.from({ length: 1000 }, (_, i) => 1000 - i),
      50,
    );
    expect(points.at(-1)).toEqual([1000, 1]);
    for (let i = 1; i < points.length; i++) {
      expect(points[i]![0]).toBeGreaterThanOrEqual(points[i - 1]![0]);
      expect(points[i]![1]).toBeGreaterThan(points[i - 1]![1]);
    }
    expect(points.length).toBeLessThanOrEqual(51);
  });
});

describe("options", () => {
  it("defaults to the issue's setting", () => {
    const o = parseOptions([], {});
    expect(o).toMatchObject({ rounds: 3, pairs: 10, messages: 500, window: 16, connects: 2000, drain: 5000 });
    expect(o.scenarios).toEqual([
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
    ]);
    expect(o).toMatchObject({ stormUsers: 2000, stormSenders: 200, fileMiB: 10, fileTransfers: 5 });
  });
  it("runs the storm on the server alone, with its users and senders as knobs", () => {
    expect(SERVER_ONLY).toContain("storm");
    const o = parseOptions(["--only=storm", "--storm-users=300"], { BENCH_STORM_SENDERS: "30" });
    expect(o).toMatchObject({ scenarios: ["storm"], stormUsers: 300, stormSenders: 30 });
    expect(parseOptions(["--quick"], {}).stormUsers).toBe(QUICK.stormUsers);
  });
  it("applies --quick, then the environment, then flags", () => {
    const o = parseOptions(["--quick", "--pairs=3", "--only=pairs,drain"], { BENCH_PAIRS: "7", BENCH_MESSAGES: "42" });
    expect(o.rounds).toBe(QUICK.rounds);
    expect(o.pairs).toBe(3);
    expect(o.messages).toBe(42);
    expect(o.scenarios).toEqual(["pairs", "drain"]);
    expect(o.window).toBe(DEFAULTS.window);
  });
  it("refuses unknown scenarios, flags and bad numbers", () => {
    expect(() => parseOptions(["--only=pairs,nope"], {})).toThrow(/unknown scenario nope/);
    expect(() => parseOptions(["--pairs=-1"], {})).toThrow(/non-negative integer/);
    expect(() => parseOptions(["--frobnicate"], {})).toThrow();
    expect(() => parseOptions(["--rounds=0"], {})).toThrow(/at least 1/);
    expect(() => parseOptions(["--floor-storage=kv"], {})).toThrow(/sqlite, plain or log/);
  });
  it("runs the floor on the server's storage class unless told plain", () => {
    expect(parseOptions([], {}).floorStorage).toBe("sqlite");
    expect(parseOptions([], { BENCH_FLOOR_STORAGE: "plain" }).floorStorage).toBe("plain");
    expect(parseOptions(["--floor-storage=sqlite"], { BENCH_FLOOR_STORAGE: "plain" }).floorStorage).toBe("sqlite");
  });
});

describe("the floor's storage class", () => {
  const toml = readFileSync(new URL("../bench/floor/wrangler.toml", import.meta.url), "utf8");
  it("is SQLite-backed like the server's", () => {
    expect(toml).toMatch(/^new_sqlite_classes = \["FloorUser", "FloorGroup"\]$/m);
    expect(readFileSync(new URL("../../wrangler.toml", import.meta.url), "utf8")).toMatch(/^new_sqlite_classes = \["UserObject"\]$/m);
  });
  it("becomes a plain class for --floor-storage=plain", () => {
    const plain = plainFloorToml(toml);
    expect(plain).toMatch(/^new_classes = \["FloorUser", "FloorGroup"\]$/m);
    expect(plain).not.toMatch(/^new_sqlite_classes/m);
    expect(() => plainFloorToml('name = "x"\n')).toThrow(/no new_sqlite_classes/);
  });
});

describe("the no-state variant (--against=no-state)", () => {
  it("runs in the floor's place only when asked", () => {
    expect(parseOptions([], {}).against).toBe("floor");
    expect(parseOptions(["--against=no-state"], {}).against).toBe("no-state");
    expect(parseOptions([], { BENCH_AGAINST: "no-state" }).against).toBe("no-state");
    expect(() => parseOptions(["--against=relay"], {})).toThrow(/floor, no-state, or a checkout's directory/);
  });
  it("takes a floor that logs each message at both ends as a reference", () => {
    expect(parseOptions(["--floor-storage=log"], {}).floorStorage).toBe("log");
    expect(() => parseOptions(["--floor-storage=disk"], {})).toThrow(/sqlite, plain or log/);
  });
  it("takes another checkout's directory for a before/after run, and refuses one without a server", () => {
    const root = fileURLToPath(new URL("../..", import.meta.url));
    expect(parseOptions([`--against=${root}`], {}).against).toEqual({ dir: root });
    expect(() => parseOptions([`--against=${join(root, "docs")}`], {})).toThrow(/checkout's directory/);
  });
  it("is this server's source with apply() returning at once, and nothing else changed", () => {
    const root = fileURLToPath(new URL("../..", import.meta.url));
    const snap = snapshotWithoutMessageState(root, join(root, "test/bench/floor"));
    try {
      const original = readFileSync(join(root, "src/user/state.ts"), "utf8");
      const patched = readFileSync(join(snap.dir, "src/user/state.ts"), "utf8");
      expect(patched).toContain("void {\n  if (u) return; // bench variant");
      expect(patched.replace("\n  if (u) return; // bench variant: no message state rows", "")).toBe(original);
      expect(readFileSync(join(snap.dir, "src/user/deliver.ts"), "utf8")).toBe(readFileSync(join(root, "src/user/deliver.ts"), "utf8"));
    } finally {
      snap.cleanup();
    }
  });
});

describe("raiseRateLimits", () => {
  it("raises every simple rate limit and leaves the rest alone", () => {
    const toml = `[vars]\nlimit = "5"\n\n[[ratelimits]]\nname = "CONNECT_LIMITER"\nnamespace_id = "1001"\nsimple = { limit = 300, period = 60 }\n\n[[ratelimits]]\nname = "B"\nsimple = { period = 10, limit = 7 }\n`;
    const out = raiseRateLimits(toml, 123456);
    expect(out).toContain("simple = { limit = 123456, period = 60 }");
    expect(out).toContain("simple = { period = 10, limit = 123456 }");
    expect(out).toContain('limit = "5"');
  });
});

describe("storm timeline", () => {
  it("peaks over any 1 s window, not only whole-second buckets", () => {
    expect(peakRate([])).toBe(0);
    expect(peakRate([5])).toBe(1);
    // Split by the 1000 ms bucket edge, but all within 200 ms.
    expect(peakRate([900, 950, 1000, 1050, 1100, 3000])).toBe(5);
    // A window is half-open: events 1000 ms apart are in different windows.
    expect(peakRate([0, 1000, 2000])).toBe(1);
    expect(peakRate([1998, 0, 999, 1500])).toBe(3);
  });
  it("counts events per second from a start, dropping those outside", () => {
    expect(perSecond([100, 200, 1500, 2999, 3000, -5], 0, 3)).toBe("2, 1, 1");
    expect(perSecond([], 1000, 2)).toBe("0, 0");
  });
  it("is caught up once everything acked before it was back has arrived", () => {
    const m = (acked: number, delivered: number) => ({ at: 0, acked, delivered });
    // Missed nothing: caught up when back.
    expect(caughtUpAt(10_000, [])).toBe(10_000);
    expect(caughtUpAt(10_000, [m(2_000, 2_100)])).toBe(10_000);
    // Acked while it was away, delivered after it was back.
    expect(caughtUpAt(10_000, [m(2_000, 2_100), m(6_000, 10_400), m(9_000, 10_300)])).toBe(10_400);
    // Acked after it was back: live traffic, not what it missed.
    expect(caughtUpAt(10_000, [m(11_000, 25_000)])).toBe(10_000);
    // Missed and never arrived (or never acked at all: NaN is not before anything).
    expect(caughtUpAt(10_000, [m(6_000, NaN)])).toBeNaN();
    expect(caughtUpAt(10_000, [m(NaN, NaN)])).toBe(10_000);
  });
});
