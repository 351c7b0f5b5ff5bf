/** Routers for the HTTP API, each with the one validation answer. */
import type { Hook } from "@hono/zod-openapi";
import { OpenAPIHono } from "@hono/zod-openapi";
import type { UserVariables } from "./auth.ts";
import { httpError } from "./errors.ts";

export type AppEnv = { Bindings: Env; Variables: UserVariables };

/**
 * A failed schema check answers 400 naming the field: `bad_<field>` (the
 * top-level one) and a reason that starts with its path (`members.2: …`).
 */
// biome-ignore lint/suspicious/noExplicitAny: the hook serves every route's input and env type.
export const validationHook: Hook<any, any, any, any> = (result) => {
  if (result.success) return;
  const issue = result.error.issues[0];
  // An unknown field (a strict object's) is named by the issue's keys, not its path.
  const path = issue?.code === "unrecognized_keys" ? [...issue.path.map(String), issue.keys[0]!] : (issue?.path.map(String) ?? []);
  const field = path[0] ?? result.target;
  return httpError(400, `bad_${field.replace(/\W+/g, "_")}`, `${path.join(".") || field}: ${issue?.message ?? "invalid"}`);
};

export function router<E extends AppEnv = AppEnv>(): OpenAPIHono<E> {
  return new OpenAPIHono<E>({ defaultHook: validationHook });
}
