/**
 * One user object's SQLite storage: the user's log (which also dedupes the
 * user's sends by client id), the outbox of frames owed to other users'
 * objects, and the receipts already given.
 *
 * Every method is synchronous. Calls with no `await` between them commit as
 * one transaction, and the runtime's output gate holds any `ws.send` or RPC
 * made after them until that commit is durable, so callers write, then send.
 */

/** A frame on its way to, or in, a user's log. `frame` is the JSON text without `seq`. */
export interface Envelope {
  id: string;
  sender: string;
  recipient: string;
  type: "USER_MSG" | "ACK_MSG";
  frame: string;
}

export interface LoggedFrame {
  seq: number;
  frame: string;
}

/**
 * Applied in order, each once. Never change an applied migration: append a
 * new one.
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE log (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     sender TEXT NOT NULL,
     recipient TEXT NOT NULL,
     type TEXT NOT NULL,
     frame TEXT NOT NULL,
     queued INTEGER NOT NULL,
     created INTEGER NOT NULL
   );
   CREATE INDEX log_queued ON log(seq) WHERE queued = 1;
   CREATE INDEX log_created ON log(created);
   CREATE TABLE sends (
     client_id TEXT PRIMARY KEY,
     server_id TEXT NOT NULL,
     time TEXT NOT NULL,
     created INTEGER NOT NULL
   );
   CREATE INDEX sends_created ON sends(created);
   CREATE TABLE receipts (
     message_id TEXT NOT NULL,
     content TEXT NOT NULL,
     created INTEGER NOT NULL,
     PRIMARY KEY (message_id, content)
   ) WITHOUT ROWID;
   CREATE TABLE outbox (
     oid INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL,
     sender TEXT NOT NULL,
     recipient TEXT NOT NULL,
     type TEXT NOT NULL,
     frame TEXT NOT NULL
   );
   CREATE INDEX outbox_recipient ON outbox(recipient, oid);
   CREATE TABLE retries (
     recipient TEXT PRIMARY KEY,
     attempts INTEGER NOT NULL
   );`,
  // When the next retry for a recipient is due, so the alarm can be set for the earliest.
  `ALTER TABLE retries ADD COLUMN due INTEGER NOT NULL DEFAULT 0;`,
  // The client id moves into the sender's own log row: claiming it and logging
  // the message become one insert. Retention walks the log in seq order (its
  // rows are created in that order), so the created-time indexes go.
  `ALTER TABLE log ADD COLUMN client_id TEXT;
   UPDATE log SET client_id = sends.client_id FROM sends WHERE sends.server_id = log.id;
   CREATE UNIQUE INDEX log_client_id ON log(client_id);
   DROP TABLE sends;
   DROP INDEX log_created;`,
  // Only the user's own sends carry a client id: received rows stay out of the index.
  `DROP INDEX log_client_id;
   CREATE UNIQUE INDEX log_client_id ON log(client_id) WHERE client_id IS NOT NULL;`,
];

export class Store {
  /**
   * Whether this user has tables. A user who has only ever connected has
   * none: creating a schema is most of what a first connection would cost,
   * so it waits for the first write, and reads of an empty store answer empty.
   */
  private ready: boolean;

  private readonly sql: SqlStorage;

  constructor(private readonly storage: DurableObjectStorage) {
    this.sql = storage.sql;
    this.ready = this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'").toArray().length > 0;
    if (this.ready) this.migrate();
  }

  private migrate(): void {
    this.sql.exec("CREATE TABLE IF NOT EXISTS _migrations (version INTEGER PRIMARY KEY)");
    const applied = this.sql.exec<{ v: number | null }>("SELECT max(version) AS v FROM _migrations").one().v ?? 0;
    for (let v = applied; v < MIGRATIONS.length; v++) {
      this.sql.exec(MIGRATIONS[v]!);
      this.sql.exec("INSERT INTO _migrations (version) VALUES (?)", v + 1);
    }
  }

  /**
   * Runs `fn` as one savepoint: if it throws, none of its writes stay. The
   * schema is made first, outside it, so a rolled-back write cannot take a
   * new user's freshly created tables with it.
   */
  atomically<T>(fn: () => T): T {
    void this.db;
    return this.storage.transactionSync(fn);
  }

  /** The database, with the schema in place: for writes. */
  private get db(): SqlStorage {
    if (!this.ready) {
      this.migrate();
      this.ready = true;
    }
    return this.sql;
  }

  // ---- the log -------------------------------------------------------------

  /**
   * Appends to the log unless a frame with this id is already there (delivery
   * is retried, so it must be idempotent). Returns the new seq, or null for a
   * duplicate. `queued` frames wait for the user's next connection.
   */
  append(e: Envelope, queued: boolean, now: number, maxRows: number): number | null {
    return this.insert(e, null, queued, now, maxRows);
  }

  /**
   * Logs the user's own new message under the client's id, unless that id was
   * used before: then returns the earlier message's server id and time (a
   * resend), and logs nothing.
   */
  appendSend(e: Envelope, clientId: string, now: number, maxRows: number): { seq: number } | { serverId: string; time: number } {
    const seq = this.insert(e, clientId, false, now, maxRows);
    if (seq !== null) return { seq };
    return this.sql
      .exec<{ serverId: string; time: number }>("SELECT id AS serverId, created AS time FROM log WHERE client_id = ?", clientId)
      .one();
  }

  private insert(e: Envelope, clientId: string | null, queued: boolean, now: number, maxRows: number): number | null {
    const row = this.db
      .exec<{ seq: number }>(
        `INSERT INTO log (id, client_id, sender, recipient, type, frame, queued, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT DO NOTHING RETURNING seq`,
        e.id,
        clientId,
        e.sender,
        e.recipient,
        e.type,
        e.frame,
        queued ? 1 : 0,
        now,
      )
      .toArray()[0];
    if (!row) return null;
    if (row.seq > maxRows) this.sql.exec("DELETE FROM log WHERE seq <= ?", row.seq - maxRows);
    return row.seq;
  }

  latestSeq(): number {
    if (!this.ready) return 0;
    return this.sql.exec<{ s: number | null }>("SELECT max(seq) AS s FROM log").one().s ?? 0;
  }

  /** Every retained frame after `since`, in order; they count as sent from now on. */
  *replay(since: number): Generator<LoggedFrame> {
    if (!this.ready) return;
    // The UPDATE is a write, so a commit: skip it when nothing was replayed (the usual reconnect).
    if (
      yield* rows(
        this.sql.exec<LoggedFrame & Record<string, SqlStorageValue>>("SELECT seq, frame FROM log WHERE seq > ? ORDER BY seq", since),
      )
    ) {
      this.sql.exec("UPDATE log SET queued = 0 WHERE queued = 1 AND seq > ?", since);
    }
  }

  /** The offline queue, in order; it is empty once consumed. */
  *takeQueued(): Generator<LoggedFrame> {
    if (!this.ready) return;
    if (
      yield* rows(this.sql.exec<LoggedFrame & Record<string, SqlStorageValue>>("SELECT seq, frame FROM log WHERE queued = 1 ORDER BY seq"))
    ) {
      this.sql.exec("UPDATE log SET queued = 0 WHERE queued = 1");
    }
  }

  /** Who sent a logged frame and to whom, for checking a receipt. */
  lookup(id: string): Pick<Envelope, "sender" | "recipient" | "type"> | null {
    if (!this.ready) return null;
    return (
      this.sql
        .exec<Pick<Envelope, "sender" | "recipient" | "type">>("SELECT sender, recipient, type FROM log WHERE id = ?", id)
        .toArray()[0] ?? null
    );
  }

  // ---- dedupe ----------------------------------------------------------------

  /** True the first time a receipt of this kind is recorded for a message. */
  recordReceipt(messageId: string, content: string, now: number): boolean {
    return (
      this.db
        .exec(
          "INSERT INTO receipts (message_id, content, created) VALUES (?, ?, ?) ON CONFLICT DO NOTHING RETURNING 1",
          messageId,
          content,
          now,
        )
        .toArray().length === 1
    );
  }

  // ---- the outbox ------------------------------------------------------------

  enqueue(e: Envelope): void {
    this.db.exec(
      "INSERT INTO outbox (id, sender, recipient, type, frame) VALUES (?, ?, ?, ?, ?)",
      e.id,
      e.sender,
      e.recipient,
      e.type,
      e.frame,
    );
  }

  /** The oldest undelivered frames for one recipient, and the last row's position. */
  pending(recipient: string, limit: number): { envelopes: Envelope[]; upTo: number } {
    const rows = this.sql
      .exec<Envelope & { oid: number } & Record<string, SqlStorageValue>>(
        "SELECT oid, id, sender, recipient, type, frame FROM outbox WHERE recipient = ? ORDER BY oid LIMIT ?",
        recipient,
        limit,
      )
      .toArray();
    const envelopes = rows.map(({ id, sender, recipient, type, frame }) => ({ id, sender, recipient, type, frame }));
    return { envelopes, upTo: rows.at(-1)?.oid ?? 0 };
  }

  delivered(recipient: string, upTo: number): void {
    this.sql.exec("DELETE FROM outbox WHERE recipient = ? AND oid <= ?", recipient, upTo);
    this.sql.exec("DELETE FROM retries WHERE recipient = ?", recipient);
  }

  /** When a recipient in backoff may be tried again; null if its last delivery did not fail. */
  retryDue(recipient: string): number | null {
    if (!this.ready) return null;
    return this.sql.exec<{ due: number }>("SELECT due FROM retries WHERE recipient = ?", recipient).toArray()[0]?.due ?? null;
  }

  outboxRecipients(): string[] {
    if (!this.ready) return [];
    return this.sql
      .exec<{ recipient: string }>("SELECT DISTINCT recipient FROM outbox")
      .toArray()
      .map((r) => r.recipient);
  }

  /** Counts a failed delivery attempt and returns how many have failed in a row. */
  failed(recipient: string): number {
    return this.sql
      .exec<{ attempts: number }>(
        `INSERT INTO retries (recipient, attempts, due) VALUES (?, 1, 0)
         ON CONFLICT (recipient) DO UPDATE SET attempts = attempts + 1 RETURNING attempts`,
        recipient,
      )
      .one().attempts;
  }

  retryAt(recipient: string, due: number): void {
    this.sql.exec("UPDATE retries SET due = ? WHERE recipient = ?", due, recipient);
  }

  /**
   * When the outbox next needs the alarm: the earliest retry, or `fallback`
   * for rows that no retry covers (a crash between ack and delivery). Null
   * when the outbox is empty.
   */
  outboxDue(fallback: number): number | null {
    if (!this.ready) return null;
    return this.sql
      .exec<{ due: number | null }>(
        `SELECT min(coalesce(r.due, ?)) AS due FROM (SELECT DISTINCT recipient FROM outbox) o
         LEFT JOIN retries r USING (recipient)`,
        fallback,
      )
      .one().due;
  }

  // ---- retention ---------------------------------------------------------------

  /** Drops what is older than `cutoff`; returns when the oldest remaining row expires, or null. */
  prune(cutoff: number, retentionMs: number): number | null {
    if (!this.ready) return null;
    // Log rows are created in seq order: everything before the first young row goes.
    this.sql.exec("DELETE FROM log WHERE seq < coalesce((SELECT seq FROM log WHERE created >= ? ORDER BY seq LIMIT 1), 9e18)", cutoff);
    this.sql.exec("DELETE FROM receipts WHERE created < ?", cutoff);
    const oldest = this.sql
      .exec<{ t: number | null }>(
        "SELECT min(t) AS t FROM (SELECT created AS t FROM (SELECT created FROM log ORDER BY seq LIMIT 1) UNION ALL SELECT min(created) FROM receipts)",
      )
      .one().t;
    return oldest === null ? null : oldest + retentionMs;
  }
}

/** Yields every row; returns whether there was any. */
function* rows<T>(cursor: Iterable<T>): Generator<T, boolean> {
  let any = false;
  for (const row of cursor) {
    any = true;
    yield row;
  }
  return any;
}
