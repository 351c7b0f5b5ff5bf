/**
 * The chat page's safety controls (safety.js) in a real headless Chromium
 * against wrangler dev, between two people: one reports the other's message
 * (a reason and a note; the report reaches the server API with the message
 * as evidence), blocks them from the conversation's header (the page says
 * so, the composer is disabled, their next message never shows though their
 * page has it acked) and unblocks; mutes the conversation for 8 hours, pins
 * it (on top of the list) and archives it (an "Archived" section), each as
 * the server's list then has it. The rules themselves are proven in
 * test/worker/blocks.test.ts, conversation-settings.test.ts and reports.test.ts.
 */
import { execSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEV_API_KEY } from "../../src/auth/devtoken.ts";
import { launchChromium } from "./chromium.ts";
import { type DevServer, ROOT, startDevServer } from "./devserver.ts";
import { devToken } from "./wsclient.ts";

let server: DevServer;
let browser: Browser;
const pageErrors: string[] = [];

beforeAll(async () => {
  // The page imports the client library as ./client.js: build it from the current source, as `npm start` does.
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
  execSync(pkg.scripts["build:page"]!, {
    cwd: ROOT,
    env: { ...process.env, PATH: `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH}` },
  });
  const [main, launched] = await Promise.allSettled([startDevServer(), launchChromium()]);
  if (main.status === "fulfilled") server = main.value;
  if (launched.status === "fulfilled") browser = launched.value.browser;
  for (const r of [main, launched]) if (r.status === "rejected") throw r.reason;
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const unique = (name: string) => `${name}-${crypto.randomUUID().slice(0, 8)}`;

async function signIn(name: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 900, height: 560 } });
  const page = await context.newPage();
  page.on("pageerror", (err) => pageErrors.push(`${name}: ${err.message}`));
  // The block asks for confirmation.
  page.on("dialog", (d) => void d.accept());
  await page.goto(`${server.url}/`);
  await page.fill("#signin input[name=user]", name);
  await page.click("#signin button");
  await page.locator('#state[data-state="open"]').waitFor();
  return page;
}

async function openChat(page: Page, peer: string): Promise<void> {
  await page.fill("#new-chat input[name=peer]", peer);
  await page.press("#new-chat input[name=peer]", "Enter");
  await page.locator("#peer", { hasText: peer }).waitFor();
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill("#composer textarea[name=text]", text);
  await page.press("#composer textarea[name=text]", "Enter");
  await page
    .locator(
      '#messages .msg.mine[data-status="received"], #messages .msg.mine[data-status="delivered"], #messages .msg.mine[data-status="read"]',
      { hasText: text },
    )
    .waitFor();
}

async function listed(
  user: string,
  archived = false,
): Promise<{ id: string; mutedUntil: string | null; pinned: boolean; archived: boolean }[]> {
  const token = await devToken(server, user);
  const res = await fetch(`${server.url}/v1/conversations${archived ? "?archived=true" : ""}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  return ((await res.json()) as { conversations: { id: string; mutedUntil: string | null; pinned: boolean; archived: boolean }[] })
    .conversations;
}

async function until(what: string, condition: () => Promise<boolean>): Promise<void> {
  for (let tries = 0; !(await condition()); tries++) {
    if (tries > 200) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("the chat page's safety controls in Chromium", () => {
  it("report a message, block and unblock from the header, mute, pin and archive from the sidebar", async () => {
    const [annName, bobName, calName] = [unique("ann"), unique("bob"), unique("cal")];
    const [ann, bob] = [await signIn(annName), await signIn(bobName)];
    await openChat(bob, annName);
    await say(bob, "buy my stuff");
    await openChat(ann, bobName);
    const rude = ann.locator("#messages .msg", { hasText: "buy my stuff" });
    await rude.waitFor();

    // Report: a reason, a note, and the moderators have it with the message as evidence.
    await rude.locator("button.report").click();
    await ann.selectOption("#report select[name=reason]", "harassment");
    await ann.fill("#report textarea[name=note]", "every day");
    await ann.click("#report button[type=submit]");
    await ann.locator("#report-done").waitFor();
    const reports = (await (
      await fetch(`${server.url}/v1/admin/reports?status=open&limit=200`, { headers: { Authorization: `Bearer ${DEV_API_KEY}` } })
    ).json()) as { reports: { reporter: string; user: string; reason: string; note: string; evidence: { message: unknown }[] }[] };
    expect(reports.reports.filter((r) => r.reporter === annName)).toEqual([
      expect.objectContaining({
        user: bobName,
        reason: "harassment",
        note: "every day",
        evidence: [expect.objectContaining({ message: "buy my stuff" })],
      }),
    ]);

    // Block: the header says so, the composer is off, and bob's next message (acked on his page) never shows.
    await ann.click("#block-toggle");
    await ann.locator("#blocked-note").waitFor();
    expect(await ann.locator("#block-toggle").textContent()).toBe("Unblock");
    expect(await ann.locator("#composer textarea[name=text]").isDisabled()).toBe(true);
    await say(bob, "are you there?");
    await new Promise((r) => setTimeout(r, 700));
    expect(await ann.locator("#messages .msg .body").allTextContents()).toEqual(["buy my stuff"]);
    await ann.click("#block-toggle");
    await ann.locator("#blocked-note").waitFor({ state: "hidden" });
    expect(await ann.locator("#composer textarea[name=text]").isDisabled()).toBe(false);
    await say(bob, "sorry");
    await ann.locator("#messages .msg", { hasText: "sorry" }).waitFor();

    // Mute for 8 hours and pin from the sidebar: marked, on top, and so on the server.
    await openChat(ann, calName);
    await say(ann, "hi cal");
    await ann
      .locator("#conversations li")
      .first()
      .and(ann.locator(`[data-peer="${calName}"]`))
      .waitFor();
    const bobItem = ann.locator(`#conversations li[data-peer="${bobName}"]`);
    await bobItem.locator(".conversation-menu").selectOption("mute-8h");
    await ann.locator(`#conversations li.muted[data-peer="${bobName}"]`).waitFor();
    await bobItem.locator(".conversation-menu").selectOption("pin");
    await ann.locator(`#conversations li.pinned[data-peer="${bobName}"]`).waitFor();
    expect(await ann.locator("#conversations li").first().getAttribute("data-peer")).toBe(bobName);
    const bobListed = (await listed(annName)).find((c) => c.id === bobName)!;
    expect(bobListed.pinned).toBe(true);
    expect(Date.parse(bobListed.mutedUntil!) - Date.now()).toBeGreaterThan(7.9 * 3_600_000);

    // Archive: out of the list, into the "Archived" section, and on the server too; unarchive brings it back.
    await bobItem.locator(".conversation-menu").selectOption("archive");
    // In the closed "Archived" section: there, not shown until opened.
    await ann.locator(`#archived-list li[data-peer="${bobName}"]`).waitFor({ state: "attached" });
    expect(await ann.locator(`#conversations li[data-peer="${bobName}"]`).count()).toBe(0);
    expect(await ann.locator("#archived summary").textContent()).toBe("Archived (1)");
    await until("the server lists it archived", async () => (await listed(annName, true)).some((c) => c.id === bobName));
    // Muted, so a new message from bob leaves it in the archive.
    await say(bob, "still here");
    await new Promise((r) => setTimeout(r, 500));
    expect(await ann.locator(`#archived-list li[data-peer="${bobName}"]`).count()).toBe(1);
    await ann.locator("#archived summary").click();
    await ann.locator(`#archived-list li[data-peer="${bobName}"] .conversation-menu`).selectOption("unarchive");
    await ann.locator(`#conversations li[data-peer="${bobName}"]`).waitFor();
    expect(await ann.locator("#archived").isHidden()).toBe(true);
    expect(pageErrors).toEqual([]);
  });
});
