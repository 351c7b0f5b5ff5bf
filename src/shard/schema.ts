/**
 * A shard's SQLite schema (see ../db.ts). Never change an applied migration:
 * append a new one.
 *
 * The shard keeps the group's frames in the group's order until each of its
 * members' objects has them, and its members' spans and cursors, shaped as
 * the group object's own (../group/schema.ts), so the same fan-out code
 * (../group/fanout.ts) delivers from either.
 */
import type { Migration } from "../db.ts";

export const SHARD_MIGRATIONS: readonly Migration[] = [
  `CREATE TABLE frames (
     gseq INTEGER PRIMARY KEY,
     id TEXT NOT NULL,
     sender TEXT NOT NULL,
     type TEXT NOT NULL,
     frame TEXT NOT NULL,
     origin TEXT,
     ref TEXT
   );
   CREATE TABLE spans (
     user TEXT NOT NULL,
     from_gseq INTEGER NOT NULL,
     until_gseq INTEGER,
     prev INTEGER NOT NULL,
     PRIMARY KEY (user, from_gseq)
   ) WITHOUT ROWID;
   CREATE TABLE cursors (
     user TEXT PRIMARY KEY,
     sent INTEGER NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     due INTEGER NOT NULL DEFAULT 0
   );`,
];
