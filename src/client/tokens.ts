/**
 * The one door to the app's token provider. Sockets want a fresh token for
 * every attempt; HTTP calls (conversations, history) reuse the latest one
 * while it has life left, so a page of history does not cost a round trip
 * to the app's auth service.
 */
import type { TokenSource } from "./connection.ts";
import { tokenExpiry } from "./refresh.ts";

/** A reused token must outlive the request by this much (the server's default clock leeway is 30 s). */
const MIN_LIFE_MS = 30_000;

export class Tokens {
  private latest: string | null = null;
  /** One provider call at a time: a reconnect and a history page that both want a token share it. */
  private inflight: Promise<string> | null = null;

  private readonly source: TokenSource;

  constructor(source: TokenSource) {
    this.source = source;
  }

  /**
   * What to hand the socket code: the app's fixed token as it is (so the
   * refresher knows it cannot be renewed), else a provider that remembers
   * every token it hands out.
   */
  get forSocket(): TokenSource {
    return typeof this.source === "string" ? this.source : () => this.fresh();
  }

  /** A token straight from the provider. */
  fresh(): Promise<string> {
    const source = this.source;
    if (typeof source === "string") return Promise.resolve(source);
    this.inflight ??= (async () => {
      try {
        const token = await source();
        this.latest = token;
        return token;
      } finally {
        this.inflight = null;
      }
    })();
    return this.inflight;
  }

  /** The latest token while it has MIN_LIFE_MS left (or no `exp`), else a fresh one. `reused` says which. */
  async current(): Promise<{ token: string; reused: boolean }> {
    const latest = this.latest;
    if (typeof this.source === "string") return { token: this.source, reused: false };
    if (latest !== null) {
      const exp = tokenExpiry(latest);
      if (exp === null || exp - Date.now() > MIN_LIFE_MS) return { token: latest, reused: true };
    }
    return { token: await this.fresh(), reused: false };
  }
}
