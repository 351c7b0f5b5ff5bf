/**
 * TOKEN_REFRESH at the default frame limit (64 KiB), where a token longer
 * than any real JWT fits in a frame: it is refused with BAD_TOKEN, not
 * verified, and the socket stays up. The rest of refresh and expiry is in
 * test/worker-limits/expiry.test.ts.
 */
import { expect, it } from "vitest";
import { Client, uniqueUser } from "./helpers.ts";

it("refuses an oversized token with BAD_TOKEN and ref, and keeps the socket", async () => {
  const c = await Client.connect(uniqueUser("huge"));
  c.send({ id: "r-huge", type: "SYSTEM_MSG", content: "TOKEN_REFRESH", message: `${"x".repeat(9000)}` });
  expect(await c.error("r-huge")).toMatchObject({ message: { code: "BAD_TOKEN", reason: "token is longer than 8192 characters" } });
  expect((await c.message(uniqueUser("peer"), "still up")).content).toBe("MESSAGE_RECEIVED");
});
