// js-notes under Node: the tools run as the runtime runs them, host calls answered by a
// FakeHost. Run with `npm install && npm test` in skills-examples/js-notes.
import { test } from "node:test";
import assert from "node:assert/strict";

import { Denied, Failed, InvalidInput } from "molecule-skill";
import { FakeHost, call, describe } from "molecule-skill/testing";
import * as app from "../app.js";

/** Installs `host` for the test `t` and returns it. */
function use(t, host) {
  t.after(host.install());
  return host;
}

/** Asserts that `promise` rejects with an error of class `Kind` whose message matches `pattern`. */
async function rejectsWith(promise, Kind, pattern) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof Kind, `${error.name}: ${error.message}`);
    assert.match(error.message, pattern);
    return true;
  });
}

test("tools and schemas", () => {
  const specs = Object.fromEntries(describe(app).map((s) => [s.name, s]));
  assert.deepEqual(Object.keys(specs), ["add_note", "find_notes", "fetch"]);
  assert.deepEqual(specs.add_note.inputSchema.properties.scope, {
    type: "string",
    enum: ["local", "team", "global"],
    default: "local",
    description: "Who may read it.",
  });
});

test("add and find notes", async (t) => {
  const host = use(t, new FakeHost({ memory: true }));
  const added = await call(app, "add_note", { text: "  deploys   on Friday " });
  await call(app, "add_note", { text: "lunch at noon", scope: "team" });
  const found = await call(app, "find_notes", { query: "friday" });
  assert.deepEqual(added, { id: "mem-1", scope: "local" });
  assert.equal(host.memories[0].content, "deploys on Friday");
  assert.deepEqual(found.notes, [
    { id: "mem-1", text: "deploys on Friday", scope: "local", created_at: "1970-01-01T00:00:00Z" },
  ]);
});

test("bad input names the field", async (t) => {
  use(t, new FakeHost({ memory: true }));
  await rejectsWith(call(app, "add_note", { text: "   " }), InvalidInput, /^field `text`: must not be empty$/);
  await rejectsWith(call(app, "add_note", { text: "x".repeat(2001) }), InvalidInput, /^field `text`: 2001 characters, at most 2000$/);
  await rejectsWith(call(app, "add_note", { text: "x", scope: "everyone" }), InvalidInput, /^field `scope`: expected one of "local", "team", "global"/);
  await rejectsWith(call(app, "add_note", { txt: "x" }), InvalidInput, /^missing field `text`$/);
  await rejectsWith(call(app, "find_notes", { query: "x", limit: 0 }), InvalidInput, /^field `limit`: must be at least 1, got 0$/);
  await rejectsWith(call(app, "find_notes", { query: "x", limit: 2.5 }), InvalidInput, /^field `limit`: expected an integer/);
  await rejectsWith(call(app, "fetch", { url: "ftp://example.com/" }), InvalidInput, /^field `url`: expected an https:\/\/ URL$/);
});

test("memory not granted is denied, naming the grant", async (t) => {
  use(t, new FakeHost());
  await rejectsWith(call(app, "add_note", { text: "x" }), Denied, /grants\.skills\.test\.interfaces/);
});

test("a memory backend failure is failed with the host's text", async (t) => {
  const host = use(t, new FakeHost({ memory: true }));
  host.memoryCommit = () => {
    throw { kind: "unavailable", message: "no platform in standalone mode" };
  };
  await rejectsWith(call(app, "add_note", { text: "x" }), Failed, /^host unavailable: no platform in standalone mode$/);
});

test("fetch a granted origin", async (t) => {
  const host = use(
    t,
    new FakeHost({
      http: {
        "GET https://example.com/": { status: 200, body: "<h1>Example Domain</h1>", headers: { "content-type": "text/html" } },
      },
    }),
  );
  const result = await call(app, "fetch", { url: "https://example.com/", max_bytes: 4 });
  assert.deepEqual(result, { status: 200, content_type: "text/html", body: "<h1>", truncated: true });
  assert.deepEqual(host.requests[0], {
    method: "GET",
    url: "https://example.com/",
    headers: [["user-agent", "molecule-js-notes/0.1"]],
    body: null,
  });
  await rejectsWith(call(app, "fetch", { url: "https://other.example/" }), Denied, /hosts/);
});
