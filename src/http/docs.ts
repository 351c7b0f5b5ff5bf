/**
 * The interactive API reference at /v1/docs: Swagger UI (@hono/swagger-ui)
 * over /v1/openapi.json. Its script and stylesheet are static assets of this
 * Worker (copied from swagger-ui-dist by `npm run build:docs`), never a CDN's.
 * API_DOCS=off answers 404 for the page and its files alike.
 */
import { swaggerUI } from "@hono/swagger-ui";
import { readConfig } from "../config.ts";
import { httpError } from "./errors.ts";
import { router } from "./router.ts";

export const docs = router();

docs.use("*", async (c, next) => {
  if (!readConfig(c.env).apiDocs) return httpError(404, "not_found", "the API reference is off (API_DOCS)");
  await next();
});

docs.get("/", swaggerUI({ url: "/v1/openapi.json", baseUrl: "/v1/docs/assets", title: "LunarLoom Edge API" }));

docs.get("/assets/*", async (c) => {
  const res = await c.env.ASSETS.fetch(c.req.raw);
  return res.status === 404 ? httpError(404, "not_found", `no file ${new URL(c.req.url).pathname}`) : res;
});
