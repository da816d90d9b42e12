// Dispatch: `__moleculeDescribe` and `__moleculeCall` as the engine calls them.
import { test } from "node:test";
import assert from "node:assert/strict";

import { __moleculeCall, __moleculeDescribe, tool } from "../src/index.js";

// A skill module's namespace is an object of its exports; a real one lists them
// alphabetically, so tools are ordered by declaration, not by key.
const hello = tool(
  {
    description: "Greets someone by name.",
    inputSchema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] },
  },
  ({ name }) => ({ greeting: `Hello, ${name}!` }),
);
const later = tool({ description: "Answers after an await." }, async ({ n = 1 }) => {
  await Promise.resolve();
  return { doubled: n * 2 };
});
const nothing = tool({ description: "Returns undefined." }, () => undefined);
const app = { VERSION: "1.0", helper: (x) => x, later, nothing, hello }; // helper, VERSION: not tools

test("describe lists the exported tools in declaration order with their schemas", () => {
  const specs = JSON.parse(__moleculeDescribe(app));
  assert.deepEqual(specs.map((s) => s.name), ["hello", "later", "nothing"]);
  assert.deepEqual(specs[0], {
    name: "hello",
    description: "Greets someone by name.",
    inputSchema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] },
  });
  assert.deepEqual(specs[1].inputSchema, { type: "object" }, "the default schema");
});

test("a sync tool answers ok with JSON text, synchronously", () => {
  const answer = __moleculeCall(app, "hello", '{"name":"Ada"}');
  assert.equal(typeof answer.then, "undefined", "a sync tool's answer is not a promise");
  assert.deepEqual(answer, { tag: "ok", val: '{"greeting":"Hello, Ada!"}' });
});

test("an async tool answers a promise of ok", async () => {
  const pending = __moleculeCall(app, "later", '{"n":21}');
  assert.equal(typeof pending.then, "function");
  assert.deepEqual(await pending, { tag: "ok", val: '{"doubled":42}' });
});

test("undefined becomes null", () => {
  assert.deepEqual(__moleculeCall(app, "nothing", "{}"), { tag: "ok", val: "null" });
});

test("an empty input counts as {}", async () => {
  assert.deepEqual(await __moleculeCall(app, "later", ""), { tag: "ok", val: '{"doubled":2}' });
  assert.deepEqual(await __moleculeCall(app, "later", "  \n"), { tag: "ok", val: '{"doubled":2}' });
});

test("an unknown tool is not-found listing the tools", () => {
  const answer = __moleculeCall(app, "helo", "{}");
  assert.equal(answer.tag, "not-found");
  assert.match(answer.val, /no tool named `helo`/);
  assert.equal(answer.val, "no tool named `helo`; this skill offers: hello, later, nothing");
});

test("input that is not JSON is invalid-input", () => {
  const answer = __moleculeCall(app, "hello", "{name: Ada}");
  assert.equal(answer.tag, "invalid-input");
  assert.match(answer.val, /^the input is not JSON: /);
});

test("input that is not an object is invalid-input", () => {
  for (const [text, kind] of [["[1]", "an array"], ["3", "number"], ["null", "null"], ['"x"', "string"]]) {
    assert.deepEqual(__moleculeCall(app, "hello", text), {
      tag: "invalid-input",
      val: `the input must be a JSON object, got ${kind}`,
    });
  }
});

test("the schema check names the field", () => {
  assert.deepEqual(__moleculeCall(app, "hello", '{"name":3}'), {
    tag: "invalid-input",
    val: "field `name`: expected a string, got number",
  });
  assert.deepEqual(__moleculeCall(app, "hello", "{}"), {
    tag: "invalid-input",
    val: "missing field `name`",
  });
});

// A one-tool skill with `schema`, to check each supported keyword.
function check(schema, input) {
  const skill = { t: tool({ description: "schema probe", inputSchema: schema }, () => "ran") };
  return __moleculeCall(skill, "t", JSON.stringify(input));
}

test("supported schema keywords each refuse a bad input", () => {
  const cases = [
    [{ properties: { n: { type: "integer" } } }, { n: 1.5 }, "field `n`: expected an integer, got number 1.5"],
    [{ properties: { n: { type: ["string", "null"] } } }, { n: 1 }, "field `n`: expected a string or null, got number"],
    [{ properties: { b: { type: "boolean" } } }, { b: "yes" }, "field `b`: expected a boolean, got string"],
    [{ properties: { s: { enum: ["local", "team"] } } }, { s: "all" }, 'field `s`: expected one of "local", "team", got "all"'],
    [{ properties: { c: { const: 1 } } }, { c: 2 }, "field `c`: expected 1, got 2"],
    [{ properties: { n: { minimum: 1 } } }, { n: 0 }, "field `n`: must be at least 1, got 0"],
    [{ properties: { n: { maximum: 20 } } }, { n: 21 }, "field `n`: must be at most 20, got 21"],
    [{ properties: { n: { exclusiveMinimum: 0 } } }, { n: 0 }, "field `n`: must be greater than 0, got 0"],
    [{ properties: { s: { minLength: 1 } } }, { s: "" }, "field `s`: must not be empty"],
    [{ properties: { s: { minLength: 3 } } }, { s: "ab" }, "field `s`: must be at least 3 characters long, got 2"],
    [{ properties: { s: { maxLength: 2 } } }, { s: "😀😀😀" }, "field `s`: must be at most 2 characters long, got 3"],
    [{ properties: { l: { maxItems: 1 } } }, { l: [1, 2] }, "field `l`: must have at most 1 item, got 2"],
    [{ properties: { l: { items: { type: "string" } } } }, { l: ["a", 2] }, "field `l[1]`: expected a string, got number"],
    [
      { properties: { o: { type: "object", properties: { deep: { type: "number" } }, required: ["deep"] } } },
      { o: {} },
      "missing field `o.deep`",
    ],
    [
      { properties: { o: { properties: { deep: { type: "number" } } } } },
      { o: { deep: "x" } },
      "field `o.deep`: expected a number, got string",
    ],
    [{ properties: { a: {} }, additionalProperties: false }, { a: 1, b: 2 }, "unknown field `b`; expected `a`"],
    [{ additionalProperties: { type: "number" } }, { x: "1" }, "field `x`: expected a number, got string"],
  ];
  for (const [schema, input, message] of cases) {
    assert.deepEqual(check({ type: "object", ...schema }, input), { tag: "invalid-input", val: message }, JSON.stringify(schema));
  }
});

test("a fitting input passes every supported keyword", () => {
  const schema = {
    type: "object",
    properties: {
      n: { type: "integer", minimum: 1, maximum: 3 },
      s: { type: "string", enum: ["a", "b"], minLength: 1, maxLength: 1 },
      l: { type: "array", items: { type: "number" }, minItems: 1 },
      c: { const: { k: [1, 2] } },
    },
    required: ["n"],
    additionalProperties: false,
  };
  assert.deepEqual(check(schema, { n: 2, s: "a", l: [1.5], c: { k: [1, 2] } }), { tag: "ok", val: '"ran"' });
});

test("unsupported keywords are ignored", () => {
  const schema = { type: "object", properties: { s: { type: "string", pattern: "^x$", format: "email" } }, anyOf: [{ required: ["zzz"] }] };
  assert.deepEqual(check(schema, { s: "not matching" }), { tag: "ok", val: '"ran"' });
});

test("the handler gets the parsed input object", () => {
  let seen;
  const skill = { echo: tool({ description: "echo" }, (input) => { seen = input; return input; }) };
  assert.deepEqual(__moleculeCall(skill, "echo", '{"a":[1,{"b":null}],"é":"ü"}'), {
    tag: "ok",
    val: '{"a":[1,{"b":null}],"é":"ü"}',
  });
  assert.deepEqual(seen, { a: [1, { b: null }], "é": "ü" });
});

test("spec.name overrides the export name", () => {
  const skill = { addNote: tool({ name: "add-note", description: "adds" }, () => 1) };
  assert.equal(JSON.parse(__moleculeDescribe(skill))[0].name, "add-note");
  assert.deepEqual(__moleculeCall(skill, "add-note", "{}"), { tag: "ok", val: "1" });
  assert.equal(__moleculeCall(skill, "addNote", "{}").tag, "not-found");
});
