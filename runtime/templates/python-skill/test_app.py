"""Native tests of app.py with the SDK's fake host: `python3 test_app.py` or `pytest`."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import molecule_skill  # noqa: F401
except ImportError:  # the SDK of the runtime checkout that wrote this skill
    sys.path.append({{sdk_python}})

import app
from molecule_skill import InvalidInput
from molecule_skill.testing import FakeHost, call


def test_hello():
    with FakeHost():
        assert call(app, "hello", {"name": "Ada"}) == {"greeting": "Hello, Ada!"}


def test_an_empty_name_is_invalid_input():
    with FakeHost():
        try:
            call(app, "hello", {"name": " "})
        except InvalidInput:
            return
        raise AssertionError("expected InvalidInput")


if __name__ == "__main__":
    test_hello()
    test_an_empty_name_is_invalid_input()
    print("ok")
