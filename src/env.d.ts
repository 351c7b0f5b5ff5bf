// Hand-kept instead of `wrangler types`: the typed Env lives in config.ts, and
// this tells `cloudflare:workers` (env, exports) about it and the entrypoint.
type LunarLoomEnv = import("./config.ts").Env;

declare namespace Cloudflare {
  interface GlobalProps {
    mainModule: typeof import("./index.ts");
    durableNamespaces: "UserObject" | "GroupObject";
  }
  interface Env extends LunarLoomEnv {}
}
