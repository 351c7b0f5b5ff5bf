/**
 * Property-based fuzzing (fast-check) of client frames against real objects:
 * for every malformed input the sender gets exactly one ERROR with the right
 * code, no handler throws (the socket stays up and keeps working), no other
 * socket sees anything, and messages acked before the fuzzing are still
 * delivered. Valid frames with unicode edge cases round-trip exactly.
 * Not covered here: authentication (connect/auth tests) and rate limits (worker-limits).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Client, type Frame, uniqueUser } from "./helpers.ts";

const MAX = 64 * 1024;
const RUNS = 300;

/** Sends one input and returns every frame it caused, using a marker frame that is answered after it. */
async function reply(c: Client, input: string | Uint8Array): Promise<Frame[]> {
  c.send(typeof input === "string" ? input : (input.slice().buffer as ArrayBuffer));
  return c.drain();
}

function valid(to: string): Record<string, unknown> {
  return { id: "fz", to, type: "USER_MSG", content: "TEXT_MESSAGE", message: "x" };
}

const notString = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.object({ maxDepth: 1 }),
);
const badIdentity = fc.oneof(notString, fc.constant(""), fc.string({ minLength: 129, maxLength: 300 }));

/** A USER_MSG or receipt with exactly one required field broken, plus random unknown fields. */
const brokenFrame = fc
  .record({
    base: fc.constantFrom("USER_MSG", "ACK_MSG"),
    field: fc.constantFrom("id", "to", "type", "content", "message"),
    remove: fc.boolean(),
    wrong: badIdentity,
    wrongContent: fc
      .string({ maxLength: 20 })
      .filter(
        (s) =>
          !["TEXT_MESSAGE", "FILE_MESSAGE", "MESSAGE_EDIT", "MESSAGE_DELETE", "REACTION", "MESSAGE_DELIVERED", "MESSAGE_READ"].includes(s),
      ),
    wrongType: fc.oneof(
      notString,
      fc.string({ maxLength: 20 }).filter((s) => s !== "USER_MSG" && s !== "ACK_MSG"),
    ),
    extra: fc.dictionary(
      fc.string({ minLength: 1, maxLength: 8 }).filter((k) => !["id", "to", "type", "content", "message"].includes(k)),
      fc.jsonValue({ maxDepth: 2 }),
      { maxKeys: 3 },
    ),
  })
  .filter(({ base, field }) => !(base === "ACK_MSG" && field === "to")) // receipts have no required `to`
  .map(({ base, field, remove, wrong, wrongContent, wrongType, extra }) => {
    const frame: Record<string, unknown> =
      base === "USER_MSG"
        ? { ...extra, ...valid("someone") }
        : { ...extra, id: "r", type: "ACK_MSG", content: "MESSAGE_READ", message: crypto.randomUUID() };
    if (field === "id" && base === "ACK_MSG" && remove) return null; // a receipt's id is optional
    if (remove && field !== "type") delete frame[field];
    else if (field === "type") frame.type = wrongType;
    else if (field === "content") frame.content = wrongContent;
    else if (field === "message" && base === "USER_MSG")
      return null; // any JSON value is a valid payload
    else frame[field] = wrong;
    return JSON.stringify(frame);
  })
  .filter((s): s is string => s !== null);

/** A reply, edit, delete or reaction with its `replyTo`, `ref` or reaction broken (PROTOCOL.md, v3). */
const brokenChange = fc.oneof(
  fc
    .record({ content: fc.constantFrom("MESSAGE_EDIT", "MESSAGE_DELETE", "REACTION"), ref: badIdentity })
    .map(({ content, ref }) =>
      JSON.stringify({ id: "c", to: "someone", type: "USER_MSG", content, ref, message: { key: "👍", on: true } }),
    ),
  fc
    .constantFrom("MESSAGE_EDIT", "MESSAGE_DELETE", "REACTION")
    .map((content) => JSON.stringify({ id: "c", to: "someone", type: "USER_MSG", content, message: { key: "👍", on: true } })),
  badIdentity.map((replyTo) => JSON.stringify({ ...valid("someone"), replyTo })),
  fc
    .oneof(
      fc.record({
        key: fc.oneof(notString, fc.constant(""), fc.string({ unit: "grapheme", minLength: 65, maxLength: 80 })),
        on: fc.boolean(),
      }),
      fc.record({ key: fc.string({ minLength: 1, maxLength: 10 }), on: fc.oneof(fc.integer(), fc.string(), fc.constant(null)) }),
      fc.oneof(notString, fc.string()),
    )
    .map((message) => JSON.stringify({ id: "c", to: "someone", type: "USER_MSG", content: "REACTION", ref: "m", message })),
);

/** Well-formed changes and replies naming a message that is not in the sender's log. */
const unknownRef = fc
  .record({
    content: fc.constantFrom("MESSAGE_EDIT", "MESSAGE_DELETE", "REACTION", "TEXT_MESSAGE"),
    ref: fc.string({ minLength: 1, maxLength: 128 }),
    key: fc.string({ minLength: 1, maxLength: 16 }),
  })
  .map(({ content, ref, key }) =>
    JSON.stringify(
      content === "TEXT_MESSAGE"
        ? { ...valid("someone"), replyTo: ref }
        : { id: "u", to: "someone", type: "USER_MSG", content, ref, message: { key, on: true } },
    ),
  );

const notJson = fc.string({ unit: "binary", maxLength: 200 }).filter((s) => {
  try {
    JSON.parse(s);
    return false;
  } catch {
    return true;
  }
});
const nonObjectJson = fc
  .oneof(
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.jsonValue({ maxDepth: 2 })),
    fc.string(),
  )
  .map((v) => JSON.stringify(v));
const tooDeep = fc.record({ depth: fc.integer({ min: 64, max: 2000 }), open: fc.constantFrom("[", '{"a":') }).map(({ depth, open }) => {
  const close = open === "[" ? "]" : "}";
  return `{"id":"deep","to":"x","type":"USER_MSG","content":"TEXT_MESSAGE","message":${open.repeat(depth)}1${close.repeat(depth)}}`;
});
const tooLarge = fc
  .integer({ min: MAX + 1, max: MAX * 3 })
  .map((n) => JSON.stringify({ ...valid("x"), message: "é".repeat(Math.ceil(n / 2)) }));

describe("fuzzing the frame handler", () => {
  it("answers every malformed input with one ERROR of the right code and disturbs nobody", { timeout: 240_000 }, async () => {
    const fuzzer = uniqueUser("fuzzer");
    const f = await Client.connect(fuzzer);
    const fOther = await Client.connect(fuzzer);
    const bystander = await Client.connect(uniqueUser("bystander"));
    // Acked before the storm, to an offline user: must still arrive after it.
    const offline = uniqueUser("offline");
    const acked = [await f.message(offline, "before 1"), await f.message(offline, "before 2")];
    await fOther.take(2); // copies of those sends

    const cases: [string, fc.Arbitrary<string | Uint8Array>, string[]][] = [
      ["not JSON", notJson, ["BAD_JSON"]],
      ["JSON but not an object", nonObjectJson, ["BAD_JSON"]],
      ["a frame with one field broken", brokenFrame, ["BAD_MESSAGE", "UNKNOWN_TYPE"]],
      ["a reply or change with its reference or reaction broken", brokenChange, ["BAD_MESSAGE"]],
      ["a reply or change naming no message of the sender's", unknownRef, ["UNKNOWN_MESSAGE"]],
      ["nesting deeper than 64", tooDeep, ["BAD_MESSAGE"]],
      ["binary frames", fc.uint8Array({ maxLength: 2048 }), ["BAD_MESSAGE"]],
    ];
    for (const [name, arbitrary, codes] of cases) {
      await fc.assert(
        fc.asyncProperty(arbitrary, async (input) => {
          const frames = await reply(f, input);
          expect(frames, name).toHaveLength(1);
          expect(frames[0]).toMatchObject({ type: "SYSTEM_MSG", from: "system", content: "ERROR" });
          expect(codes, `${name}: ${frames[0]!.message.reason}`).toContain(frames[0]!.message.code);
        }),
        { numRuns: RUNS },
      );
    }
    await fc.assert(
      fc.asyncProperty(tooLarge, async (input) => {
        expect((await reply(f, input)).map((e) => e.message.code)).toEqual(["TOO_LARGE"]);
      }),
      { numRuns: 5 },
    );

    await bystander.expectNothingMore();
    await fOther.expectNothingMore();
    const later = await Client.connect(offline);
    expect((await later.take(2)).map((m) => m.id)).toEqual(acked.map((a) => a.message));
    await later.expectNothingMore();
    // And the fuzzer's socket still works.
    const ack = await f.message(bystander.user, "after the storm");
    expect(await bystander.next()).toMatchObject({ id: ack.message, from: fuzzer });
  });

  it("round-trips valid frames with unicode edge cases in ids, identities and payloads exactly", { timeout: 120_000 }, async () => {
    const me = uniqueUser("unicode");
    const a = await Client.connect(me);
    const copy = await Client.connect(me);
    // Lone surrogates, astral planes, combining marks; lengths in UTF-16 units as the limit counts them.
    const text = fc
      .oneof(
        fc.string({ unit: "binary", minLength: 1 }),
        fc.string({ unit: "grapheme", minLength: 1 }),
        fc.string({ unit: "grapheme-composite", minLength: 1 }),
      )
      .map((s) => s.slice(0, 120))
      .filter((s) => s.length > 0);
    const payload = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.string({ unit: "binary" }), fc.string({ unit: "grapheme" }));
    let n = 0;
    await fc.assert(
      fc.asyncProperty(text, text, payload, async (rawId, to, message) => {
        const id = `${n++}:${rawId}`; // each run a new message, not a resend
        a.send({ id, to, type: "USER_MSG", content: "TEXT_MESSAGE", message });
        const ack = await a.next();
        expect(ack).toMatchObject({ id, content: "MESSAGE_RECEIVED" });
        const relayed = await copy.next();
        expect(relayed).toMatchObject({ id: ack.message, from: me, to });
        expect(relayed.message).toEqual(JSON.parse(JSON.stringify(message)));
      }),
      { numRuns: RUNS },
    );
  });
});
