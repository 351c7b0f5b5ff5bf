/**
 * storm (server only): a deploy under load. U users are connected through
 * the project's client (LunarLoomClient on Node's WebSocket, tokens from the
 * dev server's /dev/token), S of them sending to each other in a ring, one
 * message every SEND_INTERVAL_MS each. Then the wrangler dev process group
 * gets SIGTERM and a new server starts on the same --persist-to and the same
 * port, as a deploy replaces the server behind one address. Nothing in here
 * reconnects anyone: every client finds the new server by itself, through its
 * own backoff, and resumes with `since`; the senders keep sending throughout
 * (the client's outbox holds what is sent while it is offline).
 *
 * Measured from the SIGTERM: when the last user is back (state "open"), when
 * the last one is caught up (has every message acked to its sender before it
 * was back), the peak of connects (and of attempts) per second, and every
 * message sent: lost (acked, not delivered by the end), duplicated, out of order,
 * and how many were still unacked (in their sender's outbox) at the end.
 */
import { rmSync } from "node:fs";
import { LunarLoomClient, type UserMsgFrame, type WebSocketConstructor } from "../../src/client/index.ts";
import { RETRY_CAP_MS } from "../../src/retry.ts";
import type { DevServer } from "../node/devserver.ts";
import type { BenchOptions } from "./options.ts";
import type { RunOutput } from "./scenarios.ts";
import { type Metrics, summarize } from "./stats.ts";

/** Each sender's pace: 200 senders make 200 msgs/s, a fraction of what pairs sustains here. */
const SEND_INTERVAL_MS = 1000;
/** Traffic before the SIGTERM, so the restart lands on a server that is busy. */
const WARM_MS = 3_000;
/** Sending goes on this long after the last user is back. */
const TAIL_MS = 3_000;
/**
 * Deadline per user for connecting them all, first and after the restart
 * (150 ms: 300 s for 2,000; first connects ran at 12/s with the shared machine at load 8).
 */
const CONNECT_MS_PER_USER = 150;
/**
 * After the last send, every message gets until acks and deliveries have stopped coming for this long:
 * past the longest delivery backoff, so a message waiting out a retry counts as late, not lost.
 */
const QUIET_MS = RETRY_CAP_MS + 5_000;

/** One message: its sender's ring index and number; times are performance.now() ms, NaN until it happens. */
interface Sent {
  at: number;
  acked: number;
  delivered: number;
}

interface User {
  name: string;
  client: LunarLoomClient;
  /** The first drop after the SIGTERM, and the first "open" after it. */
  downAt: number;
  backAt: number;
  /** Drops after it was back (a heartbeat timeout under load, say). */
  dropsAfterBack: number;
}

/**
 * The most events within any window of `windowMs` (a sliding window, so a
 * burst split by a bucket edge still counts whole). `times` need not be sorted.
 */
export function peakRate(times: readonly number[], windowMs = 1000): number {
  const t = [...times].sort((a, b) => a - b);
  let peak = 0;
  for (let lo = 0, hi = 0; hi < t.length; hi++) {
    while (t[hi]! - t[lo]! >= windowMs) lo++;
    peak = Math.max(peak, hi - lo + 1);
  }
  return peak;
}

/**
 * When a user who was back at `backAt` was caught up: once it had every
 * message acked to its sender before `backAt` (what it had missed), or at
 * `backAt` if it had missed nothing. NaN if one of those never arrived.
 */
export function caughtUpAt(backAt: number, inbound: readonly Sent[]): number {
  let at = backAt;
  for (const m of inbound) if (m.acked <= backAt) at = Math.max(at, m.delivered);
  return at;
}

/** Events per second from `from`, as "n, n, …" (the shape of the herd, for the notes). */
export function perSecond(times: readonly number[], from: number, seconds: number): string {
  const buckets = new Array<number>(seconds).fill(0);
  for (const t of times) {
    const i = Math.floor((t - from) / 1000);
    if (i >= 0 && i < seconds) buckets[i]!++;
  }
  return buckets.join(", ");
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `done` every 50 ms until it holds or `deadline` (Date.now()) passes; returns whether it held. */
async function until(done: () => boolean, deadline: number): Promise<boolean> {
  while (!done()) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/**
 * `start()` starts the first server (its state kept for the restart);
 * `start(persistTo, port)` the one after the deploy.
 */
export async function storm(
  opts: BenchOptions,
  runId: string,
  start: (persistTo?: string, port?: number) => Promise<DevServer>,
  log: (msg: string) => void,
): Promise<RunOutput> {
  const U = opts.stormUsers;
  const S = Math.min(opts.stormSenders, U);
  // A ring of one would be a user writing to themself.
  if (S === 1) throw new Error("storm needs 0 senders or at least 2");
  const notes: string[] = [];
  const budgetMs = Math.max(opts.scenarioTimeoutMs, U * CONNECT_MS_PER_USER);
  let server = await start();
  const { persistTo, port } = server;
  const url = server.url;
  const names = Array.from({ length: U }, (_, i) => `st${runId}-${i}`);

  /** The SIGTERM; nothing before it counts as the storm. */
  let t0 = Number.POSITIVE_INFINITY;
  // Every handshake after the SIGTERM must resume with `since`.
  let withoutSince = 0;
  const Counted = class extends WebSocket {
    constructor(wsUrl: string) {
      super(wsUrl);
      if (performance.now() >= t0 && !new URL(wsUrl).searchParams.has("since")) withoutSince++;
    }
  } as unknown as WebSocketConstructor;

  /** Connection attempts (a token request, then a handshake) and successes ("open"), after the SIGTERM. */
  const attempts: number[] = [];
  const opens: number[] = [];
  const sent: Sent[][] = Array.from({ length: S }, () => []);
  let duplicated = 0;
  let outOfOrder = 0;
  let refused = 0;
  const users: User[] = names.map((name, i) => {
    const client = new LunarLoomClient({
      url,
      token: async () => {
        const res = await fetch(`${url}/dev/token?user=${encodeURIComponent(name)}`);
        if (!res.ok) throw new Error(`/dev/token: ${res.status}`);
        return ((await res.json()) as { token: string }).token;
      },
      WebSocket: Counted,
      network: null,
    });
    const user: User = { name, client, downAt: NaN, backAt: NaN, dropsAfterBack: 0 };
    client.on("state", (s) => {
      const now = performance.now();
      if (s.status === "connecting" && now >= t0) attempts.push(now);
      else if (s.status === "open") {
        if (now >= t0) opens.push(now);
        if (!Number.isNaN(user.downAt) && Number.isNaN(user.backAt)) user.backAt = now;
      } else if (s.status === "offline" && now >= t0) {
        if (Number.isNaN(user.downAt)) user.downAt = now;
        else if (!Number.isNaN(user.backAt)) user.dropsAfterBack++;
      }
    });
    if (i < S) {
      // Ring: sender i-1 writes to i; payload n counts up per sender.
      const from = names[(i - 1 + S) % S]!;
      const inbound = sent[(i - 1 + S) % S]!;
      let maxSeen = -1;
      client.on("message", (f: UserMsgFrame) => {
        const m = f.message as { r?: string; n?: number };
        if (f.from !== from || f.to !== name || m.r !== runId || typeof m.n !== "number") return;
        const rec = inbound[m.n];
        if (!rec) return;
        if (!Number.isNaN(rec.delivered)) {
          duplicated++;
          return;
        }
        rec.delivered = performance.now();
        if (m.n < maxSeen) outOfOrder++;
        else maxSeen = m.n;
      });
    }
    return user;
  });

  let sending: ReturnType<typeof setInterval> | undefined;
  try {
    // Connect everyone, at most connectConcurrency handshakes in flight, each until its backlog is in.
    const connectStart = performance.now();
    let next = 0;
    // Users connect one by one as an app's would, token first.
    const connectDeadline = Date.now() + budgetMs;
    const worker = async () => {
      while (next < U && Date.now() < connectDeadline) {
        const u = users[next++]!;
        const synced = new Promise<void>((resolve) => {
          const off = u.client.on("synced", () => {
            off();
            resolve();
          });
        });
        u.client.connect();
        await Promise.race([synced, sleep(30_000)]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(opts.connectConcurrency, U) }, worker));
    const connected = users.filter((u) => u.client.state.status === "open").length;
    if (connected < U) throw new Error(`only ${connected}/${U} users connected before the deadline`);
    log(`  storm: ${U} users connected in ${((performance.now() - connectStart) / 1000).toFixed(1)} s; ${S} senders start`);

    // The senders: each one message every SEND_INTERVAL_MS, staggered so the load is even.
    const due = Array.from({ length: S }, (_, i) => performance.now() + (i * SEND_INTERVAL_MS) / S);
    sending = setInterval(() => {
      const now = performance.now();
      for (let i = 0; i < S; i++) {
        if (now < due[i]!) continue;
        due[i] = Math.max(due[i]! + SEND_INTERVAL_MS, now);
        const rec: Sent = { at: now, acked: NaN, delivered: NaN };
        const n = sent[i]!.push(rec) - 1;
        const out = users[i]!.client.send(names[(i + 1) % S]!, { r: runId, n });
        out.acked.then(
          () => (rec.acked = performance.now()),
          () => refused++,
        );
      }
    }, 10);
    await sleep(WARM_MS);

    // The deploy: SIGTERM to wrangler's process group, then a new server on the same state and port.
    t0 = performance.now();
    await server.stop();
    const stoppedMs = performance.now() - t0;
    server = await start(persistTo, port);
    const upAt = performance.now();
    const waiting = { connecting: 0, offline: 0 };
    for (const u of users)
      if (u.client.state.status === "connecting" || u.client.state.status === "offline") waiting[u.client.state.status]++;
    log(`  storm: server stopped in ${stoppedMs.toFixed(0)} ms, back up ${((upAt - t0) / 1000).toFixed(1)} s after the SIGTERM`);

    const allBack = await until(() => users.every((u) => !Number.isNaN(u.backAt)), Date.now() + budgetMs);
    const lastBack = Math.max(...users.map((u) => u.backAt).filter(Number.isFinite));
    await sleep(TAIL_MS);
    clearInterval(sending);
    sending = undefined;
    const all = sent.flat();
    /** Messages whose recipient never came back cannot arrive: the run failed on time, not on loss. */
    const toBack = sent.flatMap((msgs, i) => (Number.isNaN(users[(i + 1) % S]!.backAt) ? [] : msgs));
    // A backlog drains slowly on a busy machine: what is still moving is late, not lost.
    const progress = () => all.reduce((n, m) => n + (Number.isNaN(m.acked) ? 0 : 1) + (Number.isNaN(m.delivered) ? 0 : 1), 0);
    const settleDeadline = Date.now() + budgetMs;
    let seen = progress();
    let movedAt = Date.now();
    const settled = await until(() => {
      const now = progress();
      if (now !== seen) [seen, movedAt] = [now, Date.now()];
      return now === 2 * all.length || Date.now() - movedAt > QUIET_MS;
    }, settleDeadline).then((ok) => ok && progress() === 2 * all.length);

    const caught = users.map((u, i) => (i < S ? caughtUpAt(u.backAt, sent[(i - 1 + S) % S]!) : u.backAt));
    const back = summarize(users.map((u) => u.backAt - t0).filter(Number.isFinite));
    const neverDown = users.filter((u) => Number.isNaN(u.downAt)).length;
    const notBack = users.filter((u) => Number.isNaN(u.backAt)).length;
    const metrics: Metrics = {
      restartMs: upAt - t0,
      backMs: allBack ? lastBack - t0 : NaN,
      // wrangler's /health answers late under load: the first user can be back well before it.
      firstBackMs: opens.length ? Math.min(...opens) - t0 : NaN,
      backSpreadMs: allBack && opens.length ? lastBack - Math.min(...opens) : NaN,
      backP50Ms: back.p50,
      caughtUpMs: allBack && caught.every(Number.isFinite) ? Math.max(...caught) - t0 : NaN,
      peakConnectsPerSec: peakRate(opens),
      peakAttemptsPerSec: peakRate(attempts),
      attemptsPerUser: attempts.length / U,
      dropsAfterBack: users.reduce((s, u) => s + u.dropsAfterBack, 0),
      withoutSince,
      sent: all.length,
      unacked: all.filter((m) => Number.isNaN(m.acked)).length,
      // The server's promise: an acked message reaches its recipient (once it is back). Unacked ones are still in the sender's outbox.
      lost: toBack.filter((m) => !Number.isNaN(m.acked) && Number.isNaN(m.delivered)).length,
      duplicated,
      outOfOrder,
      errors: refused,
    };
    const span = Number.isFinite(lastBack) ? Math.min(90, Math.ceil((lastBack - t0) / 1000) + 1) : 90;
    notes.push(
      `per second from the SIGTERM (new server answering in second ${Math.floor((upAt - t0) / 1000)}): attempts ${perSecond(attempts, t0, span)}; connects ${perSecond(opens, t0, span)}`,
      `when the new server answered: ${waiting.connecting} users mid-attempt, ${waiting.offline} waiting out a backoff`,
    );
    if (neverDown) notes.push(`${neverDown} clients never saw the old server go`);
    if (notBack) notes.push(`${notBack} users not back within ${budgetMs} ms`);
    if (!settled) {
      const stranded = all.length - toBack.length;
      notes.push(
        `at the end (nothing moved for ${QUIET_MS} ms, or the deadline): ${metrics.unacked} unacked, ${metrics.lost} acked but not delivered to a user who was back` +
          (stranded ? `; ${stranded} sent to users not back` : ""),
      );
    }
    if (refused) notes.push(`${refused} sends refused for good`);
    return { metrics, samples: { connect: users.map((u) => u.backAt - upAt).filter(Number.isFinite) }, notes };
  } finally {
    clearInterval(sending);
    for (const u of users) u.client.close();
    await server.stop();
    // Also when the restart never came up: the first server keeps its state for it.
    rmSync(persistTo, { recursive: true, force: true });
  }
}
