/**
 * Order under refusal (PROTOCOL.md, Errors): once a USER_MSG on a socket is
 * refused for the send rate, every later USER_MSG on that socket is refused
 * too until the refused id arrives again. A client that pipelines messages
 * and resends from the first refused one, in order, then keeps the order its
 * user typed: nothing sent after a refused message can be stored before it.
 *
 * The held id lives in the socket's attachment: the object may hibernate
 * between the refusal and the resend, and must not forget the hold then.
 */
import type { Sockets } from "./sockets.ts";

export class Holdback {
  constructor(private readonly sockets: Sockets) {}

  /** The client id this socket's messages wait for, if any. */
  heldFor(ws: WebSocket): string | undefined {
    return this.sockets.attachment(ws).heldFor;
  }

  /** A USER_MSG was refused for the rate: hold the socket's later ones back until it comes again. */
  hold(ws: WebSocket, clientId: string): void {
    const attachment = this.sockets.attachment(ws);
    if (attachment.heldFor === undefined) this.sockets.setAttachment(ws, { ...attachment, heldFor: clientId });
  }

  /** The held id came again and was let through: later messages are served again. */
  release(ws: WebSocket): void {
    const { heldFor: _, ...attachment } = this.sockets.attachment(ws);
    this.sockets.setAttachment(ws, attachment);
  }
}
