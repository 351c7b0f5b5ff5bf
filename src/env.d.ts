// `wrangler types` (worker-configuration.d.ts) types the bindings and the vars
// wrangler.toml sets. Secrets and the vars that are off until set are not in
// wrangler.toml, so they are declared once, in config.ts, and added here.
type LunarLoomOptionalSettings = import("./config.ts").OptionalSettings;

interface Env extends LunarLoomOptionalSettings {}

declare namespace Cloudflare {
  interface Env extends LunarLoomOptionalSettings {}
}
