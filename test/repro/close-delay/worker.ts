/**
 * The smallest shape that shows the local runtime's close delay: an object
 * accepts hibernatable sockets, and a later upgrade with `?close=others`
 * closes the sockets already there with 4008, as the server's socket cap
 * does. Everything else answers as the runtime does by default.
 */
import { DurableObject } from "cloudflare:workers";

export class Room extends DurableObject<Record<string, never>> {
  constructor(ctx: DurableObjectState, env: Record<string, never>) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  override async fetch(request: Request): Promise<Response> {
    const { 0: client, 1: server } = new WebSocketPair();
    if (new URL(request.url).searchParams.get("close") === "others") {
      for (const ws of this.ctx.getWebSockets()) ws.close(4008, "a newer socket took over");
    }
    this.ctx.acceptWebSocket(server);
    server.send("hello");
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // already closing
    }
  }
}

export default {
  async fetch(request: Request, env: { ROOM: DurableObjectNamespace<Room> }): Promise<Response> {
    if (new URL(request.url).pathname === "/health") return new Response("ok");
    return env.ROOM.getByName(new URL(request.url).searchParams.get("room") ?? "r").fetch(request);
  },
};
