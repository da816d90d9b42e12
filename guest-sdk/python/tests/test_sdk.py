"""The Python authoring package, natively: schemas from type hints, JSON in and out, every
failure a ToolError with the right kind, host calls through FakeHost."""

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import greeter_app  # noqa: E402
from molecule_skill import Denied, Failed, InvalidInput, NotFound  # noqa: E402
from molecule_skill.testing import FakeHost, call, describe  # noqa: E402


def test_describe_derives_schemas_from_hints():
    specs = {s["name"]: s for s in describe(greeter_app)}
    assert list(specs)[:2] == ["hello", "add-numbers"]
    hello = specs["hello"]
    assert hello["description"] == "Greets someone by name."
    assert hello["input_schema"] == {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "Who to greet."},
            "punctuation": {"type": "string", "default": "!"},
        },
        "required": ["name"],
        "additionalProperties": False,
    }
    assert specs["pick"]["input_schema"]["properties"]["color"] == {"enum": ["red", "green"]}
    assert specs["pick"]["input_schema"]["properties"]["note"] == {"type": "string", "default": None}


def test_calls_return_plain_values_as_json():
    assert call(greeter_app, "hello", {"name": "Ada"}) == {"greeting": "Hello, Ada!"}
    assert call(greeter_app, "add-numbers", '{"a": 2, "b": 40}') == 42
    big = 123456789012345678901234567890
    assert call(greeter_app, "add-numbers", {"a": big, "b": 0}) == big


def test_input_errors_name_the_field():
    cases = [
        ({}, "missing field `name`"),
        ({"name": 3}, "field `name`: expected string, got number"),
        ({"name": "x", "extra": 1}, "unknown field `extra`"),
        ({"name": " "}, "field `name`: must not be empty"),
    ]
    for args, text in cases:
        with pytest.raises(InvalidInput) as err:
            call(greeter_app, "hello", args)
        assert text in err.value.message
    with pytest.raises(InvalidInput, match="expected one of 'red', 'green'"):
        call(greeter_app, "pick", {"color": "blue"})
    with pytest.raises(InvalidInput, match="not JSON"):
        call(greeter_app, "hello", "{nope")
    with pytest.raises(InvalidInput, match="must be a JSON object"):
        call(greeter_app, "hello", "[1]")


def test_exceptions_become_failed_with_the_authors_frames():
    with pytest.raises(Failed) as err:
        call(greeter_app, "explode", {"depth": 2})
    text = err.value.message
    assert text.startswith("ValueError: bad depth 2"), text
    assert "greeter_app.py" in text and "in _inner" in text, text
    assert "molecule_skill" not in text, text
    with pytest.raises(Failed, match="the upstream said no"):
        call(greeter_app, "refuse")
    with pytest.raises(Failed, match="not JSON"):
        call(greeter_app, "not_json")
    with pytest.raises(NotFound, match="this skill offers: hello"):
        call(greeter_app, "nope")


def test_host_calls_go_through_the_fake_host():
    with FakeHost(memory=True) as fake:
        note_id = call(greeter_app, "remember", {"text": "tea"})
    assert fake.memories[0]["content"] == "tea" and note_id == fake.memories[0]["id"]
    with FakeHost():
        with pytest.raises(Denied, match="interfaces"):
            call(greeter_app, "remember", {"text": "tea"})


def test_bad_declarations_fail_at_import():
    from molecule_skill import tool

    def undocumented():
        pass

    with pytest.raises(ValueError, match="no description"):
        tool(undocumented)
    with pytest.raises(ValueError, match="tool name"):
        tool(name="Bad Name", description="x")(lambda: None)
    assert json.loads(json.dumps(describe(greeter_app)))  # specs are plain JSON
