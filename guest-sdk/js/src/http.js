// Outgoing HTTP through the host's `wasi:http`: only origins granted to the skill
// (`capabilities.hosts` in SKILL.md and `grants.skills.<id>.hosts` in config.yaml) are
// reachable; anything else throws `HostDenied`. Redirects are not followed. Synchronous: the
// call blocks in the host until the whole response body is read.

import { HostInvalidInput } from "./errors.js";
import { callHost, kindOf, options, parseAnswer, string } from "./native.js";

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** An HTTP response: `status`, `headers` (`[[name, value], …]`), and the body. */
export class Response {
  constructor(status, headers, body) {
    this.status = status;
    this.headers = headers;
    this._body = body;
  }

  /** True for a 2xx status. */
  get ok() {
    return this.status >= 200 && this.status < 300;
  }

  /** The first value of header `name` (any case), or null. */
  header(name) {
    const wanted = String(name).toLowerCase();
    const found = this.headers.find(([key]) => key.toLowerCase() === wanted);
    return found ? found[1] : null;
  }

  /** The body as bytes. */
  bytes() {
    return this._body;
  }

  /** The body decoded as UTF-8 (invalid bytes replaced). */
  text() {
    return new TextDecoder("utf-8").decode(this._body);
  }

  /** The body parsed as JSON. */
  json() {
    return JSON.parse(this.text());
  }
}

function headerPairs(headers, what) {
  if (headers === undefined || headers === null) return [];
  const pairs = Array.isArray(headers)
    ? headers
    : typeof headers === "object"
      ? Object.keys(headers).map((key) => [key, headers[key]])
      : null;
  if (pairs === null) {
    throw new HostInvalidInput(`${what} headers: expected an object {name: value} or [[name, value], …], got ${kindOf(headers)}`);
  }
  return pairs.map((pair, i) => {
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw new HostInvalidInput(`${what} headers[${i}]: expected a pair [name, value]`);
    }
    const [name, value] = pair;
    if (typeof name !== "string" || !TOKEN.test(name)) {
      throw new HostInvalidInput(`${what} header name ${JSON.stringify(name)}: not a valid header name`);
    }
    if (typeof value !== "string") {
      throw new HostInvalidInput(`${what} header \`${name}\`: the value must be a string, got ${kindOf(value)}`);
    }
    return [name, value];
  });
}

function bodyBytes(body, what) {
  if (body === undefined || body === null) return null;
  if (typeof body === "string") return new TextEncoder().encode(body);
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  throw new HostInvalidInput(
    `${what} body: expected a string or bytes (Uint8Array), got ${kindOf(body)}; send JSON with http.post(url, {json})`,
  );
}

function answerBytes(body) {
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (Array.isArray(body)) return Uint8Array.from(body);
  return new Uint8Array(0);
}

/** Outgoing HTTP: `request`, `get`, `post`. */
export const http = Object.freeze({
  /** One request: `{method = "GET", url, headers, body}`; `body` a string or a Uint8Array. */
  request(req) {
    if (req === null || typeof req !== "object" || Array.isArray(req)) {
      throw new HostInvalidInput(`http.request: expected an object {method, url, headers, body}, got ${kindOf(req)}`);
    }
    const { method = "GET", url, headers, body } = options(req, ["method", "url", "headers", "body"], "http.request");
    string(method, "http.request method");
    if (!TOKEN.test(method)) throw new HostInvalidInput(`http.request method ${JSON.stringify(method)}: not a valid method`);
    string(url, "http.request url");
    if (!/^https?:\/\/[^/?#]+/i.test(url)) {
      throw new HostInvalidInput(`http.request url \`${url}\`: expected http:// or https:// and a host`);
    }
    const pairs = headerPairs(headers, "http.request");
    const bytes = bodyBytes(body, "http.request");
    const answer = callHost("httpRequest", method.toUpperCase(), url, JSON.stringify(pairs), bytes);
    const outHeaders = typeof answer.headers === "string" ? parseAnswer(answer.headers, "httpRequest") : answer.headers;
    return new Response(Number(answer.status), Array.isArray(outHeaders) ? outHeaders : [], answerBytes(answer.body));
  },
  /** GET `url`; `{headers}`. */
  get(url, opts) {
    const { headers } = options(opts, ["headers"], "http.get");
    return http.request({ method: "GET", url, headers });
  },
  /** POST `url`; `{body}` (a string or bytes) or `{json}` (sent as JSON with its content type). */
  post(url, opts) {
    const { body, json, headers } = options(opts, ["body", "json", "headers"], "http.post");
    if (json === undefined) return http.request({ method: "POST", url, headers, body });
    if (body !== undefined) throw new HostInvalidInput("http.post: give `body` or `json`, not both");
    const pairs = headerPairs(headers, "http.post");
    if (!pairs.some(([name]) => name.toLowerCase() === "content-type")) {
      pairs.push(["content-type", "application/json"]);
    }
    return http.request({ method: "POST", url, headers: pairs, body: JSON.stringify(json) });
  },
});
