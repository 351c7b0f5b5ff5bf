/** Everything a group capability module needs about one group's object (see ../user/context.ts). */
import type { Alarm } from "../alarm.ts";
import type { Config } from "../config.ts";
import type { Db } from "../db.ts";
import type { Ephemeral } from "./ephemeral.ts";
import type { FanOut } from "./fanout.ts";
import type { GroupLog } from "./log.ts";
import type { Members } from "./members.ts";
import type { Spans } from "./spans.ts";
import type { Tree } from "./tree.ts";

export interface Group {
  /** `group:<uuid>`: the name this object is addressed by. */
  readonly id: string;
  readonly ctx: DurableObjectState;
  readonly env: Env;
  readonly config: Config;
  readonly db: Db;
  readonly log: GroupLog;
  readonly members: Members;
  readonly spans: Spans;
  readonly fanout: FanOut;
  /** The shards, for a group over GROUP_SHARD_SIZE members. */
  readonly tree: Tree;
  readonly alarm: Alarm;
  /** Typing and live receipts, thinned in large groups. */
  readonly ephemeral: Ephemeral;
}
