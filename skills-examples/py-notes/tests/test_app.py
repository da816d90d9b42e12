"""py-notes, natively: the tools run as the runtime runs them, host calls answered by a
FakeHost. Run with `python -m pytest skills-examples/py-notes` (molecule_skill installed or on
PYTHONPATH)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import app  # noqa: E402
from molecule_skill import Denied, InvalidInput  # noqa: E402
from molecule_skill.testing import FakeHost, call, describe  # noqa: E402


def test_tools_and_schemas():
    specs = {s["name"]: s for s in describe(app)}
    assert list(specs) == ["add_note", "find_notes", "fetch"]
    scope = specs["add_note"]["input_schema"]["properties"]["scope"]
    assert scope == {"enum": ["local", "team", "global"], "description": "Who may read it.",
                     "default": "local"}


def test_add_and_find_notes():
    with FakeHost(memory=True) as host:
        added = call(app, "add_note", {"text": "  deploys   on Friday "})
        call(app, "add_note", {"text": "lunch at noon", "scope": "team"})
        found = call(app, "find_notes", {"query": "friday"})
    assert added == {"id": "mem-1", "scope": "local"}
    assert host.memories[0]["content"] == "deploys on Friday"
    assert [n["text"] for n in found["notes"]] == ["deploys on Friday"]


def test_bad_input_names_the_field():
    with FakeHost(memory=True):
        with pytest.raises(InvalidInput, match="field `text`: must not be empty"):
            call(app, "add_note", {"text": "   "})
        with pytest.raises(InvalidInput, match="expected one of"):
            call(app, "add_note", {"text": "x", "scope": "everyone"})
        with pytest.raises(InvalidInput, match="field `limit`"):
            call(app, "find_notes", {"query": "x", "limit": 0})
        with pytest.raises(InvalidInput, match="https://"):
            call(app, "fetch", {"url": "ftp://example.com/"})


def test_memory_not_granted_is_denied():
    with FakeHost():
        with pytest.raises(Denied, match="grants.skills.test.interfaces"):
            call(app, "add_note", {"text": "x"})


def test_fetch_a_granted_origin():
    page = ("GET", "https://example.com/")
    with FakeHost(http={page: (200, "<h1>Example Domain</h1>")}) as host:
        result = call(app, "fetch", {"url": "https://example.com/", "max_bytes": 4})
        with pytest.raises(Denied, match="hosts"):
            call(app, "fetch", {"url": "https://other.example/"})
    assert result == {"status": 200, "content_type": None, "body": "<h1>", "truncated": True}
    assert host.requests[0][:2] == page
