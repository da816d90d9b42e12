// Native tests of app.js with the SDK's fake host: `npm test` (node --test), no wasm. `call`
// runs a tool with the runtime engine's globals only (no setTimeout, process, Buffer, fetch,
// URL, …), so what fails in the runtime fails here too.
import { test } from "node:test";
import assert from "node:assert/strict";

import { InvalidInput } from "molecule-skill";
import { FakeHost, call } from "molecule-skill/testing";
import * as app from "./app.js";

test("hello greets by name", async (t) => {
  t.after(new FakeHost().install()); // grant what a test needs: new FakeHost({ memory: true })
  assert.deepEqual(await call(app, "hello", { name: "Ada" }), { greeting: "Hello, Ada!" });
});

test("an empty name is invalid input", async (t) => {
  t.after(new FakeHost().install());
  await assert.rejects(call(app, "hello", { name: " " }), (error) => {
    assert.ok(error instanceof InvalidInput);
    assert.equal(error.message, "field `name`: must not be empty");
    return true;
  });
});
