/**
 * CPU profiles of the worker's isolate through the DevTools inspector that
 * `wrangler dev --inspector-port` exposes, and a summary of where the time
 * goes (self and inclusive time per function). The .cpuprofile files open in
 * Chrome DevTools (Performance → Load profile) for a closer look.
 */

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
  scriptId?: string;
}

export interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** A minimal Chrome DevTools Protocol client over Node's WebSocket. */
export class Inspector {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private readonly ws: WebSocket;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.addEventListener("message", (e: MessageEvent) => {
      const msg = JSON.parse(String(e.data)) as { id?: number; result?: unknown; error?: { message: string } };
      if (msg.id === undefined) return;
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error) p.reject(new Error(msg.error.message));
      else p.resolve(msg.result);
    });
    ws.addEventListener("close", () => {
      for (const p of this.pending.values()) p.reject(new Error("inspector closed"));
      this.pending.clear();
    });
  }

  /** Connects to the first debuggable target the inspector lists. */
  static async connect(port: number, timeoutMs = 10_000): Promise<Inspector> {
    const deadline = Date.now() + timeoutMs;
    let url: string | undefined;
    while (!url && Date.now() < deadline) {
      try {
        const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as { webSocketDebuggerUrl?: string }[];
        url = targets.find((t) => t.webSocketDebuggerUrl)?.webSocketDebuggerUrl;
      } catch {
        // not up yet
      }
      if (!url) await new Promise((r) => setTimeout(r, 200));
    }
    if (!url) throw new Error(`no inspector target on port ${port}`);
    // The inspector proxy wants an Origin on loopback; undici's WebSocket takes headers in its init.
    const Ctor = WebSocket as unknown as new (url: string, init: { headers: Record<string, string> }) => WebSocket;
    const ws = new Ctor(url, { headers: { Origin: "http://127.0.0.1" } });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("inspector did not open")), Math.max(1, deadline - Date.now()));
      ws.addEventListener("open", () => {
        clearTimeout(timer);
        resolve();
      });
      ws.addEventListener("error", () => {
        clearTimeout(timer);
        reject(new Error(`inspector socket error at ${url}`));
      });
    });
    return new Inspector(ws);
  }

  call<T = unknown>(method: string, params: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<T> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ id, method, params }));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method} timed out`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  close(): void {
    this.ws.close();
  }
}

/**
 * Runs `work` with the sampling profiler on; returns the profile, what `work`
 * returned, and the bundle's module map (which source file each line of the
 * bundled script came from), so frames can be named by their source file.
 */
export async function profiled<T>(
  inspectorPort: number,
  intervalUs: number,
  work: () => Promise<T>,
): Promise<{ profile: CpuProfile; result: T; modules: ModuleMap }> {
  const insp = await Inspector.connect(inspectorPort);
  try {
    await insp.call("Profiler.enable");
    await insp.call("Profiler.setSamplingInterval", { interval: intervalUs });
    await insp.call("Profiler.start");
    let result: T | undefined;
    let failure: unknown;
    let failed = false;
    try {
      result = await work();
    } catch (err) {
      failure = err;
      failed = true;
    }
    const { profile } = await insp.call<{ profile: CpuProfile }>("Profiler.stop");
    if (failed) throw failure;
    const modules: ModuleMap = new Map();
    try {
      await insp.call("Debugger.enable", {}, 10_000);
      const ids = new Set(profile.nodes.filter((n) => n.callFrame.url && n.callFrame.scriptId).map((n) => n.callFrame.scriptId!));
      for (const id of ids) {
        const { scriptSource } = await insp.call<{ scriptSource: string }>("Debugger.getScriptSource", { scriptId: id }, 10_000);
        modules.set(id, moduleMarkers(scriptSource));
      }
      await insp.call("Debugger.disable", {}, 10_000);
    } catch {
      // Names by bundle line only.
    }
    return { profile, result: result as T, modules };
  } finally {
    insp.close();
  }
}

/** scriptId → ascending [first line (0-based), source file] from esbuild's `// path` section comments. */
export type ModuleMap = Map<string, [number, string][]>;

export function moduleMarkers(source: string): [number, string][] {
  const out: [number, string][] = [];
  const lines = source.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = /^\/\/ (\S+\.(?:[cm]?[jt]s))$/.exec(lines[i]!);
    if (m) out.push([i, shortPath(m[1]!)]);
  }
  return out;
}

function shortPath(path: string): string {
  const nm = path.lastIndexOf("node_modules/");
  if (nm >= 0) return path.slice(nm + "node_modules/".length);
  return path.replace(/^(\.\.\/)+/, "").replace(/^.*\/test\/bench\//, "test/bench/");
}

export function moduleOf(modules: ModuleMap, cf: CallFrame): string | null {
  const markers = cf.scriptId ? modules.get(cf.scriptId) : undefined;
  if (!markers || markers.length === 0) return null;
  let lo = 0;
  let hi = markers.length - 1;
  if (cf.lineNumber < markers[0]![0]) return null;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (markers[mid]![0] <= cf.lineNumber) lo = mid;
    else hi = mid - 1;
  }
  return markers[lo]![1];
}

/** "name (file)" with the source file when known, else "name (bundle:line)"; runtime natives are bare names. */
export function frameKey(cf: CallFrame, modules: ModuleMap = new Map()): string {
  const name = cf.functionName || "(anonymous)";
  if (!cf.url) return name;
  const mod = moduleOf(modules, cf);
  return mod ? `${name} (${mod})` : `${name} (${cf.url}:${cf.lineNumber + 1})`;
}

export interface FunctionCost {
  key: string;
  /** Samples with this function on top / anywhere on the stack. */
  selfSamples: number;
  totalSamples: number;
}

export interface ProfileSummary {
  /** Samples that were not "(idle)". */
  busySamples: number;
  idleSamples: number;
  programSamples: number;
  gcSamples: number;
  functions: FunctionCost[];
  /** Self samples grouped by source file (runtime natives by name). */
  files: { file: string; selfSamples: number }[];
}

/**
 * Counts samples, one each: workerd's sampler is irregular (gaps of seconds
 * while the isolate is idle are folded into the next sample's time delta),
 * so time deltas would charge idle time to whatever ran last. Shares of busy
 * samples are converted to time with workerd's own CPU time from /proc.
 */
export function summarizeProfile(profile: CpuProfile, modules: ModuleMap = new Map(), top = 30): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const keyOf = new Map<number, string>();
  const key = (n: ProfileNode) => {
    const k = keyOf.get(n.id) ?? frameKey(n.callFrame, modules);
    keyOf.set(n.id, k);
    return k;
  };
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const files = new Map<string, number>();
  let idle = 0;
  let program = 0;
  let gc = 0;
  let busy = 0;
  for (const sample of profile.samples ?? []) {
    const node = byId.get(sample);
    if (!node) continue;
    const name = node.callFrame.functionName;
    if (name === "(idle)") {
      idle++;
      continue;
    }
    busy++;
    if (name === "(program)") program++;
    if (name === "(garbage collector)") gc++;
    const k = key(node);
    self.set(k, (self.get(k) ?? 0) + 1);
    const file = node.callFrame.url ? (moduleOf(modules, node.callFrame) ?? node.callFrame.url) : `(runtime) ${name}`;
    files.set(file, (files.get(file) ?? 0) + 1);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id, guard = 0; id !== undefined && guard < 10_000; id = parent.get(id), guard++) {
      const k2 = key(byId.get(id)!);
      if (k2 === "(root)" || seen.has(k2)) continue;
      seen.add(k2);
      total.set(k2, (total.get(k2) ?? 0) + 1);
    }
  }
  const functions = [...total.keys()]
    .map((k) => ({ key: k, selfSamples: self.get(k) ?? 0, totalSamples: total.get(k) ?? 0 }))
    .sort((a, b) => b.selfSamples - a.selfSamples || b.totalSamples - a.totalSamples);
  return {
    busySamples: busy,
    idleSamples: idle,
    programSamples: program,
    gcSamples: gc,
    functions: functions.slice(0, top),
    files: [...files.entries()]
      .map(([file, selfSamples]) => ({ file, selfSamples }))
      .sort((a, b) => b.selfSamples - a.selfSamples)
      .slice(0, 15),
  };
}

/** The project's own functions (src/ or the floor), by inclusive samples. */
export function projectFunctions(profile: CpuProfile, modules: ModuleMap, pattern = /\((src|test\/bench)\//, top = 25): FunctionCost[] {
  return summarizeProfile(profile, modules, Number.MAX_SAFE_INTEGER)
    .functions.filter((f) => pattern.test(f.key))
    .sort((a, b) => b.totalSamples - a.totalSamples)
    .slice(0, top);
}

/**
 * A markdown report. `cpuUsPerUnit`: workerd's runtime CPU per message (or
 * connection) from /proc over the same run; each share of busy samples is
 * shown as that share of it.
 */
export function profileMarkdown(title: string, s: ProfileSummary, own: FunctionCost[], cpuUsPerUnit: number, unit: string): string {
  const share = (n: number) => n / Math.max(1, s.busySamples);
  const pct = (n: number) => `${(share(n) * 100).toFixed(1)}%`;
  const us = (n: number) => (Number.isFinite(cpuUsPerUnit) ? (share(n) * cpuUsPerUnit).toFixed(1) : "–");
  const esc = (t: string) => t.replace(/\|/g, "\\|");
  const lines = [
    `### ${title}`,
    "",
    `${s.busySamples} busy samples (${s.idleSamples} idle); runtime-internal "(program)" ${pct(s.programSamples)}, GC ${pct(s.gcSamples)}. ` +
      `workerd runtime CPU over the run: ${Number.isFinite(cpuUsPerUnit) ? cpuUsPerUnit.toFixed(0) : "–"} µs/${unit}; the µs/${unit} column is each share of it.`,
    "",
    `| function (self) | samples | % busy | µs/${unit} | incl. % |`,
    "|---|--:|--:|--:|--:|",
    ...s.functions.map(
      (f) => `| ${esc(f.key)} | ${f.selfSamples} | ${pct(f.selfSamples)} | ${us(f.selfSamples)} | ${pct(f.totalSamples)} |`,
    ),
    "",
    `| source (self) | samples | % busy | µs/${unit} |`,
    "|---|--:|--:|--:|",
    ...s.files.map((f) => `| ${esc(f.file)} | ${f.selfSamples} | ${pct(f.selfSamples)} | ${us(f.selfSamples)} |`),
  ];
  if (own.length) {
    lines.push("", `| project function (inclusive) | incl. % | µs/${unit} | self % |`, "|---|--:|--:|--:|");
    for (const f of own) lines.push(`| ${esc(f.key)} | ${pct(f.totalSamples)} | ${us(f.totalSamples)} | ${pct(f.selfSamples)} |`);
  }
  return lines.join("\n");
}
