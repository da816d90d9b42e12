// `tool()`, the tools of a skill module, and dispatch: JSON text in, `{tag, val}` out, every
// failure a tool error (never a throw).
//
// `callTool` is the one dispatch implementation: the engine (through `__moleculeCall`) and
// `molecule-skill/testing` both go through it.

import { InvalidInput } from "./errors.js";
import { checkInput } from "./schema.js";
import { encodeResult, reportThrown, withoutSdkFrames } from "./report.js";
import { closest } from "./suggest.js";
import { noteTool, unexportedProblem } from "./evaluation.js";

/** Marks a Tool object; `Symbol.for`, so tools made by another copy of the SDK count too. */
export const TOOL = Symbol.for("molecule.tool");
/** Tool names starting with this are the runtime's own. */
export const RESERVED_PREFIX = "__molecule";
/** The tool name rule of wit/types.wit (`tool-spec.name`): 1-64 of `a-z 0-9 _ -`. */
export const NAME_RULE = /^[a-z0-9_-]{1,64}$/;

const SPEC_KEYS = ["name", "description", "inputSchema"];
// Spellings people reach for, and the key they meant.
const SPEC_ALIASES = {
  input_schema: "inputSchema",
  "input-schema": "inputSchema",
  inputschema: "inputSchema",
  schema: "inputSchema",
  parameters: "inputSchema",
  params: "inputSchema",
  input: "inputSchema",
  args: "inputSchema",
  desc: "description",
  summary: "description",
  doc: "description",
  docs: "description",
  tool_name: "name",
  toolName: "name",
  id: "name",
};

let sequence = 0;

// Errors thrown at the author: their stack starts at the author's line, not in the SDK.
function specError(message) {
  return withoutSdkFrames(new TypeError(message));
}

function skillError(message) {
  return withoutSdkFrames(new Error(message));
}

/**
 * Declares a tool: `spec` is `{description, inputSchema?, name?}` and `handler(input)` returns
 * a JSON-able value (or a promise of one). Export the result from app.js; the export name is
 * the tool name unless `spec.name` says otherwise.
 */
export function tool(spec, handler) {
  const where = specWhere(spec);
  if (spec === null || typeof spec !== "object" || Array.isArray(spec)) {
    throw specError(
      `tool(spec, handler): spec must be an object such as {description: "…", inputSchema: {…}}, got ${typeName(spec)}`,
    );
  }
  for (const key of Object.keys(spec)) {
    if (SPEC_KEYS.includes(key)) continue;
    const meant = suggestKey(key);
    throw specError(
      `unknown key \`${key}\` in the spec of ${where}` +
        (meant ? `; did you mean \`${meant}\`?` : "") +
        ` (a spec has ${SPEC_KEYS.map((k) => `\`${k}\``).join(", ")})`,
    );
  }
  if (spec.name !== undefined) {
    const problem = nameProblem(spec.name);
    if (problem) throw specError(`tool name ${problem} (in the spec of ${where})`);
  }
  if (typeof spec.description !== "string" || !spec.description.trim()) {
    throw specError(
      `${where} has no description: add description: "…" (what the tool does, written for the model)`,
    );
  }
  let inputSchema = { type: "object" };
  if (spec.inputSchema !== undefined) {
    const schema = spec.inputSchema;
    if (schema === null || typeof schema !== "object" || Array.isArray(schema)) {
      throw specError(
        `inputSchema of ${where} must be a JSON Schema object such as {type: "object", properties: {…}}, got ${typeName(schema)}`,
      );
    }
    if (schema.type !== undefined && schema.type !== "object") {
      throw specError(
        `inputSchema of ${where} has type ${JSON.stringify(schema.type)}: a tool's input is always a JSON object, so use type: "object"`,
      );
    }
    try {
      inputSchema = JSON.parse(JSON.stringify(schema));
    } catch (error) {
      throw specError(`inputSchema of ${where} is not JSON: ${error.message}`);
    }
  }
  if (typeof handler !== "function") {
    throw specError(
      `tool(spec, handler): the handler of ${where} must be a function such as (input) => ({…}), got ${typeName(handler)}`,
    );
  }
  sequence += 1;
  const made = Object.freeze({
    [TOOL]: true,
    name: spec.name === undefined ? null : spec.name,
    description: spec.description.trim(),
    inputSchema,
    handler,
    order: sequence,
  });
  noteTool(made);
  return made;
}

/** True for a Tool object made by `tool()` (of any copy of the SDK). */
export function isTool(value) {
  return value !== null && typeof value === "object" && value[TOOL] === true;
}

const COLLECTED = new WeakMap();

/**
 * The tools a skill module exports, in the order they were declared: `[{name, tool}]`.
 * Throws an Error saying what to fix on a skill without tools, a bad or reserved name, two
 * tools with one name, or a tool its evaluation made but it does not export.
 */
export function collectTools(namespace) {
  if (namespace === null || (typeof namespace !== "object" && typeof namespace !== "function")) {
    throw specError(`a skill module namespace is an object, got ${typeName(namespace)}`);
  }
  const known = COLLECTED.get(namespace);
  if (known) return known;
  const found = [];
  for (const exportName of Object.keys(namespace)) {
    const value = namespace[exportName];
    if (!isTool(value)) continue;
    if (value.name === null && exportName === "default") {
      throw skillError(
        'the default export is a tool without a name: add name: "…" to its spec, or export it by name (export const hello = tool(…))',
      );
    }
    const name = value.name === null ? exportName : value.name;
    const problem = nameProblem(name);
    if (problem) {
      const hint = value.name === null ? `; rename the export or give the spec name: ${JSON.stringify(snake(name))}` : "";
      throw skillError(`export \`${exportName}\`: tool name ${problem}${hint}`);
    }
    const twin = found.find((entry) => entry.name === name);
    if (twin) {
      throw skillError(
        `two tools are named \`${name}\` (exports \`${twin.exportName}\` and \`${exportName}\`); tool names must be unique`,
      );
    }
    found.push({ name, exportName, tool: value });
  }
  const unexported = unexportedProblem(namespace, found.map((entry) => entry.tool));
  if (unexported) throw skillError(unexported);
  if (found.length === 0) {
    throw skillError(
      'the skill exports no tools: in app.js, export const hello = tool({description: "…"}, (input) => …)',
    );
  }
  found.sort((a, b) => a.tool.order - b.tool.order);
  const tools = Object.freeze(found.map(({ name, tool: t }) => Object.freeze({ name, tool: t })));
  COLLECTED.set(namespace, tools);
  return tools;
}

/** The specs `[{name, description, inputSchema}]` of a skill module's tools. */
export function describeTools(namespace) {
  return collectTools(namespace).map(({ name, tool: t }) => ({
    name,
    description: t.description,
    inputSchema: t.inputSchema,
  }));
}

/**
 * Runs tool `name` of `namespace` on `inputText` (JSON text; "" means {}). Answers
 * `{tag, val}` (`tag`: ok, invalid-input, failed, denied, not-found; `val`: JSON text when ok,
 * else the message), or a promise of it when the tool is async. Never throws or rejects.
 */
export function callTool(namespace, name, inputText) {
  try {
    let tools;
    try {
      tools = collectTools(namespace);
    } catch (error) {
      return { tag: "failed", val: `the skill cannot be loaded: ${error.message}` };
    }
    const entry = tools.find((t) => t.name === name);
    if (!entry) {
      const names = tools.map((t) => t.name).join(", ");
      return { tag: "not-found", val: `no tool named \`${name}\`; this skill offers: ${names}` };
    }
    const input = parseInput(inputText);
    checkInput(entry.tool.inputSchema, input);
    const run = entry.tool.handler;
    const result = run(input);
    if (result !== null && typeof result === "object" && typeof result.then === "function") {
      return Promise.resolve(result).then(
        (value) => safely(() => encodeResult(entry.name, value)),
        (thrown) => safely(() => reportThrown(thrown)),
      );
    }
    return encodeResult(entry.name, result);
  } catch (thrown) {
    return safely(() => reportThrown(thrown));
  }
}

/** The input object; "" (or only white space) counts as `{}`. */
export function parseInput(inputText) {
  const text = inputText === undefined || inputText === null ? "" : String(inputText);
  if (!text.trim()) return {};
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidInput(`the input is not JSON: ${error.message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new InvalidInput(`the input must be a JSON object, got ${value === null ? "null" : Array.isArray(value) ? "an array" : typeof value}`);
  }
  return value;
}

function safely(make) {
  try {
    return make();
  } catch (thrown) {
    try {
      return reportThrown(thrown);
    } catch (_) {
      return { tag: "failed", val: "the tool threw a value that cannot be described (reading it threw too)" };
    }
  }
}

function nameProblem(name) {
  if (typeof name !== "string") return `must be a string, got ${typeName(name)}`;
  if (name.startsWith(RESERVED_PREFIX)) {
    return `\`${name}\`: names starting with \`${RESERVED_PREFIX}\` are reserved for the runtime's own tools`;
  }
  if (!NAME_RULE.test(name)) return `\`${name}\` is not valid: use 1 to 64 of a-z, 0-9, \`_\` and \`-\``;
  return "";
}

function suggestKey(key) {
  if (Object.prototype.hasOwnProperty.call(SPEC_ALIASES, key)) return SPEC_ALIASES[key];
  return closest(key, SPEC_KEYS);
}

function specWhere(spec) {
  if (spec !== null && typeof spec === "object" && typeof spec.name === "string") {
    return `tool \`${spec.name}\``;
  }
  if (spec !== null && typeof spec === "object" && typeof spec.description === "string") {
    const text = spec.description.trim();
    return `the tool described as ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)}`;
  }
  return "a tool";
}

function snake(name) {
  const text = String(name)
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "_");
  return text.slice(0, 64) || "tool";
}

function typeName(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value;
}
