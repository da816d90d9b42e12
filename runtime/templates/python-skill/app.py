"""The tools of the {{name}} skill. Each `@tool` function is one tool: its parameters (with
type hints) are the input schema, its docstring the description, and its return value the
JSON output. Raise `molecule_skill.InvalidInput` for bad input; any other exception fails the
call with its type, message and your traceback lines."""

from molecule_skill import InvalidInput, tool


@tool
def hello(name: str) -> dict:
    """Greets someone by name."""
    if not name.strip():
        raise InvalidInput("field `name`: must not be empty")
    return {"greeting": f"Hello, {name}!"}
