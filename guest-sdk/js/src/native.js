// The native host object of the engine (`globalThis.__moleculeHost`) and the argument checks
// every capability shares. The object is looked up at each call, never at import, so a test
// may install a FakeHost after importing the skill.

import { HostFailed, HostInvalidInput, HostUnavailable, hostErrorFrom } from "./errors.js";
import { closest } from "./suggest.js";

/** Calls `method` of the native host object; the `{kind, message}` it throws becomes a HostError. */
export function callHost(method, ...args) {
  const native = globalThis.__moleculeHost;
  if (native === undefined || native === null) {
    throw new HostUnavailable("no host: outside the runtime, use FakeHost from molecule-skill/testing");
  }
  if (typeof native[method] !== "function") {
    throw new HostUnavailable(`the host offers no \`${method}\`: the runtime is older than this SDK`);
  }
  try {
    return native[method](...args);
  } catch (thrown) {
    throw hostErrorFrom(thrown, method);
  }
}

/** `HostInvalidInput` unless `value` is one of `allowed`. */
export function oneOf(value, allowed, what) {
  if (!allowed.includes(value)) {
    throw new HostInvalidInput(`${what} \`${String(value)}\`: use one of ${allowed.join(", ")}`);
  }
  return value;
}

/** `value` when it is a string, else `HostInvalidInput` naming `what`. */
export function string(value, what) {
  if (typeof value !== "string") {
    throw new HostInvalidInput(`${what}: expected a string, got ${kindOf(value)}`);
  }
  return value;
}

/**
 * The options object `given` (`{}` when left out); `HostInvalidInput` on a key not in
 * `allowed`, naming the right spelling (`max_tokens` → `maxTokens`).
 */
export function options(given, allowed, what) {
  if (given === undefined || given === null) return {};
  if (typeof given !== "object" || Array.isArray(given)) {
    throw new HostInvalidInput(`${what}: expected an object, got ${kindOf(given)}`);
  }
  for (const key of Object.keys(given)) {
    if (allowed.includes(key)) continue;
    const meant = closest(key, allowed);
    const known = allowed.map((k) => `\`${k}\``).join(", ");
    throw new HostInvalidInput(
      `${what}: unknown key \`${key}\`${meant ? `; did you mean \`${meant}\`?` : `; use ${known}`}`,
    );
  }
  return given;
}

/** The JSON text the host answered, parsed; `HostFailed` when it is not JSON. */
export function parseAnswer(text, method) {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HostFailed(`${method}: the host answered text that is not JSON (${error.message})`);
  }
}

export function kindOf(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value;
}
