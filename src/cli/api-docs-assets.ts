/**
 * Copies Swagger UI's script and stylesheet from the swagger-ui-dist package
 * into the static assets, where /v1/docs loads them from this Worker
 * (src/http/docs.ts) instead of a CDN: `wrangler dev` runs offline, and a
 * deployment depends on no third party. wrangler runs it before `wrangler dev`
 * and `wrangler deploy` ([build] in wrangler.toml).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The path src/http/docs.ts gives Swagger UI as its base, below /v1/docs/assets. */
const OUT = fileURLToPath(new URL("../public/v1/docs/assets/swagger-ui-dist/", import.meta.url));
const FILES = ["swagger-ui-bundle.js", "swagger-ui.css"];

const require = createRequire(import.meta.url);
mkdirSync(OUT, { recursive: true });
for (const file of FILES) {
  const source = readFileSync(require.resolve(`swagger-ui-dist/${file}`));
  const target = join(OUT, file);
  // Tests start several wrangler dev at once, each running this: a file in place is
  // left alone, and a new one appears whole (rename), never half-written under a server.
  if (existsSync(target) && readFileSync(target).equals(source)) continue;
  const partial = `${target}.${process.pid}.partial`;
  writeFileSync(partial, source);
  renameSync(partial, target);
}
