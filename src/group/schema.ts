/**
 * The group object's SQLite schema (see ../db.ts). Never change an applied
 * migration: append a new one.
 *
 * `frames` is the group's log, in the group's one order (`gseq`). A member
 * receives the frames inside its spans (from the event that added it to the
 * one that removed it, or on while it is a member); `cursors` remembers how
 * far each member's object has them, so a burst costs one RPC per member,
 * not one per frame.
 */
import type { Migration } from "../db.ts";

export const GROUP_MIGRATIONS: readonly Migration[] = [
  `CREATE TABLE info (
     one INTEGER PRIMARY KEY CHECK (one = 1),
     name TEXT NOT NULL,
     created INTEGER NOT NULL,
     creator TEXT NOT NULL,
     idempotency_key TEXT
   );
   CREATE TABLE members (
     user TEXT PRIMARY KEY,
     role TEXT NOT NULL,
     joined INTEGER NOT NULL,
     position INTEGER NOT NULL,
     delivered_gseq INTEGER,
     delivered_id TEXT,
     read_gseq INTEGER,
     read_id TEXT
   );
   CREATE TABLE frames (
     gseq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     sender TEXT NOT NULL,
     type TEXT NOT NULL,
     frame TEXT NOT NULL,
     origin TEXT,
     notice_key TEXT UNIQUE,
     created INTEGER NOT NULL
   );
   CREATE TABLE spans (
     user TEXT NOT NULL,
     from_gseq INTEGER NOT NULL,
     until_gseq INTEGER,
     PRIMARY KEY (user, from_gseq)
   ) WITHOUT ROWID;
   CREATE TABLE cursors (
     user TEXT PRIMARY KEY,
     sent INTEGER NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     due INTEGER NOT NULL DEFAULT 0
   );`,
  // Replies, edits, deletes and reactions (PROTOCOL.md, v3): the group decides
  // them in its order, so it knows each frame's `ref`, which messages were
  // deleted (their payloads and their edits' are erased in place), and who
  // reacted with what (for no-op reactions and the 20-key limit).
  `ALTER TABLE frames ADD COLUMN ref TEXT;
   ALTER TABLE frames ADD COLUMN deleted INTEGER;
   CREATE INDEX frames_ref ON frames(ref) WHERE ref IS NOT NULL;
   CREATE TABLE reactions (
     message TEXT NOT NULL,
     user TEXT NOT NULL,
     key TEXT NOT NULL,
     PRIMARY KEY (message, user, key)
   ) WITHOUT ROWID;`,
  // A former member's spans, kept after its object has them all: a delete for
  // everyone of a message one of them held is fanned out to that member too.
  `CREATE TABLE former_spans (
     user TEXT NOT NULL,
     from_gseq INTEGER NOT NULL,
     until_gseq INTEGER NOT NULL,
     PRIMARY KEY (user, from_gseq)
   ) WITHOUT ROWID;
   INSERT INTO former_spans SELECT user, from_gseq, until_gseq FROM spans WHERE until_gseq IS NOT NULL;`,
  // Large groups (PROTOCOL.md, Large groups): above GROUP_SHARD_SIZE members
  // the fan-out goes through shard objects. `members.shard` says which one
  // delivers to a member (NULL: this object, through `spans` and `cursors`);
  // `shard_spans` are the spans the shards deliver, kept here until the shard
  // has them (`rev`: the gseq of the change that last touched the row) and,
  // while open, to know who is where; `shards` is how far each shard has the
  // log. A span's `prev` is the frame its member must have before the span's
  // first one (a member moved from another fan-out object). `departed`
  // remembers where a former member was, so one added back follows its last frame.
  `ALTER TABLE members ADD COLUMN shard INTEGER;
   ALTER TABLE spans ADD COLUMN prev INTEGER NOT NULL DEFAULT 0;
   CREATE TABLE shard_spans (
     user TEXT NOT NULL,
     from_gseq INTEGER NOT NULL,
     until_gseq INTEGER,
     prev INTEGER NOT NULL,
     shard INTEGER NOT NULL,
     rev INTEGER NOT NULL,
     PRIMARY KEY (user, from_gseq)
   ) WITHOUT ROWID;
   CREATE INDEX shard_spans_shard ON shard_spans(shard, rev);
   CREATE TABLE shards (
     shard INTEGER PRIMARY KEY,
     sent INTEGER NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     due INTEGER NOT NULL DEFAULT 0
   );
   CREATE TABLE departed (
     user TEXT PRIMARY KEY,
     shard INTEGER,
     until_gseq INTEGER NOT NULL
   );`,
];
