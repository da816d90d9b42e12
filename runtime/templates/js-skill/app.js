// The tools of the {{name}} skill. Each exported `tool(spec, handler)` is one tool: the export
// name is its name, `description` what the model reads, `inputSchema` the JSON Schema its input
// is checked against before the handler runs, and the handler's return value the JSON output.
// Throw `InvalidInput` for bad input; any other error fails the call with its message and the
// lines of your files it passed through.

import { tool, InvalidInput } from "molecule-skill";

export const hello = tool(
  {
    description: "Greets someone by name.",
    inputSchema: {
      type: "object",
      properties: { name: { type: "string", description: "Who to greet." } },
      required: ["name"],
      additionalProperties: false,
    },
  },
  ({ name }) => {
    if (!name.trim()) {
      throw new InvalidInput("field `name`: must not be empty");
    }
    return { greeting: `Hello, ${name}!` };
  },
);
