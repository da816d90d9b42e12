"""Errors a tool raises and errors a host capability raises.

A tool reports failure by raising a :class:`ToolError` kind; the runtime turns it into the WIT
``tool-error`` variant of the same name (``wit/types.wit``). Any other exception becomes
``failed`` with the exception's type, message and the last traceback frames in the author's
own files. A host capability call that does not succeed raises a :class:`HostError` kind (the
WIT ``host-error`` variant); if a tool lets it escape, ``denied`` stays ``denied`` and the
others become ``failed`` with the host's text, as in the Rust SDK.
"""


class ToolError(Exception):
    """Base of the errors a tool raises on purpose. ``kind`` names the WIT variant."""

    kind = "failed"

    def __init__(self, message: str = ""):
        # A bare `raise Failed` still says something.
        message = str(message) or type(self).__name__
        super().__init__(message)
        self.message = message


class InvalidInput(ToolError):
    """The input does not fit the tool: say which field and why."""

    kind = "invalid-input"


class Failed(ToolError):
    """The tool ran and failed: say why."""

    kind = "failed"


class Denied(ToolError):
    """The tool needed a capability the operator did not grant."""

    kind = "denied"


class NotFound(ToolError):
    """No such tool (raised by the dispatcher; tools rarely need it)."""

    kind = "not-found"


class HostError(Exception):
    """Base of the errors a host capability raises. ``kind`` names the WIT variant."""

    kind = "failed"

    def __init__(self, message: str = ""):
        super().__init__(message)
        self.message = str(message)


class HostDenied(HostError):
    """The skill was not granted this capability; the text names the key that grants it."""

    kind = "denied"


class HostInvalidInput(HostError):
    """An argument of the host call was unusable; the text names it."""

    kind = "invalid-input"


class HostUnavailable(HostError):
    """The backend is not reachable now (e.g. no platform in standalone mode)."""

    kind = "unavailable"


class HostFailed(HostError):
    """The backend answered with an error."""

    kind = "failed"


class Cancelled(HostError):
    """The task this call belongs to was cancelled; return promptly."""

    kind = "cancelled"


HOST_ERRORS = {
    cls.kind: cls for cls in (HostDenied, HostInvalidInput, HostUnavailable, HostFailed, Cancelled)
}
TOOL_ERRORS = {cls.kind: cls for cls in (InvalidInput, Failed, Denied, NotFound)}
