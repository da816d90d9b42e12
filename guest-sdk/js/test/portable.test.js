// index.js and everything it imports run inside the runtime's QuickJS engine: ES2020, no Node
// APIs, no imports but the SDK's own files. testing.js alone is Node-only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

import { ENGINE_GLOBALS } from "../src/testing.js";

const SRC = fileURLToPath(new URL("../src/", import.meta.url));

/** Source text without comments (strings are kept: a banned word in a message is still found). */
function code(file) {
  return readFileSync(join(SRC, file), "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
}

/** `text` without its string literals: for hints.js, whose data is the names of missing globals. */
function withoutStrings(text) {
  return text.replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`/g, '""');
}

function specifiers(text) {
  const found = [];
  const pattern = /(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']/g;
  let match;
  while ((match = pattern.exec(text)) !== null) found.push(match[1] || match[2]);
  return found;
}

/** The files index.js imports, transitively. */
function graph() {
  const seen = new Set();
  const visit = (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of specifiers(code(file))) {
      assert.match(spec, /^\.\/[a-z-]+\.js$/, `${file} imports ${spec}: only the SDK's own ./x.js files`);
      visit(spec.slice(2));
    }
  };
  visit("index.js");
  return seen;
}

test("index.js imports only SDK files, never testing.js", () => {
  const files = graph();
  assert.ok(files.has("tools.js") && files.has("host.js") && files.has("http.js"), [...files].join(", "));
  assert.ok(!files.has("testing.js"));
});

test("every engine-side source file is free of Node-only APIs and post-ES2020 syntax", () => {
  const engineFiles = readdirSync(SRC).filter((f) => f.endsWith(".js") && f !== "testing.js");
  assert.ok(engineFiles.length >= 5, engineFiles.join(", "));
  const reached = graph();
  const banned = [
    [/\bprocess\./, "process"],
    [/\bBuffer\b/, "Buffer"],
    [/\brequire\s*\(/, "require()"],
    [/(\bfrom|\bimport\s*\()\s*["']node:/, "a node: import"],
    [/\bset(Timeout|Interval|Immediate)\b/, "timers"],
    [/\b__(dirname|filename)\b/, "__dirname/__filename"],
    [/^(?![\s}])[^\n]*\bawait\b/m, "top-level await"],
    [/\?\?=|\|\|=|&&=/, "logical assignment (ES2021)"],
    [/\.replaceAll\(|\.at\(|Object\.hasOwn\(|structuredClone/, "an ES2021+ built-in"],
    [/\b\d+_\d+/, "numeric separators (ES2021)"],
    [/^\s+(static\s+)?#[A-Za-z_$]/m, "private class members (ES2022)"],
  ];
  for (const file of engineFiles) {
    assert.ok(reached.has(file), `${file} is not imported by index.js: remove it or import it`);
    // hints.js names the globals the sandbox lacks (in strings) to say what to use instead.
    const text = file === "hints.js" ? withoutStrings(code(file)) : code(file);
    for (const [pattern, what] of banned) {
      assert.doesNotMatch(text, pattern, `${file} uses ${what}`);
    }
    assert.ok(text.split("\n").length < 300, `${file} has 300 lines or more`);
  }
});

test("the SDK runs a skill with only the engine's globals", () => {
  const index = new URL("../src/index.js", import.meta.url).href;
  const script = `
    const keep = ${JSON.stringify(ENGINE_GLOBALS)};
    for (const name of Object.getOwnPropertyNames(globalThis)) {
      if (!keep.includes(name)) delete globalThis[name];
    }
    const sdk = await import(${JSON.stringify(index)});
    globalThis.__moleculeHost = { memoryCommit: (content, scope) => "id-" + scope, eventsMessage() {} };
    const skill = {
      hello: sdk.tool({ description: "d", inputSchema: { type: "object", properties: { name: { type: "string" } } } },
        ({ name }) => ({ greeting: "Hello, " + name + "!", id: sdk.memory.commit(name), env: typeof process })),
      later: sdk.tool({ description: "d" }, async () => { await null; sdk.events.say("x"); throw new Error("late"); }),
      timer: sdk.tool({ description: "d" }, () => new Promise((done) => setTimeout(done, 1))),
    };
    const out = [
      sdk.__moleculeDescribe(skill),
      sdk.__moleculeCall(skill, "hello", '{"name":"Ada"}'),
      await sdk.__moleculeCall(skill, "later", ""),
      await sdk.__moleculeCall(skill, "timer", ""),
    ];
    console.log(JSON.stringify(out));
  `;
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  const [specs, hello, later, timer] = JSON.parse(run.stdout);
  assert.deepEqual(JSON.parse(specs).map((s) => s.name), ["hello", "later", "timer"]);
  assert.deepEqual(hello, { tag: "ok", val: '{"greeting":"Hello, Ada!","id":"id-local","env":"undefined"}' });
  assert.equal(later.tag, "failed");
  assert.match(later.val, /^Error: late/);
  assert.equal(timer.tag, "failed");
  assert.match(timer.val, /^ReferenceError: setTimeout is not defined\n[^]*\nhint: the sandbox has no timers or event loop/);
});
