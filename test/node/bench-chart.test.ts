/**
 * The benchmark's SVG chart and CPU-profile summary (test/bench/chart.ts,
 * profile.ts): well-formed SVG with the data in it and text escaped, log
 * ticks, and self/inclusive sample counts from a hand-built profile. Pure.
 */
import { describe, expect, it } from "vitest";
import { type ChartData, escapeXml, logTicks, renderChart } from "../bench/chart.ts";
import {
  type CpuProfile,
  frameKey,
  type ModuleMap,
  moduleMarkers,
  moduleOf,
  profileMarkdown,
  projectFunctions,
  summarizeProfile,
} from "../bench/profile.ts";

/** Tag balance, ignoring self-closing tags: a cheap well-formedness check without an XML parser. */
function balanced(svg: string): boolean {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    const [, close, name, selfClose] = m;
    if (selfClose) continue;
    if (!close) stack.push(name!);
    else if (stack.pop() !== name) return false;
  }
  return stack.length === 0;
}

const data: ChartData = {
  title: "Server <vs> floor & more",
  subtitle: "2 cores",
  latency: [
    {
      title: "pairs",
      series: [
        { label: "server ack", color: "#d9480f", samples: [1, 2, 3, 50, 120] },
        { label: "floor ack", color: "#1c7ed6", dashed: true, samples: [0.5, 1, 1.5] },
      ],
    },
    { title: "empty", series: [{ label: "none", color: "#000", samples: [] }] },
  ],
  bars: [
    { label: "pairs", unit: "msgs/s", server: 2150, floor: 4300 },
    { label: "connect", unit: "conn/s", server: NaN, floor: 180 },
  ],
};

describe("renderChart", () => {
  const svg = renderChart(data);
  it("is one balanced svg element", () => {
    expect(svg.startsWith("<svg ")).toBe(true);
    expect(svg.trim().endsWith("</svg>")).toBe(true);
    expect(balanced(svg)).toBe(true);
  });
  it("escapes text and draws the data", () => {
    expect(svg).toContain("Server &lt;vs&gt; floor &amp; more");
    expect(svg).not.toContain("<vs>");
    expect(svg).toContain("server 2,150 msgs/s");
    expect(svg).toContain("0.50× floor");
    expect(svg).toContain("server ack (n=5)");
    expect(svg).toContain('stroke-dasharray="5,3"');
    expect(svg).toContain("no data");
    expect(svg).toContain("server –");
    expect(svg).not.toMatch(/NaN|undefined|Infinity/);
  });
});

describe("logTicks and escapeXml", () => {
  it("gives 1-2-5 ticks within the range", () => {
    expect(logTicks(1, 100)).toEqual([1, 2, 5, 10, 20, 50, 100]);
    expect(logTicks(0.1, 1)).toEqual([0.1, 0.2, 0.5, 1]);
    expect(logTicks(0, 10)).toEqual([]);
  });
  it("escapes the five XML specials that matter in text and attributes", () => {
    expect(escapeXml(`a<b>&"c"`)).toBe("a&lt;b&gt;&amp;&quot;c&quot;");
  });
});

describe("profile summary", () => {
  // root → webSocketMessage → append (hot), and root → (idle); samples: 3× append, 1× webSocketMessage, 2× idle, 1× (program)
  const profile: CpuProfile = {
    startTime: 0,
    endTime: 7000,
    nodes: [
      { id: 1, callFrame: { functionName: "(root)", url: "", lineNumber: -1, columnNumber: -1 }, children: [2, 4, 5] },
      {
        id: 2,
        callFrame: { functionName: "webSocketMessage", url: "index.js", lineNumber: 20, columnNumber: 0, scriptId: "8" },
        children: [3],
      },
      { id: 3, callFrame: { functionName: "append", url: "index.js", lineNumber: 12, columnNumber: 0, scriptId: "8" } },
      { id: 4, callFrame: { functionName: "(idle)", url: "", lineNumber: -1, columnNumber: -1 } },
      { id: 5, callFrame: { functionName: "(program)", url: "", lineNumber: -1, columnNumber: -1 } },
    ],
    samples: [3, 3, 2, 4, 3, 4, 5],
    // A 5-second gap before the last sample must not count as time.
    timeDeltas: [100, 100, 100, 100, 100, 100, 5_000_000],
  };
  const bundle = [
    "// jose/x.js",
    "a",
    "// ../../work/main/src/store.ts",
    ...Array(15).fill("s"),
    "// src/user.ts",
    ...Array(10).fill("u"),
  ].join("\n");
  const modules: ModuleMap = new Map([["8", moduleMarkers(bundle)]]);

  it("maps bundle lines to the source file they came from", () => {
    expect(moduleMarkers(bundle)).toEqual([
      [0, "jose/x.js"],
      [2, "work/main/src/store.ts"],
      [18, "src/user.ts"],
    ]);
    expect(moduleOf(modules, { functionName: "f", url: "index.js", lineNumber: 12, columnNumber: 0, scriptId: "8" })).toBe(
      "work/main/src/store.ts",
    );
    expect(frameKey({ functionName: "", url: "index.js", lineNumber: 20, columnNumber: 0, scriptId: "8" }, modules)).toBe(
      "(anonymous) (src/user.ts)",
    );
    expect(frameKey({ functionName: "send", url: "", lineNumber: -1, columnNumber: -1 })).toBe("send");
  });
  it("counts samples, not time deltas, and keeps idle apart", () => {
    const s = summarizeProfile(profile, modules);
    expect(s).toMatchObject({ busySamples: 5, idleSamples: 2, programSamples: 1, gcSamples: 0 });
    const byKey = Object.fromEntries(s.functions.map((f) => [f.key, f]));
    expect(byKey["append (work/main/src/store.ts)"]).toMatchObject({ selfSamples: 3, totalSamples: 3 });
    expect(byKey["webSocketMessage (src/user.ts)"]).toMatchObject({ selfSamples: 1, totalSamples: 4 });
    expect(s.functions[0]!.key).toBe("append (work/main/src/store.ts)");
  });
  it("lists project functions by inclusive share and converts shares with measured CPU", () => {
    const own = projectFunctions(profile, modules, /\(src\//);
    expect(own.map((f) => f.key)).toEqual(["webSocketMessage (src/user.ts)"]);
    const md = profileMarkdown("t", summarizeProfile(profile, modules), own, 1000, "msg");
    // append: 3 of 5 busy samples = 60% of 1000 µs/msg.
    expect(md).toContain("| append (work/main/src/store.ts) | 3 | 60.0% | 600.0 | 60.0% |");
    expect(md).toContain("| webSocketMessage (src/user.ts) | 80.0% | 800.0 | 20.0% |");
  });
});
