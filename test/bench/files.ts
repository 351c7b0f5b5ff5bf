/**
 * The `files` scenario: upload and download throughput of a file of
 * `fileMiB` MiB through `wrangler dev` (its local R2), against the floor
 * worker, which puts and gets the same bytes to R2 with no checks (no
 * token, no access check, no allowance), so the ratio is what the server's
 * checks and serving cost. Each way is timed `fileTransfers` times, one
 * transfer at a time, and the median taken.
 *
 * Memory: workerd's resident set (all its processes: the Worker and the
 * local R2 it writes to) is sampled every 20 ms while 1 MiB files and then
 * `fileMiB` MiB files go up and down; the peak above the resting level is
 * reported for each size. A Worker that streams holds a buffer's worth
 * whatever the size, so the two peaks stay close; one that buffered would
 * grow by the file's size.
 */
import { tokensFor } from "./client.ts";
import { sampleWorkerd, waitIdle } from "./proc.ts";
import type { Ctx, RunOutput } from "./scenarios.ts";
import { median } from "./stats.ts";

const MiB = 1024 * 1024;

export async function files(ctx: Ctx): Promise<RunOutput> {
  const { server, opts } = ctx;
  const [uploader, peer] = [`fu${ctx.runId}`, `fp${ctx.runId}`];
  const [token] = await tokensFor([uploader]);
  const auth = { Authorization: `Bearer ${token}` };
  const pid = server.process.pid!;

  const upload = async (body: Uint8Array): Promise<string> => {
    const res = await fetch(`${server.url}/v1/files?conversation=${peer}&name=bench.bin`, {
      method: "POST",
      headers: { ...auth, "Content-Type": "application/octet-stream" },
      body,
    });
    const text = await res.text();
    if (res.status !== 201) throw new Error(`upload: ${res.status} ${text.slice(0, 200)}`);
    return (JSON.parse(text) as { file: string }).file;
  };
  const download = async (id: string, size: number): Promise<void> => {
    const res = await fetch(`${server.url}/v1/files/${id}`, { headers: auth });
    let got = 0;
    for await (const chunk of res.body!) got += (chunk as Uint8Array).byteLength;
    if (res.status !== 200 || got !== size) throw new Error(`download: ${res.status}, ${got} of ${size} bytes`);
  };
  /** Peak workerd RSS above `base` while `work` runs. */
  const peakOver = async (base: number, work: () => Promise<void>): Promise<number> => {
    let peak = base;
    const timer = setInterval(() => {
      peak = Math.max(peak, sampleWorkerd(pid, server.port).rss);
    }, 20);
    try {
      await work();
    } finally {
      clearInterval(timer);
    }
    return Math.max(peak, sampleWorkerd(pid, server.port).rss) - base;
  };

  const big = new Uint8Array(opts.fileMiB * MiB).map((_, i) => i & 0xff);
  const small = big.subarray(0, MiB);
  // Warm: the first request of a fresh wrangler dev compiles and starts the Worker and the local bucket.
  await download(await upload(small), small.length);
  await waitIdle(pid, server.port, { maxMs: 5_000 });

  const upMs: number[] = [];
  const downMs: number[] = [];
  const ids: string[] = [];
  for (let i = 0; i < opts.fileTransfers; i++) {
    const t0 = performance.now();
    ids.push(await upload(big));
    upMs.push(performance.now() - t0);
  }
  for (const id of ids) {
    const t0 = performance.now();
    await download(id, big.length);
    downMs.push(performance.now() - t0);
  }

  await waitIdle(pid, server.port, { maxMs: 5_000 });
  const base = sampleWorkerd(pid, server.port).rss;
  const round = (body: Uint8Array) => async () => {
    for (let i = 0; i < opts.fileTransfers; i++) await download(await upload(body), body.length);
  };
  const peak1 = await peakOver(base, round(small));
  await waitIdle(pid, server.port, { maxMs: 5_000 });
  const peakBig = await peakOver(sampleWorkerd(pid, server.port).rss, round(big));

  const mibPerSec = (ms: number[]) => opts.fileMiB / (median(ms) / 1000);
  return {
    metrics: {
      uploadMiBps: mibPerSec(upMs),
      downloadMiBps: mibPerSec(downMs),
      uploadMs: median(upMs),
      downloadMs: median(downMs),
      rssPeak1MiB: peak1,
      rssPeakBig: peakBig,
    },
    samples: {},
    notes: [`${opts.fileTransfers} transfers of ${opts.fileMiB} MiB each way, one at a time`],
  };
}
