// molecule-skill: write molecule-runtime skill tools in JavaScript.
//
// A tool is a function with its description and JSON Schema, made with `tool()` and exported
// from the skill's app.js; it returns plain values and throws `ToolError` kinds (or anything
// else, reported as `failed` with its name, message and the author's stack frames). Host
// capabilities (`log`, `config`, `memory`, `llm`, `events`, `http`) throw `HostError` kinds.
// `molecule-skill/testing` runs tools under Node with a fake host.
//
// This module and everything it imports run inside the runtime's JavaScript engine (QuickJS):
// ES2020, no Node APIs.

import { describeTools, callTool } from "./tools.js";

export { tool, isTool } from "./tools.js";
export {
  ToolError,
  InvalidInput,
  Failed,
  Denied,
  NotFound,
  HostError,
  HostDenied,
  HostInvalidInput,
  HostUnavailable,
  HostFailed,
  Cancelled,
} from "./errors.js";
export { log, config, memory, llm, events } from "./host.js";
export { http, Response } from "./http.js";

/**
 * For the engine: the JSON text of `[{name, description, inputSchema}]` for the tools of the
 * skill module `namespace`. Throws an Error saying what to fix when the skill has no tools or
 * a bad or duplicate tool name.
 */
export function __moleculeDescribe(namespace) {
  return JSON.stringify(describeTools(namespace));
}

/**
 * For the engine: runs tool `name` of `namespace` on `inputText` (JSON text, "" means {}).
 * Answers `{tag, val}` or a promise of it: `tag` is ok, invalid-input, failed, denied or
 * not-found; `val` the result as JSON text when ok, else the message. Never throws or rejects.
 */
export function __moleculeCall(namespace, name, inputText) {
  return callTool(namespace, name, inputText);
}
