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
  // The conversation index (PROTOCOL.md, Conversations and history): each log
  // row names its conversation, history pages read the log by (conversation,
  // seq), and one row per conversation keeps its latest activity, unread
  // count and watermarks. Existing logs are indexed from what they hold.
  (sql, me) => {
    sql.exec("ALTER TABLE log ADD COLUMN conversation TEXT");
    sql.exec(
      `UPDATE log SET conversation = CASE WHEN recipient LIKE 'group:%' THEN recipient WHEN sender = ? THEN recipient ELSE sender END`,
      me,
    );
    sql.exec(`CREATE INDEX log_history ON log(conversation, seq) WHERE type IN ('USER_MSG', 'NOTICE', 'GROUP_EVENT')`);
    sql.exec(`CREATE TABLE conversations (
      id TEXT PRIMARY KEY,
      kind TEXT NOT NULL,
      name TEXT,
      last_seq INTEGER NOT NULL,
      unread INTEGER NOT NULL DEFAULT 0,
      read_up_to INTEGER NOT NULL DEFAULT 0,
      peer_delivered_up_to INTEGER NOT NULL DEFAULT 0,
      peer_read_up_to INTEGER NOT NULL DEFAULT 0,
      updated INTEGER NOT NULL
    )`);
    sql.exec("CREATE UNIQUE INDEX conversations_recent ON conversations(last_seq)");
    sql.exec(
      `INSERT INTO conversations (id, kind, last_seq, updated)
       SELECT conversation, 'direct', max(seq), max(created) FROM log WHERE type = 'USER_MSG' GROUP BY conversation`,
    );
    // The user's own read receipts (remembered in receipts) set readUpTo; the peer's, in the log, the watermarks.
    sql.exec(
      `UPDATE conversations SET read_up_to = coalesce((SELECT max(l.seq) FROM log l JOIN receipts r ON r.message_id = l.id
         WHERE r.content = 'MESSAGE_READ' AND l.conversation = conversations.id), 0)`,
    );
    for (const [column, content] of [
      ["peer_delivered_up_to", "MESSAGE_DELIVERED"],
      ["peer_read_up_to", "MESSAGE_READ"],
    ]) {
      sql.exec(
        `UPDATE conversations SET ${column} = coalesce((SELECT max(m.seq) FROM log a JOIN log m ON m.id = json_extract(a.frame, '$.message')
           WHERE a.type = 'ACK_MSG' AND a.sender <> ? AND json_extract(a.frame, '$.content') = ? AND m.conversation = conversations.id), 0)`,
        me,
        content,
      );
    }
    sql.exec(
      `UPDATE conversations SET unread = (SELECT count(*) FROM log WHERE conversation = conversations.id
         AND type = 'USER_MSG' AND sender <> ? AND seq > conversations.read_up_to)`,
      me,
    );
  },
  // Groups (PROTOCOL.md, Groups): the user's memberships, learned from
  // GROUP_EVENT frames, so a non-member's send is refused before its ack; the
  // client ids of group sends, claimed at the ack (the log row comes later,
  // in the group's order); and an outbox row's client id and sending socket.
  `CREATE TABLE memberships (group_id TEXT PRIMARY KEY);
   CREATE TABLE group_sends (
     client_id TEXT PRIMARY KEY,
     server_id TEXT NOT NULL,
     created INTEGER NOT NULL
   );
   ALTER TABLE outbox ADD COLUMN client_id TEXT;
   ALTER TABLE outbox ADD COLUMN origin TEXT;`,
  // The server API's notices are idempotent by the API's message id.
  `CREATE TABLE notice_keys (
     key TEXT PRIMARY KEY,
     server_id TEXT NOT NULL,
     created INTEGER NOT NULL
   );`,
  // Presence (PROTOCOL.md, Ephemeral events): who watches this user (with an
  // expiry, so a watcher that vanished costs nothing after it), and which of
  // this user's sockets watch whom. Nothing else ephemeral is stored.
  `CREATE TABLE watchers (
     watcher TEXT PRIMARY KEY,
     expires INTEGER NOT NULL
   );
   CREATE TABLE watching (
     connection_id TEXT NOT NULL,
     user TEXT NOT NULL,
     PRIMARY KEY (connection_id, user)
   ) WITHOUT ROWID;
   CREATE INDEX watching_user ON watching(user);`,
  // Small facts about the user: when their last socket closed (presence's
  // lastSeen) and until when the server API suspended them. A user with no
  // tables has neither, so connecting never reads or writes anything for them.
  `CREATE TABLE meta (
     key TEXT PRIMARY KEY,
     value INTEGER NOT NULL
   );`,
  // Replies, edits, deletes and reactions (PROTOCOL.md, v3): a frame's `ref`
  // (the message a reply answers or a change changes), so a delete finds the
  // edits it erases; and the current state of each message that changed,
  // written in the commit of the frame that changed it. A message that never
  // changed has no state row: its log row is how it is now, so a plain
  // message costs no second write. `reactions` holds who reacted with what
  // (every reactor, so counts stay exact when one takes theirs back); the
  // state row keeps the counts as history shows them.
  `ALTER TABLE log ADD COLUMN ref TEXT;
   CREATE INDEX log_ref ON log(ref) WHERE ref IS NOT NULL;
   ALTER TABLE outbox ADD COLUMN ref TEXT;
   CREATE TABLE message_state (
     id TEXT PRIMARY KEY,
     message TEXT,
     edited TEXT,
     deleted TEXT,
     reactions TEXT
   ) WITHOUT ROWID;
   CREATE TABLE reactions (
     message TEXT NOT NULL,
     user TEXT NOT NULL,
     key TEXT NOT NULL,
     PRIMARY KEY (message, user, key)
   );`,
  // Blocks (PROTOCOL.md, Blocking): whom this user blocks and since when.
  // The user object enforces them on every frame that reaches it, from a set
  // read once per wake (user/blocks.ts), so the table is read, not scanned.
  `CREATE TABLE blocks (
     user TEXT PRIMARY KEY,
     since INTEGER NOT NULL
   ) WITHOUT ROWID;`,
  // Conversation settings (PROTOCOL.md, Blocking, reports and conversation
  // settings): each user's own mute (until a time, ms), pin and archive.
  `ALTER TABLE conversations ADD COLUMN muted_until INTEGER;
   ALTER TABLE conversations ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE conversations ADD COLUMN archived INTEGER NOT NULL DEFAULT 0;`,
  // Large groups (PROTOCOL.md, Large groups): a group's frames reach a member
  // from the group object or from one of its shards, and a member can move
  // between them; the member's object keeps the last gseq it has of each
  // group, so nothing is taken twice or before the frame it follows.
  `CREATE TABLE group_cursors (
     group_id TEXT PRIMARY KEY,
     gseq INTEGER NOT NULL
   ) WITHOUT ROWID;`,
  // Files (PROTOCOL.md, Files): the user's uploads, so that retention,
  // erasure and a delete for everyone can remove them from R2 (the bucket is
  // never listed), `doomed` once a delete for everyone named one (the alarm
  // removes it); and the bytes uploaded per UTC day (MAX_FILE_BYTES_PER_DAY).
  `CREATE TABLE files (
     id TEXT PRIMARY KEY,
     conversation TEXT NOT NULL,
     size INTEGER NOT NULL,
     created INTEGER NOT NULL,
     doomed INTEGER NOT NULL DEFAULT 0
   ) WITHOUT ROWID;
   CREATE INDEX files_created ON files(created);
   CREATE TABLE file_bytes (
     day INTEGER PRIMARY KEY,
     bytes INTEGER NOT NULL
   );`,
];
