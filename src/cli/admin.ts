/**
 * `npm run admin -- [METHOD] <path> [json]` calls the server API of a local
 * server (`npm start`, http://localhost:8787 or LUNARLOOM_URL) with
 * API_KEY from the environment or, by default, `npm start`'s development key.
 *
 *   npm run admin -- /v1/admin/users/rick/conversations
 *   npm run admin -- POST /v1/admin/messages '{"id":"n-1","to":"rick","message":"Your order shipped"}'
 *   npm run admin -- DELETE /v1/admin/users/rick
 *
 * METHOD defaults to POST with a body and GET without.
 */
import { DEV_API_KEY } from "../auth/devtoken.ts";

const args = process.argv.slice(2);
const method = /^[A-Z]+$/.test(args[0] ?? "") ? args.shift()! : undefined;
const [path, body] = args;
if (!path?.startsWith("/")) {
  console.error("usage: npm run admin -- [METHOD] <path> [json]   e.g. npm run admin -- POST /v1/admin/messages '{...}'");
  process.exit(2);
}
const base = process.env.LUNARLOOM_URL ?? "http://localhost:8787";
const res = await fetch(new URL(path, base), {
  method: method ?? (body === undefined ? "GET" : "POST"),
  headers: {
    Authorization: `Bearer ${process.env.API_KEY ?? DEV_API_KEY}`,
    ...(body === undefined ? {} : { "Content-Type": "application/json" }),
  },
  body,
});
const text = await res.text();
console.log(`${res.status} ${res.statusText}`);
if (text) console.log(text);
process.exit(res.ok ? 0 : 1);
