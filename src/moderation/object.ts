/**
 * The reports object: one Durable Object (named "reports") that keeps every
 * report until a moderator resolves it, and tells the app's backend of each
 * new one with a signed `report.created` webhook through the same queue as
 * message.offline (same signing, same retries).
 *
 *   POST /v1/reports ─▶ reporter's UserObject (evidence from its own log) ─▶ file() here ─▶ queue
 *
 * The class wires the runtime to the module beside it (reports.ts).
 */
import { DurableObject } from "cloudflare:workers";
import { readConfig } from "../config.ts";
import { Db } from "../db.ts";
import { errorMessage, logEvent } from "../logging.ts";
import { reportEvent } from "../webhooks/events.ts";
import { type NewReport, REPORT_MIGRATIONS, Reports, type Status } from "./reports.ts";

/** The one object's name. */
export const REPORTS = "reports";

export type Filed = { ok: true; id: string } | { ok: false; perDay: number };

export class ReportsObject extends DurableObject<Env> {
  private readonly reports: Reports;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.reports = new Reports(new Db(ctx.storage, REPORTS, REPORT_MIGRATIONS));
  }

  /** Keeps a report, unless its reporter filed REPORTS_PER_DAY in the last 24 hours. */
  file(report: NewReport): Filed {
    const config = readConfig(this.env);
    const now = Date.now();
    if (this.reports.filedToday(report.reporter, now) >= config.reportsPerDay) return { ok: false, perDay: config.reportsPerDay };
    const { id, text } = this.reports.add(report, now);
    if (config.webhooks) {
      const event = reportEvent(text, now);
      // Sent in the turn that kept the report (the output gate holds it until the commit); a failing queue must not fail the report.
      this.ctx.waitUntil(
        this.env.WEBHOOKS.send(event).catch((err: unknown) =>
          logEvent("error", "webhook_enqueue_failed", { report: id, events: [event.id], error: errorMessage(err) }),
        ),
      );
    }
    return { ok: true, id };
  }

  /** GET /v1/admin/reports: the response body. */
  list(status: Status, after: number, limit: number): string {
    return this.reports.list(status, after, limit);
  }

  /** POST /v1/admin/reports/<id>/resolve: the report, or null if there is none. */
  resolve(id: string, action: string): string | null {
    return this.reports.resolve(id, action, Date.now());
  }
}
