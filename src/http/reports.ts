/**
 * Reports (PROTOCOL.md, Blocking, reports and conversation settings):
 * `POST /v1/reports` for users, and the moderators' side on the server API
 * (`/v1/admin/reports`, the API key). The reporter's own object checks the
 * report and takes the evidence from its log; the reports object keeps it,
 * counts the reporter's day, and sends the webhook. A user token has no
 * route that reads a report.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { REPORTS } from "../moderation/object.ts";
import { REASONS } from "../moderation/reports.ts";
import { httpError, jsonText, typed } from "./errors.ts";
import { router } from "./router.ts";
import { body, errors, Id, Identity, json, Limit, Seq } from "./schemas.ts";

export const MAX_REPORTED_MESSAGES = 20;
export const MAX_NOTE = 1000;

const ReportBody = z
  .object({
    conversation: Id.openapi({ description: "the conversation the report is about" }),
    messages: z
      .array(Id, { error: "must be a list of server ids" })
      .max(MAX_REPORTED_MESSAGES, { error: `at most ${MAX_REPORTED_MESSAGES} messages` })
      .default([]),
    user: Identity.optional().openapi({ description: "the user reported: a party of the conversation" }),
    reason: z.enum(REASONS, { error: `must be one of ${REASONS.join(", ")}` }),
    note: z
      .string({ error: "must be a string" })
      .max(MAX_NOTE, { error: `must be at most ${MAX_NOTE} characters` })
      .optional(),
  })
  .openapi("NewReport");

const Filed = z.object({ id: z.string() }).openapi("ReportFiled");

const Report = z
  .object({
    id: z.string(),
    reporter: z.string(),
    conversation: z.string(),
    user: z.string().nullable(),
    reason: z.enum(REASONS),
    note: z.string().nullable(),
    created: z.string(),
    status: z.enum(["open", "resolved"]),
    resolved: z.string().optional().openapi({ description: "resolved reports only" }),
    action: z.string().optional().openapi({ description: "resolved reports only: what the moderator did" }),
    evidence: z.array(z.record(z.string(), z.unknown())).openapi({
      description: "the reported messages as logged for the reporter, each with up to 10 frames before it; empty once resolved",
    }),
  })
  .openapi("Report");

const ReportPage = z.object({ reports: z.array(Report), next: z.string().nullable() }).openapi("ReportPage");

const file = createRoute({
  method: "post",
  path: "/",
  summary: "Report messages (with the 10 before each, from your own log) and/or a user to the app's moderators",
  security: [{ userToken: [] }],
  request: { body: body(ReportBody) },
  responses: { 201: { description: "filed", ...json(Filed) }, ...errors(400, 401, 413, 429) },
});

export const reports = router().openapi(file, async (c) => {
  const me = c.get("user");
  const { conversation, messages, user, reason, note } = c.req.valid("json");
  if (messages.length === 0 && user === undefined) {
    return typed<never>(httpError(400, "bad_messages", "messages: report at least one message, or a user"));
  }
  const found = await c.env.USERS.getByName(me).evidence(conversation, messages, user ?? null);
  if (!found.ok) return typed<never>(httpError(400, found.error, found.reason));
  const filed = await c.env.REPORTS.getByName(REPORTS).file({
    reporter: me,
    conversation,
    user: user ?? null,
    reason,
    note: note ?? null,
    evidence: found.frames,
  });
  if (!filed.ok) return typed<never>(httpError(429, "too_many_reports", `at most ${filed.perDay} reports in 24 hours (REPORTS_PER_DAY)`));
  return c.json({ id: filed.id }, 201);
});

const security = [{ apiKey: [] }];

const list = createRoute({
  method: "get",
  path: "/",
  summary: "Reports by status, oldest first",
  security,
  request: {
    query: z.object({
      status: z.enum(["open", "resolved"], { error: "must be open or resolved" }).default("open"),
      limit: Limit,
      before: Seq.optional().openapi({ type: "string", description: "the `next` of the previous page: the page goes on from there" }),
    }),
  },
  responses: { 200: { description: "a page of reports", ...json(ReportPage) }, ...errors(400, 401, 503) },
});

const resolve = createRoute({
  method: "post",
  path: "/{id}/resolve",
  summary: "Resolve a report: its evidence is deleted, the rest kept with your action",
  security,
  request: {
    params: z.object({ id: Id }),
    body: body(
      z
        .object({ action: z.string({ error: "must be a string" }).max(MAX_NOTE, { error: `must be at most ${MAX_NOTE} characters` }) })
        .openapi("Resolve"),
    ),
  },
  responses: { 200: { description: "the report, resolved", ...json(Report) }, ...errors(400, 401, 404, 503) },
});

export const adminReports = router()
  .openapi(list, async (c) => {
    const { status, limit, before } = c.req.valid("query");
    return jsonText<z.infer<typeof ReportPage>>(await c.env.REPORTS.getByName(REPORTS).list(status, before ?? 0, limit));
  })
  .openapi(resolve, async (c) => {
    const { id } = c.req.valid("param");
    const answer = await c.env.REPORTS.getByName(REPORTS).resolve(id, c.req.valid("json").action);
    if (answer === null) return typed<never>(httpError(404, "not_found", `no report ${id}`));
    return jsonText<z.infer<typeof Report>>(answer);
  });
