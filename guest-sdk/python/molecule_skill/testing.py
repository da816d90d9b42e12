"""Testing a skill without wasm: :class:`FakeHost` answers host calls from memory, and
:func:`call` runs a tool exactly as the runtime does (JSON text in and out, errors mapped), so
``python -m pytest`` tests a skill in milliseconds.

    from molecule_skill.testing import FakeHost, call
    import app

    def test_hello():
        with FakeHost():
            assert call(app, "hello", {"name": "Ada"}) == {"greeting": "Hello, Ada!"}

Agent Skills scripts and snippets run the way the interpreter runs them, too:

    from molecule_skill.testing import run_script
    result = run_script("path/to/skill", "stats.py", args=["--top", "3"], stdin="some text")
    assert result["exit_code"] == 0
"""

import importlib
import itertools
import json
import os
import sys

from . import _runner, _tools, errors, host


class FakeHost:
    """An in-memory host. Grant what the test needs: ``config`` values, ``memory=True``,
    ``llm_replies`` (answers in order), ``http`` responses keyed by ``(METHOD, url)`` as
    ``(status, body)``. Everything not granted raises ``HostDenied`` as the runtime does.
    Records ``logs``, ``events`` and ``requests``."""

    def __init__(self, config=None, memory=False, llm_replies=None, http=None, skill="test"):
        self.skill = skill
        self.config = dict(config or {})
        self.memory_enabled = memory
        self.memories = []
        self.llm_replies = list(llm_replies or [])
        self.http = dict(http or {})
        self.logs, self.events, self.requests = [], [], []
        self._ids = itertools.count(1)
        self._previous = None

    def __enter__(self):
        self._previous = host._BACKEND
        host.set_backend(self)
        return self

    def __exit__(self, *exc):
        host.set_backend(self._previous)
        return False

    def _denied(self, capability: str, key: str):
        return errors.HostDenied(
            f"skill {self.skill} is not granted `{capability}`; grant it in config.yaml "
            f"under {key}"
        )

    def log(self, level, message):
        self.logs.append((level, message))

    def config_get(self, key):
        if key not in self.config:
            raise self._denied(f"config {key}", f"grants.skills.{self.skill}")
        return self.config[key]

    def config_keys(self):
        return sorted(self.config)

    def memory_commit(self, content, scope):
        if not self.memory_enabled:
            raise self._denied("memory", f"grants.skills.{self.skill}.interfaces")
        entry = {"id": f"mem-{next(self._ids)}", "content": content, "scope": scope,
                 "created_at": "1970-01-01T00:00:00Z", "score": None}
        self.memories.append(entry)
        return entry["id"]

    def memory_search(self, query, scope, limit):
        if not self.memory_enabled:
            raise self._denied("memory", f"grants.skills.{self.skill}.interfaces")
        words = query.lower().split()
        found = [
            dict(m, score=1.0) for m in self.memories
            if (scope is None or m["scope"] == scope)
            and any(w in m["content"].lower() for w in words)
        ]
        return found[:limit]

    def llm_complete(self, request):
        if not self.llm_replies:
            raise errors.HostUnavailable("FakeHost has no more llm_replies")
        text = self.llm_replies.pop(0)
        return {"message": {"role": "assistant", "content": text, "tool_calls": []},
                "stop_reason": "end_turn", "usage": {"input_tokens": 0, "output_tokens": 0}}

    def events_status(self, state, text):
        self.events.append(("status", state, text))

    def events_artifact(self, name, text):
        self.events.append(("artifact", name, text))

    def events_message(self, text):
        self.events.append(("message", text))

    def http_request(self, method, url, headers, body):
        self.requests.append((method, url, headers, body))
        if (method, url) not in self.http:
            raise self._denied(f"http {url}", f"grants.skills.{self.skill}.hosts")
        status, out = self.http[(method, url)]
        if isinstance(out, str):
            out = out.encode()
        return status, [], out


def load(module):
    """The tool registry of ``module`` (a module object or name), imported afresh."""
    registry = _tools.Registry()
    previous, _tools.CURRENT = _tools.CURRENT, registry
    try:
        if isinstance(module, str) and module not in sys.modules:
            importlib.import_module(module)
        else:
            if not isinstance(module, str):
                # Another skill loaded under the same name (say `app`) may have replaced it.
                sys.modules[module.__name__] = module
            importlib.reload(sys.modules[module] if isinstance(module, str) else module)
    finally:
        _tools.CURRENT = previous
    return registry


def call(module, name: str, args=None):
    """Runs tool ``name`` of ``module`` with ``args`` (a dict or JSON text) the way the runtime
    does and returns the decoded result; raises the ``ToolError`` the runtime would report."""
    text = args if isinstance(args, str) else json.dumps(args or {})
    return json.loads(load(module).call(name, text))


def describe(module) -> list:
    """The tool specs of ``module`` as the runtime sees them (schemas decoded)."""
    specs = load(module).specs()
    return [dict(s, input_schema=json.loads(s["input_schema"])) for s in specs]


class SkillFolder:
    """A skill folder loaded as the interpreter loads ``/skill`` (``app.py`` with its folder
    and ``vendor/`` on the path, native extensions refused). ``describe()`` and
    ``call(name, json_text)`` are the interpreter's, reserved tools included; each leaves
    ``sys.path``, ``sys.meta_path`` and the ``app`` module of the test process as they were."""

    def __init__(self, folder):
        self.skill = _runner.Skill(os.path.abspath(str(folder)))

    def describe(self) -> list:
        with _isolated():
            return self.skill.describe()

    def call(self, name: str, input_json: str = "{}") -> str:
        with _isolated():
            return self.skill.call(name, input_json)


class _isolated:
    def __enter__(self):
        self._saved = (list(sys.path), list(sys.meta_path), sys.modules.get(_runner.APP_MODULE))

    def __exit__(self, *exc):
        path, meta_path, app = self._saved
        sys.path[:], sys.meta_path[:] = path, meta_path
        if app is None:
            sys.modules.pop(_runner.APP_MODULE, None)
        else:
            sys.modules[_runner.APP_MODULE] = app
        return False


def skill(folder) -> SkillFolder:
    """The skill folder ``folder``, to ``describe()`` and ``call()`` as the runtime does."""
    return SkillFolder(folder)


def run_script(folder, script: str, args=None, stdin: str = "") -> dict:
    """Runs ``scripts/<script>`` of the skill in ``folder`` as ``__molecule_run_script__``
    does; returns ``{"exit_code", "stdout", "stderr"}``."""
    text = json.dumps({"script": script, "args": list(args or []), "stdin": stdin})
    return json.loads(skill(folder).call(_runner.RUN_SCRIPT, text))


def run_code(code: str, stdin: str = "", folder=None) -> dict:
    """Runs ``code`` as ``__molecule_run_code__`` does (``folder``: the skill, default the
    current directory)."""
    text = json.dumps({"code": code, "stdin": stdin})
    return json.loads(skill(folder if folder is not None else os.getcwd()).call(
        _runner.RUN_CODE, text))
