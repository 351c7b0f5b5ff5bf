/**
 * Starts a real `wrangler dev` on a free loopback port, for end-to-end tests
 * and the benchmark. Each server gets its own ports (HTTP and inspector) so
 * several can run at once, and is stopped with its whole process group.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEV_API_KEY, DEV_AUTH_SECRET } from "../../src/auth/devtoken.ts";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface DevServer {
  /** http://127.0.0.1:PORT */
  url: string;
  /** ws://127.0.0.1:PORT */
  wsUrl: string;
  port: number;
  /** The DevTools inspector port wrangler exposes (CPU profiles of the worker's isolate). */
  inspectorPort: number;
  persistTo: string;
  /** The wrangler process; workerd runs in its process group. */
  process: ChildProcess;
  /** Everything wrangler and the Worker printed so far (the Worker's JSON log lines among it). */
  output(): string;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  /** Reuse a state directory (to restart "the same" server); a fresh temp dir by default. */
  persistTo?: string;
  /** A wrangler config other than the project's (the benchmark's floor worker). */
  config?: string;
  /** Extra `--var`s; AUTH_SECRET, API_KEY and DEV_TOKENS are set to `npm start`'s values unless given. */
  vars?: Record<string, string>;
  /** ms to wait for the server to answer. */
  startTimeoutMs?: number;
  /**
   * The HTTP port, e.g. the one a stopped server had, so its clients find the
   * new one as they would after a deploy; a free one by default.
   */
  port?: number;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Waits until `port` can be bound on loopback (the old server's processes may still hold it), at most `ms`. */
async function portReleased(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once("error", () => resolve(false));
      srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
    });
    if (free) return;
    if (Date.now() > deadline) throw new Error(`port ${port} is still in use after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  // Another process can take a free port between our probe and wrangler's bind (test runs in parallel): take new ones.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(opts);
    } catch (err) {
      if (opts.port !== undefined || attempt === 3 || !String(err).includes("Address already in use")) throw err;
    }
  }
}

async function launch(opts: DevServerOptions): Promise<DevServer> {
  if (opts.port !== undefined) await portReleased(opts.port, 10_000);
  const port = opts.port ?? (await freePort());
  const inspectorPort = await freePort();
  const persistTo = opts.persistTo ?? mkdtempSync(join(tmpdir(), "lunarloom-"));
  const vars = { AUTH_SECRET: DEV_AUTH_SECRET, API_KEY: DEV_API_KEY, DEV_TOKENS: "on", ...opts.vars };
  const args = [
    "dev",
    "--config",
    opts.config ?? join(ROOT, "wrangler.toml"),
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-port",
    String(inspectorPort),
    "--persist-to",
    persistTo,
    "--show-interactive-dev-session=false",
    ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
  ];
  // process.execPath: the Node 22 that runs us (wrangler refuses older ones).
  const child = spawn(process.execPath, [join(ROOT, "node_modules/wrangler/bin/wrangler.js"), ...args], {
    cwd: ROOT,
    detached: true, // its own process group, so stop() also ends workerd
    stdio: ["ignore", "pipe", "pipe"],
    // Local tracing and the data explorer cost ~3x on load and are not needed here.
    env: { ...process.env, X_LOCAL_OBSERVABILITY: "false", X_LOCAL_EXPLORER: "false", WRANGLER_SEND_METRICS: "false", CI: "true" },
  });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const url = `http://127.0.0.1:${port}`;
  const server: DevServer = {
    url,
    wsUrl: `ws://127.0.0.1:${port}`,
    port,
    inspectorPort,
    persistTo,
    process: child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid!, "SIGTERM");
      } catch {
        return;
      }
      const killer = setTimeout(() => {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          // already gone
        }
      }, 5000);
      await exited;
      clearTimeout(killer);
    },
  };

  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited early:\n${output}`);
    if (output.includes("Ready on")) {
      try {
        await fetch(`${url}/health`);
        return server;
      } catch {
        // not listening yet
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await server.stop();
  throw new Error(`wrangler dev did not start within the timeout:\n${output}`);
}
