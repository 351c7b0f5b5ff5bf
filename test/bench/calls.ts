/**
 * Counts the calls between Durable Objects, for the biggroup scenario's
 * "busiest object's calls per second". Never part of the server: the
 * benchmark builds a counting copy of the snapshot (snapshot.ts,
 * snapshotCounting) whose entry wraps each object class and the Worker so
 * that every stub they get from a namespace binding (`env.X.getByName(name)`)
 * counts each method call on it: one call made by the caller, one received by
 * `name`. The code under test is unchanged; only the stubs it is handed are.
 *
 * Under `wrangler dev` the Worker and every object run in one isolate, so the
 * counts are one module-level map, read with GET /__bench/calls.
 */

/** Object name (or "worker") → calls made and received. */
const counts = new Map<string, { made: number; received: number }>();

export const CALLS_PATH = "/__bench/calls";

export interface CallCount {
  name: string;
  made: number;
  received: number;
}

function bump(name: string, key: "made" | "received"): void {
  const c = counts.get(name);
  if (c === undefined) counts.set(name, { made: key === "made" ? 1 : 0, received: key === "received" ? 1 : 0 });
  else c[key]++;
}

/** Stub members that are not calls: left alone (an RPC stub answers any other name with a remote method). */
const NOT_CALLS = new Set(["then", "id", "name", "dup", "connect"]);

function countedStub<S extends object>(stub: S, caller: string, target: string): S {
  return new Proxy(stub, {
    get(t, p) {
      const v: unknown = Reflect.get(t, p);
      if (typeof p !== "string" || NOT_CALLS.has(p)) return v;
      return (...args: unknown[]) => {
        bump(caller, "made");
        bump(target, "received");
        // Reflect.apply: a property of an RPC stub is itself remote, so `.apply` would be a remote call.
        return Reflect.apply(v as (...a: unknown[]) => unknown, t, args);
      };
    },
  });
}

function countedNamespace<N extends object>(ns: N, caller: string): N {
  return new Proxy(ns, {
    get(t, p) {
      const v: unknown = Reflect.get(t, p);
      if (typeof v !== "function") return v;
      if (p === "getByName")
        return (name: string, ...rest: unknown[]) => countedStub(Reflect.apply(v, t, [name, ...rest]) as object, caller, name);
      return v.bind(t);
    },
  });
}

/** `env` with every Durable Object namespace handing out counting stubs, calls attributed to `caller`. */
export function countingEnv<E extends object>(env: E, caller: string): E {
  return new Proxy(env, {
    get(t, p) {
      const v: unknown = Reflect.get(t, p);
      if (typeof v === "object" && v !== null && typeof (v as { getByName?: unknown }).getByName === "function")
        return countedNamespace(v, caller);
      return v;
    },
  });
}

// biome-ignore lint/suspicious/noExplicitAny: a mixin's constructor takes any[] (TypeScript's rule); here (ctx, env).
type ObjectClass = new (...args: any[]) => object;

/** The class, constructed with a counting env named after the object. */
export function countedClass<C extends ObjectClass>(Base: C): C {
  return class extends Base {
    // biome-ignore lint/suspicious/noExplicitAny: as above.
    constructor(...args: any[]) {
      const [ctx, env] = args as [DurableObjectState, object];
      super(ctx, countingEnv(env, ctx.id.name ?? ctx.id.toString()));
    }
  };
}

/** The Worker, with a counting env (calls made by "worker") and GET /__bench/calls. */
export function countedWorker<W extends { fetch?: (request: Request, env: never, ctx: ExecutionContext) => Promise<Response> }>(
  worker: W,
): W {
  return {
    ...worker,
    fetch(request: Request, env: object, ctx: ExecutionContext): Promise<Response> {
      if (new URL(request.url).pathname === CALLS_PATH)
        return Promise.resolve(Response.json([...counts].map(([name, c]) => ({ name, ...c }) satisfies CallCount)));
      return worker.fetch!(request, countingEnv(env, "worker") as never, ctx);
    },
  };
}
