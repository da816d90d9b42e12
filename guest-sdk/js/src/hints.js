// One line of help for a ReferenceError that names a global the engine does not have (a Node
// or browser API a skill reached for): what to use in the sandbox instead.
//
// The engine's globals are QuickJS-ng's (`JS_NewContext`: the language, `queueMicrotask`,
// `performance.now`, `atob`/`btoa`) plus `console` and `TextEncoder`/`TextDecoder`; the names
// below are the common ones people expect and do not get.

const TIMERS = "the sandbox has no timers or event loop — await host calls directly";
const FETCH = 'use http.get/http.request from "molecule-skill" (granted origins only)';
const FILES = 'the sandbox has no file paths — put data in a module (export default {…}) and import it';
const URLS = "the sandbox has no URL parser — build URLs with template strings and encodeURIComponent";
const COMMONJS = 'app.js is an ES module — use export const … = tool(…) and import … from "./file.js"';

const HINTS = {
  "setTimeout": TIMERS,
  "setInterval": TIMERS,
  "setImmediate": TIMERS,
  "clearTimeout": TIMERS,
  "clearInterval": TIMERS,
  "clearImmediate": TIMERS,
  "process": 'the sandbox has no `process` — use config.get("KEY") for granted values',
  "fetch": `the sandbox has no \`fetch\` — ${FETCH}`,
  "XMLHttpRequest": `the sandbox has no \`XMLHttpRequest\` — ${FETCH}`,
  "Headers": `the sandbox has no \`Headers\` — ${FETCH}`,
  "Request": `the sandbox has no \`Request\` — ${FETCH}`,
  "Buffer": "the sandbox has no `Buffer` — use Uint8Array and TextEncoder/TextDecoder",
  "require": 'the sandbox has no `require` — use import ... from "./file.js"',
  "module": COMMONJS,
  "exports": COMMONJS,
  "__dirname": FILES,
  "__filename": FILES,
  "URL": URLS,
  "URLSearchParams": URLS,
  "structuredClone": "the sandbox has no `structuredClone` — copy plain data with JSON.parse(JSON.stringify(value))",
  "Intl": "the sandbox has no `Intl` — format by hand (toFixed, padStart, toISOString)",
  "global": "the sandbox has no `global` — use globalThis",
  "window": "the sandbox has no `window` — use globalThis",
  "crypto": "the sandbox has no Web Crypto — bundle a pure-JS implementation into the skill folder",
};

/** `hint: …` for an error naming a missing global the sandbox lacks, else "". */
export function hintFor(error) {
  let name;
  let message;
  try {
    name = error.name;
    message = error.message;
  } catch (_) {
    return "";
  }
  if (name !== "ReferenceError" || typeof message !== "string") return "";
  // V8 and QuickJS both say `NAME is not defined`.
  const match = /^(\S+) is not defined$/.exec(message);
  if (!match || !Object.prototype.hasOwnProperty.call(HINTS, match[1])) return "";
  return `hint: ${HINTS[match[1]]}`;
}
