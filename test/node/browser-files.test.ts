/**
 * Files on the chat page in a real headless Chromium (see chromium.ts)
 * against wrangler dev and its local R2: a 3 MB photo sent with Attach shows
 * a progress bar while it goes out (XMLHttpRequest's upload events) and is
 * rendered on the other side, fetched with the token and shown from an
 * object URL; a file dropped on the conversation arrives as a link with its
 * name and size, and clicking it saves the same bytes (browser.test.ts
 * refuses one over the limit). Invariant 8: an uploaded HTML page and an SVG with
 * script, opened by URL in a tab of the app's origin (and framed by the
 * app's own page), run no script there: nothing reaches the origin's
 * storage, no dialog opens, and no page gets the script's title.
 * Screenshots go to test-results/browser/.
 */
import { execSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { crc32, deflateSync } from "node:zlib";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./chromium.ts";
import { type DevServer, ROOT, startDevServer } from "./devserver.ts";
import { devToken } from "./wsclient.ts";

const ARTIFACTS = join(ROOT, "test-results", "browser");

let server: DevServer;
let browser: Browser;
const pageErrors: string[] = [];

beforeAll(async () => {
  // The page imports the client library as ./client.js: build it from the current source.
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
  execSync(pkg.scripts["build:page"]!, {
    cwd: ROOT,
    env: { ...process.env, PATH: `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH}` },
  });
  mkdirSync(ARTIFACTS, { recursive: true });
  const [started, launched] = await Promise.allSettled([startDevServer(), launchChromium()]);
  if (started.status === "fulfilled") server = started.value;
  if (launched.status === "fulfilled") browser = launched.value.browser;
  for (const r of [started, launched]) if (r.status === "rejected") throw r.reason;
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

/** Every value the page's upload bars take, as they change (a <progress>'s value reflects to its attribute). */
const WATCH_PROGRESS = `
  window.progress = [];
  new MutationObserver((changes) => {
    for (const c of changes) {
      const bars = c.type === "attributes" ? [c.target] : [...c.addedNodes].flatMap((n) => n.querySelectorAll ? [...n.querySelectorAll("progress")] : []);
      for (const bar of bars) if (bar.tagName === "PROGRESS" && bar.closest(".upload")) window.progress.push(Number(bar.value));
    }
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["value"] });
`;

async function person(prefix: string): Promise<Person> {
  const name = `${prefix}-${crypto.randomUUID().slice(0, 6)}`;
  const context = await browser.newContext({ viewport: { width: 900, height: 640 }, acceptDownloads: true });
  await context.addInitScript(WATCH_PROGRESS);
  const page = await context.newPage();
  page.on("pageerror", (err) => pageErrors.push(`${name}: ${err.message}`));
  await page.goto(`${server.url}/`);
  await page.fill("#signin input[name=user]", name);
  await page.click("#signin button");
  await page.locator('#state[data-state="open"]').waitFor();
  return { name, context, page };
}

async function openChat({ page }: Person, peer: string): Promise<void> {
  await page.fill("#new-chat input[name=peer]", peer);
  await page.press("#new-chat input[name=peer]", "Enter");
  await page.locator("#peer", { hasText: peer }).waitFor();
}

/** A PNG of random pixels (which do not compress): about 3 bytes a pixel. */
function noisePng(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, "ascii");
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let i = 0; i < raw.length; i++) raw[i] = (Math.random() * 256) | 0;
  for (let y = 0; y < height; y++) raw[y * (width * 3 + 1)] = 0; // filter: none
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw, { level: 1 })), chunk("IEND", Buffer.alloc(0))]);
}

describe("files on the chat page", () => {
  it("a 3 MB photo goes out with a progress bar and is rendered on the other side", async () => {
    const [alice, bob] = [await person("alice"), await person("bob")];
    await openChat(alice, bob.name);
    const photo = noisePng(1000, 1000);
    expect(photo.length).toBeGreaterThan(3_000_000);
    await alice.page.setInputFiles("#composer input[type=file]", { name: "beach.png", mimeType: "image/png", buffer: photo });

    // Bob gets it in the list, opens it, and sees the picture itself (decoded at its size, from an object URL).
    await bob.page.locator(`#conversations li[data-peer="${alice.name}"]`).click();
    const img = bob.page.locator("#messages .msg img.attachment");
    await img.waitFor();
    await bob.page.waitForFunction('document.querySelector("#messages .msg img.attachment")?.naturalWidth > 0');
    expect(
      await bob.page.evaluate(
        '(({ naturalWidth: w, naturalHeight: h, src }) => [w, h, src.startsWith("blob:")])(document.querySelector("#messages .msg img.attachment"))',
      ),
    ).toEqual([1000, 1000, true]);
    await bob.page.locator("#messages a.file", { hasText: `beach.png (${(photo.length / 1024 / 1024).toFixed(1)} MB)` }).waitFor();
    await bob.page.screenshot({ path: join(ARTIFACTS, "file-photo.png") });

    // Alice saw her upload's bar fill, and it went away once sent; her own bubble shows the photo too.
    const progress = (await alice.page.evaluate("window.progress")) as number[];
    expect(progress.length).toBeGreaterThan(0);
    expect(Math.max(...progress)).toBeGreaterThan(0);
    expect(await alice.page.locator(".upload").count()).toBe(0);
    await alice.page.locator('#messages .msg.mine[data-status="read"] img.attachment').waitFor();
    expect(pageErrors).toEqual([]);
    await alice.context.close();
    await bob.context.close();
  });

  it("a file dropped on the conversation arrives as a link with name and size, and saves the same bytes", async () => {
    const [carol, dave] = [await person("carol"), await person("dave")];
    await openChat(carol, dave.name);
    const text = "Minutes of the launch meeting\n".repeat(100);
    // What a drop from the desktop delivers: a DataTransfer holding the file, over #chat.
    await carol.page.evaluate(`(() => {
      const data = new DataTransfer();
      data.items.add(new File([${JSON.stringify(text)}], "minutes.txt", { type: "text/plain" }));
      const chat = document.querySelector("#chat");
      chat.dispatchEvent(new DragEvent("dragover", { dataTransfer: data, bubbles: true, cancelable: true }));
      chat.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
    })()`);
    await dave.page.locator(`#conversations li[data-peer="${carol.name}"]`).click();
    const link = dave.page.locator("#messages a.file", { hasText: "minutes.txt (2.9 KB)" });
    await link.waitFor();
    const [download] = await Promise.all([dave.page.waitForEvent("download"), link.click()]);
    expect(download.suggestedFilename()).toBe("minutes.txt");
    expect(readFileSync((await download.path())!, "utf8")).toBe(text);
    expect(pageErrors).toEqual([]);
    await carol.context.close();
    await dave.context.close();
  });

  it("an uploaded HTML page and an SVG with script, opened by URL, run no script in the app's origin", async () => {
    const [gina, hank] = [await person("gina"), await person("hank")];
    const script = "try { localStorage.setItem('pwned', location.href) } catch {} document.title = 'pwned'; alert('pwned');";
    const uploads = [
      { name: "page.html", type: "text/html", body: `<!doctype html><title>page</title><script>${script}</script><p>hello</p>` },
      {
        name: "logo.svg",
        type: "image/svg+xml",
        body: `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>${script}</script><rect width="10" height="10"/></svg>`,
      },
      { name: "feed.xml", type: "text/xml", body: `<x:script xmlns:x="http://www.w3.org/1999/xhtml">${script}</x:script>` },
    ];
    const token = await devToken(server, gina.name);
    const hankToken = await devToken(server, hank.name);
    const dialogs: string[] = [];
    for (const p of [gina.page, hank.page]) p.on("dialog", (d) => dialogs.push(d.message()) && void d.dismiss());
    for (const u of uploads) {
      const res = await fetch(`${server.url}/v1/files?conversation=${hank.name}&name=${u.name}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": u.type },
        body: u.body,
      });
      expect(res.status).toBe(201);
      const { file } = (await res.json()) as { file: string };
      const url = `${server.url}/v1/files/${file}?Authentication=${hankToken}`;

      // Opened by URL in a tab of the app's origin: the browser saves it instead of rendering it.
      const tab = await hank.context.newPage();
      tab.on("dialog", (d) => dialogs.push(d.message()) && void d.dismiss());
      const [download] = await Promise.all([tab.waitForEvent("download"), tab.goto(url).catch(() => undefined)]);
      expect(download.suggestedFilename()).toBe(u.name);
      expect(await tab.title()).not.toBe("pwned");
      await tab.close();

      // Framed by the app's own page: still no script of the file runs there.
      await hank.page.evaluate(`document.body.append(Object.assign(document.createElement("iframe"), { src: ${JSON.stringify(url)} }))`);
    }
    await new Promise((r) => setTimeout(r, 1000));
    for (const p of [gina.page, hank.page]) {
      expect(await p.evaluate('localStorage.getItem("pwned")')).toBeNull();
      expect(await p.title()).not.toBe("pwned");
    }
    for (const p of hank.context.pages()) expect(await p.title()).not.toBe("pwned");
    expect(dialogs).toEqual([]);
    await gina.context.close();
    await hank.context.close();
  });
});
