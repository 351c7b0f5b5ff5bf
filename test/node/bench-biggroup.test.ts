/**
 * The biggroup scenario's parts that need no server: its knobs, the floor's
 * shard class in the floor's config, the counting build (snapshot.ts,
 * calls.ts), how calls are counted and attributed, and the scenario's own
 * arithmetic (where socket members and senders sit, the busiest object,
 * order faults), plus its rows and targets in the report.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { busiest, orderFaults, spread } from "../bench/biggroup.ts";
import { CALLS_PATH, type CallCount, countedClass, countedWorker } from "../bench/calls.ts";
import { DEFAULTS, parseOptions, QUICK, SERVER_ONLY, USAGE } from "../bench/options.ts";
import { resultsTable, TARGETS } from "../bench/report.ts";
import { boundClasses, countingEntry, plainFloorToml, snapshotCounting } from "../bench/snapshot.ts";
import { evaluateTargets } from "../bench/stats.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

describe("biggroup options", () => {
  it("is a default scenario with a floor: 1,000 members, 200 sockets, 5 senders × 50", () => {
    const o = parseOptions([], {});
    expect(o.scenarios).toContain("biggroup");
    expect(SERVER_ONLY).not.toContain("biggroup");
    expect(o).toMatchObject({
      biggroupMembers: 1000,
      biggroupSockets: 200,
      biggroupSenders: 5,
      biggroupMessages: 50,
      groupShardSize: null,
    });
    expect(parseOptions(["--quick"], {}).biggroupMembers).toBe(QUICK.biggroupMembers);
  });
  it("takes its knobs as flags or BENCH_ variables, flags winning", () => {
    const o = parseOptions(["--only=biggroup", "--biggroup-members=300", "--group-shard-size=50"], {
      BENCH_BIGGROUP_SOCKETS: "40",
      BENCH_GROUP_SHARD_SIZE: "200",
    });
    expect(o).toMatchObject({ scenarios: ["biggroup"], biggroupMembers: 300, biggroupSockets: 40, groupShardSize: 50 });
    expect(parseOptions([], { BENCH_GROUP_SHARD_SIZE: "200" }).groupShardSize).toBe(200);
  });
  it("refuses a shard size the server would refuse, and more members than a group can hold", () => {
    expect(() => parseOptions(["--group-shard-size=1"], {})).toThrow(/--group-shard-size must be a whole number 2..10000/);
    expect(() => parseOptions(["--group-shard-size=10001"], {})).toThrow(/2..10000/);
    expect(() => parseOptions(["--group-shard-size=1.5"], {})).toThrow(/2..10000/);
    expect(() => parseOptions(["--biggroup-members=10001"], {})).toThrow(/at most 10000/);
  });
  it("lists them in --help", () => {
    for (const flag of [
      "--biggroup-members=N",
      "--biggroup-sockets=N",
      "--biggroup-senders=N",
      "--biggroup-messages=N",
      "--group-shard-size=N",
    ])
      expect(USAGE).toContain(flag);
    expect(USAGE).toContain(`default ${DEFAULTS.biggroupMembers}`);
  });
});

describe("the floor's tree", () => {
  const toml = readFileSync(join(root, "test/bench/floor/wrangler.toml"), "utf8");
  it("binds FloorShard, SQLite-backed in a migration of its own", () => {
    expect(boundClasses(toml)).toEqual(["FloorUser", "FloorGroup", "FloorShard"]);
    expect(toml).toMatch(/^tag = "v2"\nnew_sqlite_classes = \["FloorShard"\]$/m);
  });
  it("turns every migration plain for --floor-storage=plain", () => {
    const plain = plainFloorToml(toml);
    expect(plain).toMatch(/^new_classes = \["FloorShard"\]$/m);
    expect(plain).not.toMatch(/^new_sqlite_classes/m);
  });
});

describe("the counting build", () => {
  it("re-exports every bound class counted, and the Worker", () => {
    expect(countingEntry("./index.ts", "../calls.ts", ["A", "B"])).toBe(
      [
        'import worker, * as code from "./index.ts";',
        'import { countedClass, countedWorker } from "../calls.ts";',
        "export const A = countedClass(code.A);",
        "export const B = countedClass(code.B);",
        "export default countedWorker(worker);",
        "",
      ].join("\n"),
    );
  });
  it("changes only the entry of the server and of the floor, every source file as it was", () => {
    const snap = snapshotCounting(root, join(root, "test/bench/floor"));
    try {
      const serverToml = readFileSync(snap.config, "utf8");
      expect(serverToml).toMatch(/^main = "test\/bench\/counted-server.ts"$/m);
      const entry = readFileSync(join(snap.dir, "test/bench/counted-server.ts"), "utf8");
      for (const c of ["UserObject", "GroupObject", "GroupShard"]) expect(entry).toContain(`export const ${c} = countedClass(code.${c});`);
      expect(entry).toContain('from "../../src/index.ts"');
      expect(readFileSync(join(snap.floorDir, "wrangler.toml"), "utf8")).toMatch(/^main = "counted.ts"$/m);
      expect(readFileSync(join(snap.floorDir, "counted.ts"), "utf8")).toContain("export const FloorShard = countedClass(code.FloorShard);");
      for (const f of ["src/index.ts", "src/shard/object.ts", "src/group/fanout.ts", "test/bench/floor/index.ts"])
        expect(readFileSync(join(snap.dir, f), "utf8")).toBe(readFileSync(join(root, f), "utf8"));
      expect(snap.hash).toMatch(/-counting$/);
    } finally {
      snap.cleanup();
    }
  });
});

describe("counting calls", () => {
  interface FakeStub {
    deliver(x: number): string;
    id: string;
  }
  const fakeEnv = {
    USERS: { getByName: (name: string): FakeStub => ({ deliver: (x) => `${name}:${x}`, id: `id-${name}` }) },
    SECRET: "s",
  };
  class Base {
    constructor(
      readonly ctx: { id: { name?: string } },
      readonly env: typeof fakeEnv,
    ) {}
  }
  const ctx = {} as ExecutionContext;
  const read = async (worker: ReturnType<typeof countedWorker>) => {
    const res = await worker.fetch!(new Request(`http://x${CALLS_PATH}`), {} as never, ctx);
    return new Map(((await res.json()) as CallCount[]).map((c) => [c.name, c]));
  };

  it("counts each call through a namespace's stub as made by the object and received by the one named", async () => {
    const Counted = countedClass(Base);
    const alice = new Counted({ id: { name: "t1-alice" } }, fakeEnv);
    expect(alice.env.USERS.getByName("t1-bob").deliver(1)).toBe("t1-bob:1");
    alice.env.USERS.getByName("t1-bob").deliver(2);
    alice.env.USERS.getByName("t1-carol").deliver(3);
    // Not calls: a stub's id, the env's other values.
    expect(alice.env.USERS.getByName("t1-bob").id).toBe("id-t1-bob");
    expect(alice.env.SECRET).toBe("s");
    const worker = countedWorker({
      fetch: async (_r: Request, e: never, _c: ExecutionContext) =>
        new Response((e as typeof fakeEnv).USERS.getByName("t1-bob").deliver(4)),
    });
    const calls = await read(worker);
    expect(calls.get("t1-alice")).toEqual({ name: "t1-alice", made: 3, received: 0 });
    expect(calls.get("t1-bob")).toEqual({ name: "t1-bob", made: 0, received: 2 });
    expect(calls.get("t1-carol")).toEqual({ name: "t1-carol", made: 0, received: 1 });
  });
  it("attributes the Worker's calls to `worker` and serves every other path as the Worker does", async () => {
    const worker = countedWorker({
      fetch: async (_r: Request, e: never, _c: ExecutionContext) =>
        new Response((e as typeof fakeEnv).USERS.getByName("t2-dan").deliver(5)),
    });
    const before = (await read(worker)).get("worker")?.made ?? 0;
    expect(await (await worker.fetch!(new Request("http://x/v1/anything"), fakeEnv as never, ctx)).text()).toBe("t2-dan:5");
    const calls = await read(worker);
    expect(calls.get("worker")?.made).toBe(before + 1);
    expect(calls.get("t2-dan")?.received).toBe(1);
  });
});

describe("biggroup arithmetic", () => {
  it("spreads socket members and senders evenly over the members", () => {
    const sockets = spread(1000, 200);
    expect(sockets).toHaveLength(200);
    expect(sockets.slice(0, 3)).toEqual([0, 5, 10]);
    // With shards of 100 filled in member order, each of the 10 holds 20 socket members.
    expect(new Set(sockets.map((i) => Math.floor(i / 100))).size).toBe(10);
    expect(spread(200, 5)).toEqual([0, 40, 80, 120, 160]);
    expect(spread(3, 5)).toEqual([0, 1, 2]);
  });
  it("finds the busiest object by its calls in the window", () => {
    const before = new Map([
      ["g", 10],
      ["g#0", 5],
    ]);
    const after = new Map([
      ["g", 20],
      ["g#0", 105],
      ["u1", 3],
    ]);
    expect(busiest(before, after)).toEqual([
      ["g#0", 100],
      ["g", 10],
      ["u1", 3],
    ]);
  });
  it("counts steps back from the reference order and from each sender's ack order", () => {
    // Two senders, 2 messages each: 0,1 are sender 0's, 2,3 sender 1's; both acked in send order.
    const acks = [0, 1, 0, 1];
    expect(
      orderFaults(
        [
          [0, 2, 1, 3],
          [0, 2, 1, 3],
        ],
        [0, 2, 1, 3],
        acks,
        2,
      ),
    ).toBe(0);
    // The second member swaps two messages of different senders: one step back from the reference.
    expect(
      orderFaults(
        [
          [0, 2, 1, 3],
          [0, 1, 2, 3],
        ],
        [0, 2, 1, 3],
        acks,
        2,
      ),
    ).toBe(1);
    // Everyone agrees, but sender 0's messages arrive against its ack order.
    expect(orderFaults([[1, 0, 2, 3]], [1, 0, 2, 3], acks, 2)).toBe(1);
    // A message never acked is left out of the ack check.
    expect(orderFaults([[1, 0]], [1, 0], [0, NaN], 2)).toBe(0);
  });
});

describe("biggroup in the report", () => {
  it("shows deliveries, latency, the busiest object's calls and the counts", () => {
    const md = resultsTable({
      biggroup: {
        server: { deliveriesPerSec: 4000, lastMemberP99: 900, busiestCallsPerSec: 812.4, lost: 0 },
        floor: { deliveriesPerSec: 5000, lastMemberP99: 600, busiestCallsPerSec: 1000, lost: 0 },
        ratio: { deliveriesPerSec: 0.8, lastMemberP99: 1.5, busiestCallsPerSec: 0.81 },
      },
    });
    expect(md).toContain("| biggroup | member deliveries to sockets (msgs/s) | 4,000 | 5,000 | 0.80× |");
    expect(md).toContain("| biggroup | send to last socket member p99 (ms) | 900 | 600 | 1.50× |");
    expect(md).toContain("| biggroup | busiest object's calls (made + received) (calls/s) | 812 | 1,000 | 0.81× |");
    expect(md).toContain("| biggroup | lost (count) | 0 | 0 | – |");
  });
  it("holds it to ≥ 0.7× deliveries, ≤ 2× p99 and nothing lost, duplicated or out of order", () => {
    const verdicts = (ratio: Record<string, number>, anomalies: number) =>
      evaluateTargets(TARGETS, { biggroup: { server: { anomalies }, ratio } })
        .filter((t) => t.scenario === "biggroup")
        .map((t) => [t.metric, t.met]);
    expect(verdicts({ deliveriesPerSec: 0.7, lastMemberP99: 2 }, 0)).toEqual([
      ["deliveriesPerSec", true],
      ["lastMemberP99", true],
      ["anomalies", true],
    ]);
    expect(verdicts({ deliveriesPerSec: 0.69, lastMemberP99: 2.01 }, 1)).toEqual([
      ["deliveriesPerSec", false],
      ["lastMemberP99", false],
      ["anomalies", false],
    ]);
  });
});
