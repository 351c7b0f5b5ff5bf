/** Every HTTP refusal has one shape: a status and `{ error, reason }`. */
export function httpError(status: number, error: string, reason: string): Response {
  return Response.json({ error, reason }, { status });
}
