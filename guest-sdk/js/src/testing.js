// Testing a skill under Node, with no wasm: `FakeHost` answers host calls from memory through
// the same native contract as the runtime's engine, and `call` runs a tool exactly as the
// runtime does (`__moleculeCall`: JSON text in, `{tag, val}` out, errors mapped), with the
// globals the engine lacks (timers, `process`, `Buffer`, `fetch`, `URL`, …) hidden while the
// tool runs, so a tool that needs them fails here as it would in the runtime.
//
//   import { test } from "node:test";
//   import assert from "node:assert/strict";
//   import { FakeHost, call } from "molecule-skill/testing";
//   import * as app from "./app.js";
//
//   test("hello", async (t) => {
//     const host = new FakeHost({ memory: true });
//     t.after(host.install());
//     assert.deepEqual(await call(app, "hello", { name: "Ada" }), { greeting: "Hello, Ada!" });
//   });
//
// Node only (this module is never loaded inside the runtime).

import { resolve, join } from "node:path";
import { pathToFileURL } from "node:url";

import { __moleculeCall, __moleculeDescribe } from "./index.js";
import { TOOL_ERRORS } from "./errors.js";
import { beginEvaluation, shareEvaluations } from "./evaluation.js";
import { setStackRoot } from "./report.js";
import { closest } from "./suggest.js";

// One SDK serves every skill and test file of this process: each evaluation's tools are its own.
shareEvaluations();

// `process` itself is hidden while a tool runs; calls that overlap still need the folder.
const nodeProcess = process;

const OPTIONS = ["config", "memory", "llmReplies", "http", "skill"];

function denied(message) {
  return { kind: "denied", message };
}

function invalid(message) {
  return { kind: "invalid-input", message };
}

/**
 * An in-memory host. Grant what the test needs: `config` values (`{KEY: "value"}`),
 * `memory: true`, `llmReplies` (answers in order: a text, or `{content, toolCalls}`), `http`
 * responses keyed by `"METHOD url"` as `{status, body, headers}` (or a body text for a 200).
 * Everything not granted throws `{kind: "denied", message}` as the runtime's host does.
 * Records `logs`, `events`, `requests`, `memories` and `llmRequests`.
 */
export class FakeHost {
  constructor(opts = {}) {
    for (const key of Object.keys(opts)) {
      if (OPTIONS.includes(key)) continue;
      const meant = closest(key, OPTIONS);
      throw new TypeError(
        `FakeHost: unknown option \`${key}\`${meant ? `; did you mean \`${meant}\`?` : ""} (options: ${OPTIONS.join(", ")})`,
      );
    }
    this.skill = opts.skill === undefined ? "test" : String(opts.skill);
    this.config = Object.assign({}, opts.config);
    this.memoryEnabled = Boolean(opts.memory);
    this.memories = [];
    this.llmReplies = Array.from(opts.llmReplies || []);
    this.llmRequests = [];
    this.http = Object.assign({}, opts.http);
    for (const key of Object.keys(this.http)) {
      if (!/^[A-Z]+ \S+$/.test(key)) {
        throw new TypeError(`FakeHost: http key ${JSON.stringify(key)} must be "METHOD url", e.g. "GET https://example.com/"`);
      }
    }
    this.logs = [];
    this.events = [];
    this.requests = [];
    this._ids = 0;
    this._previous = undefined;
  }

  /** Makes this the host of every capability call; returns a function that uninstalls it. */
  install() {
    this._previous = globalThis.__moleculeHost;
    globalThis.__moleculeHost = this;
    return () => this.uninstall();
  }

  /** Puts back the host that was installed before `install()`. */
  uninstall() {
    if (globalThis.__moleculeHost === this) {
      if (this._previous === undefined) delete globalThis.__moleculeHost;
      else globalThis.__moleculeHost = this._previous;
    }
  }

  _denied(capability, key) {
    return denied(`skill ${this.skill} is not granted \`${capability}\`; grant it in config.yaml under ${key}`);
  }

  // -- the native contract (what the engine's host object offers) ---------------------------

  log(level, message) {
    if (!["trace", "debug", "info", "warn", "error"].includes(level)) throw invalid(`log level \`${level}\``);
    this.logs.push({ level, message: String(message) });
  }

  configGet(key) {
    if (!Object.prototype.hasOwnProperty.call(this.config, key)) {
      throw this._denied(`config ${key}`, `grants.skills.${this.skill}`);
    }
    const value = this.config[key];
    return value === undefined || value === null ? null : String(value);
  }

  configKeys() {
    return Object.keys(this.config).sort();
  }

  memoryCommit(content, scope) {
    this._memory();
    this._scope(scope);
    this._ids += 1;
    const entry = { id: `mem-${this._ids}`, content, scope, createdAt: "1970-01-01T00:00:00Z", score: null };
    this.memories.push(entry);
    return entry.id;
  }

  memorySearch(query, scope, limit) {
    this._memory();
    if (scope !== null) this._scope(scope);
    const words = String(query).toLowerCase().split(/\s+/).filter(Boolean);
    const found = this.memories
      .filter((m) => (scope === null || m.scope === scope) && words.some((w) => m.content.toLowerCase().includes(w)))
      .slice(0, limit)
      .map((m) => Object.assign({}, m, { score: 1.0 }));
    return JSON.stringify(found);
  }

  llmComplete(requestJson) {
    this.llmRequests.push(JSON.parse(requestJson));
    if (this.llmReplies.length === 0) {
      throw { kind: "unavailable", message: "FakeHost has no more llmReplies" };
    }
    const reply = this.llmReplies.shift();
    const content = typeof reply === "string" ? reply : reply.content || "";
    const toolCalls = typeof reply === "string" ? [] : reply.toolCalls || [];
    return JSON.stringify({
      message: { role: "assistant", content, toolCalls },
      stopReason: toolCalls.length ? "tool_use" : "end_turn",
      usage: { inputTokens: 0, outputTokens: 0 },
    });
  }

  eventsStatus(state, text) {
    this.events.push({ type: "status", state, text });
  }

  eventsArtifact(name, text) {
    this.events.push({ type: "artifact", name, text });
  }

  eventsMessage(text) {
    this.events.push({ type: "message", text });
  }

  httpRequest(method, url, headersJson, body) {
    const headers = JSON.parse(headersJson);
    this.requests.push({ method, url, headers, body });
    const key = `${method} ${url}`;
    if (!Object.prototype.hasOwnProperty.call(this.http, key)) {
      throw this._denied(`http ${url}`, `grants.skills.${this.skill}.hosts`);
    }
    let answer = this.http[key];
    if (typeof answer === "string" || answer instanceof Uint8Array) answer = { body: answer };
    const out = Array.isArray(answer.headers)
      ? answer.headers.slice()
      : Object.entries(answer.headers || {});
    let payload = answer.body === undefined ? "" : answer.body;
    if (typeof payload !== "string" && !(payload instanceof Uint8Array)) {
      payload = JSON.stringify(payload);
      if (!out.some(([name]) => name.toLowerCase() === "content-type")) out.push(["content-type", "application/json"]);
    }
    const bytes = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
    return { status: answer.status === undefined ? 200 : answer.status, headers: JSON.stringify(out), body: bytes };
  }

  _memory() {
    if (!this.memoryEnabled) throw this._denied("memory", `grants.skills.${this.skill}.interfaces`);
  }

  _scope(scope) {
    if (!["local", "team", "global"].includes(scope)) throw invalid(`memory scope \`${scope}\``);
  }
}

// -- the engine's globals ---------------------------------------------------------------------

/**
 * The globals of the runtime's engine: what QuickJS-ng's `JS_NewContext` installs (the
 * language, `queueMicrotask`, `performance`, `atob`/`btoa`; see `JS_NewContext` in quickjs.c
 * of rquickjs-sys 0.14) and what the engine adds (`console`, `TextEncoder`/`TextDecoder`,
 * `__moleculeHost`). Every other global Node has is hidden while a tool runs.
 */
export const ENGINE_GLOBALS = Object.freeze([
  // JS_AddIntrinsicBaseObjects and the other intrinsics of JS_NewContext
  "AggregateError", "Array", "ArrayBuffer", "AsyncDisposableStack", "Atomics", "BigInt",
  "BigInt64Array", "BigUint64Array", "Boolean", "DOMException", "DataView", "Date",
  "DisposableStack", "Error", "EvalError", "FinalizationRegistry", "Float16Array", "Float32Array",
  "Float64Array", "Function", "Infinity", "Int16Array", "Int32Array", "Int8Array", "InternalError",
  "Iterator", "JSON", "Map", "Math", "NaN", "Number", "Object", "Promise", "Proxy", "RangeError",
  "ReferenceError", "Reflect", "RegExp", "Set", "SharedArrayBuffer", "String", "SuppressedError",
  "Symbol", "SyntaxError", "TypeError", "URIError", "Uint16Array", "Uint32Array", "Uint8Array",
  "Uint8ClampedArray", "WeakMap", "WeakRef", "WeakSet", "atob", "btoa", "decodeURI",
  "decodeURIComponent", "encodeURI", "encodeURIComponent", "escape", "eval", "globalThis",
  "isFinite", "isNaN", "parseFloat", "parseInt", "performance", "queueMicrotask", "undefined",
  "unescape",
  // the engine's prelude and host object (guest-sdk/js/engine/src)
  "console", "TextEncoder", "TextDecoder", "__moleculeHost",
]);

// Names Node (or a browser) may define that the engine lacks, hidden even if defined after
// this module loaded (a test's `globalThis.fetch = stub`).
const KNOWN_MISSING = [
  "process", "Buffer", "global", "setTimeout", "setInterval", "setImmediate", "clearTimeout",
  "clearInterval", "clearImmediate", "fetch", "Headers", "Request", "Response", "FormData",
  "URL", "URLSearchParams", "structuredClone", "Intl", "crypto", "navigator", "WebAssembly",
  "require", "module", "exports", "__dirname", "__filename", "window", "self",
];

// Node's globals (as this module loaded: built-ins and preloads) that the engine lacks. A global
// a test adds later under a new name is its own and stays.
const HIDDEN = Array.from(
  new Set(Object.getOwnPropertyNames(globalThis).concat(KNOWN_MISSING)),
).filter((name) => !ENGINE_GLOBALS.includes(name));

let hiders = 0;
let saved = [];

// Hides the globals the engine lacks until the returned function is called. Calls that overlap
// share one hiding: the globals come back when the last one ends.
function hideNodeGlobals() {
  if (hiders === 0) {
    saved = [];
    for (const name of HIDDEN) {
      const descriptor = Object.getOwnPropertyDescriptor(globalThis, name);
      if (!descriptor || !descriptor.configurable) continue;
      saved.push([name, descriptor]);
      delete globalThis[name];
    }
  }
  hiders += 1;
  let done = false;
  return () => {
    if (done) return;
    done = true;
    hiders -= 1;
    if (hiders > 0) return;
    for (const [name, descriptor] of saved) Object.defineProperty(globalThis, name, descriptor);
    saved = [];
  };
}

const RUN_OPTIONS = ["nodeGlobals"];

function runOptions(opts, what) {
  if (opts === undefined || opts === null) return {};
  if (typeof opts !== "object" || Array.isArray(opts)) {
    throw new TypeError(`${what}: options must be an object such as { nodeGlobals: true }`);
  }
  for (const key of Object.keys(opts)) {
    if (RUN_OPTIONS.includes(key)) continue;
    const meant = closest(key, RUN_OPTIONS);
    throw new TypeError(
      `${what}: unknown option \`${key}\`${meant ? `; did you mean \`${meant}\`?` : ""} (options: ${RUN_OPTIONS.join(", ")})`,
    );
  }
  return opts;
}

// Runs `run()` (a function answering a value or a promise) with Node's globals hidden unless
// `nodeGlobals`; they are back once its promise settles, whether it resolved or rejected.
async function asInEngine(opts, run) {
  const restore = opts.nodeGlobals ? () => {} : hideNodeGlobals();
  try {
    return await run();
  } finally {
    restore();
  }
}

// -- skills ------------------------------------------------------------------------------------

const ROOTS = new WeakMap();
let loads = 0;
let loading = Promise.resolve();

/**
 * Imports `<folder>/app.js` afresh (a new module instance each time; the modules it imports
 * are Node's cached ones) and returns its namespace. Its evaluation sees only the engine's
 * globals unless `{ nodeGlobals: true }`; the tools it makes are this namespace's (a tool it
 * makes but does not export fails `describe`). Stack frames of its calls are shown relative
 * to `folder`.
 */
export async function loadSkill(folder, opts) {
  const options = runOptions(opts, "loadSkill");
  const root = resolve(String(folder));
  loads += 1;
  const url = `${pathToFileURL(join(root, "app.js")).href}?molecule-load=${loads}`;
  // One load at a time, so each evaluation's tools are its own.
  const previous = loading;
  let finished;
  loading = new Promise((done) => {
    finished = done;
  });
  await previous;
  const evaluation = beginEvaluation();
  let namespace = null;
  try {
    namespace = await asInEngine(options, () => import(url));
  } finally {
    evaluation.end(namespace);
    finished();
  }
  ROOTS.set(namespace, `${pathToFileURL(root).href}/`);
  return namespace;
}

function rootOf(namespace) {
  return ROOTS.get(namespace) || `${pathToFileURL(nodeProcess.cwd()).href}/`;
}

/** The tool specs of a skill module as the runtime sees them: `[{name, description, inputSchema}]`. */
export function describe(namespace) {
  const previous = setStackRoot(rootOf(namespace));
  try {
    return JSON.parse(__moleculeDescribe(namespace));
  } finally {
    setStackRoot(previous);
  }
}

/**
 * Runs tool `name` of `namespace` with `args` (an object, or JSON text as the runtime passes
 * it) through `__moleculeCall`, as the runtime does; resolves to the decoded result, or
 * rejects with the ToolError of the answer (InvalidInput, Failed, Denied, NotFound).
 *
 * While the tool runs (its awaited part included) the globals the engine lacks are hidden,
 * so using one fails with the runtime's ReferenceError; `{ nodeGlobals: true }` keeps them
 * for a test that needs them.
 */
export async function call(namespace, name, args, opts) {
  const options = runOptions(opts, "call");
  const text = typeof args === "string" ? args : JSON.stringify(args === undefined ? {} : args);
  const previous = setStackRoot(rootOf(namespace));
  let answer;
  try {
    answer = await asInEngine(options, () => __moleculeCall(namespace, name, text));
  } finally {
    setStackRoot(previous);
  }
  if (answer.tag === "ok") return JSON.parse(answer.val);
  const Kind = TOOL_ERRORS[answer.tag];
  if (!Kind) throw new Error(`__moleculeCall answered an unknown tag ${JSON.stringify(answer.tag)}: ${answer.val}`);
  throw new Kind(answer.val);
}
