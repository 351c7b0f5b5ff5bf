import { fileURLToPath } from "node:url";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

const root = fileURLToPath(new URL("..", import.meta.url));

/** The Worker as wrangler.toml has it, with the pool's secrets, and rate limits too high to reach (they are tested in worker-limits; here they would only slow the suite). */
function pool(vars: Record<string, string> = {}) {
  return cloudflareTest({
    wrangler: { configPath: `${root}/wrangler.toml` },
    miniflare: {
      bindings: {
        AUTH_SECRET: "test-secret",
        API_KEY: "test-api-key",
        RATE_LIMIT_BURST: "100000",
        RATE_LIMIT_PER_SECOND: "100000",
        ...vars,
      },
      ratelimits: { CONNECT_LIMITER: { namespace_id: "1001", simple: { limit: 1_000_000, period: 60 } } },
    },
  });
}

export default defineConfig({
  test: {
    // The server logs a JSON line per event; show them only for failing tests.
    silent: "passed-only",
    // wrangler dev and Chromium take seconds to stop; a short teardown would leave them running.
    teardownTimeout: 60_000,
    projects: [
      {
        // Runs inside workerd against real Durable Objects, configured from wrangler.toml.
        plugins: [pool()],
        // Generous: CI runs these beside wrangler dev and Chromium on 2 cores.
        test: { name: "worker", root, include: ["test/worker/**/*.test.ts"], testTimeout: 30_000 },
      },
      {
        // The same Worker with small limits, so that tests can reach them.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: `${root}/wrangler.toml` },
            miniflare: {
              bindings: {
                AUTH_SECRET: "test-secret",
                RATE_LIMIT_PER_SECOND: "5",
                RATE_LIMIT_BURST: "10",
                MAX_SOCKETS_PER_USER: "3",
                MAX_GROUP_MEMBERS: "3",
                LOG_MAX_ROWS: "5",
                MAX_MESSAGE_BYTES: "1024",
                MAX_FILE_BYTES: "2048",
                MAX_FILE_BYTES_PER_DAY: "5000",
                EDIT_WINDOW_SECONDS: "1",
                AUTH_CLOCK_TOLERANCE_SECONDS: "0",
                ALLOWED_ORIGINS: "https://chat.example,https://app.example",
              },
              ratelimits: { CONNECT_LIMITER: { namespace_id: "1001", simple: { limit: 20, period: 60 } } },
            },
          }),
        ],
        test: { name: "worker-limits", root, include: ["test/worker-limits/**/*.test.ts"], testTimeout: 30_000 },
      },
      {
        // The same Worker with shards of 3 members, so that 20-40 members make a deep fan-out tree.
        plugins: [pool({ GROUP_SHARD_SIZE: "3" })],
        test: { name: "worker-shards", root, include: ["test/worker-shards/**/*.test.ts"], testTimeout: 60_000 },
      },
      {
        // Runs in Node: the client library's unit tests, and end-to-end tests
        // that start a real `wrangler dev` (and Chromium) on loopback.
        test: {
          name: "node",
          root,
          include: ["test/node/**/*.test.ts"],
          environment: "node",
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
