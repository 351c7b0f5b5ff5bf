/**
 * The client's socket ends in the Worker, which passes every frame to and
 * from the socket the user's object accepted (hibernatable, with
 * ctx.acceptWebSocket: the object still sleeps while the socket is idle).
 *
 * Why not hand the object's socket straight to the client: under workerd
 * 1.20261102 (wrangler dev, the test pool), when an object closes a socket
 * whose client has never sent a frame, the client's Close reply is the
 * first frame the object's read loop takes, and the runtime's pipe pump
 * (kj http.c++, WebSocketPipeImpl::BlockedReceive::tryPumpFrom) goes on
 * pumping after it instead of ending: the TCP connection stays open until
 * the object goes idle (about 10 s; 30 s while other sockets keep it busy).
 * Repro: shared/repros/close-delay. With the socket ending here, every
 * server-initiated close (4001, 4003, 4008, 1008) reaches the client in
 * milliseconds (test/node/closes.test.ts). The cost is the Worker's share of
 * each frame; the README's Performance section measures it.
 */

/** Wraps the object's 101 response: the client gets a socket of the Worker's own. */
export function relay(upstream: Response): Response {
  const inner = upstream.webSocket;
  if (inner === null) return upstream;
  const { 0: client, 1: outer } = new WebSocketPair();
  inner.accept();
  outer.accept();
  // Binary frames stay bytes (the object answers them with BAD_MESSAGE), not Blobs.
  inner.binaryType = "arraybuffer";
  outer.binaryType = "arraybuffer";
  outer.addEventListener("message", (e) => forward(inner, e.data));
  inner.addEventListener("message", (e) => forward(outer, e.data));
  outer.addEventListener("close", (e) => passClose(inner, e.code, e.reason));
  inner.addEventListener("close", (e) => passClose(outer, e.code, e.reason));
  outer.addEventListener("error", () => passClose(inner, 1011, "client socket failed"));
  inner.addEventListener("error", () => passClose(outer, 1011, "server socket failed"));
  return new Response(null, { status: 101, webSocket: client, headers: upstream.headers });
}

function forward(to: WebSocket, data: string | ArrayBuffer): void {
  try {
    to.send(data);
  } catch {
    // The other side is closing: its close reaches this side next.
  }
}

/** 1005 (no code) and 1006 (no close frame) describe a close and cannot be sent: pass on what can. */
function passClose(to: WebSocket, code: number, reason: string): void {
  try {
    if (code === 1005) to.close();
    else if (code === 1006 || code === 1015) to.close(1001, "the other side went away");
    else to.close(code, reason);
  } catch {
    // Already closing.
  }
}
