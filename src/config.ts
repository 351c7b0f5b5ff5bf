import type { UserObject } from "./user.ts";

/** Bindings and vars, as wrangler.toml and `wrangler secret put` supply them. */
export interface Env {
  USERS: DurableObjectNamespace<UserObject>;
  AUTH_SECRET?: string;
  /** "on" enables GET /dev/token (development only). */
  DEV_TOKENS?: string;
  IDENTITY_CLAIM?: string;
  ALLOWED_ORIGINS?: string;
  MAX_MESSAGE_BYTES?: string;
  RATE_LIMIT_PER_SECOND?: string;
  RATE_LIMIT_BURST?: string;
  RETENTION_DAYS?: string;
  LOG_MAX_ROWS?: string;
}

/** Limits and settings, parsed once per isolate from `env`. */
export interface Config {
  identityClaim: string;
  allowedOrigins: ReadonlySet<string> | null;
  maxMessageBytes: number;
  rateLimitPerSecond: number;
  rateLimitBurst: number;
  retentionMs: number;
  logMaxRows: number;
}

/** The protocol's fixed limits (PROTOCOL.md, Errors). */
export const MAX_ID_LENGTH = 128;
export const MAX_JSON_DEPTH = 64;

function positiveNumber(env: Env, name: keyof Env, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new Error(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
  }
  return value;
}

const cache = new WeakMap<Env, Config>();

export function readConfig(env: Env): Config {
  let config = cache.get(env);
  if (config) return config;
  const origins = env.ALLOWED_ORIGINS?.split(",").map((o) => o.trim()).filter(Boolean) ?? [];
  config = {
    identityClaim: env.IDENTITY_CLAIM || "userId",
    allowedOrigins: origins.length > 0 ? new Set(origins) : null,
    maxMessageBytes: positiveNumber(env, "MAX_MESSAGE_BYTES", 64 * 1024),
    rateLimitPerSecond: positiveNumber(env, "RATE_LIMIT_PER_SECOND", 20),
    rateLimitBurst: positiveNumber(env, "RATE_LIMIT_BURST", 200),
    retentionMs: positiveNumber(env, "RETENTION_DAYS", 30) * 86_400_000,
    logMaxRows: positiveNumber(env, "LOG_MAX_ROWS", 10_000),
  };
  cache.set(env, config);
  return config;
}
