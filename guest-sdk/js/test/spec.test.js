// Tool specs are checked when they are declared (tool()) and when a skill's tools are collected.
import { test } from "node:test";
import assert from "node:assert/strict";

import { __moleculeCall, __moleculeDescribe, isTool, tool } from "../src/index.js";

const ok = () => ({});

test("a misspelt spec key is an error naming the key and the right spelling", () => {
  assert.throws(
    () => tool({ description: "Greets.", input_schema: { type: "object" } }, ok),
    {
      name: "TypeError",
      message:
        'unknown key `input_schema` in the spec of the tool described as "Greets."; did you mean `inputSchema`? (a spec has `name`, `description`, `inputSchema`)',
    },
  );
  for (const [key, meant] of [["schema", "inputSchema"], ["InputSchema", "inputSchema"], ["desc", "description"], ["Description", "description"], ["tool_name", "name"]]) {
    assert.throws(() => tool({ description: "d", [key]: 1 }, ok), new RegExp(`unknown key \`${key}\`.*did you mean \`${meant}\``));
  }
  assert.throws(() => tool({ name: "greet", description: "d", handler: ok }, ok), {
    message: "unknown key `handler` in the spec of tool `greet` (a spec has `name`, `description`, `inputSchema`)",
  });
});

test("a missing or blank description is an error", () => {
  assert.throws(() => tool({ name: "x" }, ok), { name: "TypeError", message: /tool `x` has no description: add description: "…"/ });
  assert.throws(() => tool({ description: "  " }, ok), /has no description/);
  assert.throws(() => tool({ description: 3 }, ok), /has no description/);
});

test("the spec and the handler must be what they say", () => {
  assert.throws(() => tool("Greets.", ok), /spec must be an object such as \{description: "…", inputSchema: \{…\}\}, got string/);
  assert.throws(() => tool({ description: "d" }), /the handler of the tool described as "d" must be a function/);
  assert.throws(() => tool({ description: "d" }, { run: ok }), /must be a function.*got object/);
  assert.throws(() => tool({ description: "d", inputSchema: "object" }, ok), /inputSchema of .* must be a JSON Schema object.*got string/);
  assert.throws(() => tool({ description: "d", inputSchema: [] }, ok), /inputSchema .* got an array/);
  assert.throws(() => tool({ description: "d", inputSchema: null }, ok), /inputSchema .* got null/);
  assert.throws(() => tool({ description: "d", inputSchema: { type: "string" } }, ok), /a tool's input is always a JSON object/);
});

test("a tool is a frozen, branded object with its spec and handler", () => {
  const t = tool({ description: " Greets. ", inputSchema: { type: "object" } }, ok);
  assert.ok(isTool(t));
  assert.ok(Object.isFrozen(t));
  assert.equal(t[Symbol.for("molecule.tool")], true);
  assert.equal(t.description, "Greets.");
  assert.equal(t.handler, ok);
  assert.equal(t.name, null);
  assert.ok(!isTool({ description: "looks like one", handler: ok }));
});

test("names follow the WIT rule: 1-64 of a-z 0-9 _ -", () => {
  for (const good of ["a", "add_note", "web-fetch", "x".repeat(64), "v2"]) {
    assert.equal(JSON.parse(__moleculeDescribe({ t: tool({ name: good, description: "d" }, ok) }))[0].name, good);
  }
  for (const bad of ["", "Hello", "add note", "x".repeat(65), "é", "a.b"]) {
    assert.throws(() => tool({ name: bad, description: "d" }, ok), /is not valid: use 1 to 64 of a-z, 0-9, `_` and `-`/, bad);
  }
  assert.throws(() => tool({ name: 7, description: "d" }, ok), /tool name must be a string, got number/);
});

test("an export name that is not a valid tool name says how to fix it", () => {
  const skill = { addNote: tool({ description: "d" }, ok) };
  assert.throws(() => __moleculeDescribe(skill), {
    message: 'export `addNote`: tool name `addNote` is not valid: use 1 to 64 of a-z, 0-9, `_` and `-`; rename the export or give the spec name: "add_note"',
  });
  const answer = __moleculeCall(skill, "addNote", "{}");
  assert.equal(answer.tag, "failed");
  assert.match(answer.val, /^the skill cannot be loaded: export `addNote`/);
});

test("names starting with __molecule are reserved", () => {
  assert.throws(() => tool({ name: "__molecule_x", description: "d" }, ok), /`__molecule_x`: names starting with `__molecule` are reserved/);
  assert.throws(() => __moleculeDescribe({ __molecule_run: tool({ description: "d" }, ok) }), /export `__molecule_run`: .* reserved/);
});

test("two tools with one name are an error", () => {
  const skill = {
    a: tool({ name: "same", description: "d" }, ok),
    b: tool({ name: "same", description: "d" }, ok),
  };
  assert.throws(() => __moleculeDescribe(skill), {
    message: "two tools are named `same` (exports `a` and `b`); tool names must be unique",
  });
  assert.equal(__moleculeCall(skill, "same", "{}").tag, "failed");
});

test("a skill without tools is an error", () => {
  assert.throws(() => __moleculeDescribe({ helper: ok, VERSION: 1 }), /the skill exports no tools: in app.js, export const hello = tool/);
});

test("a default export needs a name", () => {
  assert.throws(() => __moleculeDescribe({ default: tool({ description: "d" }, ok) }), /the default export is a tool without a name/);
  const named = { default: tool({ name: "main", description: "d" }, ok) };
  assert.equal(JSON.parse(__moleculeDescribe(named))[0].name, "main");
});

test("the schema is a copy taken at declaration", () => {
  const schema = { type: "object", properties: { a: { type: "string" } } };
  const t = tool({ description: "d", inputSchema: schema }, ok);
  schema.properties.a.type = "number";
  assert.equal(t.inputSchema.properties.a.type, "string");
  assert.throws(() => tool({ description: "d", inputSchema: { type: "object", default: 1n } }, ok), /inputSchema of .* is not JSON/);
});

test("a spec error's stack starts at the author's line, not in the SDK", () => {
  let error;
  try {
    tool({ description: "d", input_schema: {} }, ok);
  } catch (thrown) {
    error = thrown;
  }
  assert.ok(error instanceof TypeError);
  const frames = error.stack.split("\n").filter((line) => line.trim().startsWith("at "));
  assert.match(frames[0], /spec\.test\.js:\d+:\d+/);
  assert.doesNotMatch(error.stack, /src\/tools\.js|src\/report\.js/);
  assert.match(error.stack, /^TypeError: unknown key `input_schema`/);
});
