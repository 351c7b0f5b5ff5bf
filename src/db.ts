/**
 * An object's SQLite database with its migration list (each object kind has
 * its own list). An object that has only ever been read has no tables:
 * creating a schema is most of what a first connection would cost, so it
 * waits for the first write, and reads of an empty store answer empty.
 *
 * Every query is synchronous. Calls with no `await` between them commit as
 * one transaction, and the runtime's output gate holds any `ws.send` or RPC
 * made after them until that commit is durable, so callers write, then send.
 */

/** SQL text, or a step that needs the object's own name. Never change an applied one: append. */
export type Migration = string | ((sql: SqlStorage, name: string) => void);

export class Db {
  /** Whether the object has tables (see the module comment). */
  private ready: boolean;
  readonly sql: SqlStorage;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly name: string,
    private readonly migrations: readonly Migration[],
  ) {
    this.sql = storage.sql;
    this.ready = this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'").toArray().length > 0;
    if (this.ready) this.migrate();
  }

  /** False for an object with no tables yet: readers answer empty without touching SQL. */
  get exists(): boolean {
    return this.ready;
  }

  /** The database, with the schema in place: for writes. */
  get write(): SqlStorage {
    if (!this.ready) {
      this.migrate();
      this.ready = true;
    }
    return this.sql;
  }

  /**
   * Runs `fn` as one savepoint: if it throws, none of its writes stay. The
   * schema is made first, outside it, so a rolled-back write cannot take a
   * new user's freshly created tables with it.
   */
  atomically<T>(fn: () => T): T {
    void this.write;
    return this.storage.transactionSync(fn);
  }

  /** After the object's storage was erased: the next write makes a fresh schema. */
  forget(): void {
    this.ready = false;
  }

  private migrate(): void {
    // Only when it is missing: even `CREATE TABLE IF NOT EXISTS` counts as a
    // write, and would make every wake of an existing object commit.
    if (!this.ready) this.sql.exec("CREATE TABLE IF NOT EXISTS _migrations (version INTEGER PRIMARY KEY)");
    const applied = this.sql.exec<{ v: number | null }>("SELECT max(version) AS v FROM _migrations").one().v ?? 0;
    for (let v = applied; v < this.migrations.length; v++) {
      const step = this.migrations[v]!;
      if (typeof step === "string") this.sql.exec(step);
      else step(this.sql, this.name);
      this.sql.exec("INSERT INTO _migrations (version) VALUES (?)", v + 1);
    }
  }
}

/** Yields every row; returns whether there was any. */
export function* rows<T>(cursor: Iterable<T>): Generator<T, boolean> {
  let any = false;
  for (const row of cursor) {
    any = true;
    yield row;
  }
  return any;
}
