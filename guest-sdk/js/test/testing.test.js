// molecule-skill/testing: FakeHost, call, describe, loadSkill.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { Denied, Failed, InvalidInput, NotFound, tool } from "../src/index.js";
import { FakeHost, call, describe, loadSkill } from "../src/testing.js";

const SDK = new URL("../src/index.js", import.meta.url).href;
const folder = mkdtempSync(join(tmpdir(), "molecule-skill-testing-"));
writeFileSync(join(folder, "package.json"), '{"type": "module"}\n'); // as a skill's package.json
after(() => rmSync(folder, { recursive: true, force: true }));

const skill = {
  echo: tool({ description: "Echoes.", inputSchema: { type: "object", properties: { n: { type: "integer" } } } }, (x) => x),
  deny: tool({ description: "Denies." }, () => {
    throw new Denied("not you");
  }),
};

test("call decodes ok answers and rejects with the ToolError of the tag", async () => {
  assert.deepEqual(await call(skill, "echo", { n: 1 }), { n: 1 });
  assert.deepEqual(await call(skill, "echo"), {});
  assert.deepEqual(await call(skill, "echo", '{"n": 2}'), { n: 2 }, "JSON text as the runtime passes it");
  await assert.rejects(call(skill, "echo", { n: "x" }), (e) => e instanceof InvalidInput && e.message === "field `n`: expected an integer, got string");
  await assert.rejects(call(skill, "echo", "not json"), InvalidInput);
  await assert.rejects(call(skill, "deny"), (e) => e instanceof Denied && e.message === "not you");
  await assert.rejects(call(skill, "nope"), (e) => e instanceof NotFound && /offers: echo, deny/.test(e.message));
});

test("describe gives the specs with schema objects", () => {
  assert.deepEqual(describe(skill), [
    { name: "echo", description: "Echoes.", inputSchema: { type: "object", properties: { n: { type: "integer" } } } },
    { name: "deny", description: "Denies.", inputSchema: { type: "object" } },
  ]);
});

test("install sets the global host; the returned function puts back the previous one", () => {
  const outer = new FakeHost();
  const inner = new FakeHost();
  const uninstallOuter = outer.install();
  const uninstallInner = inner.install();
  assert.equal(globalThis.__moleculeHost, inner);
  uninstallInner();
  assert.equal(globalThis.__moleculeHost, outer);
  uninstallOuter();
  assert.equal("__moleculeHost" in globalThis, false);
});

test("FakeHost options are checked like tool specs", () => {
  assert.throws(() => new FakeHost({ llm_replies: [] }), {
    name: "TypeError",
    message: "FakeHost: unknown option `llm_replies`; did you mean `llmReplies`? (options: config, memory, llmReplies, http, skill)",
  });
  assert.throws(() => new FakeHost({ http: { "https://example.com/": "x" } }), /http key "https:\/\/example.com\/" must be "METHOD url"/);
});

test("loadSkill imports app.js afresh each time, and frames are relative to the folder", async () => {
  writeFileSync(
    join(folder, "app.js"),
    `import { tool } from ${JSON.stringify(SDK)};
let loads = (globalThis.__loads || 0) + 1;
globalThis.__loads = loads;
export const count = tool({ description: "Counts loads." }, () => loads);
export const fail = tool({ description: "Fails." }, () => {
  null.x;
});
`,
  );
  const first = await loadSkill(folder);
  const second = await loadSkill(folder);
  assert.notEqual(first, second);
  assert.equal(await call(first, "count"), (await call(second, "count")) - 1);
  const error = await call(second, "fail").catch((e) => e);
  assert.ok(error instanceof Failed);
  assert.match(error.message, /^TypeError: Cannot read properties of null \(reading 'x'\)\n {2}at app\.js:6:8$/);
  delete globalThis.__loads;
});

test("a host call without a FakeHost fails the tool with the reason", async () => {
  delete globalThis.__moleculeHost;
  const { memory } = await import("../src/index.js");
  const needsHost = { m: tool({ description: "Needs memory." }, () => memory.commit("x")) };
  await assert.rejects(call(needsHost, "m"), {
    message: "host unavailable: no host: outside the runtime, use FakeHost from molecule-skill/testing",
  });
});
