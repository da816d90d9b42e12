// The engine's globals under Node: `call` and `loadSkill` run a skill with the globals QuickJS
// lacks (timers, `process`, `Buffer`, `fetch`, `URL`, …) hidden, so a test fails the way the
// runtime does; a ReferenceError naming one of them carries a hint (in the engine too).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { __moleculeCall, Failed, tool } from "../src/index.js";
import { describeThrown } from "../src/report.js";
import { ENGINE_GLOBALS, call, loadSkill } from "../src/testing.js";

const SDK = new URL("../src/index.js", import.meta.url).href;
const root = mkdtempSync(join(tmpdir(), "molecule-skill-sandbox-"));
after(() => rmSync(root, { recursive: true, force: true }));

function skillFolder(name, files) {
  const folder = join(root, name);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, "package.json"), '{"type": "module"}\n');
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(join(folder, file, ".."), { recursive: true });
    writeFileSync(join(folder, file), text);
  }
  return folder;
}

const uses = (name, body) => tool({ name, description: `Uses ${name}.` }, body);
const node = {
  timer: uses("timer", () => new Promise((done) => setTimeout(() => done("late"), 1))),
  env: uses("env", () => process.env.HOME),
  web: uses("web", async () => (await fetch("https://example.com/")).status),
  buffer: uses("buffer", () => Buffer.from("hi").toString("base64")),
  url: uses("url", () => new URL("https://example.com/a?b=1").pathname),
  clone: uses("clone", () => structuredClone({ a: 1 })),
  later: uses("later", async () => {
    await null;
    await Promise.resolve();
    return process.pid;
  }),
  immediate: uses("immediate", () => new Promise((done) => setImmediate(done))),
  engine: uses("engine", async () => {
    await new Promise((done) => queueMicrotask(done));
    return {
      console: typeof console.log,
      text: new TextDecoder().decode(new TextEncoder().encode("é")),
      base64: btoa("hi"),
      now: typeof performance.now(),
      language: [typeof Promise, typeof JSON, typeof Map, typeof WeakRef, typeof BigInt, typeof Proxy],
    };
  }),
  types: uses("types", () => [typeof setTimeout, typeof process, typeof Buffer, typeof fetch, typeof URL, typeof Intl, typeof global]),
};

async function failure(promise) {
  const error = await promise.then(
    (value) => assert.fail(`expected a failure, got ${JSON.stringify(value)}`),
    (e) => e,
  );
  assert.ok(error instanceof Failed, `${error.name}: ${error.message}`);
  return error.message;
}

test("a tool that uses a Node global fails in call() as in the engine", async () => {
  for (const [name, missing] of [
    ["timer", "setTimeout"],
    ["env", "process"],
    ["web", "fetch"],
    ["buffer", "Buffer"],
    ["url", "URL"],
    ["clone", "structuredClone"],
    ["later", "process"],
    ["immediate", "setImmediate"],
  ]) {
    const message = await failure(call(node, name));
    assert.match(message, new RegExp(`^ReferenceError: ${missing} is not defined\\n`), name);
  }
  assert.deepEqual(await call(node, "types"), Array(7).fill("undefined"));
});

test("the engine's own globals stay during a call", async () => {
  assert.deepEqual(await call(node, "engine"), {
    console: "function",
    text: "é",
    base64: "aGk=",
    now: "number",
    language: ["function", "object", "function", "function", "function", "function"],
  });
});

test("Node's globals are back after a call, whether it succeeded or threw", async () => {
  const before = Object.getOwnPropertyNames(globalThis).map((n) => [n, Object.getOwnPropertyDescriptor(globalThis, n)]);
  const saved = { setTimeout, process, Buffer, fetch, URL };
  await call(node, "types");
  await call(node, "env").catch(() => {});
  await call(node, "nope").catch(() => {});
  await call(node, "timer", "not json").catch(() => {});
  const after = Object.getOwnPropertyNames(globalThis).map((n) => [n, Object.getOwnPropertyDescriptor(globalThis, n)]);
  assert.deepEqual(after, before);
  assert.equal(globalThis.setTimeout, saved.setTimeout);
  assert.equal(globalThis.process, saved.process);
  assert.equal(globalThis.Buffer, saved.Buffer);
  assert.equal(globalThis.fetch, saved.fetch);
  assert.equal(globalThis.URL, saved.URL);
  await new Promise((done) => setTimeout(done, 1)); // and they work
});

test("calls that overlap keep the globals hidden until the last one ends", async () => {
  const seen = [];
  const skill = {
    slow: uses("slow", async () => {
      for (let i = 0; i < 5; i += 1) await null;
      seen.push(typeof process);
      return 1;
    }),
    fast: uses("fast", async () => {
      await null;
      seen.push(typeof process);
      return 2;
    }),
  };
  assert.deepEqual(await Promise.all([call(skill, "slow"), call(skill, "fast")]), [1, 2]);
  assert.deepEqual(seen, ["undefined", "undefined"]);
  assert.equal(typeof process, "object");
});

test("call(…, { nodeGlobals: true }) keeps Node's globals for a test that needs them", async () => {
  assert.equal(await call(node, "timer", {}, { nodeGlobals: true }), "late");
  assert.equal(await call(node, "env", {}, { nodeGlobals: true }), process.env.HOME);
  assert.equal(await call(node, "url", {}, { nodeGlobals: false }).catch((e) => e.name), "Failed");
  await assert.rejects(call(node, "env", {}, { nodeGlobal: true }), {
    name: "TypeError",
    message: "call: unknown option `nodeGlobal`; did you mean `nodeGlobals`? (options: nodeGlobals)",
  });
});

test("a ReferenceError naming a missing global carries a hint", async () => {
  const cases = [
    ["timer", "hint: the sandbox has no timers or event loop — await host calls directly"],
    ["immediate", "hint: the sandbox has no timers or event loop — await host calls directly"],
    ["env", 'hint: the sandbox has no `process` — use config.get("KEY") for granted values'],
    ["web", 'hint: the sandbox has no `fetch` — use http.get/http.request from "molecule-skill" (granted origins only)'],
    ["buffer", "hint: the sandbox has no `Buffer` — use Uint8Array and TextEncoder/TextDecoder"],
  ];
  for (const [name, hint] of cases) {
    const lines = (await failure(call(node, name))).split("\n");
    assert.equal(lines[lines.length - 1], hint, name);
    assert.equal(lines.filter((l) => l.startsWith("hint:")).length, 1, name);
  }
});

test("the hint is in the shared report code, so the engine gives it too", () => {
  const hintOf = (error) => describeThrown(error).split("\n").filter((l) => l.startsWith("hint: "));
  assert.deepEqual(hintOf(new ReferenceError("require is not defined")), ['hint: the sandbox has no `require` — use import ... from "./file.js"']);
  assert.deepEqual(hintOf(new ReferenceError("clearTimeout is not defined")), ["hint: the sandbox has no timers or event loop — await host calls directly"]);
  for (const name of ["URL", "URLSearchParams", "structuredClone", "Intl", "__dirname", "global", "module"]) {
    assert.equal(hintOf(new ReferenceError(`${name} is not defined`)).length, 1, name);
  }
  assert.deepEqual(hintOf(new ReferenceError("myHelper is not defined")), [], "an author's own name gets none");
  assert.deepEqual(hintOf(new TypeError("setTimeout is not defined")), [], "only a ReferenceError");
  // A QuickJS-shaped stack (the engine's): the hint follows the frames.
  const quick = new ReferenceError("process is not defined");
  quick.stack = "    at read (app.js:4:10)\n    at <anonymous> (app.js:9:3)\n";
  assert.equal(
    describeThrown(quick),
    'ReferenceError: process is not defined\n  at app.js:4:10 in read\n  at app.js:9:3\nhint: the sandbox has no `process` — use config.get("KEY") for granted values',
  );
});

test("__moleculeCall itself hides nothing (the engine has no Node globals to hide)", () => {
  assert.deepEqual(__moleculeCall(node, "env", "{}").tag, "ok");
});

test("loadSkill evaluates app.js without Node's globals, unless asked", async () => {
  const folder = skillFolder("top-level-env", {
    "app.js": `import { tool } from ${JSON.stringify(SDK)};
const home = process.env.HOME;
export const home_dir = tool({ description: "Answers HOME." }, () => home);
`,
  });
  await assert.rejects(loadSkill(folder), { name: "ReferenceError", message: "process is not defined" });
  assert.equal(typeof process, "object", "restored after a failed load");
  const app = await loadSkill(folder, { nodeGlobals: true });
  assert.equal(await call(app, "home_dir"), process.env.HOME);
  await assert.rejects(loadSkill(folder, { nodeglobals: true }), /did you mean `nodeGlobals`/);
});

test("the engine's globals are kept; Node's others (timers, process, fetch, …) are hidden", () => {
  for (const name of ["console", "TextEncoder", "TextDecoder", "queueMicrotask", "performance", "atob", "btoa", "Promise", "globalThis", "__moleculeHost"]) {
    assert.ok(ENGINE_GLOBALS.includes(name), name);
  }
  for (const name of ["setTimeout", "process", "Buffer", "fetch", "URL", "URLSearchParams", "structuredClone", "Intl", "global", "crypto"]) {
    assert.ok(!ENGINE_GLOBALS.includes(name), name);
  }
});

test("node:test keeps working while a tool runs with the globals hidden", { timeout: 10000 }, async (t) => {
  const skill = {
    nested: uses("nested", async () => {
      // The runner's own machinery (subtests, their timeouts, diagnostics, hooks) holds its
      // own references to Node's timers and process.
      await t.test("a subtest started by the tool", { timeout: 5000 }, async (inner) => {
        inner.diagnostic("inside");
        inner.after(() => {});
        await null;
        assert.equal(typeof setTimeout, "undefined");
      });
      t.diagnostic("after the subtest");
      return "done";
    }),
  };
  assert.equal(await call(skill, "nested"), "done");
  assert.equal(typeof setTimeout, "function");
});
