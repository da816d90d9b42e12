"""molecule_skill: write molecule-runtime skill tools in Python.

A tool is a decorated function; it returns plain Python values and raises ``ToolError`` kinds
(or any exception, reported as ``failed`` with its type, message and the author's traceback
frames). Host capabilities (``memory``, ``config``, ``log``, ``llm``, ``events``, ``http``)
raise ``HostError`` kinds. ``molecule_skill.testing`` runs tools natively with a fake host.
"""

from ._tools import tool
from .errors import (
    Cancelled,
    Denied,
    Failed,
    HostDenied,
    HostError,
    HostFailed,
    HostInvalidInput,
    HostUnavailable,
    InvalidInput,
    NotFound,
    ToolError,
)
from .host import config, events, http, llm, log, memory

__all__ = [
    "tool", "ToolError", "InvalidInput", "Failed", "Denied", "NotFound", "HostError",
    "HostDenied", "HostInvalidInput", "HostUnavailable", "HostFailed", "Cancelled",
    "config", "events", "http", "llm", "log", "memory",
]
