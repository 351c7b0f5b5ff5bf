/**
 * The schemas at the edge of the HTTP API: one definition validates a
 * request, types its handler and documents it in /v1/openapi.json.
 */
import { z } from "@hono/zod-openapi";
import { MAX_ID_LENGTH } from "../config.ts";
import { isGroupId, SYSTEM } from "../protocol/frames.ts";

export const ErrorBody = z
  .object({
    error: z.string().openapi({ example: "bad_limit" }),
    reason: z.string().openapi({ example: "limit must be an integer from 1 to 200" }),
  })
  .openapi("Error");

/** A JSON response (or, with `body`, a request body) of this schema. */
export function json<T extends z.ZodType>(schema: T) {
  return { content: { "application/json": { schema } } };
}

/** A JSON request body; `required: false` for one that may be left out. */
export function body<T extends z.ZodType>(schema: T, required = true) {
  return { ...json(schema), required };
}

/** A refusal's documentation, for every status a route can answer with. */
export function errors(...statuses: number[]) {
  return Object.fromEntries(statuses.map((s) => [s, { description: ERROR_DESCRIPTIONS[s] ?? "error", ...json(ErrorBody) }]));
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "a malformed parameter or body; `reason` names the field",
  401: "no valid token (or API key)",
  403: "not allowed",
  404: "no such thing, or not yours to see",
  409: "conflicts with the current state",
  411: "no Content-Length",
  413: "body too large",
  416: "the Range is outside the file",
  429: "over a limit; try later",
  503: "not configured, or the identity provider is unreachable",
};

export const Limit = z.coerce
  .number({ error: "limit must be an integer from 1 to 200" })
  .int({ error: "limit must be an integer from 1 to 200" })
  .min(1, { error: "limit must be an integer from 1 to 200" })
  .max(200, { error: "limit must be an integer from 1 to 200" })
  .default(50)
  .openapi({ description: "page size, 1 to 200", example: 50 });

/** A position in the log (`seq`): the `next` of an earlier page. */
export const Seq = z
  .string()
  .regex(/^\d{1,15}$/, { error: "must be a seq from an earlier page's next (a non-negative integer)" })
  .transform(Number);

/** A conversation or user id in a path: 1–128 characters (percent-decoded). */
export const Id = z
  .string()
  .min(1)
  .max(MAX_ID_LENGTH, { error: `must be at most ${MAX_ID_LENGTH} characters` })
  .openapi({ example: "rick" });

/** A user's identity in a body: 1–128 characters, not a group id, not `system` (PROTOCOL.md, Connecting). */
export const Identity = z
  .string({ error: "must be a user id (a string)" })
  .min(1, { error: "must not be empty" })
  .max(MAX_ID_LENGTH, { error: `must be at most ${MAX_ID_LENGTH} characters` })
  .refine((u) => u !== SYSTEM && !isGroupId(u), { error: "'system' and group ids are not users" })
  .openapi({ example: "morty" });

/** A group's name: 1–128 characters. */
export const GroupName = z
  .string({ error: "must be a string" })
  .min(1, { error: "must be 1 to 128 characters" })
  .max(128, { error: "must be 1 to 128 characters" })
  .openapi({ example: "Launch" });

export const Role = z.enum(["admin", "member"], { error: "must be admin or member" });
