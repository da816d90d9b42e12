"""A tiny skill used by the SDK's own tests."""

from typing import Annotated, Literal, Optional

from molecule_skill import Failed, InvalidInput, memory, tool


@tool
def hello(name: Annotated[str, "Who to greet."], punctuation: str = "!") -> dict:
    """Greets someone by name."""
    if not name.strip():
        raise InvalidInput("field `name`: must not be empty")
    return {"greeting": f"Hello, {name}{punctuation}"}


@tool(name="add-numbers", description="Adds two integers.")
def add(a: int, b: int) -> int:
    return a + b


@tool
def pick(color: Literal["red", "green"], note: Optional[str] = None) -> str:
    """Echoes a color."""
    return color if note is None else f"{color} ({note})"


@tool
def remember(text: str) -> str:
    """Stores a note."""
    return memory.commit(text)


@tool
def explode(depth: int = 0) -> None:
    """Raises an ordinary exception."""
    return _inner(depth)


def _inner(depth):
    raise ValueError(f"bad depth {depth}")


@tool
def refuse() -> None:
    """Fails on purpose."""
    raise Failed("the upstream said no")


@tool
def not_json() -> object:
    """Returns something that is not JSON."""
    return {1, 2}
