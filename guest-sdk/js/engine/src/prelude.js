// The engine's prelude, run in every context before the skill: `console` (into the host's
// log, tagged with the skill) and UTF-8 `TextEncoder` / `TextDecoder`. Everything else a
// skill uses comes from QuickJS (ES2023) or the `molecule-skill` package.
(() => {
  const host = globalThis.__moleculeHost;
  const show = (v) => {
    if (typeof v === "string") return v;
    if (v instanceof Error) return `${v.name}: ${v.message}`;
    try { return JSON.stringify(v) ?? String(v); } catch { return String(v); }
  };
  const writer = (level) => (...args) => {
    try { host.log(level, args.map(show).join(" ")); } catch { /* a log line never fails a call */ }
  };
  globalThis.console = {
    log: writer("info"), info: writer("info"), debug: writer("debug"), trace: writer("trace"),
    warn: writer("warn"), error: writer("error"),
  };
  const bytesOf = (input) => {
    if (input === undefined) return new Uint8Array(0);
    if (input instanceof Uint8Array) return input;
    if (input instanceof ArrayBuffer) return new Uint8Array(input);
    if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    throw new TypeError("TextDecoder.decode: expected an ArrayBuffer or a typed array");
  };
  class TextEncoder {
    get encoding() { return "utf-8"; }
    encode(text = "") { return host.textEncode(String(text)); }
  }
  class TextDecoder {
    constructor(label = "utf-8") {
      if (!/^utf-?8$/i.test(label)) throw new RangeError(`TextDecoder: only utf-8 is supported, not ${label}`);
    }
    get encoding() { return "utf-8"; }
    decode(input) {
      const bytes = bytesOf(input);
      return host.textDecode(bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice());
    }
  }
  globalThis.TextEncoder = TextEncoder;
  globalThis.TextDecoder = TextDecoder;
})();
