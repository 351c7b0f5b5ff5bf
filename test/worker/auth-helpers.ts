/**
 * Token tests need settings the pool's env does not have (a JWKS URL, a
 * previous secret, a leeway), so they call the Worker's handler with their own
 * env: the pool's bindings plus overrides. USERS still reaches real objects.
 */
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import worker from "../../src/index.ts";

export function envWith(overrides: Partial<Env>): Env {
  return { ...env, ...overrides };
}

export function connectWith(settings: Env, token: string): Promise<Response> {
  return worker.fetch(
    new Request(`http://edge.test/ws?Authentication=${token}`, { headers: { Upgrade: "websocket" } }),
    settings,
    createExecutionContext(),
  );
}

/** Asserts an upgrade and returns the identity the server gave the socket (from CONNECTION_ID). */
export async function expectAccepted(res: Response): Promise<string> {
  if (res.status !== 101) throw new Error(`expected an upgrade, got ${res.status} ${await res.text()}`);
  const ws = res.webSocket!;
  const first = new Promise<MessageEvent>((resolve) => ws.addEventListener("message", resolve, { once: true }));
  ws.accept();
  const hello = JSON.parse((await first).data as string) as { content: string; message: { user: string } };
  ws.close(1000, "done");
  expect(hello.content).toBe("CONNECTION_ID");
  return hello.message.user;
}
