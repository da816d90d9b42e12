// Host capabilities against the FakeHost, through the native contract the engine implements.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";

import {
  config, events, http, llm, log, memory, Response, Cancelled, HostDenied, HostFailed,
  HostInvalidInput, HostUnavailable,
} from "../src/index.js";
import { FakeHost } from "../src/testing.js";

afterEach(() => {
  delete globalThis.__moleculeHost;
});

function install(opts) {
  const host = new FakeHost(opts);
  host.install();
  return host;
}

test("without a host every capability is HostUnavailable saying what to do", () => {
  delete globalThis.__moleculeHost;
  assert.throws(() => log.info("x"), {
    name: "HostUnavailable",
    message: "no host: outside the runtime, use FakeHost from molecule-skill/testing",
  });
  assert.throws(() => memory.commit("x"), HostUnavailable);
  assert.throws(() => http.get("https://example.com/"), HostUnavailable);
});

test("the host is looked up at each call, not at import", () => {
  const first = install();
  log.info("one");
  first.uninstall();
  const second = install();
  log.info("two");
  assert.deepEqual(first.logs, [{ level: "info", message: "one" }]);
  assert.deepEqual(second.logs, [{ level: "info", message: "two" }]);
});

test("log writes every level; a bad level names the allowed ones", () => {
  const host = install();
  log.debug("d");
  log.info("i");
  log.warn("w");
  log.error("e");
  log.write("trace", "t");
  log.info({ a: 1 });
  assert.deepEqual(host.logs.map((l) => [l.level, l.message]), [
    ["debug", "d"], ["info", "i"], ["warn", "w"], ["error", "e"], ["trace", "t"], ["info", '{"a":1}'],
  ]);
  assert.throws(() => log.write("loud", "x"), {
    name: "HostInvalidInput",
    message: "log level `loud`: use one of trace, debug, info, warn, error",
  });
});

test("config: granted values, null when granted but unset, denied otherwise", () => {
  install({ config: { GITHUB_TOKEN: "t0k", EMPTY: null } });
  assert.equal(config.get("GITHUB_TOKEN"), "t0k");
  assert.equal(config.get("EMPTY"), null);
  assert.deepEqual(config.keys(), ["EMPTY", "GITHUB_TOKEN"]);
  assert.throws(() => config.get("OTHER"), {
    name: "HostDenied",
    message: "skill test is not granted `config OTHER`; grant it in config.yaml under grants.skills.test",
  });
  assert.throws(() => config.get(3), { name: "HostInvalidInput", message: "config key: expected a string, got number" });
});

test("memory: commit and search when granted", () => {
  const host = install({ memory: true });
  assert.equal(memory.commit("deploys on Friday"), "mem-1");
  assert.equal(memory.commit("lunch at noon", "team"), "mem-2");
  assert.deepEqual(memory.search("friday"), [
    { id: "mem-1", content: "deploys on Friday", scope: "local", createdAt: "1970-01-01T00:00:00Z", score: 1 },
  ]);
  assert.deepEqual(memory.search("noon friday", { scope: "team" }).map((m) => m.id), ["mem-2"]);
  assert.deepEqual(memory.search("noon friday", { limit: 1 }).map((m) => m.id), ["mem-1"]);
  assert.equal(host.memories.length, 2);
});

test("memory: denied without the grant, with the config key that grants it", () => {
  const host = install({ skill: "notes" });
  assert.throws(() => memory.commit("x"), {
    name: "HostDenied",
    message: "skill notes is not granted `memory`; grant it in config.yaml under grants.skills.notes.interfaces",
  });
  assert.throws(() => memory.search("x"), HostDenied);
  assert.equal(host.memories.length, 0);
});

test("memory: bad arguments are HostInvalidInput naming the allowed values", () => {
  install({ memory: true });
  assert.throws(() => memory.commit("x", "everyone"), {
    name: "HostInvalidInput",
    message: "memory scope `everyone`: use one of local, team, global",
  });
  assert.throws(() => memory.search("x", { scope: "all" }), /memory scope `all`: use one of local, team, global/);
  assert.throws(() => memory.search("x", { limit: 0 }), /memory.search limit `0`: expected a whole number/);
  assert.throws(() => memory.search("x", { max: 3 }), /memory.search: unknown key `max`; use `scope`, `limit`/);
  assert.throws(() => memory.commit({ text: "x" }), /memory content: expected a string, got object/);
});

test("llm.complete sends the request and returns the reply", () => {
  const host = install({
    llmReplies: ["plain answer", { content: "", toolCalls: [{ id: "c1", name: "add", arguments: { a: 1 } }] }],
  });
  const reply = llm.complete({
    messages: [
      { role: "system", content: "Be brief." },
      { role: "assistant", content: "", toolCalls: [{ id: "c0", name: "add", arguments: { a: 2 } }] },
      { role: "tool", content: "3", toolCallId: "c0" },
    ],
    tools: [{ name: "add", description: "Adds.", inputSchema: { type: "object" } }],
    model: "scripted:x",
    maxTokens: 100,
    temperature: 0.5,
  });
  assert.deepEqual(reply, {
    message: { role: "assistant", content: "plain answer", toolCalls: [] },
    stopReason: "end_turn",
    usage: { inputTokens: 0, outputTokens: 0 },
  });
  assert.deepEqual(host.llmRequests[0], {
    messages: [
      { role: "system", content: "Be brief." },
      { role: "assistant", content: "", toolCalls: [{ id: "c0", name: "add", arguments: { a: 2 } }] },
      { role: "tool", content: "3", toolCallId: "c0" },
    ],
    tools: [{ name: "add", description: "Adds.", inputSchema: { type: "object" } }],
    model: "scripted:x",
    maxTokens: 100,
    temperature: 0.5,
  });
  const second = llm.complete({ messages: [{ role: "user", content: "add" }] });
  assert.deepEqual(second.message.toolCalls, [{ id: "c1", name: "add", arguments: { a: 1 } }]);
  assert.equal(second.stopReason, "tool_use");
  assert.throws(() => llm.ask("more?"), { name: "HostUnavailable", message: "FakeHost has no more llmReplies" });
});

test("llm.ask returns the text; request typos name the right key", () => {
  const host = install({ llmReplies: ["Paris"] });
  assert.equal(llm.ask("Capital of France?", { model: "m" }), "Paris");
  assert.deepEqual(host.llmRequests[0], { messages: [{ role: "user", content: "Capital of France?" }], tools: [], model: "m" });
  assert.throws(() => llm.complete({ messages: [], max_tokens: 5 }), {
    name: "HostInvalidInput",
    message: "llm.complete: unknown key `max_tokens`; did you mean `maxTokens`?",
  });
  assert.throws(() => llm.complete({ messages: [{ role: "bot", content: "x" }] }), /llm.complete messages\[0\] role `bot`: use one of system, user, assistant, tool/);
  assert.throws(() => llm.complete({ messages: [{ role: "assistant", tool_calls: [] }] }), /unknown key `tool_calls`; did you mean `toolCalls`/);
  assert.throws(() => llm.complete({}), /llm.complete messages: expected an array/);
});

test("events: status, artifact, message; a bad state names the WIT task states", () => {
  const host = install();
  events.status("working", "halfway");
  events.status("input-required");
  events.artifact("the report", { name: "report" });
  events.artifact("unnamed");
  events.say("hi");
  assert.deepEqual(host.events, [
    { type: "status", state: "working", text: "halfway" },
    { type: "status", state: "input-required", text: null },
    { type: "artifact", name: "report", text: "the report" },
    { type: "artifact", name: null, text: "unnamed" },
    { type: "message", text: "hi" },
  ]);
  assert.throws(() => events.status("done"), {
    name: "HostInvalidInput",
    message: "task state `done`: use one of submitted, working, input-required, auth-required, completed, canceled, failed, rejected",
  });
});

test("http.get returns a Response; an origin not granted is denied", () => {
  const host = install({
    http: {
      "GET https://example.com/": { status: 200, body: "<h1>Hi</h1>", headers: { "Content-Type": "text/html" } },
      "GET https://api.example.com/data": { body: { items: [1, 2] } },
    },
  });
  const page = http.get("https://example.com/", { headers: { "user-agent": "t/1" } });
  assert.ok(page instanceof Response);
  assert.equal(page.status, 200);
  assert.equal(page.ok, true);
  assert.equal(page.header("content-type"), "text/html");
  assert.equal(page.header("x-missing"), null);
  assert.deepEqual(page.headers, [["Content-Type", "text/html"]]);
  assert.equal(page.text(), "<h1>Hi</h1>");
  assert.deepEqual(Array.from(page.bytes().slice(0, 4)), [60, 104, 49, 62]);
  assert.deepEqual(http.get("https://api.example.com/data").json(), { items: [1, 2] });
  assert.deepEqual(host.requests[0], { method: "GET", url: "https://example.com/", headers: [["user-agent", "t/1"]], body: null });
  assert.throws(() => http.get("https://other.example/"), {
    name: "HostDenied",
    message: "skill test is not granted `http https://other.example/`; grant it in config.yaml under grants.skills.test.hosts",
  });
});

test("http.post sends bytes or JSON; http.request takes any method", () => {
  const host = install({
    http: { "POST https://api.example.com/x": { status: 201, body: "made" }, "DELETE https://api.example.com/x": { status: 204 } },
  });
  assert.equal(http.post("https://api.example.com/x", { json: { a: "é" } }).status, 201);
  assert.equal(http.post("https://api.example.com/x", { body: "raw", headers: [["content-type", "text/plain"]] }).text(), "made");
  assert.equal(http.request({ method: "delete", url: "https://api.example.com/x" }).status, 204);
  const [json, raw, del] = host.requests;
  assert.deepEqual(json.headers, [["content-type", "application/json"]]);
  assert.equal(new TextDecoder().decode(json.body), '{"a":"é"}');
  assert.deepEqual(raw.headers, [["content-type", "text/plain"]]);
  assert.equal(new TextDecoder().decode(raw.body), "raw");
  assert.equal(del.method, "DELETE");
  assert.equal(del.body, null);
});

test("http: bad arguments are HostInvalidInput", () => {
  install();
  assert.throws(() => http.get("ftp://example.com/"), { name: "HostInvalidInput", message: "http.request url `ftp://example.com/`: expected http:// or https:// and a host" });
  assert.throws(() => http.get("https://example.com/", { header: {} }), /http.get: unknown key `header`; did you mean `headers`\?/);
  assert.throws(() => http.post("https://example.com/", { body: { a: 1 } }), /body: expected a string or bytes .*send JSON with http.post\(url, \{json\}\)/);
  assert.throws(() => http.post("https://example.com/", { body: "x", json: {} }), /give `body` or `json`, not both/);
  assert.throws(() => http.get("https://example.com/", { headers: { n: 1 } }), /header `n`: the value must be a string, got number/);
});

test("what the native host throws becomes the HostError class of its kind", () => {
  const kinds = [
    [{ kind: "denied", message: "no" }, HostDenied, "no"],
    [{ kind: "invalid-input", message: "bad" }, HostInvalidInput, "bad"],
    [{ kind: "unavailable", message: "later" }, HostUnavailable, "later"],
    [{ kind: "failed", message: "500" }, HostFailed, "500"],
    [{ kind: "cancelled", message: "" }, Cancelled, "the task was cancelled"],
    [{ kind: "weird", message: "?" }, HostFailed, "log: unknown host error kind `weird`: ?"],
    [new TypeError("engine bug"), HostFailed, "log: TypeError: engine bug"],
    ["text", HostFailed, "log: text"],
  ];
  for (const [thrown, Kind, message] of kinds) {
    globalThis.__moleculeHost = {
      log() {
        throw thrown;
      },
    };
    assert.throws(() => log.info("x"), (error) => error instanceof Kind && error.message === message, JSON.stringify(thrown));
  }
});

test("a host without a method is HostUnavailable naming it", () => {
  globalThis.__moleculeHost = {};
  assert.throws(() => events.say("x"), { name: "HostUnavailable", message: "the host offers no `eventsMessage`: the runtime is older than this SDK" });
});

test("an answer that is not JSON is HostFailed", () => {
  globalThis.__moleculeHost = { memorySearch: () => "not json" };
  assert.throws(() => memory.search("x"), { name: "HostFailed", message: /^memorySearch: the host answered text that is not JSON/ });
});
