/**
 * The moderation queue (PROTOCOL.md, Blocking, reports and conversation
 * settings): reports with their evidence as reported (a later delete of a
 * message does not change it), kept until a moderator resolves them on the
 * server API; resolving deletes the evidence and keeps the rest, so the
 * reporter's daily count still sees it. Reports are rare writes: one object
 * holds them all.
 */
import type { Db, Migration } from "../db.ts";
import { isoSecond } from "../protocol/build.ts";

export const REPORT_MIGRATIONS: readonly Migration[] = [
  `CREATE TABLE reports (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     reporter TEXT NOT NULL,
     conversation TEXT NOT NULL,
     user TEXT,
     reason TEXT NOT NULL,
     note TEXT,
     created INTEGER NOT NULL,
     status TEXT NOT NULL,
     action TEXT,
     resolved INTEGER,
     evidence TEXT
   );
   CREATE INDEX reports_status ON reports(status, seq);
   CREATE INDEX reports_reporter ON reports(reporter, created);`,
];

export const REASONS = ["spam", "harassment", "other"] as const;
export type Reason = (typeof REASONS)[number];
export type Status = "open" | "resolved";

export interface NewReport {
  reporter: string;
  conversation: string;
  user: string | null;
  reason: Reason;
  note: string | null;
  /** Frames as logged, JSON text each. */
  evidence: string[];
}

interface Row extends Record<string, SqlStorageValue> {
  seq: number;
  id: string;
  reporter: string;
  conversation: string;
  user: string | null;
  reason: string;
  note: string | null;
  created: number;
  status: Status;
  action: string | null;
  resolved: number | null;
  evidence: string | null;
}

const DAY_MS = 86_400_000;
const str = JSON.stringify;

export class Reports {
  constructor(private readonly db: Db) {}

  /** How many reports `reporter` filed in the 24 hours before `now`. */
  filedToday(reporter: string, now: number): number {
    if (!this.db.exists) return 0;
    return this.db.sql
      .exec<{ n: number }>("SELECT count(*) AS n FROM reports WHERE reporter = ? AND created > ?", reporter, now - DAY_MS)
      .one().n;
  }

  /** Keeps the report; its id and JSON text (as listed). */
  add(r: NewReport, now: number): { id: string; text: string } {
    const id = crypto.randomUUID();
    const row = this.db.write
      .exec<Row>(
        `INSERT INTO reports (id, reporter, conversation, user, reason, note, created, status, evidence)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?) RETURNING *`,
        id,
        r.reporter,
        r.conversation,
        r.user,
        r.reason,
        r.note,
        now,
        `[${r.evidence.join(",")}]`,
      )
      .one();
    return { id, text: render(row) };
  }

  /** A page of reports with this status, oldest first, after the cursor `after` (an earlier page's `next`). */
  list(status: Status, after: number, limit: number): string {
    if (!this.db.exists) return '{"reports":[],"next":null}';
    const rows = this.db.sql
      .exec<Row>("SELECT * FROM reports WHERE status = ? AND seq > ? ORDER BY seq LIMIT ?", status, after, limit + 1)
      .toArray();
    const page = rows.slice(0, limit);
    const next = rows.length > limit ? str(String(page.at(-1)!.seq)) : "null";
    return `{"reports":[${page.map(render).join(",")}],"next":${next}}`;
  }

  /** Resolves an open report (a resolved one stays as it was resolved); its JSON text, or null if there is no such report. */
  resolve(id: string, action: string, now: number): string | null {
    if (!this.db.exists) return null;
    this.db.sql.exec(
      "UPDATE reports SET status = 'resolved', action = ?, resolved = ?, evidence = NULL WHERE id = ? AND status = 'open'",
      action,
      now,
      id,
    );
    const row = this.db.sql.exec<Row>("SELECT * FROM reports WHERE id = ?", id).toArray()[0];
    return row ? render(row) : null;
  }
}

/** A report as the server API lists it, the evidence frames spliced in as they were logged. */
function render(r: Row): string {
  const parts = [
    `"id":${str(r.id)}`,
    `"reporter":${str(r.reporter)}`,
    `"conversation":${str(r.conversation)}`,
    `"user":${str(r.user)}`,
    `"reason":${str(r.reason)}`,
    `"note":${str(r.note)}`,
    `"created":${str(isoSecond(r.created))}`,
    `"status":${str(r.status)}`,
    ...(r.status === "resolved" ? [`"resolved":${str(isoSecond(r.resolved!))}`, `"action":${str(r.action)}`] : []),
    `"evidence":${r.evidence ?? "[]"}`,
  ];
  return `{${parts.join(",")}}`;
}
