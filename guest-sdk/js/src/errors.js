// Errors a tool throws and errors a host capability throws.
//
// A tool reports failure by throwing a `ToolError` kind; the runtime turns it into the WIT
// `tool-error` variant of the same name (wit/types.wit). Any other thrown value becomes
// `failed` with its name, message and the stack frames in the author's own files. A host
// capability call that does not succeed throws a `HostError` kind (the WIT `host-error`
// variant); if a tool lets it escape, `denied` stays `denied` and the others become `failed`
// with the host's text, as in the Python and Rust SDKs.
//
// Both families carry a brand (a `Symbol.for` key, shared by every copy of this module), so
// an error from another instance of the SDK is still recognised.

const TOOL_BRAND = Symbol.for("molecule.tool-error");
const HOST_BRAND = Symbol.for("molecule.host-error");

/** Base of the errors a tool throws on purpose. `kind` names the WIT variant. */
export class ToolError extends Error {
  constructor(message) {
    const text = message === undefined || message === null ? "" : String(message);
    super(text);
    // A bare `throw new Failed()` still says something.
    if (!text) this.message = new.target.name;
    this.name = new.target.name;
  }

  get kind() {
    return "failed";
  }
}
Object.defineProperty(ToolError.prototype, TOOL_BRAND, { value: true });

/** The input does not fit the tool: say which field and why. */
export class InvalidInput extends ToolError {
  get kind() {
    return "invalid-input";
  }
}

/** The tool ran and failed: say why. */
export class Failed extends ToolError {
  get kind() {
    return "failed";
  }
}

/** The tool needed a capability the operator did not grant. */
export class Denied extends ToolError {
  get kind() {
    return "denied";
  }
}

/** No such tool (the dispatcher's; tools rarely need it). */
export class NotFound extends ToolError {
  get kind() {
    return "not-found";
  }
}

/** Base of the errors a host capability throws. `kind` names the WIT variant. */
export class HostError extends Error {
  constructor(message) {
    super(message === undefined || message === null ? "" : String(message));
    this.name = new.target.name;
  }

  get kind() {
    return "failed";
  }
}
Object.defineProperty(HostError.prototype, HOST_BRAND, { value: true });

/** The skill was not granted this capability; the text names the key that grants it. */
export class HostDenied extends HostError {
  get kind() {
    return "denied";
  }
}

/** An argument of the host call was unusable; the text names it. */
export class HostInvalidInput extends HostError {
  get kind() {
    return "invalid-input";
  }
}

/** The backend is not reachable now (e.g. no platform in standalone mode). */
export class HostUnavailable extends HostError {
  get kind() {
    return "unavailable";
  }
}

/** The backend answered with an error. */
export class HostFailed extends HostError {
  get kind() {
    return "failed";
  }
}

/** The task this call belongs to was cancelled; return promptly. */
export class Cancelled extends HostError {
  get kind() {
    return "cancelled";
  }
}

/** The tool-error classes by WIT kind. */
export const TOOL_ERRORS = Object.freeze({
  "invalid-input": InvalidInput,
  failed: Failed,
  denied: Denied,
  "not-found": NotFound,
});

/** The host-error classes by WIT kind. */
export const HOST_ERRORS = Object.freeze({
  denied: HostDenied,
  "invalid-input": HostInvalidInput,
  unavailable: HostUnavailable,
  failed: HostFailed,
  cancelled: Cancelled,
});

/** True for a `ToolError` of any copy of this module. */
export function isToolError(value) {
  return value !== null && typeof value === "object" && value[TOOL_BRAND] === true;
}

/** True for a `HostError` of any copy of this module. */
export function isHostError(value) {
  return value !== null && typeof value === "object" && value[HOST_BRAND] === true;
}

/**
 * The `HostError` for what a native host method threw: the plain object `{kind, message}` of
 * the engine's contract, a `HostError` already, or anything else (→ `HostFailed`).
 */
export function hostErrorFrom(thrown, what) {
  if (isHostError(thrown)) return thrown;
  if (thrown !== null && typeof thrown === "object" && typeof thrown.kind === "string") {
    const Kind = Object.prototype.hasOwnProperty.call(HOST_ERRORS, thrown.kind)
      ? HOST_ERRORS[thrown.kind]
      : HostFailed;
    let text = typeof thrown.message === "string" ? thrown.message : "";
    if (Kind === HostFailed && !HOST_ERRORS[thrown.kind]) {
      text = `${what}: unknown host error kind \`${thrown.kind}\`${text ? `: ${text}` : ""}`;
    }
    if (Kind === Cancelled && !text) text = "the task was cancelled";
    return new Kind(text);
  }
  const text =
    thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown);
  return new HostFailed(`${what}: ${text}`);
}
