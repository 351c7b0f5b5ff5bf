/**
 * `npm run repro:close-delay`: starts worker.ts under `wrangler dev` and times
 * one server-side close (4008) from the client's side, twice: for a socket
 * that never sent a frame, and for one that sent the text `ping` first (the
 * runtime's auto-response answers it without waking the object). For each it
 * prints when the Close frame arrived and when the TCP connection ended.
 */
import { join } from "node:path";
import WebSocket from "ws";
import { ROOT, startDevServer } from "../../node/devserver.ts";

const server = await startDevServer({ config: join(ROOT, "test/repro/close-delay/wrangler.toml") });
try {
  for (const pingFirst of [false, true]) {
    const room = crypto.randomUUID();
    const target = await open(`${server.wsUrl}/ws?room=${room}`);
    if (pingFirst) {
      target.send("ping");
      await new Promise((r) => target.once("message", r));
    }
    const receiver = (target as unknown as { _receiver: NodeJS.EventEmitter })._receiver;
    const t0 = Date.now();
    const closeFrame = new Promise<number>((r) => receiver.once("conclude", () => r(Date.now() - t0)));
    const tcpEnd = new Promise<number>((r) => target.once("close", () => r(Date.now() - t0)));
    const newer = await open(`${server.wsUrl}/ws?room=${room}&close=others`);
    const label = pingFirst ? "sent `ping` first " : "never sent a frame";
    console.log(`${label}: Close frame after ${await closeFrame} ms, TCP end after ${await tcpEnd} ms`);
    newer.close();
  }
} finally {
  await server.stop();
}

async function open(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.once("message", resolve);
    ws.once("error", reject);
  });
  return ws;
}
