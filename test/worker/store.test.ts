/**
 * The schema on real SQLite: a store written by an earlier version upgrades
 * in place and keeps what matters (log, dedupe ids); a user who never wrote
 * anything has no tables.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { Db } from "../../src/db.ts";
import { Conversations } from "../../src/user/conversations.ts";
import { UserLog } from "../../src/user/log.ts";
import { MIGRATIONS } from "../../src/user/schema.ts";
import { Client, uniqueUser } from "./helpers.ts";

it("upgrades a version-2 store: client ids move into the log and still dedupe", async () => {
  await runInDurableObject(env.USERS.getByName(`store-${crypto.randomUUID()}`), (_o, state) => {
    const sql = state.storage.sql;
    // Rebuild this object's storage as version 2 left it.
    for (const { name } of sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'")
      .toArray()) {
      sql.exec(`DROP TABLE "${name}"`);
    }
    sql.exec("CREATE TABLE _migrations (version INTEGER PRIMARY KEY)");
    for (const [v, migration] of MIGRATIONS.slice(0, 2).entries()) {
      sql.exec(migration as string);
      sql.exec("INSERT INTO _migrations (version) VALUES (?)", v + 1);
    }
    sql.exec(
      `INSERT INTO log (id, sender, recipient, type, frame, queued, created) VALUES ('srv-1', 'me', 'you', 'USER_MSG', '{}', 0, 1000)`,
    );
    sql.exec(`INSERT INTO sends (client_id, server_id, time, created) VALUES ('c-1', 'srv-1', '1970-01-01T00:00:01Z', 1000)`);

    const db = new Db(state.storage, state.id.name!, MIGRATIONS);
    const store = new UserLog(db, state.id.name!, new Conversations(db, state.id.name!));
    const envelope = { id: "srv-2", sender: "me", recipient: "you", type: "USER_MSG" as const, frame: "{}" };
    expect(store.appendSend(envelope, "c-1", 2000, 100)).toEqual({ serverId: "srv-1", time: 1000 });
    expect(store.appendSend(envelope, "c-2", 2000, 100)).toEqual({ seq: expect.any(Number) });
    expect(sql.exec("SELECT name FROM sqlite_master WHERE name = 'sends'").toArray()).toEqual([]);
  });
});

it("creates no tables for a user who has only connected, and the schema on the first write", async () => {
  const user = uniqueUser("lurker");
  const tables = () =>
    runInDurableObject(
      env.USERS.getByName(user),
      (_o, state) =>
        state.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'log'").toArray().length,
    );
  const lurker = await Client.open(user);
  expect(lurker.hello.message.seq).toBe(0);
  await lurker.client.expectNothingMore();
  expect(await tables()).toBe(0);
  const ack = await (await Client.connect(uniqueUser("talker"))).message(user, "hi");
  expect(await lurker.client.next()).toMatchObject({ id: ack.message, seq: 1 });
  expect(await tables()).toBe(1);
});
