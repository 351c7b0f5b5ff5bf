/**
 * The chat page in a real headless Chromium (see chromium.ts) against wrangler dev,
 * served as static assets at `/`: two people sign in and chat, ticks go
 * received → delivered → read, a file goes through, one goes offline while
 * the other keeps sending (and sends something herself), comes back and has
 * every message once and in order, and a reload rebuilds the conversation
 * from the server's log. Screenshots go to test-results/browser/.
 * Does not cover other browsers, or the client's failure modes in depth
 * (client.test.ts and client-e2e.test.ts do).
 */
import { execSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./chromium.ts";
import { type DevServer, ROOT, startDevServer } from "./devserver.ts";

const ARTIFACTS = join(ROOT, "test-results", "browser");

let server: DevServer;
let browser: Browser;
const pageErrors: string[] = [];

beforeAll(async () => {
  // The page imports the client library as ./client.js: build it from the
  // current source, with the same command `npm start` uses.
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
  execSync(pkg.scripts["build:page"]!, {
    cwd: ROOT,
    env: { ...process.env, PATH: `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH}` },
  });
  mkdirSync(ARTIFACTS, { recursive: true });
  server = await startDevServer();
  const launched = await launchChromium();
  browser = launched.browser;
  console.log(`browser tests run in ${launched.source}`);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

interface Person {
  name: string;
  context: BrowserContext;
  page: Page;
}

async function person(name: string): Promise<Person> {
  const context = await browser.newContext({ viewport: { width: 900, height: 560 } });
  const page = await context.newPage();
  page.on("pageerror", (err) => pageErrors.push(`${name}: ${err.message}`));
  return { name, context, page };
}

async function signIn({ page, name }: Person): Promise<void> {
  await page.goto(`${server.url}/`);
  await page.fill("#signin input[name=user]", name);
  await page.click("#signin button");
  await page.locator('#state[data-state="open"]').waitFor();
}

async function openChat({ page }: Person, peer: string): Promise<void> {
  await page.fill("#new-chat input[name=peer]", peer);
  await page.press("#new-chat input[name=peer]", "Enter");
  await page.locator("#peer", { hasText: peer }).waitFor();
}

async function say({ page }: Person, text: string): Promise<void> {
  await page.fill("#composer input[name=text]", text);
  await page.press("#composer input[name=text]", "Enter");
}

/** Waits until one of my bubbles with this text shows the tick. */
function tick({ page }: Person, text: string, status: "pending" | "received" | "delivered" | "read"): Promise<void> {
  return page.locator(`#messages .msg.mine[data-status="${status}"]`, { hasText: text }).waitFor();
}

function bubbles({ page }: Person): Promise<string[]> {
  return page.locator("#messages .msg .body").allTextContents();
}

function shot({ page }: Person, name: string): Promise<Buffer> {
  return page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

describe("the chat page in Chromium", () => {
  it("two people chat; ticks, a file, an offline spell and a reload lose and double nothing", async () => {
    const suffix = crypto.randomUUID().slice(0, 6);
    const alice = await person(`alice-${suffix}`);
    const bob = await person(`bob-${suffix}`);

    // Received: the server has it; bob has never connected, so it goes no further yet.
    await signIn(alice);
    await openChat(alice, bob.name);
    await say(alice, "Hi Bob!");
    await tick(alice, "Hi Bob!", "received");

    // Delivered: bob's device has it; he has not opened the conversation.
    await signIn(bob);
    const fromAlice = bob.page.locator(`#conversations li[data-peer="${alice.name}"]`);
    await fromAlice.locator(".unread", { hasText: "1" }).waitFor();
    await tick(alice, "Hi Bob!", "delivered");

    // Read: bob opens it.
    await fromAlice.click();
    await tick(alice, "Hi Bob!", "read");
    await bob.page.locator(`#conversations li[data-peer="${alice.name}"] .unread`).waitFor({ state: "detached" });

    await say(bob, "Hi Alice, welcome.");
    await tick(bob, "Hi Alice, welcome.", "read");

    const notes = "LunarLoom notes: small files travel as FILE_MESSAGE.\n";
    await bob.page.setInputFiles("#composer input[type=file]", { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from(notes) });
    const link = alice.page.locator("#messages a.file", { hasText: "notes.txt" });
    await link.waitFor();
    const href = (await link.getAttribute("href"))!;
    expect(href.startsWith("data:text/plain;base64,")).toBe(true);
    expect(Buffer.from(href.split(",")[1]!, "base64").toString()).toBe(notes);
    expect(await link.getAttribute("download")).toBe("notes.txt");
    await tick(bob, "notes.txt", "read");

    // Alice goes offline. Bob keeps writing; alice writes too.
    await alice.context.setOffline(true);
    await alice.page.locator('#state[data-state="offline"]').waitFor();
    const away = [1, 2, 3, 4, 5].map((i) => `While you were away #${i}`);
    for (const text of away) await say(bob, text);
    for (const text of away) await tick(bob, text, "received");
    await say(alice, "Written on the train");
    await tick(alice, "Written on the train", "pending");
    await shot(alice, "alice-offline");
    // Still only on the server: nothing can have reached alice.
    expect(
      await bob.page
        .locator("#messages .msg.mine", { hasText: "While you were away" })
        .evaluateAll((els) => els.map((e) => e.getAttribute("data-status"))),
    ).toEqual(away.map(() => "received"));

    // Back online: alice catches up, her outbox goes out, and she reads it all.
    await alice.context.setOffline(false);
    await alice.page.locator('#state[data-state="open"]').waitFor();
    await tick(alice, "Written on the train", "read");
    for (const text of away) await tick(bob, text, "read");

    const fileBubble = `notes.txt (${notes.length} B)`;
    expect(await bubbles(alice)).toEqual(["Hi Bob!", "Hi Alice, welcome.", fileBubble, "Written on the train", ...away]);
    expect(await bubbles(bob)).toEqual(["Hi Bob!", "Hi Alice, welcome.", fileBubble, ...away, "Written on the train"]);
    await shot(alice, "alice");
    // test/artifacts/chat.png, the README's screenshot, is a copy of this one.
    await shot(bob, "bob");

    // A reload keeps nothing locally: the conversation, in log order, and its ticks come back from the server.
    await alice.page.reload();
    await alice.page.locator('#state[data-state="open"]').waitFor();
    await alice.page.locator(`#conversations li[data-peer="${bob.name}"]`).click();
    await tick(alice, "Written on the train", "read");
    await tick(alice, "Hi Bob!", "read");
    expect(await bubbles(alice)).toEqual(["Hi Bob!", "Hi Alice, welcome.", fileBubble, ...away, "Written on the train"]);
    expect(await alice.page.locator("#conversations .unread").count()).toBe(0);
    await shot(alice, "alice-reloaded");

    expect(pageErrors).toEqual([]);
    await alice.context.close();
    await bob.context.close();
  });

  it("refuses a file too large for one message, and says so", async () => {
    const carol = await person(`carol-${crypto.randomUUID().slice(0, 6)}`);
    await signIn(carol);
    await openChat(carol, "dave");
    await carol.page.setInputFiles("#composer input[type=file]", {
      name: "big.bin",
      mimeType: "application/octet-stream",
      buffer: Buffer.alloc(100 * 1024),
    });
    await carol.page.locator("#chat-error", { hasText: "big.bin" }).waitFor();
    expect(await carol.page.locator("#messages .msg").count()).toBe(0);
    await carol.context.close();
  });

  it("explains a failed sign-in when the token endpoint is off", async () => {
    const off = await startDevServer({ vars: { DEV_TOKENS: "off" } });
    try {
      const erin = await person("erin");
      await erin.page.goto(`${off.url}/`);
      await erin.page.fill("#signin input[name=user]", "erin");
      await erin.page.click("#signin button");
      await erin.page.locator("#signin-error", { hasText: "dev tokens are off" }).waitFor();
      expect(await erin.page.locator("#app").isHidden()).toBe(true);
      await erin.context.close();
    } finally {
      await off.stop();
    }
  });
});
