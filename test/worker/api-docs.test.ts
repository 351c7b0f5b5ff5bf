/**
 * The interactive API reference at /v1/docs: Swagger UI over the generated
 * OpenAPI document, every file it loads served by this Worker (no CDN), and
 * API_DOCS=off turning the page and its files off with the one 404 shape.
 * That the page renders the routes in a browser, offline, is
 * test/node/api-docs.test.ts.
 */
import { createExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index.ts";

const ASSET = "/v1/docs/assets/swagger-ui-dist/swagger-ui-bundle.js";

function withDocs(value: string, path: string): Promise<Response> {
  return worker.fetch(new Request(`http://edge.test${path}`), { ...env, API_DOCS: value }, createExecutionContext());
}

describe("/v1/docs", () => {
  it("is Swagger UI over /v1/openapi.json, loading its script and stylesheet from this Worker only", async () => {
    const res = await exports.default.fetch("http://edge.test/v1/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain("SwaggerUIBundle(");
    expect(html).toContain("url: '/v1/openapi.json'");
    const loads = [...html.matchAll(/(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
    expect(loads.sort()).toEqual([ASSET, "/v1/docs/assets/swagger-ui-dist/swagger-ui.css"]);
    // No address of another host anywhere in the page, so nothing it loads can leave this origin.
    expect(html).not.toMatch(/\/\/[a-z0-9.-]+\.[a-z]{2,}/i);
  });

  it("the document it renders lists the routes, the conversations route among them", async () => {
    const doc = (await (await exports.default.fetch("http://edge.test/v1/openapi.json")).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toContain("/v1/conversations");
  });

  it("a file it does not have is the one 404 shape", async () => {
    const res = await exports.default.fetch("http://edge.test/v1/docs/assets/nope.js");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "not_found", reason: "no file /v1/docs/assets/nope.js" });
  });

  it("API_DOCS=off: the page and its files answer 404 not_found, and the API itself is untouched", async () => {
    for (const path of ["/v1/docs", ASSET]) {
      const res = await withDocs("off", path);
      expect(res.status, path).toBe(404);
      expect(await res.json()).toEqual({ error: "not_found", reason: "the API reference is off (API_DOCS)" });
    }
    expect((await withDocs("off", "/v1/openapi.json")).status).toBe(200);
    expect((await withDocs("on", "/v1/docs")).status).toBe(200);
  });

  it("a mistyped API_DOCS is a 500 naming it, not a guess", async () => {
    const res = await withDocs("of", "/v1/docs");
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: "internal", reason: 'API_DOCS must be "on" or "off", got "of"' });
  });
});
