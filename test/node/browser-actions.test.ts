/**
 * The chat page's message actions in a real headless Chromium (see
 * chromium.ts) against wrangler dev: replies (the quoted message above the
 * bubble, a click on it scrolls to the original), edits ("edited"), deletes
 * for everyone and for me ("This message was deleted", or gone), reactions
 * (the six-emoji picker, counts under the bubble, your own highlighted, a
 * click on yours takes it back), between two people and in a group of three
 * (an admin deletes someone else's message). After a reload every page shows
 * the same from history, with no one else's change frame replayed.
 */
import type { BrowserContext, Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { serverAndChromium } from "./pagetest.ts";

const setup = serverAndChromium();
const pageErrors: string[] = [];

interface Person {
  name: string;
  context: BrowserContext;
  page: Page;
}

/** Signed in, in a page that records every frame its sockets get (`window.received`). */
async function person(name: string): Promise<Person> {
  const context = await setup.browser.newContext({ viewport: { width: 900, height: 600 } });
  await context.addInitScript(`
    window.received = [];
    window.WebSocket = class extends window.WebSocket {
      constructor(...args) {
        super(...args);
        this.addEventListener("message", (e) => window.received.push(String(e.data)));
      }
    };
  `);
  const page = await context.newPage();
  page.on("pageerror", (err) => pageErrors.push(`${name}: ${err.message}`));
  // Delete for everyone asks first.
  page.on("dialog", (d) => void d.accept());
  await page.goto(`${setup.server.url}/`);
  await page.fill("#signin input[name=user]", name);
  await page.click("#signin button");
  await page.locator('#state[data-state="open"]').waitFor();
  return { name, context, page };
}

async function say({ page }: Person, text: string): Promise<void> {
  await page.fill("#composer textarea[name=text]", text);
  await page.press("#composer textarea[name=text]", "Enter");
}

/** The bubble whose own text (not a quote in it) is `text`. */
function bubble({ page }: Person, text: string) {
  return page.locator("#messages .msg").filter({ has: page.locator(".body", { hasText: text }) });
}

/** Opens the bubble's ⋯ menu and picks an entry (an emoji, Reply, Edit, Delete for everyone, Delete for me). */
async function act(p: Person, text: string, entry: string): Promise<void> {
  const b = bubble(p, text);
  await b.locator(".more").click();
  await b.locator(".actions button", { hasText: entry }).first().click();
}

/** Every drawn bubble: its text, quote, edited mark, reactions (`👍 2*`: yours among them) and deleted flag. */
function bubbles({ page }: Person) {
  return page.locator("#messages .msg").evaluateAll((els) =>
    els.map((el) => ({
      text: el.querySelector(".body")?.textContent,
      quote: el.querySelector(".quote")?.textContent ?? null,
      edited: el.querySelector(".meta .edited") !== null,
      reactions: [...el.querySelectorAll(".reaction")].map((r) => `${r.textContent}${r.classList.contains("me") ? "*" : ""}`),
      deleted: el.classList.contains("deleted"),
    })),
  );
}

/** Waits until the open conversation shows exactly these bubbles. */
async function shows(p: Person, expected: Awaited<ReturnType<typeof bubbles>>): Promise<void> {
  await expect.poll(() => bubbles(p), { timeout: 10_000 }).toEqual(expected);
}

/** Reloads, reopens the conversation, and waits for its history to be drawn. */
async function reload(p: Person, peer: string, count: number): Promise<void> {
  await p.page.reload();
  await p.page.locator('#state[data-state="open"]').waitFor();
  await p.page.locator(`#conversations li[data-peer="${peer}"]`).click();
  await p.page
    .locator("#messages .msg")
    .nth(count - 1)
    .waitFor();
}

/**
 * The others' changes (edits, deletes, reactions) the page's socket got since
 * it loaded. A reload resumes after what the page had seen, so these come from
 * history; the user's own changes from this tab are replayed (the socket that
 * sent them never had them), and change nothing twice.
 */
async function othersChanges({ page, name }: Person): Promise<number> {
  const frames = (await page.evaluate("window.received")) as string[];
  return frames
    .filter((f) => f.startsWith("{"))
    .map((f) => JSON.parse(f) as { content: string; from: string })
    .filter((f) => ["MESSAGE_EDIT", "MESSAGE_DELETE", "REACTION"].includes(f.content) && f.from !== name).length;
}

const msg = (text: string, more: Partial<Awaited<ReturnType<typeof bubbles>>[number]> = {}) => ({
  text,
  quote: null,
  edited: false,
  reactions: [],
  deleted: false,
  ...more,
});

describe("message actions on the chat page", () => {
  it("two people: reply, edit, react, delete for everyone and for me, the same after a reload", async () => {
    const suffix = crypto.randomUUID().slice(0, 6);
    const ann = await person(`ann-${suffix}`);
    const ben = await person(`ben-${suffix}`);
    await ann.page.fill("#new-chat input[name=peer]", ben.name);
    await ann.page.press("#new-chat input[name=peer]", "Enter");
    await say(ann, "Lunch at 12?");
    await say(ann, "the secret plan");
    await ben.page.locator(`#conversations li[data-peer="${ann.name}"]`).click();
    await bubble(ben, "the secret plan").waitFor();

    // Reply: the quote is above the reply's bubble on both pages; a click on it scrolls to the original.
    await act(ben, "Lunch at 12?", "Reply");
    await expect.poll(() => ben.page.locator("#composing").textContent()).toContain(`Replying to ${ann.name}: Lunch at 12?`);
    await say(ben, "or 1?");
    for (const p of [ann, ben]) await bubble(p, "or 1?").locator(".quote", { hasText: "Lunch at 12?" }).waitFor();
    await ben.page.locator("#composing").waitFor({ state: "hidden" });
    await bubble(ann, "or 1?").locator(".quote").click();
    await bubble(ann, "Lunch at 12?").and(ann.page.locator(".flash")).waitFor();

    // Edit: the text changes everywhere, with "edited", and so does the reply's quote.
    await act(ann, "Lunch at 12?", "Edit");
    expect(await ann.page.inputValue("#composer textarea[name=text]")).toBe("Lunch at 12?");
    await say(ann, "Lunch at 1?");

    // Reactions from the picker: counts, each page's own highlighted; a click on yours takes it back.
    await act(ben, "Lunch at 1?", "👍");
    await act(ann, "Lunch at 1?", "👍");
    await act(ann, "Lunch at 1?", "❤️");
    await act(ben, "or 1?", "😂");
    await expect.poll(() => bubble(ann, "Lunch at 1?").locator(".reaction").allTextContents()).toEqual(["👍 2", "❤️ 1"]);
    await bubble(ben, "Lunch at 1?").locator(".reaction", { hasText: "👍 2" }).click();

    // Delete for everyone (ann's own), and for me (ben alone stops seeing the reply... of his own).
    await act(ann, "the secret plan", "Delete for everyone");
    await act(ben, "or 1?", "Delete for me");

    const annSees = [
      msg("Lunch at 1?", { edited: true, reactions: ["👍 1*", "❤️ 1*"] }),
      msg("This message was deleted", { deleted: true }),
      msg("or 1?", { quote: "YouLunch at 1?", reactions: ["😂 1"] }),
    ];
    const benSees = [msg("Lunch at 1?", { edited: true, reactions: ["👍 1", "❤️ 1"] }), msg("This message was deleted", { deleted: true })];
    await shows(ann, annSees);
    await shows(ben, benSees);
    // The sidebar's preview is the newest message as it is now.
    await ben.page.locator(`#conversations li[data-peer="${ann.name}"] .preview`, { hasText: "This message was deleted" }).waitFor();

    // After a reload each page has the same from history, and no change frame was replayed.
    await reload(ann, ben.name, 3);
    await reload(ben, ann.name, 2);
    await shows(ann, annSees);
    await shows(ben, benSees);
    for (const p of [ann, ben]) expect(await othersChanges(p)).toBe(0);
    // Still live after the reload: ben's reaction reaches ann.
    await act(ben, "Lunch at 1?", "🙏");
    await bubble(ann, "Lunch at 1?").locator(".reaction", { hasText: "🙏 1" }).waitFor();
    expect(pageErrors).toEqual([]);
    for (const p of [ann, ben]) await p.context.close();
  });

  it("a group of three: every action reaches every member, an admin deletes another's message, the same after a reload", async () => {
    const suffix = crypto.randomUUID().slice(0, 6);
    const ann = await person(`ann-${suffix}`);
    const ben = await person(`ben-${suffix}`);
    const cat = await person(`cat-${suffix}`);
    const all = [ann, ben, cat];
    await ann.page.click("#new-group summary");
    await ann.page.fill("#new-group input[name=name]", "Trio");
    await ann.page.fill("#new-group input[name=members]", `${ben.name}, ${cat.name}`);
    await ann.page.click("#new-group button");
    await ann.page.locator("#peer", { hasText: "Trio" }).waitFor();
    const groupId = (await ann.page.locator('#conversations li[data-kind="group"]').getAttribute("data-peer"))!;
    for (const p of [ben, cat]) await p.page.locator(`#conversations li[data-peer="${groupId}"]`).click();
    await say(ann, "Picnic on Sunday?");
    for (const p of all) await bubble(p, "Picnic on Sunday?").waitFor();
    await say(ben, "ben was here");
    for (const p of all) await bubble(p, "ben was here").waitFor();

    await act(cat, "Picnic on Sunday?", "Reply");
    await say(cat, "Yes!");
    await act(ann, "Picnic on Sunday?", "Edit");
    await say(ann, "Picnic on Saturday?");
    await act(ben, "Picnic on Saturday?", "😂");
    await act(cat, "Picnic on Saturday?", "😂");
    await act(cat, "Yes!", "👍");
    // ann is the group's admin: she deletes ben's message for everyone.
    await act(ann, "ben was here", "Delete for everyone");
    await act(cat, "Picnic on Saturday?", "Delete for me");

    const expected = (p: Person) => [
      msg("Picnic on Saturday?", { edited: true, reactions: [`😂 2${p === ben ? "*" : ""}`] }),
      msg("This message was deleted", { deleted: true }),
      msg("Yes!", { quote: `${p === ann ? "You" : ann.name}Picnic on Saturday?`, reactions: [`👍 1${p === cat ? "*" : ""}`] }),
    ];
    // cat deleted ann's message for herself: gone from her page, and her reply quotes "an earlier message".
    const catSees = [
      msg("This message was deleted", { deleted: true }),
      msg("Yes!", { quote: "an earlier message", reactions: ["👍 1*"] }),
    ];
    await shows(ann, expected(ann));
    await shows(ben, expected(ben));
    await shows(cat, catSees);
    // Only a sender or an admin is offered delete for everyone.
    await bubble(ben, "Picnic on Saturday?").locator(".more").click();
    expect(await bubble(ben, "Picnic on Saturday?").locator(".actions button").allTextContents()).toEqual([
      "👍",
      "❤️",
      "😂",
      "😮",
      "😢",
      "🙏",
      "Reply",
      "Delete for me",
    ]);

    await reload(ann, groupId, 3);
    await reload(ben, groupId, 3);
    await reload(cat, groupId, 2);
    await shows(ann, expected(ann));
    await shows(ben, expected(ben));
    await shows(cat, catSees);
    for (const p of all) expect(await othersChanges(p)).toBe(0);
    expect(pageErrors).toEqual([]);
    for (const p of all) await p.context.close();
  });
});
