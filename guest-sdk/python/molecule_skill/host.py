"""Host capabilities, in the same shape as the Rust SDK: ``log``, ``config``, ``memory``,
``llm``, ``events`` and outgoing ``http``. Each call goes to the current backend: inside the
runtime the WIT imports (``molecule:runtime/*``, ``wasi:http``), in tests a
:class:`molecule_skill.testing.FakeHost`. A capability the operator did not grant raises
:class:`~molecule_skill.errors.HostDenied` naming the config key that grants it.
"""

import json as _json
import sys

from . import errors

_BACKEND = None


def set_backend(backend) -> None:
    """Installs the object that answers host calls (the runtime's or a fake)."""
    global _BACKEND
    _BACKEND = backend


def backend():
    """The current backend; inside the runtime the WIT imports, loaded on first use."""
    global _BACKEND
    if _BACKEND is None and sys.platform == "wasi":
        from . import _wasm

        _BACKEND = _wasm.WasmHost()
    if _BACKEND is None:
        raise errors.HostUnavailable(
            "no host: outside the runtime, install molecule_skill.testing.FakeHost"
        )
    return _BACKEND


class log:
    """``molecule:runtime/log``: lines in the host's log, tagged with the skill."""

    @staticmethod
    def write(level: str, message: str) -> None:
        backend().log(level, str(message))

    @staticmethod
    def debug(message: str) -> None:
        log.write("debug", message)

    @staticmethod
    def info(message: str) -> None:
        log.write("info", message)

    @staticmethod
    def warn(message: str) -> None:
        log.write("warn", message)

    @staticmethod
    def error(message: str) -> None:
        log.write("error", message)


class config:
    """``molecule:runtime/config``: values the operator granted (env vars, secrets)."""

    @staticmethod
    def get(key: str):
        """The value of ``key``, or ``None`` when granted but unset."""
        return backend().config_get(key)

    @staticmethod
    def keys() -> list:
        return backend().config_keys()


class memory:
    """``molecule:runtime/memory``: the workspace's long-term memory."""

    SCOPES = ("local", "team", "global")

    @staticmethod
    def commit(content: str, scope: str = "local") -> str:
        """Stores ``content``; returns its id."""
        memory._check_scope(scope)
        return backend().memory_commit(str(content), scope)

    @staticmethod
    def search(query: str, scope: str = None, limit: int = 5) -> list:
        """Entries matching ``query``: dicts with id, content, scope, created_at, score."""
        if scope is not None:
            memory._check_scope(scope)
        return backend().memory_search(str(query), scope, int(limit))

    @staticmethod
    def _check_scope(scope):
        if scope not in memory.SCOPES:
            raise errors.HostInvalidInput(f"scope `{scope}`: use one of local, team, global")


class llm:
    """``molecule:runtime/llm``: the workspace's model gateway (keys stay in the host)."""

    @staticmethod
    def complete(messages: list, tools: list = None, model: str = None,
                 max_tokens: int = None, temperature: float = None) -> dict:
        """One completion. ``messages``: dicts with role (system/user/assistant/tool) and
        content. Returns ``{message, stop_reason, usage}``."""
        request = {
            "model": model, "messages": messages, "tools": tools or [],
            "max_tokens": max_tokens, "temperature": temperature,
        }
        return backend().llm_complete(request)

    @staticmethod
    def ask(prompt: str, model: str = None) -> str:
        """The model's text answer to one user message."""
        reply = llm.complete([{"role": "user", "content": prompt}], model=model)
        return reply["message"]["content"]


class events:
    """``molecule:runtime/events``: status, artifacts and messages of the current task."""

    @staticmethod
    def status(state: str, text: str = None) -> None:
        backend().events_status(state, text)

    @staticmethod
    def artifact(text: str, name: str = None) -> None:
        backend().events_artifact(name, text)

    @staticmethod
    def say(text: str) -> None:
        backend().events_message(text)


class Response:
    """An HTTP response: ``status``, ``headers`` (list of (name, value)), ``body`` bytes."""

    def __init__(self, status: int, headers: list, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name: str):
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        return _json.loads(self.body)


class http:
    """Outgoing HTTP through ``wasi:http``: only origins granted to the skill
    (``grants.skills.<id>.hosts``) are reachable; everything else raises ``HostDenied``."""

    @staticmethod
    def request(method: str, url: str, headers: dict = None, body: bytes = None) -> Response:
        if isinstance(body, str):
            body = body.encode()
        status, out_headers, out_body = backend().http_request(
            method.upper(), url, list((headers or {}).items()), body
        )
        return Response(status, out_headers, out_body)

    @staticmethod
    def get(url: str, headers: dict = None) -> Response:
        return http.request("GET", url, headers)

    @staticmethod
    def post(url: str, body=None, headers: dict = None, json=None) -> Response:
        headers = dict(headers or {})
        if json is not None:
            body = _json.dumps(json).encode()
            headers.setdefault("content-type", "application/json")
        return http.request("POST", url, headers, body)
