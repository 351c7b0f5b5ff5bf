/**
 * A frame on its way from one object to another (an outbox row, an RPC
 * argument) or in a log. `frame` is the JSON text without `seq`: each
 * receiving log adds its own.
 */
export interface Envelope {
  /** The server's id of the frame. */
  id: string;
  sender: string;
  /** A user, or a group id. */
  recipient: string;
  /** What the frame is: a message or a receipt. */
  type: "USER_MSG" | "ACK_MSG";
  frame: string;
}
