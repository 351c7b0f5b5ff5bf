/**
 * What members' objects send the group (their outboxes' batches): messages
 * and changes to them, logged in the group's order if their sender is still
 * a member (and the group takes the change: changes.ts), and receipts,
 * which move the member's watermark and reach the message's sender live
 * (never logged per message: PROTOCOL.md, Groups).
 */
import { type Envelope, isChange } from "../envelope.ts";
import { errorMessage, logEvent } from "../logging.ts";
import { isoSecond, noticeText } from "../protocol/build.ts";
import type { ReceiptFrame } from "../protocol/frames.ts";
import { changed, decide, type Refusal } from "./changes.ts";
import type { Group } from "./context.ts";

/** A message the group did not take (its sender was no longer a member, or a change was refused), with why. */
export interface Refused extends Refusal {
  id: string;
  clientId?: string;
}

const NOT_A_MEMBER: Refusal = { code: "FORBIDDEN", reason: "you were no longer a member of the group when it got your message" };

/** Takes a batch; returns the messages refused. Receipts go live to their messages' senders after the commit. */
export function post(g: Group, envelopes: Envelope[], now: number): Refused[] {
  const refused: Refused[] = [];
  const receipts: [string, string, string][] = [];
  for (const e of envelopes) {
    if (e.type === "USER_MSG" || isChange(e.type)) {
      // Already logged under this id (a retried batch): it stays taken, and is not decided again.
      if (g.log.byId(e.id)) continue;
      const verdict = g.members.get(e.sender) ? decide(g, e, now) : NOT_A_MEMBER;
      if (verdict === "noop") continue;
      if (verdict !== null) {
        refused.push({ id: e.id, ...(e.clientId === undefined ? {} : { clientId: e.clientId }), ...verdict });
        continue;
      }
      const { id, sender, type, frame, origin, ref } = e;
      g.log.append({ id, sender, type, frame, ...(origin ? { origin } : {}), ...(ref ? { ref } : {}) }, now);
      changed(g, e, now);
    } else if (e.type === "ACK_MSG") {
      const receipt = JSON.parse(e.frame) as ReceiptFrame;
      const target = g.log.byId(receipt.message);
      if (target?.type !== "USER_MSG" || target.sender === e.sender || !g.members.get(e.sender)) continue;
      g.members.watermark(e.sender, receipt.content, target.gseq, receipt.message);
      receipts.push([e.sender, target.sender, e.frame]);
    }
  }
  if (receipts.length > 0) {
    sendLive(g, g.ephemeral.receipts(receipts, g.members.count(), now));
    const held = g.ephemeral.due();
    if (held !== null) g.ctx.waitUntil(g.alarm.wakeBy(held));
  }
  return refused;
}

/** Receipts to their messages' senders' open sockets: one call per sender. */
export function sendLive(g: Group, bySender: Map<string, string[]>): void {
  for (const [sender, frames] of bySender) {
    g.ctx.waitUntil(
      g.env.USERS.getByName(sender)
        .live(frames)
        .catch((err: unknown) => logEvent("info", "live_receipt_dropped", { group: g.id, sender, error: errorMessage(err) })),
    );
  }
}

/** A notice from the server API to every member; idempotent by the API's message id. */
export function notice(g: Group, key: string, rawMessage: string, now: number): { id: string; time: string } {
  const known = g.log.byNoticeKey(key);
  if (known) return { id: known.id, time: isoSecond(known.created) };
  const id = crypto.randomUUID();
  const time = isoSecond(now);
  g.log.append({ id, sender: "system", type: "NOTICE", frame: noticeText(id, g.id, time, rawMessage), noticeKey: key }, now);
  return { id, time };
}
