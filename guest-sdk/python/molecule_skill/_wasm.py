"""The host backend inside the interpreter component: ``molecule_skill.host`` calls become the
componentize-py bindings of ``wit/`` (world ``python-skill``): ``molecule:runtime/{log,config,
memory,llm,events}`` and ``wasi:http/outgoing-handler``.

WIT ``host-error`` variants become :class:`~molecule_skill.errors.HostError` kinds with the
host's text, so a ``denied`` a tool lets escape is reported ``denied`` as for Rust skills.
Importable only inside the component (``sys.platform == "wasi"``); ``molecule_interpreter``
imports it at build time so it is in the snapshot.
"""

import json
import urllib.parse
import uuid

from componentize_py_types import Err, Ok
from wit_world.imports import config as _config
from wit_world.imports import events as _events
from wit_world.imports import llm as _llm
from wit_world.imports import log as _log
from wit_world.imports import memory as _memory

from . import errors

try:  # with wasi:http in the world, componentize-py renames molecule:runtime/types
    from wit_world.imports import molecule_runtime_types as types
except ImportError:  # world `skill`: no wasi:http
    from wit_world.imports import types

try:
    from wit_world.imports import outgoing_handler as _outgoing
    from wit_world.imports import streams as _streams
    from wit_world.imports import wasi_http_types as _http
except ImportError:  # built for world `skill`: no outgoing HTTP
    _outgoing = _streams = _http = None

#: Largest response body read into memory (the host has its own cap, 16 MiB by default).
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
#: Bytes per write of a request body (wasi:io allows at most 4096 per blocking write).
_WRITE_CHUNK = 4096
_READ_CHUNK = 64 * 1024

_HOST_ERRORS = {
    "HostError_Denied": errors.HostDenied,
    "HostError_InvalidInput": errors.HostInvalidInput,
    "HostError_Unavailable": errors.HostUnavailable,
    "HostError_Failed": errors.HostFailed,
    "HostError_Cancelled": errors.Cancelled,
}


def _host(call, *args):
    """Runs one WIT import; a ``host-error`` becomes the matching ``HostError``."""
    try:
        return call(*args)
    except Err as err:
        value = err.value
        kind = _HOST_ERRORS.get(type(value).__name__, errors.HostFailed)
        text = getattr(value, "value", None)
        if kind is errors.Cancelled and not text:
            text = "the task was cancelled"
        raise kind(text if isinstance(text, str) else repr(value)) from None


def _enum(enum_cls, name: str, what: str):
    try:
        return enum_cls[str(name).upper().replace("-", "_")]
    except KeyError:
        allowed = ", ".join(m.name.lower().replace("_", "-") for m in enum_cls)
        raise errors.HostInvalidInput(f"{what} `{name}`: use one of {allowed}") from None


def _text_message(text: str):
    return types.Message(
        message_id=str(uuid.uuid4()), role=types.Role.AGENT, parts=[types.Part_Text(str(text))],
        context_id=None, task_id=None, metadata=None,
    )


class WasmHost:
    """The backend ``molecule_skill.host`` uses inside the runtime."""

    # -- log, config ------------------------------------------------------------------------

    def log(self, level, message):
        _log.write(_enum(_log.Level, level, "log level"), str(message))

    def config_get(self, key):
        return _host(_config.get, str(key))

    def config_keys(self):
        return list(_config.keys())

    # -- memory -----------------------------------------------------------------------------

    def memory_commit(self, content, scope):
        return _host(_memory.commit, content, _enum(_memory.Scope, scope, "scope"))

    def memory_search(self, query, scope, limit):
        wit_scope = None if scope is None else _enum(_memory.Scope, scope, "scope")
        entries = _host(_memory.search, query, wit_scope, limit)
        return [
            {"id": e.id, "content": e.content, "scope": e.scope.name.lower(),
             "created_at": e.created_at, "score": e.score}
            for e in entries
        ]

    # -- llm --------------------------------------------------------------------------------

    def llm_complete(self, request):
        messages = [_chat_message(m) for m in request.get("messages") or []]
        tools = [
            types.ToolSpec(
                name=t["name"], description=t.get("description", ""),
                input_schema=t["input_schema"] if isinstance(t.get("input_schema"), str)
                else json.dumps(t.get("input_schema") or {"type": "object"}),
            )
            for t in request.get("tools") or []
        ]
        wit_request = _llm.ChatRequest(
            model=request.get("model"), messages=messages, tools=tools,
            max_tokens=request.get("max_tokens"), temperature=request.get("temperature"),
        )
        reply = _host(_llm.complete, wit_request)
        message = reply.message
        return {
            "message": {
                "role": message.role.name.lower(),
                "content": message.content,
                "tool_calls": [{"id": c.id, "name": c.name, "arguments": json.loads(c.arguments)}
                               for c in message.tool_calls],
                "tool_call_id": message.tool_call_id,
            },
            "stop_reason": reply.stop_reason,
            "usage": {"input_tokens": reply.usage.input_tokens,
                      "output_tokens": reply.usage.output_tokens},
        }

    # -- events -----------------------------------------------------------------------------

    def events_status(self, state, text):
        wit_state = _enum(types.TaskState, state, "task state")
        _host(_events.update_status, wit_state, None if text is None else _text_message(text))

    def events_artifact(self, name, text):
        artifact = types.Artifact(
            artifact_id=str(uuid.uuid4()), name=name, parts=[types.Part_Text(str(text))],
            append=False, last_chunk=True,
        )
        _host(_events.add_artifact, artifact)

    def events_message(self, text):
        _host(_events.send_message, _text_message(text))

    # -- http -------------------------------------------------------------------------------

    def http_request(self, method, url, headers, body):
        if _outgoing is None:
            raise errors.HostUnavailable(
                "this interpreter was built without wasi:http (world `skill`); build it for "
                "world `python-skill`"
            )
        return _send(method, url, headers, body)


def _chat_message(m):
    return _llm.ChatMessage(
        role=_enum(_llm.ChatRole, m.get("role", "user"), "chat role"),
        content=str(m.get("content") or ""),
        tool_calls=[
            _llm.ToolCall(id=c["id"], name=c["name"],
                          arguments=c["arguments"] if isinstance(c.get("arguments"), str)
                          else json.dumps(c.get("arguments") or {}))
            for c in m.get("tool_calls") or []
        ],
        tool_call_id=m.get("tool_call_id"),
    )


# -- a small blocking client over wasi:http 0.2 ---------------------------------------------

_METHODS = {
    "GET": "Method_Get", "HEAD": "Method_Head", "POST": "Method_Post", "PUT": "Method_Put",
    "DELETE": "Method_Delete", "CONNECT": "Method_Connect", "OPTIONS": "Method_Options",
    "TRACE": "Method_Trace", "PATCH": "Method_Patch",
}


def _send(method, url, headers, body):
    """One request, blocking until the whole response body is read.
    Returns ``(status, [(name, value)], body bytes)``."""
    parts = urllib.parse.urlsplit(url)
    scheme = {"http": _http.Scheme_Http, "https": _http.Scheme_Https}.get(parts.scheme)
    if scheme is None or not parts.hostname:
        raise errors.HostInvalidInput(f"url `{url}`: expected http:// or https:// and a host")
    if "@" in parts.netloc:
        raise errors.HostInvalidInput(f"url `{url}`: credentials in the URL are not allowed")
    origin = f"{parts.scheme}://{parts.netloc}"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        fields = _http.Fields.from_list(
            [(str(k), v.encode() if isinstance(v, str) else bytes(v)) for k, v in headers]
        )
    except Err as err:
        raise errors.HostInvalidInput(f"headers: {type(err.value).__name__}") from None
    request = _http.OutgoingRequest(fields)
    method_name = _METHODS.get(method)
    method_value = getattr(_http, method_name)() if method_name else _http.Method_Other(method)
    for setter, value in ((request.set_method, method_value), (request.set_scheme, scheme()),
                          (request.set_authority, parts.netloc),
                          (request.set_path_with_query, path)):
        try:
            setter(value)
        except Err:
            raise errors.HostInvalidInput(f"url `{url}`: not a valid request target") from None
    out_body = request.body()
    try:
        future = _outgoing.handle(request, None)
    except Err as err:
        raise _http_error(err.value, origin) from None
    _write_body(out_body, body or b"", origin)
    with future:
        while True:
            result = future.get()
            if result is not None:
                break
            with future.subscribe() as ready:
                ready.block()
    if isinstance(result, Err) or not isinstance(result.value, Ok):
        code = result.value.value if isinstance(result, Ok) else None
        raise _http_error(code, origin)
    with result.value.value as response:
        status = response.status()
        with response.headers() as fields:
            out_headers = [(k, v.decode("latin-1")) for k, v in fields.entries()]
        data = _read_body(response.consume(), origin)
    return status, out_headers, data


def _write_body(out_body, body: bytes, origin: str):
    """Sends the request body. A server may answer (say 413 or 501) and close before reading
    it all: the write then stops and the caller still reads that response."""
    closed = False
    if body:
        with out_body.write() as stream:
            for start in range(0, len(body), _WRITE_CHUNK):
                try:
                    stream.blocking_write_and_flush(body[start:start + _WRITE_CHUNK])
                except Err as err:
                    if isinstance(err.value, _streams.StreamError_Closed):
                        closed = True
                        break
                    raise _stream_error(err.value, origin, "sending the request body") from None
    try:
        _http.OutgoingBody.finish(out_body, None)
    except Err as err:
        if not closed:
            raise _http_error(err.value, origin) from None


def _read_body(incoming, origin: str) -> bytes:
    chunks, size = [], 0
    with incoming.stream() as stream:
        while True:
            try:
                chunk = stream.blocking_read(_READ_CHUNK)
            except Err as err:
                if isinstance(err.value, _streams.StreamError_Closed):
                    break
                raise _stream_error(err.value, origin, "reading the response body") from None
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise errors.HostFailed(
                    f"the response from {origin} is larger than {MAX_RESPONSE_BYTES} bytes"
                )
            chunks.append(chunk)
    _http.IncomingBody.finish(incoming).__exit__(None, None, None)
    return b"".join(chunks)


def _stream_error(value, origin, doing):
    failed = getattr(value, "value", None)
    if failed is not None:
        code = _http.http_error_code(failed)
        if code is not None:
            return _http_error(code, origin)
        return errors.HostFailed(f"{doing} of {origin}: {failed.to_debug_string()}")
    return errors.HostFailed(f"{doing} of {origin}: the stream closed")


def _http_error(code, origin):
    """A ``wasi:http`` error code as a ``HostError`` that says what happened and what fixes
    it (the same wording as the Rust web-fetch skill)."""
    name = type(code).__name__.replace("ErrorCode_", "") if code is not None else "unknown"
    if name == "HttpRequestDenied":
        return errors.HostDenied(
            f"the host does not let this skill reach {origin}: it is not among the origins "
            f"granted to it. Ask the operator to add \"{origin}\" to the skill's hosts grant "
            "(grants.skills.<skill id>.hosts)"
        )
    if name == "DestinationIpProhibited":
        return errors.HostDenied(
            f"{origin} resolves to a private, loopback or link-local address, which this skill "
            f"may only reach if the operator grants exactly \"{origin}\""
        )
    if name == "InternalError" and getattr(code, "value", None):
        return errors.HostFailed(f"request to {origin} failed: {code.value}")
    if name in ("DnsError", "DnsTimeout", "DestinationNotFound"):
        return errors.HostFailed(f"could not resolve the host of {origin}")
    if name == "ConnectionRefused":
        return errors.HostFailed(f"{origin} refused the connection")
    if name in ("ConnectionTimeout", "ConnectionReadTimeout", "HttpResponseTimeout"):
        return errors.HostFailed(f"{origin} did not answer in time")
    detail = getattr(code, "value", None)
    return errors.HostFailed(f"request to {origin} failed: {name}"
                             + (f" ({detail})" if detail is not None else ""))
