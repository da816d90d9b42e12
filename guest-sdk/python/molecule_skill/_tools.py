"""The ``@tool`` decorator, the registry of a skill's tools, and dispatch: JSON text in, JSON
text out, every failure a :class:`~molecule_skill.errors.ToolError` (never a crash).

:meth:`Registry.call` is the one dispatch implementation: the interpreter component
(``molecule_interpreter``) and ``molecule_skill.testing.call`` both go through it.
"""

import inspect
import json
import os
import traceback
import typing

from . import errors
from ._schema import check_value, schema_for

#: Tool name rule of ``wit/types.wit`` (``tool-spec.name``).
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-")
#: How many of the author's traceback frames a ``failed`` error carries.
FRAMES = 3
#: Tool names starting with this are the interpreter's own (``__molecule_run_script__``, …).
RESERVED_PREFIX = "__molecule"


class Tool:
    """One tool: ``name``, ``description``, ``schema`` (a dict) and the function.

    With ``schema=None`` the schema is derived from the signature when first asked for: a
    call needs only the hints and parameters, and on a fresh interpreter instance deriving it
    costs about 0.8 ms of cold-memory work. The derivation raises nothing that the hints and
    signature read here would not raise first."""

    def __init__(self, func, name: str, description: str, schema: dict = None):
        self.func, self.name, self.description, self._schema = func, name, description, schema
        self._hints = typing.get_type_hints(func, include_extras=True)
        self._params = inspect.signature(func).parameters

    @property
    def schema(self) -> dict:
        if self._schema is None:
            self._schema = schema_for(self.func)
        return self._schema

    def spec(self) -> dict:
        """``{name, description, input_schema}`` with the schema as JSON text."""
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": json.dumps(self.schema, separators=(",", ":")),
        }

    def bind(self, args: dict) -> dict:
        """The keyword arguments for ``args``; ``InvalidInput`` naming the field otherwise."""
        extra = any(p.kind is p.VAR_KEYWORD for p in self._params.values())
        for key in args:
            if key not in self._params and not extra:
                raise errors.InvalidInput(f"unknown field `{key}`")
        for name, param in self._params.items():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            if name not in args:
                if param.default is inspect.Parameter.empty:
                    raise errors.InvalidInput(f"missing field `{name}`")
                continue
            try:
                check_value(name, args[name], self._hints.get(name, typing.Any))
            except ValueError as err:
                raise errors.InvalidInput(str(err)) from None
        return args


class Registry:
    """The tools of one skill module, in declaration order."""

    def __init__(self):
        self.tools = {}

    def add(self, tool: Tool) -> None:
        if tool.name in self.tools:
            raise ValueError(f"two tools are named `{tool.name}`; tool names must be unique")
        self.tools[tool.name] = tool

    def specs(self) -> list:
        return [t.spec() for t in self.tools.values()]

    def call(self, name: str, input_json: str, root: str = "") -> str:
        """Runs tool ``name`` on ``input_json``; returns its result as JSON text. Every failure
        is raised as a ``ToolError``; ``root`` is the skill folder, for traceback paths."""
        tool = self.tools.get(name)
        if tool is None:
            known = ", ".join(self.tools) or "none"
            raise errors.NotFound(f"no tool named `{name}`; this skill offers: {known}")
        args = parse_input(input_json)
        kwargs = tool.bind(args)
        try:
            result = tool.func(**kwargs)
        except errors.ToolError:
            raise
        except errors.HostError as err:
            raise host_to_tool(err) from None
        except BaseException as err:  # noqa: BLE001 - every exception, exit included, is `failed`
            misuse = _raw_err(err)
            if misuse is not None:
                raise misuse from None
            raise errors.Failed(describe_exception(err, root)) from None
        misuse = _raw_err(result)
        if misuse is not None:
            raise misuse
        return encode_result(name, result)


#: The registry ``@tool`` adds to; the runtime swaps in a fresh one before loading a skill.
CURRENT = Registry()


def tool(func=None, *, name=None, description=None, schema=None):
    """Declares a tool. Use bare (``@tool``: name from the function, description from its
    docstring, schema from its type hints) or with ``name=``, ``description=`` and
    ``schema=`` (a JSON Schema dict) to set any of them."""

    def declare(f):
        tool_name = name or f.__name__
        if tool_name.startswith(RESERVED_PREFIX):
            raise ValueError(
                f"tool name `{tool_name}`: names starting with `{RESERVED_PREFIX}` are reserved "
                "for the interpreter's own tools"
            )
        if not tool_name or len(tool_name) > 64 or not set(tool_name) <= _NAME_CHARS:
            raise ValueError(
                f"tool name `{tool_name}`: use 1 to 64 of a-z, 0-9, `_` and `-` (pass name=)"
            )
        text = description or inspect.getdoc(f) or ""
        if not text.strip():
            raise ValueError(
                f"tool `{tool_name}` has no description: add a docstring or description="
            )
        CURRENT.add(Tool(f, tool_name, text.strip(), schema or None))
        return f

    return declare(func) if func is not None else declare


def parse_input(input_json: str) -> dict:
    """The tool input object; an empty input counts as ``{}``."""
    if not input_json.strip():
        return {}
    try:
        value = json.loads(input_json)
    except json.JSONDecodeError as err:
        raise errors.InvalidInput(f"the input is not JSON: {err.msg}") from None
    if not isinstance(value, dict):
        raise errors.InvalidInput("the input must be a JSON object")
    return value


def encode_result(name: str, result) -> str:
    """The tool's return value as JSON text; ``Failed`` naming the tool when it is not JSON."""
    try:
        return json.dumps(result, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as err:
        raise errors.Failed(
            f"tool `{name}` returned a value that is not JSON ({err}); return dicts, lists, "
            "strings, numbers, booleans or None"
        ) from None


def host_to_tool(err: "errors.HostError") -> "errors.ToolError":
    """A host error that escaped a tool: ``denied`` stays ``denied``, the rest ``failed``."""
    if err.kind == "denied":
        return errors.Denied(err.message)
    return errors.Failed(f"host {err.kind}: {err.message}" if err.message else f"host {err.kind}")


def describe_exception(err: BaseException, root: str) -> str:
    """``Type: message`` plus the last frames that are in the author's files (under ``root``),
    with paths relative to it; the interpreter's own frames are left out."""
    if isinstance(err, SystemExit):
        return (
            f"SystemExit: {err.code!r}: a tool returns a value or raises an error; sys.exit() "
            "and exit() are for scripts"
        )
    head = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    if isinstance(err, SyntaxError) and err.filename:
        # The traceback of a SyntaxError has no frame in the file that failed to compile.
        where = _relative(err.filename, root)
        head = f"{type(err).__name__}: {err.msg} ({where}, line {err.lineno})"
        if err.text and err.text.strip():
            head += f"\n    {err.text.strip()}"
    frames = [
        f for f in traceback.extract_tb(err.__traceback__) if _is_author_file(f.filename, root)
    ][-FRAMES:]
    lines = [head]
    for frame in frames:
        where = _relative(frame.filename, root)
        lines.append(f"  at {where}:{frame.lineno} in {frame.name}")
        if frame.line:
            lines.append(f"    {frame.line.strip()}")
    return "\n".join(lines)


def _relative(path: str, root: str) -> str:
    if root and _is_author_file(path, root) and not path.startswith("<"):
        return os.path.relpath(path, root)
    return path


def _is_author_file(path: str, root: str) -> bool:
    if path in AUTHOR_PSEUDO_FILES:
        return True
    if not root:
        return "molecule_skill" not in path
    root = root.rstrip("/") + "/"
    return path.startswith(root)


#: Pseudo file names of author code that has no file (``__molecule_run_code__`` uses ``<code>``).
AUTHOR_PSEUDO_FILES = {"<code>"}


def _raw_err(value):
    """A ``componentize_py_types.Err`` raised or returned by a tool: the raw binding error the
    SDK wraps. ``Err(ToolError_X(text))`` keeps its kind; anything else becomes ``failed``
    with a hint, never an unexplained ``Err`` repr."""
    cls = type(value)
    if cls.__name__ != "Err" or "componentize_py" not in (cls.__module__ or ""):
        return None
    inner = getattr(value, "value", None)
    kind_name = type(inner).__name__
    if kind_name.startswith("ToolError_") and isinstance(getattr(inner, "value", None), str):
        kind = {
            "InvalidInput": errors.InvalidInput, "Failed": errors.Failed,
            "Denied": errors.Denied, "NotFound": errors.NotFound,
        }.get(kind_name.split("_", 1)[1], errors.Failed)
        return kind(inner.value)
    text = inner if isinstance(inner, str) else repr(inner)
    return errors.Failed(
        f"{text} (the tool used componentize_py_types.Err directly: raise "
        "molecule_skill.Failed / InvalidInput / Denied instead)"
    )
