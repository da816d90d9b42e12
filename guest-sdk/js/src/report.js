// What a tool call answers: its result as JSON text, or a tool error made from whatever the
// tool threw, with the stack frames that are in the author's own files (and a hint when it is
// a ReferenceError naming a global the sandbox lacks).

import { Denied, Failed, isHostError, isToolError, TOOL_ERRORS } from "./errors.js";
import { hintFor } from "./hints.js";

/** How many of the author's stack frames a `failed` error carries (innermost first). */
export const FRAMES = 3;

// The folder of this module: frames from it are the SDK's own. Under Node it is a file: URL;
// inside the engine the SDK's modules are named `molecule-skill` and `molecule-skill/<file>.js`.
const SELF = typeof import.meta.url === "string" ? import.meta.url : "";
const SDK_DIR = SELF.slice(0, SELF.lastIndexOf("/") + 1);
const SDK_NAME = "molecule-skill";
const DISPATCH_FILE = "tools.js";
const DISPATCH_MODULE = `${SDK_NAME}/${DISPATCH_FILE}`;

let stackRoot = "";

/**
 * Sets the skill folder (a file: URL or a path ending in `/`) that stack frames are shown
 * relative to; returns the previous one. `molecule-skill/testing` uses it.
 */
export function setStackRoot(root) {
  const previous = stackRoot;
  stackRoot = root ? String(root) : "";
  if (stackRoot && !stackRoot.endsWith("/")) stackRoot += "/";
  return previous;
}

/** `{tag, val}` for a value a tool threw (or a promise of it rejected with). */
export function reportThrown(thrown) {
  if (isToolError(thrown)) {
    const kind = thrown.kind;
    const tag = Object.prototype.hasOwnProperty.call(TOOL_ERRORS, kind) ? kind : "failed";
    const text = typeof thrown.message === "string" && thrown.message ? thrown.message : thrown.name;
    return { tag, val: String(text || tag) };
  }
  if (isHostError(thrown)) {
    const mapped = hostToTool(thrown);
    return { tag: mapped.kind, val: mapped.message };
  }
  return { tag: "failed", val: describeThrown(thrown) };
}

/** A host error that escaped a tool: `denied` stays `denied`, the rest become `failed`. */
export function hostToTool(error) {
  const text = typeof error.message === "string" ? error.message : "";
  if (error.kind === "denied") return new Denied(text || "denied");
  return new Failed(text ? `host ${error.kind}: ${text}` : `host ${error.kind}`);
}

/** The text of a thrown value that is not a tool or host error. */
export function describeThrown(thrown) {
  if (thrown === undefined || thrown === null) {
    return `the tool threw ${thrown}; throw an Error with a message (or a ToolError such as Failed) instead`;
  }
  if (isErrorLike(thrown)) return describeError(thrown);
  switch (typeof thrown) {
    case "string":
      return thrown.trim() ? thrown : "the tool threw an empty string";
    case "number":
    case "boolean":
    case "bigint":
      return `the tool threw the ${typeof thrown} ${String(thrown)}`;
    case "symbol":
      return `the tool threw ${String(thrown)}`;
    case "function":
      return `the tool threw a function${thrown.name ? ` \`${thrown.name}\`` : ""}`;
    default:
      return `the tool threw a value that is not an Error: ${showObject(thrown)}`;
  }
}

function isErrorLike(value) {
  if (value instanceof Error) return true;
  return (
    value !== null &&
    typeof value === "object" &&
    typeof value.message === "string" &&
    (typeof value.name === "string" || typeof value.stack === "string")
  );
}

function describeError(error) {
  let name = typeof error.name === "string" && error.name ? error.name : "";
  if (!name) name = (error.constructor && error.constructor.name) || "Error";
  const head = error.message ? `${name}: ${error.message}` : name;
  const frames = authorFrames(typeof error.stack === "string" ? error.stack : "");
  const hint = hintFor(error);
  return [head].concat(frames.slice(0, FRAMES), hint ? [hint] : []).join("\n");
}

function showObject(value) {
  try {
    const text = JSON.stringify(value);
    if (text !== undefined && text.length <= 500) return text;
    if (text !== undefined) return `${text.slice(0, 500)}…`;
  } catch (_) {
    // a cycle or a BigInt: fall through to the type
  }
  const ctor = value.constructor && value.constructor.name;
  return ctor ? `a ${ctor} object` : Object.prototype.toString.call(value);
}

/** The lines `  at FILE:LINE[:COL][ in FUNCTION]` of the author's frames in `stack`. */
export function authorFrames(stack) {
  const out = [];
  for (const raw of stack.split("\n")) {
    const frame = parseFrame(raw);
    if (!frame) continue;
    // The dispatcher ran the tool: what lies below it is its caller (the engine or a test).
    if (frame.file === DISPATCH_MODULE || frame.file === `${SDK_DIR}${DISPATCH_FILE}`) break;
    // Below the author's frames, an SDK frame is the caller too (an async stack: `call`).
    if (isSdkFile(frame.file) && out.length > 0) break;
    if (!isAuthorFile(frame.file)) continue;
    const where = `${showFile(frame.file)}:${frame.line}${frame.column ? `:${frame.column}` : ""}`;
    out.push(frame.func ? `  at ${where} in ${frame.func}` : `  at ${where}`);
  }
  return out;
}

/**
 * The frames of `stack` in the author's own files, innermost first, as `{file, place, async}`:
 * `file` as the stack names it, `place` as a failure shows it (`lib/maths.js:3:11`), `async`
 * for V8's `at async …` frames (what awaits, not what called).
 */
export function authorPlaces(stack) {
  const out = [];
  for (const raw of String(stack).split("\n")) {
    const frame = parseFrame(raw);
    if (!frame || !isAuthorFile(frame.file)) continue;
    const place = `${showFile(frame.file)}:${frame.line}${frame.column ? `:${frame.column}` : ""}`;
    out.push({ file: frame.file, place, async: /^\s*at async /.test(raw) });
  }
  return out;
}

/**
 * `error` with the SDK's own frames taken out of its stack, so an error the SDK throws at the
 * author (a bad tool spec) points at the author's line first.
 */
export function withoutSdkFrames(error) {
  try {
    if (typeof error.stack === "string") {
      error.stack = error.stack
        .split("\n")
        .filter((line) => {
          const frame = parseFrame(line);
          return !frame || !isSdkFile(frame.file);
        })
        .join("\n");
    }
  } catch (_) {
    // a read-only stack stays as it is
  }
  return error;
}

// `    at NAME (FILE:LINE:COL)` or `    at FILE:LINE:COL` (V8 and QuickJS; QuickJS may omit
// the column).
function parseFrame(raw) {
  const line = raw.trim();
  if (!line.startsWith("at ")) return null;
  let rest = line.slice(3).trim();
  let func = "";
  const open = rest.indexOf(" (");
  if (open >= 0 && rest.endsWith(")")) {
    func = rest.slice(0, open).trim();
    rest = rest.slice(open + 2, -1);
  }
  const match = /^(.*?):(\d+)(?::(\d+))?$/.exec(rest);
  if (!match) return null;
  func = func.replace(/^async /, "").replace(/ \[as [^\]]*\]$/, "");
  if (func === "<anonymous>" || func === "Object.<anonymous>" || func === "<eval>") func = "";
  return { func, file: match[1], line: match[2], column: match[3] || "" };
}

function isSdkFile(file) {
  return file === SDK_NAME || file.startsWith(`${SDK_NAME}/`) || Boolean(SDK_DIR && file.startsWith(SDK_DIR));
}

function isAuthorFile(file) {
  if (!file || file === "native" || file === "<anonymous>" || file.startsWith("node:")) {
    return false;
  }
  return !isSdkFile(file) && !file.startsWith("eval at ");
}

function showFile(file) {
  let shown = file.replace(/[?#].*$/, ""); // a cache-busting query of a test loader
  if (stackRoot && shown.startsWith(stackRoot)) return decode(shown.slice(stackRoot.length));
  if (shown.startsWith("file://")) shown = decode(shown.slice("file://".length));
  if (stackRoot && shown.startsWith(stackRoot)) return shown.slice(stackRoot.length);
  if (shown.startsWith("/skill/")) return shown.slice("/skill/".length);
  return shown;
}

function decode(text) {
  try {
    return decodeURIComponent(text);
  } catch (_) {
    return text;
  }
}

class NotJson extends Error {}

/** `{tag: "ok", val: JSON text}` for a tool's result; `failed` naming the tool when it is not JSON. */
export function encodeResult(toolName, value) {
  let clean;
  try {
    clean = plain(value === undefined ? null : value, "", "", []);
  } catch (error) {
    if (!(error instanceof NotJson)) throw error;
    return {
      tag: "failed",
      val:
        `tool \`${toolName}\` returned a value that is not JSON (${error.message}); return ` +
        "objects, arrays, strings, numbers, booleans or null",
    };
  }
  return { tag: "ok", val: JSON.stringify(clean) };
}

function plain(value, key, path, ancestors) {
  const at = path ? ` at \`${path}\`` : "";
  if (value !== null && typeof value === "object" && typeof value.toJSON === "function") {
    value = value.toJSON(key);
  }
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      if (!Number.isFinite(value)) throw new NotJson(`${value}${at} is not a JSON number`);
      return value;
    case "bigint":
      throw new NotJson(`a BigInt (${value}n)${at}: convert it with Number() or String()`);
    case "undefined":
      return null;
    case "function":
      throw new NotJson(`a function${at}: call it, or leave it out`);
    case "symbol":
      throw new NotJson(`a symbol${at}`);
    default:
      break;
  }
  if (value === null) return null;
  if (ancestors.includes(value)) throw new NotJson(`a cycle${at}: the value contains itself`);
  const refused = refusedObject(value);
  if (refused) throw new NotJson(`${refused}${at}`);
  ancestors.push(value);
  let out;
  if (Array.isArray(value)) {
    out = value.map((item, i) => plain(item, String(i), `${path}[${i}]`, ancestors));
  } else {
    out = {};
    for (const k of Object.keys(value)) {
      const item = value[k];
      if (item === undefined) continue; // as JSON.stringify: an undefined property is left out
      out[k] = plain(item, k, path ? `${path}.${k}` : k, ancestors);
    }
  }
  ancestors.pop();
  return out;
}

function refusedObject(value) {
  if (typeof value.then === "function") return "a Promise (await it before returning)";
  if (value instanceof Map) return "a Map (return Object.fromEntries(map))";
  if (value instanceof Set) return "a Set (return [...set])";
  if (value instanceof WeakMap || value instanceof WeakSet) return "a WeakMap or WeakSet";
  if (value instanceof RegExp) return "a RegExp (return its .source)";
  if (value instanceof Error) return `an Error (${value.name}: ${value.message}; throw it instead)`;
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
    return "binary data (return an array of numbers or a string)";
  }
  return "";
}
