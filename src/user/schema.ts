/**
 * The user object's SQLite schema: one migration list, applied in order, each
 * once (see ../db.ts). Never change an applied migration: append a new one.
 */
import type { Migration } from "../db.ts";

export const MIGRATIONS: readonly Migration[] = [
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
