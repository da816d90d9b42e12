"""Build-time only: imports (nearly) the whole standard library into the interpreter snapshot.

componentize-py pre-initialises the interpreter and snapshots its memory; the component it
produces has **no standard-library files** at run time. A module a skill, a script or a
stdlib module's lazy import needs (``argparse`` imports ``locale`` on first use,
``runpy.run_path`` imports ``pkgutil``) must therefore already be in ``sys.modules``. This
module imports every top-level ``sys.stdlib_module_names`` entry and every submodule of the
stdlib packages, except :data:`DENY` (GUI, terminals, processes, test suites, platform-only
modules, side effects on import).

Not available in the WASI build of CPython whatever is listed here (see :data:`FAILED` in a
build): ``ssl`` (use ``molecule_skill.http``; the host does TLS), ``lzma``, ``bz2``, real
sockets, subprocesses and threads.

``LOADED`` and ``FAILED`` (name → reason) record what happened, for diagnostics.
"""

import importlib
import pkgutil
import sys

#: Modules (and their submodules) never imported.
DENY = frozenset({
    "antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "test", "lib2to3",
    "ensurepip", "venv", "pydoc_data", "__phello__", "_pyrepl", "pydoc", "webbrowser",
    "msvcrt", "winreg", "winsound", "_winapi", "nt", "_wmi", "_ios_support",
    "_android_support", "multiprocessing", "concurrent.futures.process", "ctypes", "curses",
    "dbm", "readline", "tty", "pty", "termios", "crypt", "nis", "spwd", "ossaudiodev",
    "unittest.mock", "pdb", "bdb", "cProfile", "profile", "code", "codeop",
    "encodings.mbcs", "encodings.oem", "encodings.cp65001", "site", "sitecustomize",
    "sqlite3", "_sqlite3",
})

LOADED = []
FAILED = {}


def _denied(name: str) -> bool:
    parts = name.split(".")
    if any(".".join(parts[:i]) in DENY for i in range(1, len(parts) + 1)):
        return True
    return any(p in ("test", "tests", "__main__", "idle_test") for p in parts)


def _import(name: str):
    if name in sys.modules:
        return sys.modules[name]
    if _denied(name):
        return None
    try:
        module = importlib.import_module(name)
    except BaseException as err:  # noqa: BLE001 - build-time probing: record and go on
        FAILED[name] = f"{type(err).__name__}: {err}"
        return None
    LOADED.append(name)
    return module


def preload() -> None:
    """Imports the standard library (idempotent)."""
    for top in sorted(sys.stdlib_module_names):
        module = _import(top)
        if module is None or not hasattr(module, "__path__"):
            continue
        for info in pkgutil.walk_packages(module.__path__, top + ".",
                                          onerror=lambda name: None):
            _import(info.name)


# Only inside the component build (componentize-py targets WASI); importing this natively, as
# the SDK's tests do when they load `molecule_interpreter`, does nothing.
if sys.platform == "wasi":
    preload()
