/**
 * The scenarios, each one run against one freshly started server (the real
 * one or the floor). Every wait has a deadline and every loop a count.
 *
 *   pairs    20 users in 10 pairs, 500 messages each way, ≤16 unacked per user
 *   fanin    many senders to one recipient
 *   connect  C sockets as C users, then workerd's RSS per socket
 *   drain    K messages queued for an offline user, then the time to receive them all
 *   crash    (server only) SIGKILL mid-stream, restart, and check every ack was durable
 */
import type { DevServer } from "../node/devserver.ts";
import { BenchSocket, closeAll, type Frame, openAll, tokensFor } from "./client.ts";
import type { BenchOptions } from "./options.ts";
import { cpuDelta, sampleWorkerd, waitIdle } from "./proc.ts";
import { type Metrics, summarize } from "./stats.ts";

export interface RunOutput {
  metrics: Metrics;
  /** Raw latencies (ms) for the chart; not written to JSON. */
  samples: { ack?: number[]; delivery?: number[]; connect?: number[] };
  notes: string[];
}

export interface Ctx {
  server: DevServer;
  opts: BenchOptions;
  /** Unique per run, so user names never repeat. */
  runId: string;
  log: (msg: string) => void;
  /** Which one `server` is. */
  kind: "server" | "floor";
  /** Runs the returns phase of `connect` (the profiler's `return` scenario wraps it alone). */
  returns?: <T>(work: () => Promise<T>) => Promise<T>;
}

// ---- traffic: the shared engine of pairs, fanin and the crash check --------------

export interface Flow {
  sender: BenchSocket;
  to: string;
  count: number;
}

export interface TrafficResult {
  total: number;
  acked: number;
  delivered: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  errors: number;
  errorSamples: string[];
  timedOut: boolean;
  elapsedMs: number;
  msgsPerSec: number;
  ack: number[];
  delivery: number[];
  /** Client id → server id, for every ack received. */
  serverIds: Map<string, string>;
}

interface FlowState {
  flow: Flow;
  sentAt: Float64Array;
  next: number;
  inflight: number;
  acked: number;
  nextAck: number;
  seen: Uint8Array;
  maxSeen: number;
}

/**
 * Each flow pipelines `count` messages with at most `window` unacked. Every
 * socket in `sockets` may send, receive, or both. Resolves when every message
 * is acked and delivered, or at the deadline (what is missing counts as lost).
 */
export function traffic(
  flows: readonly Flow[],
  sockets: readonly BenchSocket[],
  opts: {
    window: number;
    payloadBytes: number;
    phase: string;
    timeoutMs: number;
    /** false: the recipients are offline; done when every message is acked, the rate is of acks. */
    expectDelivery?: boolean;
    onAck?: (acked: number, total: number) => void;
    /** Ends the run early (what is missing counts as lost). */
    signal?: AbortSignal;
  },
): Promise<TrafficResult> {
  const expectDelivery = opts.expectDelivery ?? true;
  const { window, phase } = opts;
  const pad = "x".repeat(Math.max(0, opts.payloadBytes - 24));
  const bySender = new Map<string, FlowState>();
  for (const flow of flows) {
    if (bySender.has(flow.sender.user)) throw new Error(`one flow per sender: ${flow.sender.user}`);
    bySender.set(flow.sender.user, {
      flow,
      sentAt: new Float64Array(flow.count),
      next: 0,
      inflight: 0,
      acked: 0,
      nextAck: 0,
      seen: new Uint8Array(flow.count),
      maxSeen: -1,
    });
  }
  const total = flows.reduce((s, f) => s + f.count, 0);
  const r: TrafficResult = {
    total,
    acked: 0,
    delivered: 0,
    lost: 0,
    duplicated: 0,
    outOfOrder: 0,
    errors: 0,
    errorSamples: [],
    timedOut: false,
    elapsedMs: NaN,
    msgsPerSec: NaN,
    ack: [],
    delivery: [],
    serverIds: new Map(),
  };
  const prefix = `${phase}-`;
  let lastDelivery = NaN;
  let lastAck = NaN;
  const start = performance.now();

  return new Promise<TrafficResult>((resolve) => {
    let finished = false;
    const finish = (timedOut: boolean) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      for (const s of sockets) s.handler = () => {};
      r.timedOut = timedOut;
      r.lost = total - (expectDelivery ? r.delivered : r.acked);
      r.elapsedMs = (expectDelivery ? lastDelivery : lastAck) - start;
      r.msgsPerSec = ((expectDelivery ? r.delivered : r.acked) / r.elapsedMs) * 1000;
      resolve(r);
    };
    const timer = setTimeout(() => finish(true), opts.timeoutMs);
    opts.signal?.addEventListener("abort", () => finish(false), { once: true });
    const maybeDone = () => {
      if (r.acked + r.errors >= total && (!expectDelivery || r.delivered + r.errors >= total)) finish(false);
    };
    const pump = (st: FlowState) => {
      const { sender, to, count } = st.flow;
      while (st.inflight < window && st.next < count) {
        const n = st.next++;
        st.inflight++;
        st.sentAt[n] = performance.now();
        sender.send(
          `{"id":"${prefix}${n}","to":${JSON.stringify(to)},"type":"USER_MSG","content":"TEXT_MESSAGE","message":{"p":"${phase}","n":${n},"pad":"${pad}"}}`,
        );
      }
    };
    const settle = (st: FlowState) => {
      st.inflight--;
      pump(st);
    };
    for (const sock of sockets) {
      sock.handler = (f: Frame, now: number) => {
        if (f.type === "ACK_MSG" && f.content === "MESSAGE_RECEIVED") {
          const st = bySender.get(sock.user);
          if (!st || !f.id?.startsWith(prefix)) return;
          const n = Number(f.id.slice(prefix.length));
          if (n !== st.nextAck) r.outOfOrder++;
          st.nextAck = n + 1;
          st.acked++;
          r.acked++;
          r.serverIds.set(f.id, String(f.message));
          r.ack.push(now - st.sentAt[n]!);
          lastAck = now;
          opts.onAck?.(r.acked, total);
          if (finished) return;
          settle(st);
          maybeDone();
        } else if (f.type === "USER_MSG") {
          const m = f.message as { p?: string; n?: number } | undefined;
          if (m?.p !== phase || typeof m.n !== "number" || f.to !== sock.user) return;
          const st = bySender.get(f.from ?? "");
          if (!st || st.flow.to !== sock.user) return;
          const n = m.n;
          if (st.seen[n]) {
            r.duplicated++;
            return;
          }
          st.seen[n] = 1;
          if (n < st.maxSeen) r.outOfOrder++;
          else st.maxSeen = n;
          r.delivered++;
          lastDelivery = now;
          r.delivery.push(now - st.sentAt[n]!);
          maybeDone();
        } else if (f.type === "SYSTEM_MSG" && f.content === "ERROR") {
          r.errors++;
          if (r.errorSamples.length < 5) r.errorSamples.push(JSON.stringify(f.message));
          const st = bySender.get(sock.user);
          const ref = (f.message as { ref?: string } | undefined)?.ref;
          if (st && ref?.startsWith(prefix)) settle(st);
          maybeDone();
        }
      };
    }
    for (const st of bySender.values()) pump(st);
    if (total === 0) finish(false);
  });
}

function trafficMetrics(t: TrafficResult, cpu: { runtime: number; proxy: number }): Metrics {
  const ack = summarize(t.ack);
  const del = summarize(t.delivery);
  return {
    msgsPerSec: t.msgsPerSec,
    ackP50: ack.p50,
    ackP99: ack.p99,
    deliveryP50: del.p50,
    deliveryP99: del.p99,
    lost: t.lost,
    duplicated: t.duplicated,
    outOfOrder: t.outOfOrder,
    errors: t.errors,
    runtimeCpuUsPerMsg: (cpu.runtime * 1000) / t.total,
    proxyCpuUsPerMsg: (cpu.proxy * 1000) / t.total,
  };
}

function trafficNotes(name: string, t: TrafficResult): string[] {
  const notes: string[] = [];
  if (t.timedOut) notes.push(`${name}: timed out with ${t.acked}/${t.total} acked, ${t.delivered}/${t.total} delivered`);
  if (t.errors) notes.push(`${name}: ${t.errors} error frames, e.g. ${t.errorSamples.join("; ")}`);
  return notes;
}

/** Warm-up (not measured), then the measured phase, with workerd's CPU time around it. */
async function measuredTraffic(ctx: Ctx, flows: (count: number) => Flow[], sockets: BenchSocket[]): Promise<RunOutput> {
  const { opts, server } = ctx;
  const common = { window: opts.window, payloadBytes: opts.payloadBytes, timeoutMs: opts.scenarioTimeoutMs };
  if (opts.warmup > 0) {
    const w = await traffic(flows(opts.warmup), sockets, { ...common, phase: "w" });
    if (w.timedOut) throw new Error(`warm-up timed out: ${trafficNotes("warm-up", w).join("; ")}`);
    await waitIdle(server.process.pid!, server.port, { maxMs: 5_000 });
  }
  const before = sampleWorkerd(server.process.pid!, server.port);
  const client = process.cpuUsage();
  const t = await traffic(flows(opts.messages), sockets, { ...common, phase: "m" });
  const clientCpu = process.cpuUsage(client);
  const after = sampleWorkerd(server.process.pid!, server.port);
  const metrics = trafficMetrics(t, cpuDelta(before, after));
  // The benchmark's own Node process shares the 2 cores: if this nears the message interval, the client is the limit.
  metrics.clientCpuUsPerMsg = (clientCpu.user + clientCpu.system) / t.total;
  return { metrics, samples: { ack: t.ack, delivery: t.delivery }, notes: trafficNotes("measured", t) };
}

// ---- pairs -------------------------------------------------------------------------

export async function pairs(ctx: Ctx): Promise<RunOutput> {
  const { opts, server } = ctx;
  const users = Array.from({ length: opts.pairs * 2 }, (_, i) => `p${ctx.runId}-${i}`);
  const tokens = await tokensFor(users);
  const sockets = await openAll(server.wsUrl, users, tokens, { concurrency: 8 });
  try {
    // i sends to i^1: 0↔1, 2↔3, ...
    const flows = (count: number) => sockets.map((s, i) => ({ sender: s, to: users[i ^ 1]!, count }));
    return await measuredTraffic(ctx, flows, sockets);
  } finally {
    await closeAll(sockets);
  }
}

// ---- fan-in ------------------------------------------------------------------------

export async function fanin(ctx: Ctx): Promise<RunOutput> {
  const { opts, server } = ctx;
  const recipient = `f${ctx.runId}-sink`;
  const users = [recipient, ...Array.from({ length: opts.faninSenders }, (_, i) => `f${ctx.runId}-${i}`)];
  const tokens = await tokensFor(users);
  const sockets = await openAll(server.wsUrl, users, tokens, { concurrency: 8 });
  try {
    const o = { ...ctx, opts: { ...opts, messages: opts.faninMessages } };
    const flows = (count: number) => sockets.slice(1).map((s) => ({ sender: s, to: recipient, count }));
    return await measuredTraffic(o, flows, sockets);
  } finally {
    await closeAll(sockets);
  }
}

// ---- connect -----------------------------------------------------------------------

interface Connected {
  sockets: BenchSocket[];
  opened: number;
  failures: string[];
  elapsedMs: number;
  latencies: number[];
  attempted: number;
}

/** Opens one socket per user, at most `concurrency` handshakes in flight, until done or the deadline. */
async function connectMany(
  server: DevServer,
  users: readonly string[],
  tokens: readonly string[],
  concurrency: number,
  deadline: number,
): Promise<Connected> {
  const sockets: BenchSocket[] = [];
  const failures: string[] = [];
  let failed = 0;
  let next = 0;
  const start = performance.now();
  const worker = async () => {
    while (next < users.length && Date.now() < deadline) {
      const i = next++;
      const sock = BenchSocket.open(server.wsUrl, users[i]!, tokens[i]!, { timeoutMs: 30_000 });
      sockets.push(sock);
      try {
        await sock.hello;
      } catch (err) {
        failed++;
        if (failures.length < 3) failures.push(String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, users.length) }, worker));
  return {
    sockets,
    opened: sockets.length - failed,
    failures,
    elapsedMs: performance.now() - start,
    latencies: sockets.map((s) => s.connectMs).filter(Number.isFinite),
    attempted: next,
  };
}

/**
 * workerd drops an object 10 s after its last request ended
 * (ActorContainer::handleShutdown in server.c++); the next request constructs
 * it again and reopens its SQLite database.
 */
const EVICTION_MS = 10_000;
/** Warm reconnects go in batches this size: each batch is back well inside EVICTION_MS. */
const RECONNECT_BATCH = 200;

/**
 * C new users connect (the measure: a first connect creates the
 * user's object and, on the server, its SQLite schema), then workerd's RSS
 * per socket. Then the same users connect again, twice:
 * - reconnects: each user closes and is back within seconds (a reload, a
 *   network blip), so its object is still in memory;
 * - returns: every object was evicted first (a user back after a while), so
 *   each connect constructs the object and reopens its database.
 * Each is measured on its own: left to chance, a slower server would get more
 * evicted objects than a faster one, and the two would not be compared alike.
 */
export async function connect(ctx: Ctx): Promise<RunOutput> {
  const { opts, server } = ctx;
  const pid = server.process.pid!;
  const users = Array.from({ length: opts.connects }, (_, i) => `c${ctx.runId}-${i}`);
  const warmUsers = Array.from({ length: 8 }, (_, i) => `c${ctx.runId}-warm-${i}`);
  const [tokens, warmTokens] = await Promise.all([tokensFor(users), tokensFor(warmUsers)]);
  // Load the code paths once, so the baseline is a warm server with no sockets.
  await closeAll(await openAll(server.wsUrl, warmUsers, warmTokens, { concurrency: 4 }));
  await waitIdle(pid, server.port, { maxMs: 5_000 });
  const before = sampleWorkerd(pid, server.port);
  const deadline = Date.now() + opts.scenarioTimeoutMs;
  const notes: string[] = [];
  const open: BenchSocket[] = [];
  const connected = async (from: number, to: number, until = deadline) => {
    const c = await connectMany(server, users.slice(from, to), tokens.slice(from, to), opts.connectConcurrency, until);
    open.push(...c.sockets);
    return c;
  };

  try {
    const first = await connected(0, users.length);
    // Let the runtime finish what the connects started before reading memory.
    await waitIdle(pid, server.port, { maxMs: 5_000 });
    const after = sampleWorkerd(pid, server.port);

    const again = emptyConnected();
    let againCpuMs = 0;
    for (let from = 0; from < users.length; from += RECONNECT_BATCH) {
      const to = Math.min(users.length, from + RECONNECT_BATCH);
      await closeAll(first.sockets.slice(from, to), 30_000);
      await waitIdle(pid, server.port, { maxMs: 3_000 });
      const b = sampleWorkerd(pid, server.port);
      const batch = await connected(from, to, Date.now() + opts.scenarioTimeoutMs);
      await waitIdle(pid, server.port, { maxMs: 5_000 });
      againCpuMs += cpuDelta(b, sampleWorkerd(pid, server.port)).runtime;
      addConnected(again, batch);
    }

    await closeAll(again.sockets, 30_000);
    await sleep(EVICTION_MS + 2_000);
    await waitIdle(pid, server.port, { maxMs: 5_000 });
    const beforeReturns = sampleWorkerd(pid, server.port);
    const phase = ctx.returns ?? ((work) => work());
    const back = await phase(() => connected(0, users.length, Date.now() + opts.scenarioTimeoutMs));
    await waitIdle(pid, server.port, { maxMs: 5_000 });
    const backCpu = cpuDelta(beforeReturns, sampleWorkerd(pid, server.port));

    const lat = summarize(first.latencies);
    const relat = summarize(again.latencies);
    const backLat = summarize(back.latencies);
    const cpu = cpuDelta(before, after);
    const n = Math.max(1, first.opened);
    const metrics: Metrics = {
      connectsPerSec: (first.opened / first.elapsedMs) * 1000,
      connectP50: lat.p50,
      connectP99: lat.p99,
      bytesPerConn: (after.rss - before.rss) / n,
      runtimeBytesPerConn: (rssOf(after, "runtime") - rssOf(before, "runtime")) / n,
      proxyBytesPerConn: (rssOf(after, "proxy") - rssOf(before, "proxy")) / n,
      rssBeforeMB: before.rss / 2 ** 20,
      rssAfterMB: after.rss / 2 ** 20,
      runtimeCpuUsPerConn: (cpu.runtime * 1000) / n,
      proxyCpuUsPerConn: (cpu.proxy * 1000) / n,
      reconnectsPerSec: (again.opened / again.elapsedMs) * 1000,
      reconnectP50: relat.p50,
      reconnectP99: relat.p99,
      // The steadier measure of a reconnect: rates on this machine move by ±20% between runs.
      runtimeCpuUsPerReconnect: (againCpuMs * 1000) / Math.max(1, again.opened),
      returnsPerSec: (back.opened / back.elapsedMs) * 1000,
      returnP50: backLat.p50,
      returnP99: backLat.p99,
      runtimeCpuUsPerReturn: (backCpu.runtime * 1000) / Math.max(1, back.opened),
      lost: 3 * users.length - first.opened - again.opened - back.opened,
    };
    for (const [name, c] of [
      ["first connects", first],
      ["reconnects", again],
      ["returns", back],
    ] as const) {
      if (c.opened < users.length)
        notes.push(
          `${name}: ${c.opened}/${users.length} opened${c.attempted < users.length ? " (deadline)" : ""}; ${c.failures.join("; ")}`,
        );
    }
    return { metrics, samples: { connect: first.latencies }, notes };
  } finally {
    await closeAll(open, 30_000);
  }
}

function emptyConnected(): Connected {
  return { sockets: [], opened: 0, failures: [], elapsedMs: 0, latencies: [], attempted: 0 };
}

/** Folds one batch into a phase's totals: the rate is over the time spent connecting, not the waits between batches. */
function addConnected(total: Connected, batch: Connected): void {
  total.sockets.push(...batch.sockets);
  total.opened += batch.opened;
  total.failures.push(...batch.failures.slice(0, Math.max(0, 3 - total.failures.length)));
  total.elapsedMs += batch.elapsedMs;
  total.latencies.push(...batch.latencies);
  total.attempted += batch.attempted;
}

function rssOf(s: ReturnType<typeof sampleWorkerd>, role: "proxy" | "runtime"): number {
  return s.processes.filter((p) => p.role === role).reduce((t, p) => t + p.rss, 0);
}

// ---- offline drain -------------------------------------------------------------------

export async function drain(ctx: Ctx): Promise<RunOutput> {
  const { opts, server } = ctx;
  const sender = `d${ctx.runId}-sender`;
  const recipient = `d${ctx.runId}-offline`;
  const [senderToken, recipientToken] = await tokensFor([sender, recipient]);
  const [s] = await openAll(server.wsUrl, [sender], [senderToken!]);
  const notes: string[] = [];
  let fill: TrafficResult;
  try {
    fill = await traffic([{ sender: s!, to: recipient, count: opts.drain }], [s!], {
      window: opts.drainWindow,
      payloadBytes: opts.payloadBytes,
      phase: "d",
      timeoutMs: opts.scenarioTimeoutMs,
      expectDelivery: false,
    });
  } finally {
    await s!.close();
  }
  notes.push(...trafficNotes("fill", fill));
  // The sender's object hands the outbox to the recipient's after the acks: wait until that is done.
  const quiet = await waitIdle(server.process.pid!, server.port, { maxMs: 15_000 });
  if (!quiet) notes.push("workerd did not go quiet within 15 s after the queue was filled");

  const seen = new Uint8Array(opts.drain);
  let received = 0;
  let duplicated = 0;
  let outOfOrder = 0;
  let maxSeen = -1;
  let last = NaN;
  let firstAt = NaN;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const start = performance.now();
  let r: BenchSocket | undefined;
  await new Promise<void>((resolve) => {
    timer = setTimeout(resolve, opts.scenarioTimeoutMs);
    r = BenchSocket.open(server.wsUrl, recipient, recipientToken!, {
      handler: (f, now) => {
        const m = f.message as { p?: string; n?: number } | undefined;
        if (f.type !== "USER_MSG" || m?.p !== "d" || typeof m.n !== "number") return;
        if (Number.isNaN(firstAt)) firstAt = now;
        if (seen[m.n]) {
          duplicated++;
          return;
        }
        seen[m.n] = 1;
        if (m.n < maxSeen) outOfOrder++;
        else maxSeen = m.n;
        received++;
        last = now;
        if (received === opts.drain) resolve();
      },
    });
    r.hello.catch((err: unknown) => {
      notes.push(String(err));
      resolve();
    });
  });
  clearTimeout(timer);
  const helloMs = r!.connectMs;
  await r!.close();
  const drainMs = last - start;
  return {
    metrics: {
      msgsPerSec: (received / drainMs) * 1000,
      drainMs,
      connectMs: helloMs,
      firstFrameMs: firstAt - start,
      fillMsgsPerSec: fill.msgsPerSec,
      lost: opts.drain - received,
      duplicated,
      outOfOrder: outOfOrder + fill.outOfOrder,
      errors: fill.errors,
    },
    samples: {},
    notes,
  };
}

// ---- crash: is every ack durable? ------------------------------------------------------

/**
 * Server only. A sender pipelines messages to an online recipient; when half
 * are acked, the whole wrangler process group gets SIGKILL. A restart on the
 * same --persist-to must have every acked message in the sender's log (the
 * ack came after the commit), and the recipient must get every acked message
 * (the outbox survives), within `crashRedeliverMs`.
 *
 * This is a sample, not a proof: one kill point per run. It catches an ack
 * sent before its commit only if the kill lands in that window.
 */
export async function crash(opts: BenchOptions, runId: string, start: (persistTo?: string) => Promise<DevServer>): Promise<RunOutput> {
  const notes: string[] = [];
  const sender = `k${runId}-sender`;
  const recipient = `k${runId}-recipient`;
  const [senderToken, recipientToken] = await tokensFor([sender, recipient]);
  let server = await start();
  const persistTo = server.persistTo;
  let acked: TrafficResult;
  try {
    const socks = await openAll(server.wsUrl, [sender, recipient], [senderToken!, recipientToken!]);
    const abort = new AbortController();
    const half = Math.max(1, Math.ceil(opts.crashMessages / 2));
    const killed = server.process;
    const exited = new Promise<void>((resolve) => {
      if (killed.exitCode !== null || killed.signalCode !== null) resolve();
      else killed.once("exit", () => resolve());
    });
    acked = await traffic([{ sender: socks[0]!, to: recipient, count: opts.crashMessages }], socks, {
      window: opts.window,
      payloadBytes: opts.payloadBytes,
      phase: "k",
      timeoutMs: 60_000,
      signal: abort.signal,
      onAck: (n) => {
        if (n !== half) return;
        process.kill(-killed.pid!, "SIGKILL");
        // Acks already in the kernel's buffers still arrive, and count: they were sent, so committed.
        void Promise.race([socks[0]!.closed, sleep(5_000)]).then(() => abort.abort());
      },
    });
    await Promise.race([exited, sleep(10_000)]);
  } finally {
    await server.stop();
  }
  const ackedIds = new Set(acked.serverIds.values());
  notes.push(`killed after ${acked.acked} acks of ${opts.crashMessages}`);

  server = await start(persistTo);
  try {
    // The sender's log: every acked message must be there.
    const logged = new Set<string>();
    await collect(
      server,
      sender,
      senderToken!,
      0,
      (f) => {
        if (f.type === "USER_MSG" && f.from === sender && f.id) logged.add(f.id);
      },
      () => [...ackedIds].every((id) => logged.has(id)),
      5_000,
    );
    const missingFromSenderLog = [...ackedIds].filter((id) => !logged.has(id)).length;

    // The recipient: its log now, then live redelivery from the sender's outbox (an alarm).
    const got = new Set<string>();
    let duplicated = 0;
    let atRestart = -1;
    const t0 = performance.now();
    const redelivered = await collect(
      server,
      recipient,
      recipientToken!,
      0,
      (f) => {
        if (f.type !== "USER_MSG" || f.from !== sender || !f.id) return;
        if (got.has(f.id)) duplicated++;
        got.add(f.id);
      },
      () => [...ackedIds].every((id) => got.has(id)),
      opts.crashRedeliverMs,
      () => (atRestart = [...ackedIds].filter((id) => got.has(id)).length),
    );
    const missingAtRecipient = [...ackedIds].filter((id) => !got.has(id)).length;
    return {
      metrics: {
        acked: ackedIds.size,
        missingFromSenderLog,
        inRecipientLogAtRestart: atRestart,
        missingAtRecipient,
        redeliverMs: redelivered ? performance.now() - t0 : NaN,
        duplicated,
      },
      samples: {},
      notes,
    };
  } finally {
    await server.stop();
  }
}

/**
 * Connects with `since`, feeds every frame to `onFrame`, and returns true as
 * soon as `done()` holds (checked on each frame and every 100 ms), false at
 * `timeoutMs`. `afterReplay` runs once, 300 ms after CONNECTION_ID.
 */
async function collect(
  server: DevServer,
  user: string,
  token: string,
  since: number,
  onFrame: (f: Frame) => void,
  done: () => boolean,
  timeoutMs: number,
  afterReplay?: () => void,
): Promise<boolean> {
  const sock = BenchSocket.open(server.wsUrl, user, token, { since, handler: onFrame });
  try {
    await sock.hello;
    const deadline = Date.now() + timeoutMs;
    let replayed = false;
    const helloAt = Date.now();
    while (Date.now() < deadline) {
      if (!replayed && Date.now() - helloAt >= 300) {
        replayed = true;
        afterReplay?.();
      }
      if (replayed && done()) return true;
      await sleep(100);
    }
    if (!replayed) afterReplay?.();
    return done();
  } finally {
    await sock.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
