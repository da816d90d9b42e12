// A tool made with tool() while app.js (or a module it imports) evaluates, but not exported by
// app.js, would be silently left out: describe (and so every call) fails naming it instead.
// The tracking is per evaluation: tools of other skills, of a test file, or of an earlier
// load never count against a skill.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

import { Failed, tool } from "../src/index.js";
import { call, describe, loadSkill } from "../src/testing.js";

const SDK = new URL("../src/index.js", import.meta.url).href;
const IMPORT_SDK = `import { tool } from ${JSON.stringify(SDK)};\n`;
const root = mkdtempSync(join(tmpdir(), "molecule-skill-unexported-"));
after(() => rmSync(root, { recursive: true, force: true }));

// A tool of this test file, exported by nothing: it must not count against any skill.
const stray = tool({ description: "A stray tool of the test file." }, () => 0);

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

const FORGOT = skillFolder("forgot", {
  "app.js": `${IMPORT_SDK}
export const add = tool({ description: "Adds a and b." }, ({ a, b }) => a + b);

const divide = tool({ description: "Divides a by b." }, ({ a, b }) => a / b);
`,
});

const NAMED = skillFolder("named", {
  "app.js": `${IMPORT_SDK}
export const add = tool({ description: "Adds a and b." }, ({ a, b }) => a + b);
const divider = tool({ name: "divide", description: "Divides a by b." }, ({ a, b }) => a / b);
`,
});

const REEXPORTS = skillFolder("reexports", {
  "lib/maths.js": `${IMPORT_SDK}
export const divide = tool({ description: "Divides a by b." }, ({ a, b }) => a / b);
export const times = tool({ description: "Multiplies a by b." }, ({ a, b }) => a * b);
`,
  "lib/more.js": `${IMPORT_SDK}
export const minus = tool({ description: "Subtracts b from a." }, ({ a, b }) => a - b);
export const twice = (x) => 2 * x;
`,
  "lib/star.js": `${IMPORT_SDK}
export const negate = tool({ description: "Negates a." }, ({ a }) => -a);
`,
  "app.js": `${IMPORT_SDK}
import { times } from "./lib/maths.js";
import * as more from "./lib/more.js";
export { divide } from "./lib/maths.js";
export * from "./lib/star.js";
export { times };
export const minus = more.minus;
export const add = tool({ description: "Adds a and b." }, ({ a, b }) => more.twice(a + b) / 2);
`,
});

const HELPER_FORGOT = skillFolder("helper-forgot", {
  "lib/extra.js": `${IMPORT_SDK}
export const hidden = tool({ description: "A tool of a helper module." }, () => 1);
export const label = "extra";
`,
  "app.js": `${IMPORT_SDK}
import { label } from "./lib/extra.js";
export const name = tool({ description: "Answers a label." }, () => label);
`,
});

const NESTED = skillFolder("nested", {
  "app.js": `${IMPORT_SDK}
export const add = tool({ description: "Adds a and b." }, ({ a, b }) => a + b);
export const more = { divide: tool({ description: "Divides a by b." }, ({ a, b }) => a / b) };
`,
});

const MAKES_AT_CALL = skillFolder("makes-at-call", {
  "app.js": `${IMPORT_SDK}
export const make = tool({ description: "Makes a tool while it runs." }, () => {
  tool({ description: "Made during a call." }, () => 0);
  return "made";
});
`,
});

const FORGOT_MESSAGE =
  'tool "Divides a by b." is created but not exported from app.js (made at app.js:5:16): ' +
  "write `export const <name> = tool(...)`";

test("describe fails naming a tool that app.js makes but does not export", async () => {
  const app = await loadSkill(FORGOT);
  assert.throws(() => describe(app), { name: "Error", message: FORGOT_MESSAGE });
});

test("a call of such a skill fails the same way, as the runtime would refuse to load it", async () => {
  const app = await loadSkill(FORGOT);
  const error = await call(app, "add", { a: 1, b: 2 }).catch((e) => e);
  assert.ok(error instanceof Failed, String(error));
  assert.equal(error.message, `the skill cannot be loaded: ${FORGOT_MESSAGE}`);
});

test("a named tool is named, and the fix uses its name", async () => {
  const app = await loadSkill(NAMED);
  assert.throws(() => describe(app), {
    message:
      'tool `divide` ("Divides a by b.") is created but not exported from app.js (made at app.js:4:17): ' +
      "write `export const divide = tool(...)`",
  });
});

test("tools made in helper modules and re-exported count as exported", async () => {
  for (let i = 0; i < 2; i += 1) {
    const app = await loadSkill(REEXPORTS); // the second load shares Node's cached helpers
    assert.deepEqual(describe(app).map((s) => s.name), ["divide", "times", "minus", "negate", "add"]);
    assert.equal(await call(app, "add", { a: 1, b: 2 }), 3);
  }
});

test("a tool made in a helper module and not re-exported is an error", async () => {
  const app = await loadSkill(HELPER_FORGOT);
  assert.throws(() => describe(app), {
    message: /^tool "A tool of a helper module\." is created but not exported from app\.js \(made at lib\/extra\.js:3:23\): write `export const <name> = tool\(\.\.\.\)`$/,
  });
});

test("a tool inside an exported object says that only exports by name count", async () => {
  const app = await loadSkill(NESTED);
  assert.throws(() => describe(app), {
    message:
      'tool "Divides a by b." is inside the export `more` of app.js, but only a tool exported by name is a tool: ' +
      "write `export const <name> = tool(...)`",
  });
});

test("tools of other skills, of the test file, or made during a call do not count", async () => {
  await loadSkill(FORGOT); // leaves an unexported tool behind in its own evaluation
  const made = await loadSkill(MAKES_AT_CALL);
  assert.equal(await call(made, "make"), "made");
  assert.equal(await call(made, "make"), "made");
  assert.deepEqual(describe(made).map((s) => s.name), ["make"]);
  const app = await loadSkill(REEXPORTS);
  assert.equal(describe(app).length, 5);
  assert.ok(stray); // made by this file, exported by nothing
  // An object of tools (not a module) is not an evaluation: nothing to check.
  assert.deepEqual(describe({ add: tool({ description: "Adds." }, () => 0) }).map((s) => s.name), ["add"]);
});

test("a module imported without loadSkill is checked against its own files", async () => {
  const forgot = await import(`${pathToFileURL(join(FORGOT, "app.js")).href}?direct`);
  assert.throws(() => describe(forgot), { message: /^tool "Divides a by b\." is created but not exported from app\.js \(made at .*forgot\/app\.js:5:16\)/ });
  const good = await import(`${pathToFileURL(join(REEXPORTS, "app.js")).href}?direct`);
  assert.equal(describe(good).length, 5, "the stray tool of this file and the other skill's do not count");
});

test("without molecule-skill/testing (as in the engine) every tool the evaluation made counts", () => {
  // One process per skill, as the engine has one context per call.
  const strict = (folder) => {
    const script = `
      const sdk = await import(${JSON.stringify(SDK)});
      const app = await import(${JSON.stringify(pathToFileURL(join(folder, "app.js")).href)});
      let specs;
      try { specs = JSON.parse(sdk.__moleculeDescribe(app)).map((s) => s.name); } catch (e) { specs = e.message; }
      console.log(JSON.stringify({ specs, call: sdk.__moleculeCall(app, "name", "{}") }));
    `;
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    return JSON.parse(run.stdout);
  };
  const helper = strict(HELPER_FORGOT);
  assert.match(helper.specs, /^tool "A tool of a helper module\." is created but not exported from app\.js \(made at .*lib\/extra\.js:3:23\)/);
  assert.equal(helper.call.tag, "failed");
  assert.match(helper.call.val, /^the skill cannot be loaded: tool "A tool of a helper module\."/);
  assert.deepEqual(strict(REEXPORTS).specs, ["divide", "times", "minus", "negate", "add"]);
  assert.match(strict(FORGOT).specs, /^tool "Divides a by b\." is created but not exported/);
});
