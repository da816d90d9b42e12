"""JSON Schema (draft 2020-12) of a tool's input, derived from the function's signature and
type hints, and the check of an input against those hints.

Supported hints: ``str``, ``int``, ``float``, ``bool``, ``list[T]``, ``dict`` / ``dict[str, T]``,
``Optional[T]`` / ``T | None``, ``Literal[...]``, ``Any``, and ``Annotated[T, "description"]``.
A parameter with a default is optional and its default is recorded.
"""

import inspect
import types
import typing

_SIMPLE = {str: "string", int: "integer", float: "number", bool: "boolean"}


def schema_for(func) -> dict:
    """The input schema of ``func``: an object whose properties are its parameters."""
    hints = typing.get_type_hints(func, include_extras=True)
    properties, required = {}, []
    for param in inspect.signature(func).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        prop = hint_schema(hints.get(param.name, typing.Any))
        if param.default is inspect.Parameter.empty:
            required.append(param.name)
        elif _jsonable(param.default):
            prop["default"] = param.default
        properties[param.name] = prop
    schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if not _takes_extra(func):
        schema["additionalProperties"] = False
    return schema


def hint_schema(hint) -> dict:
    """The schema of one type hint (``{}`` for anything it cannot describe)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        inner = hint_schema(args[0])
        text = next((a for a in args[1:] if isinstance(a, str)), None)
        if text:
            inner["description"] = text
        return inner
    if hint in _SIMPLE:
        return {"type": _SIMPLE[hint]}
    if hint in (list, tuple) or origin in (list, tuple):
        return {"type": "array", "items": hint_schema(args[0])} if args else {"type": "array"}
    if hint is dict or origin is dict:
        if len(args) == 2:
            return {"type": "object", "additionalProperties": hint_schema(args[1])}
        return {"type": "object"}
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return hint_schema(options[0])
        return {"anyOf": [hint_schema(a) for a in options]}
    return {}


def check_value(field: str, value, hint) -> None:
    """Raises ``ValueError`` naming ``field`` when ``value`` does not fit ``hint``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        return check_value(field, value, args[0])
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return check_value(field, value, options[0])
        return None
    if hint in _SIMPLE and not _fits(value, hint):
        raise ValueError(
            f"field `{field}`: expected {_SIMPLE[hint]}, got {_json_kind(value)}"
        )
    if (hint in (list, tuple) or origin in (list, tuple)) and not isinstance(value, list):
        raise ValueError(f"field `{field}`: expected array, got {_json_kind(value)}")
    if (hint is dict or origin is dict) and not isinstance(value, dict):
        raise ValueError(f"field `{field}`: expected object, got {_json_kind(value)}")
    if origin is typing.Literal and value not in args:
        allowed = ", ".join(repr(a) for a in args)
        raise ValueError(f"field `{field}`: expected one of {allowed}, got {value!r}")
    return None


def _fits(value, hint) -> bool:
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, hint)


def _json_kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _takes_extra(func) -> bool:
    return any(
        p.kind is p.VAR_KEYWORD for p in inspect.signature(func).parameters.values()
    )


def _jsonable(value) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, list, dict))
