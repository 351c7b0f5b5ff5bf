/**
 * Everything a capability module needs about one user's object: built once
 * per object instance by the UserObject class, and passed to the plain
 * functions that do the work (so tests can drive them directly).
 */

import type { Alarm } from "../alarm.ts";
import type { Config } from "../config.ts";
import type { Db } from "../db.ts";
import type { Blocks } from "./blocks.ts";
import type { Conversations } from "./conversations.ts";
import type { UserLog } from "./log.ts";
import type { Outbox } from "./outbox.ts";
import type { Sockets } from "./sockets.ts";

export interface User {
  /** This object's user: the name it was addressed by (`getByName(identity)`). */
  readonly me: string;
  readonly ctx: DurableObjectState;
  readonly env: Env;
  readonly config: Config;
  readonly db: Db;
  readonly log: UserLog;
  readonly conversations: Conversations;
  /** Whom the user blocks: read on every frame that reaches the object. */
  readonly blocks: Blocks;
  readonly sockets: Sockets;
  readonly outbox: Outbox;
  readonly alarm: Alarm;
}
