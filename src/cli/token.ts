/**
 * `npm run token -- <user>` prints a token for that user, signed with
 * AUTH_SECRET from the environment or, by default, `npm start`'s dev secret.
 */
import { DEV_AUTH_SECRET, signToken } from "../auth/devtoken.ts";

const user = process.argv[2];
if (!user) {
  console.error("usage: npm run token -- <user>");
  process.exit(2);
}
console.log(await signToken(process.env.AUTH_SECRET ?? DEV_AUTH_SECRET, user, process.env.IDENTITY_CLAIM ?? "userId"));
