import type { ConnectionLimits } from "./protocol/frames.ts";

/**
 * The settings wrangler.toml leaves unset: secrets, and vars that are off until
 * set. `wrangler types` writes the Env type from wrangler.toml's bindings and
 * [vars] (src/worker-configuration.d.ts) and cannot see these, so src/env.d.ts
 * adds them to Env from here. A var given a default in wrangler.toml's [vars]
 * leaves this list (tsc says so: Env cannot have it twice).
 */
export interface OptionalSettings {
  AUTH_SECRET?: string;
  /** The secret being rotated out: tokens signed with it stay valid until they expire. */
  AUTH_SECRET_PREVIOUS?: string;
  /** An identity provider's public keys (RS256/ES256 tokens), e.g. https://tenant.example/.well-known/jwks.json. */
  AUTH_JWKS_URL?: string;
  /** Comma-separated: when set, a token's `iss` must be one of these. */
  AUTH_ISSUER?: string;
  /** Comma-separated: when set, a token's `aud` must include one of these. */
  AUTH_AUDIENCE?: string;
  AUTH_CLOCK_TOLERANCE_SECONDS?: string;
  /** "on" enables GET /dev/token (development only). */
  DEV_TOKENS?: string;
  ALLOWED_ORIGINS?: string;
  /** The server API's key (a secret); unset, every /v1/admin route answers 503. */
  API_KEY?: string;
  /** The key being rotated out: it works until removed. */
  API_KEY_PREVIOUS?: string;
  /** Where webhook events are POSTed; unset, none are produced. */
  WEBHOOK_URL?: string;
  /** The HMAC key webhook signatures are made with (a secret). */
  WEBHOOK_SECRET?: string;
  /** "on" puts the message's payload in message.offline events (off: payloads may be end-to-end encrypted). */
  WEBHOOK_INCLUDE_MESSAGE?: string;
  /** "off" turns the interactive API reference at /v1/docs off (404); on when unset. */
  API_DOCS?: string;
}

/** wrangler.toml's [vars], as Env has them, each possibly missing. */
type TomlVars = { [K in keyof Env as Env[K] extends string ? K : never]?: string };

/** All a Config is read from: every setting, each possibly missing (tests and the benchmark's floor pass some). */
export type Vars = OptionalSettings & TomlVars;

/** Limits and settings, parsed once per isolate from `env`. */
export interface Config {
  identityClaim: string;
  auth: AuthConfig;
  allowedOrigins: ReadonlySet<string> | null;
  maxMessageBytes: number;
  rateLimitPerSecond: number;
  rateLimitBurst: number;
  /** How long log rows are kept; Infinity when RETENTION_DAYS is 0 (keep forever). */
  retentionMs: number;
  /** Newest log rows kept per user; Infinity when LOG_MAX_ROWS is 0 (keep forever). */
  logMaxRows: number;
  maxSocketsPerUser: number;
  maxGroupMembers: number;
  /** Members one fan-out object delivers to: above it a group fans out through shard objects (PROTOCOL.md, Large groups). */
  groupShardSize: number;
  /** How long a message stays editable (ms); Infinity when EDIT_WINDOW_SECONDS is 0 or unset. */
  editWindowMs: number;
  /** Reports a user may file in 24 hours (REPORTS_PER_DAY); beyond, 429. */
  reportsPerDay: number;
  /** Webhooks are produced only with both WEBHOOK_URL and WEBHOOK_SECRET. */
  webhooks: { includeMessage: boolean } | null;
  /** Whether /v1/docs serves the API reference (API_DOCS). */
  apiDocs: boolean;
  /** The largest upload (MAX_FILE_BYTES). */
  maxFileBytes: number;
  /** Bytes a user may upload per UTC day (MAX_FILE_BYTES_PER_DAY). */
  maxFileBytesPerDay: number;
}

/** How tokens are checked. With no secret and no JWKS URL, nobody gets in. */
export interface AuthConfig {
  /** HS256 secrets, the current one first. */
  secrets: readonly string[];
  jwksUrl: URL | null;
  issuer: string[] | undefined;
  audience: string[] | undefined;
  clockToleranceSeconds: number;
}

/**
 * Leeway for `exp` and `nbf`. Servers synced by NTP agree to well under a
 * second, but an IdP's clock a few seconds ahead makes fresh tokens "not yet
 * valid"; 30 s absorbs that while letting a stolen, expired token live only
 * 30 s longer. The cap keeps a typo (minutes for seconds) from doing worse.
 */
const DEFAULT_CLOCK_TOLERANCE_SECONDS = 30;
const MAX_CLOCK_TOLERANCE_SECONDS = 300;

/** The limits CONNECTION_ID tells a client to pace itself by (PROTOCOL.md, Connecting). */
export function connectionLimits(config: Config): ConnectionLimits {
  return { maxMessageBytes: config.maxMessageBytes, ratePerSecond: config.rateLimitPerSecond, rateBurst: config.rateLimitBurst };
}

/**
 * A shard of s members costs the group one call per shard and each shard one
 * per member per burst: s = 100 keeps both at 100 or fewer for the largest
 * group (10,000 members: 100 shards), and a group up to 100 members has no
 * tree at all (docs/performance.md, Large groups, has the measurements).
 */
const DEFAULT_GROUP_SHARD_SIZE = 100;

/** The protocol's fixed limits (PROTOCOL.md, Errors). */
export const MAX_ID_LENGTH = 128;
export const MAX_JSON_DEPTH = 64;

function positiveNumber(env: Vars, name: keyof Vars, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new Error(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** The range a group setting may take (PROTOCOL.md, Large groups). */
export const GROUP_SETTING_MIN = 2;
export const GROUP_SETTING_MAX = 10_000;

/** A whole number from GROUP_SETTING_MIN to GROUP_SETTING_MAX: a group past it could not keep its guarantees. */
function groupSetting(env: Vars, name: keyof Vars, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < GROUP_SETTING_MIN || value > GROUP_SETTING_MAX) {
    throw new Error(`${name} must be a whole number from ${GROUP_SETTING_MIN} to ${GROUP_SETTING_MAX}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** A positive number, or 0 for "no limit" (Infinity). */
function limitOrForever(env: Vars, name: keyof Vars, fallback: number): number {
  const raw = env[name];
  if (raw === "0") return Number.POSITIVE_INFINITY;
  return positiveNumber(env, name, fallback);
}

function list(raw: string | undefined): string[] | undefined {
  const items =
    raw
      ?.split(",")
      .map((s) => s.trim())
      .filter(Boolean) ?? [];
  return items.length > 0 ? items : undefined;
}

function readAuth(env: Vars): AuthConfig {
  if (env.AUTH_SECRET_PREVIOUS && !env.AUTH_SECRET) {
    throw new Error("AUTH_SECRET_PREVIOUS is set but AUTH_SECRET is not: set the new secret as AUTH_SECRET");
  }
  const secrets = [env.AUTH_SECRET, env.AUTH_SECRET_PREVIOUS].filter((s): s is string => Boolean(s));

  let jwksUrl: URL | null = null;
  if (env.AUTH_JWKS_URL) {
    jwksUrl = URL.parse(env.AUTH_JWKS_URL);
    // Keys fetched over plain HTTP could be swapped in transit, and then anyone could mint tokens.
    const loopback = jwksUrl !== null && ["localhost", "127.0.0.1", "[::1]"].includes(jwksUrl.hostname);
    if (jwksUrl === null || !(jwksUrl.protocol === "https:" || (jwksUrl.protocol === "http:" && loopback))) {
      throw new Error(`AUTH_JWKS_URL must be an https:// URL (http:// only on localhost), got ${JSON.stringify(env.AUTH_JWKS_URL)}`);
    }
  }

  let clockToleranceSeconds = DEFAULT_CLOCK_TOLERANCE_SECONDS;
  const rawTolerance = env.AUTH_CLOCK_TOLERANCE_SECONDS;
  if (rawTolerance !== undefined && rawTolerance !== "") {
    clockToleranceSeconds = Number(rawTolerance);
    if (!Number.isInteger(clockToleranceSeconds) || clockToleranceSeconds < 0 || clockToleranceSeconds > MAX_CLOCK_TOLERANCE_SECONDS) {
      throw new Error(
        `AUTH_CLOCK_TOLERANCE_SECONDS must be a whole number from 0 to ${MAX_CLOCK_TOLERANCE_SECONDS}, got ${JSON.stringify(rawTolerance)}`,
      );
    }
  }

  return { secrets, jwksUrl, issuer: list(env.AUTH_ISSUER), audience: list(env.AUTH_AUDIENCE), clockToleranceSeconds };
}

function readWebhooks(env: Vars): Config["webhooks"] {
  if (!env.WEBHOOK_URL) return null;
  const url = URL.parse(env.WEBHOOK_URL);
  if (url === null || !(url.protocol === "https:" || url.protocol === "http:")) {
    throw new Error(`WEBHOOK_URL must be an http(s) URL, got ${JSON.stringify(env.WEBHOOK_URL)}`);
  }
  if (!env.WEBHOOK_SECRET) throw new Error("WEBHOOK_URL is set but WEBHOOK_SECRET is not: `wrangler secret put WEBHOOK_SECRET`");
  return { includeMessage: env.WEBHOOK_INCLUDE_MESSAGE === "on" };
}

/** "on" or "off" (or unset: the default); anything else is a typo that must not silently pick one. */
function onOff(env: Vars, name: keyof Vars, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (raw !== "on" && raw !== "off") throw new Error(`${name} must be "on" or "off", got ${JSON.stringify(raw)}`);
  return raw === "on";
}

const cache = new WeakMap<Vars, Config>();

export function readConfig(env: Vars): Config {
  let config = cache.get(env);
  if (config) return config;
  const origins = list(env.ALLOWED_ORIGINS);
  config = {
    identityClaim: env.IDENTITY_CLAIM || "userId",
    auth: readAuth(env),
    allowedOrigins: origins ? new Set(origins) : null,
    maxMessageBytes: positiveNumber(env, "MAX_MESSAGE_BYTES", 64 * 1024),
    rateLimitPerSecond: positiveNumber(env, "RATE_LIMIT_PER_SECOND", 20),
    rateLimitBurst: positiveNumber(env, "RATE_LIMIT_BURST", 200),
    retentionMs: limitOrForever(env, "RETENTION_DAYS", 30) * 86_400_000,
    logMaxRows: limitOrForever(env, "LOG_MAX_ROWS", 10_000),
    maxSocketsPerUser: positiveNumber(env, "MAX_SOCKETS_PER_USER", 16),
    maxGroupMembers: groupSetting(env, "MAX_GROUP_MEMBERS", 1024),
    groupShardSize: groupSetting(env, "GROUP_SHARD_SIZE", DEFAULT_GROUP_SHARD_SIZE),
    editWindowMs: limitOrForever(env, "EDIT_WINDOW_SECONDS", Number.POSITIVE_INFINITY) * 1000,
    reportsPerDay: positiveNumber(env, "REPORTS_PER_DAY", 20),
    webhooks: readWebhooks(env),
    apiDocs: onOff(env, "API_DOCS", true),
    maxFileBytes: positiveNumber(env, "MAX_FILE_BYTES", 25 * 1024 * 1024),
    maxFileBytesPerDay: positiveNumber(env, "MAX_FILE_BYTES_PER_DAY", 500 * 1024 * 1024),
  };
  cache.set(env, config);
  return config;
}
