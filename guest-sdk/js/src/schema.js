// The check of a tool's input against its JSON Schema, before the handler runs.
//
// A subset of JSON Schema draft 2020-12: `type` (a name or a list; `integer` is a whole
// number), `properties`, `required`, `additionalProperties` (`false` or a schema), `items`
// (one schema), `enum`, `const`, `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`,
// `minLength`, `maxLength` (in code points), `minItems`, `maxItems`. Every other keyword
// (`anyOf`, `pattern`, `format`, `$ref`, …) is ignored: it still reaches the model in the
// tool's spec, but the input is not checked against it. A failure is an `InvalidInput` naming
// the field: ``field `name`: expected a string, got number``.

import { InvalidInput } from "./errors.js";

const TYPE_WORDS = {
  string: "a string",
  integer: "an integer",
  number: "a number",
  boolean: "a boolean",
  object: "an object",
  array: "an array",
  null: "null",
};

/** Throws `InvalidInput` naming the field when `input` does not fit `schema`. */
export function checkInput(schema, input) {
  check(schema, input, "");
}

/** The JSON kind of a parsed JSON value: string, number, boolean, null, array or object. */
export function jsonKind(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

function check(schema, value, path) {
  if (schema === null || typeof schema !== "object" || Array.isArray(schema)) return;
  checkType(schema, value, path);
  if (Array.isArray(schema.enum) && !schema.enum.some((option) => same(option, value))) {
    const options = schema.enum.map(show).join(", ");
    fail(path, `expected one of ${options}, got ${show(value)}`);
  }
  if (has(schema, "const") && !same(schema.const, value)) {
    fail(path, `expected ${show(schema.const)}, got ${show(value)}`);
  }
  if (typeof value === "number") checkNumber(schema, value, path);
  if (typeof value === "string") checkString(schema, value, path);
  if (Array.isArray(value)) checkArray(schema, value, path);
  else if (value !== null && typeof value === "object") checkObject(schema, value, path);
}

function checkType(schema, value, path) {
  const types = typeof schema.type === "string" ? [schema.type] : schema.type;
  if (!Array.isArray(types) || types.length === 0) return;
  if (types.some((type) => fits(type, value))) return;
  const wanted = types.map((type) => TYPE_WORDS[type] || `\`${type}\``).join(" or ");
  const got =
    typeof value === "number" && types.includes("integer") ? `number ${value}` : jsonKind(value);
  fail(path, `expected ${wanted}, got ${got}`);
}

function fits(type, value) {
  switch (type) {
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
    case "number":
      return typeof value === "number";
    case "string":
    case "boolean":
    case "object":
    case "array":
    case "null":
      return jsonKind(value) === type;
    default:
      return true; // an unknown type name is not ours to enforce
  }
}

function checkNumber(schema, value, path) {
  if (typeof schema.minimum === "number" && value < schema.minimum) {
    fail(path, `must be at least ${schema.minimum}, got ${value}`);
  }
  if (typeof schema.maximum === "number" && value > schema.maximum) {
    fail(path, `must be at most ${schema.maximum}, got ${value}`);
  }
  if (typeof schema.exclusiveMinimum === "number" && value <= schema.exclusiveMinimum) {
    fail(path, `must be greater than ${schema.exclusiveMinimum}, got ${value}`);
  }
  if (typeof schema.exclusiveMaximum === "number" && value >= schema.exclusiveMaximum) {
    fail(path, `must be less than ${schema.exclusiveMaximum}, got ${value}`);
  }
}

function checkString(schema, value, path) {
  const length = codePoints(value);
  if (typeof schema.minLength === "number" && length < schema.minLength) {
    if (length === 0) fail(path, "must not be empty");
    fail(path, `must be at least ${plural(schema.minLength, "character")} long, got ${length}`);
  }
  if (typeof schema.maxLength === "number" && length > schema.maxLength) {
    fail(path, `must be at most ${plural(schema.maxLength, "character")} long, got ${length}`);
  }
}

function checkArray(schema, value, path) {
  if (typeof schema.minItems === "number" && value.length < schema.minItems) {
    fail(path, `must have at least ${plural(schema.minItems, "item")}, got ${value.length}`);
  }
  if (typeof schema.maxItems === "number" && value.length > schema.maxItems) {
    fail(path, `must have at most ${plural(schema.maxItems, "item")}, got ${value.length}`);
  }
  if (schema.items !== null && typeof schema.items === "object" && !Array.isArray(schema.items)) {
    value.forEach((item, index) => check(schema.items, item, `${path}[${index}]`));
  }
}

function checkObject(schema, value, path) {
  const properties =
    schema.properties !== null && typeof schema.properties === "object" ? schema.properties : {};
  if (Array.isArray(schema.required)) {
    for (const key of schema.required) {
      if (typeof key === "string" && !has(value, key)) {
        throw new InvalidInput(`missing field \`${join(path, key)}\``);
      }
    }
  }
  for (const key of Object.keys(value)) {
    const field = join(path, key);
    if (has(properties, key)) {
      check(properties[key], value[key], field);
    } else if (schema.additionalProperties === false) {
      const known = Object.keys(properties);
      const hint = known.length ? `; expected ${known.map((k) => `\`${k}\``).join(", ")}` : "";
      throw new InvalidInput(`unknown field \`${field}\`${hint}`);
    } else if (schema.additionalProperties !== null && typeof schema.additionalProperties === "object") {
      check(schema.additionalProperties, value[key], field);
    }
  }
}

function fail(path, text) {
  throw new InvalidInput(path ? `field \`${path}\`: ${text}` : `the input: ${text}`);
}

function join(path, key) {
  const safe = /^[A-Za-z_$][\w$-]*$/.test(key) ? key : JSON.stringify(key);
  return path ? `${path}.${safe}` : safe;
}

function has(object, key) {
  return Object.prototype.hasOwnProperty.call(object, key);
}

function codePoints(text) {
  return Array.from(text).length;
}

function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

function show(value) {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text;
}

/** JSON equality: same kind, same members, object keys in any order. */
function same(a, b) {
  if (a === b) return true;
  if (jsonKind(a) !== jsonKind(b) || a === null || typeof a !== "object") return false;
  if (Array.isArray(a)) return a.length === b.length && a.every((item, i) => same(item, b[i]));
  const keys = Object.keys(a);
  return (
    keys.length === Object.keys(b).length && keys.every((key) => has(b, key) && same(a[key], b[key]))
  );
}
