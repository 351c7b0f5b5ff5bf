/**
 * The v2 scenarios: what conversations, groups and presence cost.
 *
 *   history   (server only) a 50-message page and the conversation list, at
 *             100 log rows and at 10,000 log rows with 1,000 conversations,
 *             a third of the paged conversation's messages edited or reacted to
 *   group     G members each with one socket, S senders pipelining to the
 *             group: member deliveries/s and send-to-last-member latency;
 *             the floor fans out through a group object with no storage
 *   presence  (server only) users watching each other in groups of 21; one
 *             user's connect/disconnect, with 20 watchers and with none:
 *             workerd CPU per transition
 */
import { DEV_API_KEY } from "../../src/auth/devtoken.ts";
import { BenchSocket, closeAll, type Frame, openAll, tokensFor } from "./client.ts";
import { cpuDelta, sampleWorkerd, waitIdle } from "./proc.ts";
import type { Ctx, RunOutput } from "./scenarios.ts";
import { type Metrics, summarize } from "./stats.ts";

export function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms)));
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

// ---- history -------------------------------------------------------------------------

/**
 * Pipelines `count` frames from one socket (`frame(n)` is the n-th, with the
 * client id `id(n)`); resolves with the server ids of their acks, in order.
 */
async function pipeline(
  sock: BenchSocket,
  count: number,
  id: (n: number) => string,
  frame: (n: number) => string,
  window = 64,
  // A loaded machine logs a 10,000-message fill at well under 100 messages a second.
  timeoutMs = 600_000,
): Promise<string[]> {
  const serverIds: string[] = new Array(count);
  const index = new Map(Array.from({ length: count }, (_, n) => [id(n), n]));
  let next = 0;
  let acked = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pipeline: ${acked}/${count} acked before the deadline`)), timeoutMs);
    const pump = () => {
      while (next < count && next - acked < window) sock.send(frame(next++));
    };
    sock.handler = (f) => {
      if (f.content !== "MESSAGE_RECEIVED") return;
      serverIds[index.get(f.id as string)!] = f.message as string;
      if (++acked === count) {
        clearTimeout(timer);
        resolve();
      } else pump();
    };
    pump();
  });
  return serverIds;
}

/** Pipelines `count` messages from one socket, `to(n)` naming each recipient; resolves with their server ids. */
function fill(sock: BenchSocket, count: number, to: (n: number) => string): Promise<string[]> {
  const id = (n: number) => `h${n}`;
  return pipeline(
    sock,
    count,
    id,
    (n) => `{"id":"${id(n)}","to":${JSON.stringify(to(n))},"type":"USER_MSG","content":"TEXT_MESSAGE","message":{"n":${n}}}`,
  );
}

/** Edits or reacts to each of `targets` (alternately), in the conversation with `to`. */
function change(sock: BenchSocket, to: string, targets: string[]): Promise<string[]> {
  const id = (n: number) => `c${n}`;
  const peer = JSON.stringify(to);
  return pipeline(sock, targets.length, id, (n) =>
    n % 2 === 0
      ? `{"id":"${id(n)}","to":${peer},"type":"USER_MSG","content":"MESSAGE_EDIT","ref":"${targets[n]}","message":{"n":${n},"edited":true}}`
      : `{"id":"${id(n)}","to":${peer},"type":"USER_MSG","content":"REACTION","ref":"${targets[n]}","message":{"key":"👍","on":true}}`,
  );
}

async function timeRequests(url: string, token: string, paths: string[]): Promise<number[]> {
  const out: number[] = [];
  for (const path of paths) {
    const t0 = performance.now();
    const res = await fetch(`${url}${path}`, { headers: { Authorization: `Bearer ${token}` } });
    await res.text();
    if (!res.ok) throw new Error(`${path}: ${res.status}`);
    out.push(performance.now() - t0);
  }
  return out;
}

export async function history(ctx: Ctx): Promise<RunOutput> {
  const { server, opts } = ctx;
  const small = `hs${ctx.runId}`;
  const large = `hl${ctx.runId}`;
  const [smallToken, largeToken] = await tokensFor([small, large]);
  const [s, l] = await openAll(server.wsUrl, [small, large], [smallToken!, largeToken!]);
  try {
    await fill(s!, 100, () => `${small}-peer`);
    // Half to one peer (the conversation paged), the rest over 999 others: 1,000 conversations. A third
    // of the paged conversation's messages are then edited or reacted to (history joins their state
    // rows); those changes are log rows too, so the messages are 6/7 of the log's rows.
    const messages = Math.round((opts.historyRows * 6) / 7);
    const sent = await fill(l!, messages, (n) => (n % 2 === 0 ? `${large}-peer` : `${large}-c${n % 999}`));
    await change(
      l!,
      `${large}-peer`,
      sent.filter((_, n) => n % 6 === 0),
    );
  } finally {
    await closeAll([s, l]);
  }
  await waitIdle(server.process.pid!, server.port, { maxMs: 15_000 });
  const n = opts.historyRequests;
  const pages = (user: string) =>
    Array.from({ length: n }, (_, i) => `/v1/conversations/${user}-peer/messages?limit=50${i % 2 ? "" : `&before=${100 + (i % 40)}`}`);
  const lists = () => Array.from({ length: n }, () => "/v1/conversations?limit=50");
  const smallPage = summarize(await timeRequests(server.url, smallToken!, pages(small)));
  const largePage = summarize(await timeRequests(server.url, largeToken!, pages(large)));
  const smallList = summarize(await timeRequests(server.url, smallToken!, lists()));
  const largeList = summarize(await timeRequests(server.url, largeToken!, lists()));
  // What the large pages hold: messages as they are now, a third of them changed.
  const newest = await fetch(`${server.url}/v1/conversations/${large}-peer/messages?limit=50`, {
    headers: { Authorization: `Bearer ${largeToken}` },
  });
  const items = ((await newest.json()) as { messages: { edited?: string; reactions?: unknown[] }[] }).messages;
  const changed = items.filter((m) => m.edited !== undefined || m.reactions !== undefined).length;
  return {
    metrics: {
      page100P50: smallPage.p50,
      page100P99: smallPage.p99,
      page10kP50: largePage.p50,
      page10kP99: largePage.p99,
      pageGrowth: largePage.p50 / smallPage.p50,
      list100P50: smallList.p50,
      list100P99: smallList.p99,
      list10kP50: largeList.p50,
      list10kP99: largeList.p99,
      listGrowth: largeList.p50 / smallList.p50,
    },
    samples: {},
    notes: [`history: the large log's newest page holds ${changed} of ${items.length} messages edited or reacted to`],
  };
}

// ---- group ---------------------------------------------------------------------------

async function createGroup(ctx: Ctx, kind: "server" | "floor", members: string[]): Promise<string> {
  const { server } = ctx;
  if (kind === "floor") {
    const id = `group:${crypto.randomUUID()}`;
    const res = await fetch(`${server.url}/floor/groups/${encodeURIComponent(id)}`, { method: "POST", body: JSON.stringify({ members }) });
    if (!res.ok) throw new Error(`floor group: ${res.status}`);
    return id;
  }
  const res = await fetch(`${server.url}/v1/admin/groups`, {
    method: "POST",
    headers: { Authorization: `Bearer ${DEV_API_KEY}`, "Content-Type": "application/json" },
    body: JSON.stringify({ name: "bench", members }),
  });
  if (res.status !== 201) throw new Error(`group: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

export async function group(ctx: Ctx, kind: "server" | "floor"): Promise<RunOutput> {
  const { server, opts } = ctx;
  const G = opts.groupMembers;
  const S = opts.groupSenders;
  const M = opts.groupMessages;
  const users = Array.from({ length: G }, (_, i) => `g${ctx.runId}-${i}`);
  const tokens = await tokensFor(users);
  const sockets = await openAll(server.wsUrl, users, tokens, { concurrency: 16 });
  const notes: string[] = [];
  try {
    // Every member has the group's created event (and so the membership) before anyone sends.
    const joined = Promise.all(
      sockets.map((s) => new Promise<void>((resolve) => (s.handler = (f) => f.content === "GROUP_EVENT" && resolve()))),
    );
    const id = await createGroup(ctx, kind, users);
    if (kind === "server") await withDeadline(joined, 30_000, "every member's created event");
    await waitIdle(server.process.pid!, server.port, { maxMs: 10_000 });
    const total = S * M;
    const sentAt = new Float64Array(total);
    const receivedBy = new Uint16Array(total);
    const lastAt = new Float64Array(total);
    const orders: string[][] = users.map(() => []);
    let deliveries = 0;
    let duplicated = 0;
    const expected = total * (G - 1);
    const seen = users.map(() => new Uint8Array(total));
    const before = sampleWorkerd(server.process.pid!, server.port);
    const start = performance.now();
    let end = NaN;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, opts.scenarioTimeoutMs);
      const inflight = new Array<number>(S).fill(0);
      const next = new Array<number>(S).fill(0);
      const pump = (s: number) => {
        while (inflight[s]! < opts.window && next[s]! < M) {
          const k = s * M + next[s]!++;
          inflight[s]!++;
          sentAt[k] = performance.now();
          sockets[s]!.send(`{"id":"gm${k}","to":"${id}","type":"USER_MSG","content":"TEXT_MESSAGE","message":{"k":${k}}}`);
        }
      };
      sockets.forEach((sock, i) => {
        sock.handler = (f: Frame, now: number) => {
          if (f.content === "MESSAGE_RECEIVED" && i < S) {
            inflight[i]!--;
            pump(i);
            return;
          }
          if (f.type !== "USER_MSG" || f.to !== id || f.from === sock.user) return;
          const k = (f.message as { k: number }).k;
          if (seen[i]![k]) {
            duplicated++;
            return;
          }
          seen[i]![k] = 1;
          orders[i]!.push(String(f.id));
          deliveries++;
          if (++receivedBy[k]! === G - 1) lastAt[k] = now;
          if (deliveries === expected) {
            end = now;
            clearTimeout(timer);
            resolve();
          }
        };
      });
      for (let s = 0; s < S; s++) pump(s);
    });
    const after = sampleWorkerd(server.process.pid!, server.port);
    const cpu = cpuDelta(before, after);
    const latency = summarize(Array.from(lastAt, (t, k) => t - sentAt[k]!).filter((v) => Number.isFinite(v) && v > 0));
    // Every member sees the same order: compare each member's sequence with member S's (a non-sender) on shared messages.
    let outOfOrder = 0;
    const reference = orders[S] ?? [];
    const rank = new Map(reference.map((x, i) => [x, i]));
    for (const order of orders) {
      let last = -1;
      for (const x of order) {
        const r = rank.get(x);
        if (r === undefined) continue;
        if (r < last) outOfOrder++;
        last = r;
      }
    }
    const elapsed = (Number.isNaN(end) ? performance.now() : end) - start;
    const metrics: Metrics = {
      deliveriesPerSec: (deliveries / elapsed) * 1000,
      lastMemberP50: latency.p50,
      lastMemberP99: latency.p99,
      runtimeCpuUsPerDelivery: (cpu.runtime * 1000) / Math.max(1, deliveries),
      lost: expected - deliveries,
      duplicated,
      outOfOrder,
    };
    if (deliveries < expected) notes.push(`${deliveries}/${expected} deliveries before the deadline`);
    return { metrics, samples: { delivery: Array.from(lastAt, (t, k) => t - sentAt[k]!).filter((v) => v > 0) }, notes };
  } finally {
    await closeAll(sockets);
  }
}

// ---- presence ------------------------------------------------------------------------

export async function presence(ctx: Ctx): Promise<RunOutput> {
  const { server, opts } = ctx;
  const groups = Math.ceil(opts.presenceUsers / 21);
  const users = Array.from({ length: groups * 21 }, (_, i) => `pr${ctx.runId}-${i}`);
  const tokens = await tokensFor(users);
  for (let g = 0; g < groups; g++) await createGroup(ctx, "server", users.slice(g * 21, g * 21 + 21));
  const sockets = await openAll(server.wsUrl, users, tokens, { concurrency: 16 });
  const loner = `pr${ctx.runId}-alone`;
  const [lonerToken] = await tokensFor([loner]);
  try {
    // Each socket watches the 20 others of its group (they share the group: allowed).
    await new Promise((r) => setTimeout(r, 2000));
    const answered = await Promise.all(
      sockets.map((s, i) => {
        const g = Math.floor(i / 21);
        const others = users.slice(g * 21, g * 21 + 21).filter((u) => u !== s.user);
        return new Promise<number>((resolve) => {
          let n = 0;
          const timer = setTimeout(() => resolve(n), 30_000);
          s.handler = (f) => {
            if (f.content === "PRESENCE" && ++n === 20) {
              clearTimeout(timer);
              resolve(n);
            }
          };
          s.send(JSON.stringify({ type: "EVENT_MSG", content: "PRESENCE_SUBSCRIBE", message: others }));
        });
      }),
    );
    const watching = answered.reduce((a, b) => a + b, 0);
    await waitIdle(server.process.pid!, server.port, { maxMs: 15_000 });
    // One watched user (the first of group 0) goes online and offline K times; then a user nobody watches.
    const K = opts.presenceCycles;
    let heard = 0;
    for (const s of sockets.slice(1, 21)) s.handler = (f) => f.content === "PRESENCE" && heard++;
    await sockets[0]!.close();
    await waitIdle(server.process.pid!, server.port, { maxMs: 5_000 });
    heard = 0;
    const cycle = async (user: string, token: string): Promise<number> => {
      const before = sampleWorkerd(server.process.pid!, server.port);
      for (let k = 0; k < K; k++) {
        const s = BenchSocket.open(server.wsUrl, user, token);
        await s.hello;
        await s.close();
      }
      await waitIdle(server.process.pid!, server.port, { maxMs: 5_000 });
      return cpuDelta(before, sampleWorkerd(server.process.pid!, server.port)).runtime;
    };
    const watchedCpuMs = await cycle(users[0]!, tokens[0]!);
    const heardWatched = heard;
    const aloneCpuMs = await cycle(loner, lonerToken!);
    return {
      metrics: {
        watchRegistrations: watching,
        /** Each PRESENCE frame is one watcher's presenceChanged() RPC that found its socket. */
        presenceFramesPerTransition: heardWatched / (2 * K),
        cpuUsPerTransitionWatched: (watchedCpuMs * 1000) / (2 * K),
        cpuUsPerTransitionAlone: (aloneCpuMs * 1000) / (2 * K),
      },
      samples: {},
      notes: [],
    };
  } finally {
    await closeAll(sockets);
  }
}
