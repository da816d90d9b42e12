// Host capabilities, in the same shape as the Python and Rust SDKs: `log`, `config`, `memory`,
// `llm` and `events` (outgoing HTTP is in http.js). Every call is synchronous (it blocks in
// the host) and goes to `globalThis.__moleculeHost`: inside the runtime the engine's native
// host object, in tests a `FakeHost` from `molecule-skill/testing`. A failure throws a
// `HostError` kind; a capability the operator did not grant throws `HostDenied` naming the
// config key that grants it. Arguments are checked here first (`HostInvalidInput`).

import { HostInvalidInput } from "./errors.js";
import { callHost, kindOf, oneOf, options, parseAnswer, string } from "./native.js";

const LEVELS = ["trace", "debug", "info", "warn", "error"];
const SCOPES = ["local", "team", "global"];
// wit/types.wit `task-state`.
const TASK_STATES = [
  "submitted", "working", "input-required", "auth-required",
  "completed", "canceled", "failed", "rejected",
];
// wit/host.wit `chat-role`.
const ROLES = ["system", "user", "assistant", "tool"];

function logText(message) {
  if (typeof message === "string") return message;
  if (message instanceof Error) return `${message.name}: ${message.message}`;
  try {
    const text = JSON.stringify(message);
    return text === undefined ? String(message) : text;
  } catch (_) {
    return String(message);
  }
}

/** `molecule:runtime/log`: lines in the host's log, tagged with the skill. */
export const log = Object.freeze({
  /** `level`: trace, debug, info, warn or error. A message that is not a string is written as JSON. */
  write(level, message) {
    callHost("log", oneOf(level, LEVELS, "log level"), logText(message));
  },
  debug: (message) => log.write("debug", message),
  info: (message) => log.write("info", message),
  warn: (message) => log.write("warn", message),
  error: (message) => log.write("error", message),
});

/** `molecule:runtime/config`: values the operator granted (env vars, secrets). */
export const config = Object.freeze({
  /** The value of `key`, or null when granted but unset; `HostDenied` when not granted. */
  get(key) {
    const value = callHost("configGet", string(key, "config key"));
    return value === undefined ? null : value;
  },
  /** The names of every key granted to this skill. */
  keys() {
    return Array.from(callHost("configKeys"));
  },
});

/** `molecule:runtime/memory`: the workspace's long-term memory. */
export const memory = Object.freeze({
  SCOPES: Object.freeze(SCOPES.slice()),
  /** Stores `content` under `scope` (local, team or global); returns its id. */
  commit(content, scope = "local") {
    string(content, "memory content");
    return callHost("memoryCommit", content, oneOf(scope, SCOPES, "memory scope"));
  },
  /**
   * Memories matching `query`, best first: `[{id, content, scope, createdAt, score}]`.
   * `scope` left out: every scope this workspace may read; `limit` defaults to 5.
   */
  search(query, opts) {
    const { scope = null, limit = 5 } = options(opts, ["scope", "limit"], "memory.search");
    string(query, "memory query");
    if (scope !== null) oneOf(scope, SCOPES, "memory scope");
    if (!Number.isInteger(limit) || limit < 1 || limit > 0xffffffff) {
      throw new HostInvalidInput(`memory.search limit \`${limit}\`: expected a whole number, at least 1`);
    }
    const entries = parseAnswer(callHost("memorySearch", query, scope, limit), "memorySearch");
    return entries.map((e) => ({
      id: e.id,
      content: e.content,
      scope: e.scope,
      createdAt: e.createdAt,
      score: e.score === undefined ? null : e.score,
    }));
  },
});

function chatMessage(message, index) {
  const what = `llm.complete messages[${index}]`;
  if (message === null || typeof message !== "object" || Array.isArray(message)) {
    throw new HostInvalidInput(`${what}: expected an object {role, content}, got ${kindOf(message)}`);
  }
  options(message, ["role", "content", "toolCalls", "toolCallId"], what);
  const out = {
    role: oneOf(message.role, ROLES, `${what} role`),
    content: message.content === undefined ? "" : string(message.content, `${what} content`),
  };
  if (message.toolCalls !== undefined) {
    if (!Array.isArray(message.toolCalls)) {
      throw new HostInvalidInput(`${what} toolCalls: expected an array, got ${kindOf(message.toolCalls)}`);
    }
    out.toolCalls = message.toolCalls.map((call, i) => {
      const where = `${what} toolCalls[${i}]`;
      options(call, ["id", "name", "arguments"], where);
      return {
        id: string(call.id, `${where} id`),
        name: string(call.name, `${where} name`),
        arguments: call.arguments === undefined ? {} : call.arguments,
      };
    });
  }
  if (message.toolCallId !== undefined && message.toolCallId !== null) {
    out.toolCallId = string(message.toolCallId, `${what} toolCallId`);
  }
  return out;
}

function toolSpec(spec, index) {
  const what = `llm.complete tools[${index}]`;
  options(spec, ["name", "description", "inputSchema"], what);
  const schema = spec.inputSchema === undefined ? { type: "object" } : spec.inputSchema;
  if (schema === null || typeof schema !== "object" || Array.isArray(schema)) {
    throw new HostInvalidInput(`${what} inputSchema: expected a JSON Schema object, got ${kindOf(schema)}`);
  }
  return {
    name: string(spec.name, `${what} name`),
    description: spec.description === undefined ? "" : string(spec.description, `${what} description`),
    inputSchema: schema,
  };
}

function wholeNumber(value, what) {
  if (!Number.isInteger(value) || value < 1) {
    throw new HostInvalidInput(`${what}: expected a whole number, at least 1, got ${String(value)}`);
  }
  return value;
}

/** `molecule:runtime/llm`: the workspace's model gateway (keys stay in the host). */
export const llm = Object.freeze({
  /**
   * One completion. `messages`: `[{role: system|user|assistant|tool, content, toolCalls?,
   * toolCallId?}]`; `tools`: `[{name, description, inputSchema}]`. Returns `{message: {role,
   * content, toolCalls: [{id, name, arguments}]}, stopReason, usage: {inputTokens, outputTokens}}`.
   */
  complete(request) {
    const { messages, tools = [], model, maxTokens, temperature } = options(
      request, ["messages", "tools", "model", "maxTokens", "temperature"], "llm.complete");
    if (!Array.isArray(messages)) {
      throw new HostInvalidInput(`llm.complete messages: expected an array of {role, content}, got ${kindOf(messages)}`);
    }
    if (!Array.isArray(tools)) {
      throw new HostInvalidInput(`llm.complete tools: expected an array, got ${kindOf(tools)}`);
    }
    const body = { messages: messages.map(chatMessage), tools: tools.map(toolSpec) };
    if (model !== undefined && model !== null) body.model = string(model, "llm.complete model");
    if (maxTokens !== undefined && maxTokens !== null) body.maxTokens = wholeNumber(maxTokens, "llm.complete maxTokens");
    if (temperature !== undefined && temperature !== null) {
      if (typeof temperature !== "number") {
        throw new HostInvalidInput(`llm.complete temperature: expected a number, got ${kindOf(temperature)}`);
      }
      body.temperature = temperature;
    }
    const reply = parseAnswer(callHost("llmComplete", JSON.stringify(body)), "llmComplete");
    const message = reply.message || {};
    const usage = reply.usage || {};
    return {
      message: {
        role: message.role || "assistant",
        content: message.content || "",
        toolCalls: Array.isArray(message.toolCalls) ? message.toolCalls : [],
      },
      stopReason: reply.stopReason || "",
      usage: { inputTokens: usage.inputTokens || 0, outputTokens: usage.outputTokens || 0 },
    };
  },
  /** The model's text answer to one user message. */
  ask(prompt, opts) {
    const { model } = options(opts, ["model"], "llm.ask");
    const messages = [{ role: "user", content: string(prompt, "llm.ask prompt") }];
    return llm.complete({ messages, model }).message.content;
  },
});

/** `molecule:runtime/events`: status, artifacts and messages of the current task. */
export const events = Object.freeze({
  /** Moves the task to `state` (submitted, working, input-required, auth-required, completed,
   * canceled, failed, rejected), with an optional text. */
  status(state, text) {
    oneOf(state, TASK_STATES, "task state");
    const message = text === undefined || text === null ? null : string(text, "events.status text");
    callHost("eventsStatus", state, message);
  },
  /** Adds an artifact holding `text`; `{name}` names it. */
  artifact(text, opts) {
    const { name = null } = options(opts, ["name"], "events.artifact");
    const shown = name === null ? null : string(name, "events.artifact name");
    callHost("eventsArtifact", shown, string(text, "events.artifact text"));
  },
  /** Sends `text` to the client as an agent message, without changing the task state. */
  say(text) {
    callHost("eventsMessage", string(text, "events.say text"));
  },
});
