// The JavaScript docs say what the code does: the test example's result is what js-notes'
// add_note returns, frame examples have the real format, and the language level, the log level
// and the npm re-install after a copy are stated the same way in both READMEs.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { Failed } from "../src/index.js";
import { FakeHost, call, loadSkill } from "../src/testing.js";

const PACKAGE = fileURLToPath(new URL("..", import.meta.url));
const NOTES = fileURLToPath(new URL("../../../skills-examples/js-notes/", import.meta.url));
const SDK_README = readFileSync(join(PACKAGE, "README.md"), "utf8");
const GUIDE = readFileSync(join(PACKAGE, "..", "README.md"), "utf8");
const GUIDE_JS = GUIDE.slice(GUIDE.indexOf("## JavaScript skills"), GUIDE.indexOf("## Other languages"));
const READMES = { "guest-sdk/js/README.md": SDK_README, "guest-sdk/README.md (JavaScript skills)": GUIDE_JS };

const root = mkdtempSync(join(tmpdir(), "molecule-skill-docs-"));
after(() => rmSync(root, { recursive: true, force: true }));

/** A copy of js-notes whose `molecule-skill` is this package (as `npm install` links it). */
function notesCopy() {
  const folder = join(root, "js-notes");
  mkdirSync(join(folder, "node_modules"), { recursive: true });
  for (const file of ["app.js", "textutil.js"]) copyFileSync(join(NOTES, file), join(folder, file));
  writeFileSync(join(folder, "package.json"), '{"type": "module"}\n');
  symlinkSync(PACKAGE, join(folder, "node_modules", "molecule-skill"), "dir");
  return folder;
}

test("the READMEs' add_note test expects what js-notes' add_note returns", async (t) => {
  t.after(new FakeHost({ memory: true }).install());
  const notes = await loadSkill(notesCopy());
  const actual = await call(notes, "add_note", { text: "tea" });
  for (const [name, text] of Object.entries(READMES)) {
    const match = /call\(app, "add_note", \{ text: "tea" \}\), (\{[^}]*\})\)/.exec(text);
    assert.ok(match, `${name} has the add_note test example`);
    const expected = Function(`return (${match[1]});`)();
    assert.deepEqual(expected, actual, name);
  }
});

test("frame examples have the format failures really have", async () => {
  const folder = join(root, "frames");
  mkdirSync(join(folder, "lib"), { recursive: true });
  writeFileSync(join(folder, "package.json"), '{"type": "module"}\n');
  const sdk = new URL("../src/index.js", import.meta.url).href;
  writeFileSync(
    join(folder, "lib", "maths.js"),
    'export function divide(a, b) {\n  if (b === 0) {\n    throw new RangeError("division by zero");\n  }\n  return a / b;\n}\n',
  );
  writeFileSync(
    join(folder, "app.js"),
    `import { tool } from ${JSON.stringify(sdk)};\nimport { divide } from "./lib/maths.js";\n` +
      'export const divide_numbers = tool({ description: "Divides a by b." }, ({ a, b }) => divide(a, b));\n',
  );
  const app = await loadSkill(folder);
  const error = await call(app, "divide_numbers", { a: 1, b: 0 }).catch((e) => e);
  assert.ok(error instanceof Failed);
  const frame = error.message.split("\n")[1].trim();
  assert.equal(frame, "at lib/maths.js:3:11 in divide");
  for (const [name, text] of Object.entries(READMES)) {
    const shown = text.match(/\bat [\w./-]+\.js:\d+(:\d+)? in \w+/g) || [];
    assert.ok(shown.length > 0, `${name} shows a frame`);
    for (const example of shown) assert.equal(example, frame, name);
  }
});

test("both READMEs state the language level, the log level and the re-install the same way", () => {
  for (const [name, text] of Object.entries(READMES)) {
    const flat = text.replace(/\s+/g, " ");
    assert.match(flat, /ES2020 and later \(QuickJS-ng implements ES2023\)/, name);
    assert.doesNotMatch(flat, /ES2023 as QuickJS|\(QuickJS\):/, name);
    assert.match(flat, /LOG_LEVEL=info molecule-runtime call/, name);
    assert.match(flat, /default/, name);
    assert.match(flat, /`warn`/, name);
    assert.match(flat, /cp -r [\w-]+ [\w/-]+\/skills\//, name);
    assert.match(flat, /npm install/, name);
    assert.match(flat, /nodeGlobals: true/, name);
  }
});
