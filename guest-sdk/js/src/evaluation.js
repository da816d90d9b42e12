// Which tools an evaluation of a skill made, so that a tool made by `tool()` while app.js (or a
// module it imports) evaluated, but not exported by app.js, is an error instead of a tool
// silently left out.
//
// Inside the engine every call is a fresh context, so every tool this copy of the SDK made
// belongs to the one skill: all of them count. Under Node one SDK serves many skills and test
// files, so `molecule-skill/testing` marks the SDK shared: `loadSkill` opens an evaluation of
// its own around its import, and a module imported some other way is checked against the
// tools made by its own files only (the files its exported tools were made in).

import { authorPlaces } from "./report.js";

/** Tools made outside an open evaluation, in the order they were made. */
const ambient = [];
/** The evaluation `loadSkill` has open (its tools), or null. */
let open = null;
/** Whether one SDK serves many skills (Node tests) rather than one (the engine). */
let shared = false;
/** namespace → the tools its evaluation made. */
const EVALUATION_OF = new WeakMap();
/** tool → the stack where it was made. */
const MADE_AT = new WeakMap();

/** Records a tool `tool()` made: in the open evaluation, else in the ambient one. */
export function noteTool(made) {
  (open || ambient).push(made);
  MADE_AT.set(made, stackHere());
}

/** For `molecule-skill/testing`: this SDK serves many skills and test files. */
export function shareEvaluations() {
  shared = true;
}

/**
 * For `molecule-skill/testing`: opens an evaluation; the tools made until `end(namespace)`
 * are that namespace's (and no other's).
 */
export function beginEvaluation() {
  const outer = open;
  const made = [];
  open = made;
  return {
    end(namespace) {
      open = outer;
      if (namespace !== null && typeof namespace === "object") EVALUATION_OF.set(namespace, made);
    },
  };
}

/**
 * The text of what is wrong when the module `namespace`, whose exported tools are `exported`,
 * evaluated to tools it does not export; "" when nothing is. Objects that are not a module
 * namespace (a test's `{hello}`) were no evaluation, so nothing is wrong with them.
 */
export function unexportedProblem(namespace, exported) {
  if (Object.prototype.toString.call(namespace) !== "[object Module]") return "";
  let candidates = EVALUATION_OF.get(namespace);
  if (!candidates && !shared) candidates = ambient;
  if (!candidates) {
    const files = exported.map(evaluationFile).filter(Boolean);
    candidates = ambient.filter((t) => files.includes(evaluationFile(t)));
  }
  const missing = candidates.filter((t) => !exported.includes(t));
  if (missing.length === 0) return "";
  const inside = nestedExports(namespace);
  const first = missing[0];
  const fix = `write \`export const ${first.name === null ? "<name>" : first.name.replace(/-/g, "_")} = tool(...)\``;
  let text;
  if (inside.has(first)) {
    text = `${label(first)} is inside the export \`${inside.get(first)}\` of app.js, but only a tool exported by name is a tool: ${fix}`;
  } else {
    const places = authorPlaces(MADE_AT.get(first) || "");
    const made = places.length ? ` (made at ${places[0].place})` : "";
    text = `${label(first)} is created but not exported from app.js${made}: ${fix}`;
  }
  if (missing.length > 1) {
    const others = missing.slice(1).map(label).join(", ");
    text += ` (also not exported: ${others})`;
  }
  return text;
}

function label(t) {
  const text = t.description.length > 60 ? `${t.description.slice(0, 60)}…` : t.description;
  return t.name === null ? `tool ${JSON.stringify(text)}` : `tool \`${t.name}\` (${JSON.stringify(text)})`;
}

/** tool → export name, for the tools one level inside exported objects and arrays. */
function nestedExports(namespace) {
  const found = new Map();
  for (const exportName of Object.keys(namespace)) {
    const value = namespace[exportName];
    if (value === null || typeof value !== "object") continue;
    for (const key of Object.keys(value)) {
      const item = value[key];
      if (item !== null && typeof item === "object" && !found.has(item)) found.set(item, exportName);
    }
  }
  return found;
}

/**
 * The file whose evaluation made tool `t`: the outermost of the author's frames that called
 * `tool()` (a module's top level, even through a helper function it called; not the code
 * that awaited the import).
 */
function evaluationFile(t) {
  const places = authorPlaces(MADE_AT.get(t) || "");
  const calling = places.filter((p, i) => !places.slice(0, i + 1).some((q) => q.async));
  return calling.length ? calling[calling.length - 1].file : "";
}

function stackHere() {
  // Enough frames to reach the module's top level under Node (its default is 10).
  const limit = Error.stackTraceLimit;
  const raise = typeof limit === "number" && limit < 64 && setLimit(64);
  try {
    return String(new Error().stack || "");
  } catch (_) {
    return "";
  } finally {
    if (raise) setLimit(limit);
  }
}

function setLimit(value) {
  try {
    Error.stackTraceLimit = value;
    return true;
  } catch (_) {
    return false; // frozen: keep the default
  }
}
