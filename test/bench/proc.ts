/**
 * What the benchmark reads from /proc about the process tree it started:
 * workerd's resident memory and CPU time. Linux only; every read is a plain
 * file read, bounded by the size of the tree.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

export interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  /** Resident set size, bytes. */
  rss: number;
  /** User + system CPU time, ms. */
  cpuMs: number;
  /** The command line, NUL-separated arguments joined by spaces. */
  args: string;
}

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** One process, or null if it has gone. */
export function readProc(pid: number): ProcInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm is in parentheses and may contain spaces: split after the last ')'.
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const fields = stat.slice(close + 2).split(" ");
    // fields[0] is state (field 3); ppid is field 4, utime 14, stime 15.
    const ppid = Number(fields[1]);
    const ticks = Number(fields[11]) + Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const rssKb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? 0);
    const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
    return { pid, ppid, comm, rss: rssKb * 1024, cpuMs: (ticks * 1000) / clockTicks(), args };
  } catch {
    return null;
  }
}

/** The root and all its descendants that are alive now. */
export function processTree(root: number): ProcInfo[] {
  const all: ProcInfo[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const info = readProc(Number(name));
    if (info) all.push(info);
  }
  const children = new Map<number, ProcInfo[]>();
  for (const p of all) {
    const list = children.get(p.ppid);
    if (list) list.push(p);
    else children.set(p.ppid, [p]);
  }
  const out: ProcInfo[] = [];
  const rootInfo = all.find((p) => p.pid === root);
  if (!rootInfo) return out;
  const stack = [rootInfo];
  while (stack.length > 0 && out.length < 10_000) {
    const p = stack.pop()!;
    out.push(p);
    stack.push(...(children.get(p.pid) ?? []));
  }
  return out;
}

/**
 * wrangler dev runs two workerd processes: a proxy that owns the public port
 * (and the inspector port), and the runtime that runs the worker. Both carry
 * every connection, so both count.
 */
export interface WorkerdSample {
  rss: number;
  cpuMs: number;
  /** Per process: role ("proxy" owns the public port, "runtime" runs the worker), RSS and CPU. */
  processes: { pid: number; role: "proxy" | "runtime"; rss: number; cpuMs: number }[];
}

export function sampleWorkerd(root: number, publicPort: number): WorkerdSample {
  const processes = processTree(root)
    .filter((p) => p.comm === "workerd")
    .map((p) => ({
      pid: p.pid,
      role: p.args.includes(`entry=127.0.0.1:${publicPort}`) ? ("proxy" as const) : ("runtime" as const),
      rss: p.rss,
      cpuMs: p.cpuMs,
    }));
  return {
    rss: processes.reduce((s, p) => s + p.rss, 0),
    cpuMs: processes.reduce((s, p) => s + p.cpuMs, 0),
    processes,
  };
}

/** CPU ms per role between two samples. */
export function cpuDelta(before: WorkerdSample, after: WorkerdSample): { total: number; proxy: number; runtime: number } {
  const byRole = (s: WorkerdSample, role: string) => s.processes.filter((p) => p.role === role).reduce((t, p) => t + p.cpuMs, 0);
  return {
    total: after.cpuMs - before.cpuMs,
    proxy: byRole(after, "proxy") - byRole(before, "proxy"),
    runtime: byRole(after, "runtime") - byRole(before, "runtime"),
  };
}

/**
 * Waits until workerd is quiet (under `busyFraction` of one core for
 * `quietMs`), or `maxMs` has passed. Returns whether it went quiet.
 */
export async function waitIdle(
  root: number,
  publicPort: number,
  opts: { quietMs?: number; maxMs?: number; busyFraction?: number } = {},
): Promise<boolean> {
  const quietMs = opts.quietMs ?? 400;
  const maxMs = opts.maxMs ?? 10_000;
  // CPU time moves in clock ticks (10 ms at 100 Hz): the default allows one tick per 100 ms window.
  const busy = opts.busyFraction ?? 0.15;
  const deadline = Date.now() + maxMs;
  let last = sampleWorkerd(root, publicPort);
  let quietSince = Date.now();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    const now = sampleWorkerd(root, publicPort);
    if (now.cpuMs - last.cpuMs > busy * 100) quietSince = Date.now();
    last = now;
    if (Date.now() - quietSince >= quietMs) return true;
  }
  return false;
}
