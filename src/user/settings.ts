/**
 * SETTINGS_CHANGED (PROTOCOL.md, Blocking, reports and conversation
 * settings): every change a user makes to their own settings is one frame
 * in their own log, so every device learns it at once (live) and on resume
 * (`since`), the way messages converge. Not in the offline queue, and in no
 * conversation: the list and history never show it.
 */
import type { Envelope } from "../envelope.ts";
import { isoSecond, settingsText, withSeq } from "../protocol/build.ts";
import { type SettingsChange, SYSTEM } from "../protocol/frames.ts";
import type { User } from "./context.ts";

/** Logs the change and hands it to every socket of the user. The caller makes no frame for a change that changes nothing. */
export function settingsChanged(u: User, change: SettingsChange, now: number): void {
  const id = crypto.randomUUID();
  const envelope: Envelope = {
    id,
    sender: SYSTEM,
    recipient: u.me,
    type: "SETTINGS",
    frame: settingsText(id, u.me, isoSecond(now), change),
  };
  const seq = u.log.append(envelope, false, now, u.config.logMaxRows);
  if (seq !== null) u.sockets.broadcast(withSeq(envelope.frame, seq), now);
}
