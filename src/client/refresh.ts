/**
 * Keeps a connection's token fresh without reconnecting: shortly before the
 * token expires, the token provider is asked for a new one, which goes to the
 * server as TOKEN_REFRESH (PROTOCOL.md, Token expiry and refresh). A refused
 * refresh is tried again; if the token still runs out, the server closes the
 * socket with 4001 and the client reconnects with a fresh token and `since`.
 */
import type { TokenSource } from "./connection.ts";

/** Refresh this long before expiry, or a fifth of the token's remaining life if that is shorter. */
const LEAD_MS = 60_000;
/** After a refused or failed refresh, try again this much later (while the token lasts). */
const RETRY_MS = 5_000;

/**
 * A JWT's `exp` in ms, read without verifying (the server verifies): only
 * to know when to ask for a new one. Null if it has none or is not a JWT.
 */
export function tokenExpiry(token: string): number | null {
  try {
    const payload = token.split(".")[1];
    if (payload === undefined) return null;
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === "number" ? exp * 1000 : null;
  } catch {
    return null;
  }
}

/** Writes a frame on the open socket; false if there is none. */
export type SendFrame = (text: string) => boolean;

type Timer = ReturnType<typeof setTimeout>;

export class TokenRefresher {
  private timer: Timer | undefined;
  /** The refresh sent and not yet answered: its frame id and the token it carries. */
  private pending: { id: string; token: string } | null = null;
  private expiresAt: number | null = null;
  /** Bumped by stop(): a token that arrives for a socket since gone is not sent on its successor. */
  private generation = 0;

  private readonly source: TokenSource;
  private readonly send: SendFrame;

  constructor(source: TokenSource, send: SendFrame) {
    this.source = source;
    this.send = send;
  }

  /** A socket opened with `token`: plan its refresh. A fixed string token cannot be refreshed. */
  opened(token: string): void {
    this.plan(tokenExpiry(token));
  }

  /** TOKEN_REFRESHED for frame `id`: true if it answered this client's refresh. */
  refreshed(id: string): boolean {
    if (id !== this.pending?.id) return false;
    this.plan(tokenExpiry(this.pending.token));
    return true;
  }

  /** BAD_TOKEN for frame `id`: true if it answered this client's refresh. */
  refused(id: string): boolean {
    if (id !== this.pending?.id) return false;
    this.pending = null;
    this.retry();
    return true;
  }

  /** The socket is gone: the next one plans its own refresh. */
  stop(): void {
    this.generation++;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = null;
  }

  private plan(expiresAt: number | null): void {
    this.stop();
    this.expiresAt = expiresAt;
    if (expiresAt === null || typeof this.source === "string") return;
    const left = expiresAt - Date.now();
    this.timer = setTimeout(
      () => void this.run(this.source as () => string | Promise<string>),
      Math.max(0, left - Math.min(LEAD_MS, left / 5)),
    );
  }

  private retry(): void {
    if (this.expiresAt === null || typeof this.source === "string" || Date.now() + RETRY_MS >= this.expiresAt) return;
    const source = this.source;
    this.timer = setTimeout(() => void this.run(source), RETRY_MS);
  }

  private async run(source: () => string | Promise<string>): Promise<void> {
    this.timer = undefined;
    const generation = this.generation;
    let token: string;
    try {
      token = await source();
    } catch {
      // The provider is down for now; the token still works for a while.
      if (generation === this.generation) this.retry();
      return;
    }
    if (generation !== this.generation) return;
    const id = `refresh-${crypto.randomUUID()}`;
    this.pending = { id, token };
    if (!this.send(JSON.stringify({ id, type: "SYSTEM_MSG", content: "TOKEN_REFRESH", message: token }))) {
      this.pending = null;
      this.retry();
    }
  }
}
