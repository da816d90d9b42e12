// Error mapping: what a tool throws (or returns) and the tool error the runtime gets.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import {
  __moleculeCall, tool, ToolError, InvalidInput, Failed, Denied, NotFound, HostError, HostDenied,
  HostInvalidInput, HostUnavailable, HostFailed, Cancelled,
} from "../src/index.js";
import { call, loadSkill } from "../src/testing.js";

const SDK = new URL("../src/index.js", import.meta.url).href;

// A skill folder on disk, so stacks have the author's own files in them.
const APP = `import { tool, InvalidInput, Denied, NotFound, Failed, HostDenied, HostFailed, HostUnavailable, Cancelled } from ${JSON.stringify(SDK)};
import { divide } from "./helpers.js";

export const divide_numbers = tool({ description: "Divides a by b." }, ({ a, b }) => ({ quotient: divide(a, b) }));

export const divide_later = tool({ description: "Divides after an await." }, async ({ a, b }) => {
  await null;
  return divide(a, b);
});

const KINDS = {
  invalid: () => new InvalidInput("field \`x\`: bad"),
  failed: () => new Failed("it broke"),
  denied: () => new Denied("no access"),
  notfound: () => new NotFound("nothing there"),
  bare: () => new Failed(),
  hostdenied: () => new HostDenied("skill test is not granted \`memory\`"),
  hostfailed: () => new HostFailed("backend said 500"),
  hostunavailable: () => new HostUnavailable(""),
  cancelled: () => new Cancelled("the task was cancelled"),
  string: () => "plain string",
  emptystring: () => "  ",
  undefined: () => undefined,
  null: () => null,
  number: () => 42,
  object: () => ({ code: 7, reason: "teapot" }),
  errorlike: () => ({ name: "CustomError", message: "shaped like an error" }),
  symbol: () => Symbol("sym"),
};

export const raise = tool({ description: "Throws what it is told." }, ({ what }) => {
  throw KINDS[what]();
});

export const reject = tool({ description: "Rejects with what it is told." }, async ({ what }) => {
  await null;
  throw KINDS[what]();
});
`;

const HELPERS = `// A helper module: errors thrown here must show this file in the stack.
export function divide(a, b) {
  if (b === 0) {
    throw new RangeError("division by zero");
  }
  return a / b;
}
`;

let folder;
let app;

before(async () => {
  folder = mkdtempSync(join(tmpdir(), "molecule-skill-errors-"));
  writeFileSync(join(folder, "package.json"), '{"type": "module"}\n'); // as a skill's package.json
  writeFileSync(join(folder, "app.js"), APP);
  writeFileSync(join(folder, "helpers.js"), HELPERS);
  app = await loadSkill(folder);
});

after(() => rmSync(folder, { recursive: true, force: true }));

async function answer(tool, args) {
  return __moleculeCall(app, tool, JSON.stringify(args));
}

test("tool errors keep their kind and message, sync and async", async () => {
  const expected = {
    invalid: ["invalid-input", "field `x`: bad"],
    failed: ["failed", "it broke"],
    denied: ["denied", "no access"],
    notfound: ["not-found", "nothing there"],
    bare: ["failed", "Failed"],
  };
  for (const name of ["raise", "reject"]) {
    for (const [what, [tag, val]] of Object.entries(expected)) {
      assert.deepEqual(await answer(name, { what }), { tag, val }, `${name} ${what}`);
    }
  }
});

test("a host error that escapes: denied stays denied, the rest become failed with the host's text", async () => {
  for (const name of ["raise", "reject"]) {
    assert.deepEqual(await answer(name, { what: "hostdenied" }), { tag: "denied", val: "skill test is not granted `memory`" });
    assert.deepEqual(await answer(name, { what: "hostfailed" }), { tag: "failed", val: "host failed: backend said 500" });
    assert.deepEqual(await answer(name, { what: "hostunavailable" }), { tag: "failed", val: "host unavailable" });
    assert.deepEqual(await answer(name, { what: "cancelled" }), { tag: "failed", val: "host cancelled: the task was cancelled" });
  }
});

test("thrown values that are not Errors map to sensible failed texts", async () => {
  const expected = {
    string: "plain string",
    emptystring: "the tool threw an empty string",
    undefined: "the tool threw undefined; throw an Error with a message (or a ToolError such as Failed) instead",
    null: "the tool threw null; throw an Error with a message (or a ToolError such as Failed) instead",
    number: "the tool threw the number 42",
    object: 'the tool threw a value that is not an Error: {"code":7,"reason":"teapot"}',
    errorlike: "CustomError: shaped like an error",
    symbol: "the tool threw Symbol(sym)",
  };
  for (const name of ["raise", "reject"]) {
    for (const [what, val] of Object.entries(expected)) {
      assert.deepEqual(await answer(name, { what }), { tag: "failed", val }, `${name} ${what}`);
    }
  }
});

test("an Error is failed with its name, message and the author's frames, relative to the skill", async () => {
  const sync = await call(app, "divide_numbers", { a: 1, b: 0 }).catch((e) => e);
  assert.ok(sync instanceof Failed, String(sync));
  const lines = sync.message.split("\n");
  assert.equal(lines[0], "RangeError: division by zero");
  assert.match(lines[1], /^ {2}at helpers\.js:4:11 in divide$/);
  assert.match(lines[2], /^ {2}at app\.js:4:\d+$/);
  assert.equal(lines.length, 3, "no SDK, node: or test-runner frames");

  const later = await call(app, "divide_later", { a: 1, b: 0 }).catch((e) => e);
  assert.match(later.message, /^RangeError: division by zero\n {2}at helpers\.js:4:11 in divide\n {2}at app\.js:8:\d+/);
  assert.doesNotMatch(later.message, /node:|src\/tools\.js|src\/report\.js|errors\.test\.js/);
});

test("without the testing root, frames keep their absolute paths", async () => {
  const { val } = await __moleculeCall(app, "divide_numbers", '{"a":1,"b":0}');
  assert.ok(val.includes(`at ${join(folder, "helpers.js")}:4:11 in divide`), val);
});

test("results JSON cannot encode are failed naming the tool and the reason", () => {
  const cycle = { a: 1 };
  cycle.self = cycle;
  const cases = [
    [() => 10n, "a BigInt (10n): convert it with Number() or String()"],
    [() => ({ n: { big: 1n } }), "a BigInt (1n) at `n.big`: convert it with Number() or String()"],
    [() => cycle, "a cycle at `self`: the value contains itself"],
    [() => ({ f: () => 1 }), "a function at `f`: call it, or leave it out"],
    [() => [NaN], "NaN at `[0]` is not a JSON number"],
    [() => ({ m: new Map([["a", 1]]) }), "a Map (return Object.fromEntries(map)) at `m`"],
    [() => ({ p: Promise.resolve(1) }), "a Promise (await it before returning) at `p`"],
    [() => new Uint8Array(2), "binary data (return an array of numbers or a string)"],
  ];
  for (const [fn, reason] of cases) {
    const skill = { bad: tool({ description: "returns junk" }, fn) };
    assert.deepEqual(__moleculeCall(skill, "bad", "{}"), {
      tag: "failed",
      val: `tool \`bad\` returned a value that is not JSON (${reason}); return objects, arrays, strings, numbers, booleans or null`,
    });
  }
});

test("results encode as JSON.stringify would otherwise", () => {
  const skill = {
    fine: tool({ description: "returns fine values" }, () => ({
      when: new Date(0),
      left: undefined,
      list: [undefined, 1, "é"],
      nested: { ok: true, none: null },
    })),
  };
  assert.deepEqual(__moleculeCall(skill, "fine", "{}"), {
    tag: "ok",
    val: '{"when":"1970-01-01T00:00:00.000Z","list":[null,1,"é"],"nested":{"ok":true,"none":null}}',
  });
});

test("a tool's answer never throws and never rejects", async () => {
  const evil = {
    get message() {
      throw new Error("evil getter");
    },
  };
  const worse = {
    get message() {
      throw worse; // describing what reading it threw throws again
    },
  };
  const skill = {
    sync: tool({ description: "throws an evil value" }, () => {
      throw evil;
    }),
    async: tool({ description: "rejects with an evil value" }, () => Promise.reject(evil)),
    worse: tool({ description: "throws a worse value" }, () => {
      throw worse;
    }),
    worse_async: tool({ description: "rejects with a worse value" }, () => Promise.reject(worse)),
  };
  for (const name of ["sync", "async"]) {
    const got = await __moleculeCall(skill, name, "{}");
    assert.equal(got.tag, "failed");
    assert.match(got.val, /^Error: evil getter\n/);
  }
  for (const name of ["worse", "worse_async"]) {
    assert.deepEqual(await __moleculeCall(skill, name, "{}"), {
      tag: "failed",
      val: "the tool threw a value that cannot be described (reading it threw too)",
    });
  }
});

test("error classes carry their WIT kind and a name", () => {
  const kinds = [
    [InvalidInput, "invalid-input"], [Failed, "failed"], [Denied, "denied"], [NotFound, "not-found"],
    [HostDenied, "denied"], [HostInvalidInput, "invalid-input"], [HostUnavailable, "unavailable"],
    [HostFailed, "failed"], [Cancelled, "cancelled"],
  ];
  for (const [Kind, kind] of kinds) {
    const error = new Kind("text");
    assert.equal(error.kind, kind);
    assert.equal(error.name, Kind.name);
    assert.ok(error instanceof Error);
  }
  assert.ok(new InvalidInput("x") instanceof ToolError);
  assert.ok(new Cancelled("x") instanceof HostError);
  assert.ok(!(new HostDenied("x") instanceof ToolError));
});
