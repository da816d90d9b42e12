// js-notes: notes in the workspace's long-term memory, and one page from a granted website.
//
// Every tool is `tool(spec, handler)`: the spec's description is what the model reads, its
// inputSchema is checked before the handler runs. Host capabilities come from `molecule-skill`:
// an ungranted one throws `HostDenied`, which reaches the caller as `denied` with the text
// naming the grant.

import { tool, InvalidInput, http, memory } from "molecule-skill";
import { clean, httpsHost } from "./textutil.js";

const MAX_NOTE = 2000;

export const add_note = tool(
  {
    description: "Stores a short note in the workspace's long-term memory and returns its id.",
    inputSchema: {
      type: "object",
      properties: {
        text: { type: "string", description: "The note, up to 2000 characters." },
        scope: {
          type: "string",
          enum: ["local", "team", "global"],
          default: "local",
          description: "Who may read it.",
        },
      },
      required: ["text"],
      additionalProperties: false,
    },
  },
  ({ text, scope = "local" }) => {
    const note = clean(text);
    if (!note) {
      throw new InvalidInput("field `text`: must not be empty");
    }
    if (note.length > MAX_NOTE) {
      throw new InvalidInput(`field \`text\`: ${note.length} characters, at most ${MAX_NOTE}`);
    }
    return { id: memory.commit(note, scope), scope };
  },
);

export const find_notes = tool(
  {
    description: "Finds notes relevant to a query, best first.",
    inputSchema: {
      type: "object",
      properties: {
        query: { type: "string", description: "Words to look for." },
        limit: {
          type: "integer",
          minimum: 1,
          maximum: 20,
          default: 5,
          description: "How many notes at most, 1 to 20.",
        },
      },
      required: ["query"],
      additionalProperties: false,
    },
  },
  ({ query, limit = 5 }) => {
    const found = memory.search(query, { limit });
    return {
      notes: found.map((m) => ({ id: m.id, text: m.content, scope: m.scope, created_at: m.createdAt })),
    };
  },
);

export const fetch = tool(
  {
    description:
      "Fetches one page or API response (GET) and returns its status, content type and the start of its body as text.",
    inputSchema: {
      type: "object",
      properties: {
        url: { type: "string", description: "An https:// URL on an origin the operator granted." },
        max_bytes: {
          type: "integer",
          minimum: 1,
          maximum: 65536,
          default: 4096,
          description: "Most body bytes to return, 1 to 65536.",
        },
      },
      required: ["url"],
      additionalProperties: false,
    },
  },
  ({ url, max_bytes = 4096 }) => {
    if (!httpsHost(url)) {
      throw new InvalidInput("field `url`: expected an https:// URL");
    }
    const response = http.get(url, { headers: { "user-agent": "molecule-js-notes/0.1" } });
    const body = response.bytes();
    return {
      status: response.status,
      content_type: response.header("content-type"),
      body: new TextDecoder().decode(body.subarray(0, max_bytes)),
      truncated: body.length > max_bytes,
    };
  },
);
