import type { TypedResponse } from "hono";
import type { JSONParsed } from "hono/utils/types";

/** Every HTTP refusal has one shape: a status and `{ error, reason }`. */
export function httpError(status: number, error: string, reason: string): Response {
  return Response.json({ error, reason }, { status });
}

/**
 * A 200 JSON body built as text by an object (stored frames spliced in as
 * they were logged, so payloads are never re-serialized), typed as the
 * route's documented response: the one place that vouches for that shape.
 */
export function jsonText<T>(text: string): TypedResponse<JSONParsed<T>, 200, "json"> {
  return typed(new Response(text, { headers: { "content-type": "application/json" } }));
}

/**
 * A Response made outside Hono's typed helpers (an object's answer, a
 * refusal), as the route's declared responses: the one cast, for answers
 * whose shapes the route's schemas document.
 */
export function typed<R>(res: Response): R {
  return res as unknown as R;
}
