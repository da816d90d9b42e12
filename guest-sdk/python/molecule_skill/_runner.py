"""Running a skill folder the way the Python interpreter component does, in plain Python.

The interpreter component (``molecule_interpreter``, built once with componentize-py) is a thin
shell over this module, so everything here also runs natively: ``molecule_skill.testing`` and
the SDK's tests use it with a temporary folder in place of the mounts.

A skill folder holds ``SKILL.md`` and any of:

- ``app.py``: the tools (``@tool`` functions). Modules next to it are importable, and so are
  pure-Python packages vendored into ``vendor/`` (``pip install --target <skill>/vendor pkg``).
  A native extension module (``.so``/``.pyd``) is refused with an error naming the file.
- ``scripts/*.py``: Agent Skills scripts, run as ``__main__`` by the reserved tool
  ``__molecule_run_script__``.

Two reserved tools exist in every Python skill and are never listed by ``describe``:

- ``__molecule_run_script__`` ``{"script": "x.py" | "scripts/x.py", "args": [str], "stdin": str}``
- ``__molecule_run_code__`` ``{"code": str, "stdin": str}``

Both answer ``{"exit_code": int, "stdout": str, "stderr": str}``; each captured stream is cut
at :data:`STDOUT_CAP` / :data:`STDERR_CAP` bytes with a ``[truncated …]`` marker.
"""

import importlib.abc
import importlib.machinery
import importlib.util
import io
import json
import linecache
import os
import sys
import traceback
import types

from . import _tools, errors

RUN_SCRIPT = "__molecule_run_script__"
RUN_CODE = "__molecule_run_code__"
RESERVED = (RUN_SCRIPT, RUN_CODE)
#: The skill's entry module, and the folder of vendored pure-Python dependencies.
APP_FILE = "app.py"
APP_MODULE = "app"
VENDOR_DIR = "vendor"
SCRIPTS_DIR = "scripts"
#: Caps on what a script or snippet may print (UTF-8 bytes); the rest is dropped and counted.
#: Together they stay under the host's default 1 MiB cap on a tool result.
STDOUT_CAP = 512 * 1024
STDERR_CAP = 128 * 1024
#: Native extension modules cannot run inside the WebAssembly interpreter.
NATIVE_SUFFIXES = (".so", ".pyd", ".dylib")


class SkillLoadError(Exception):
    """``app.py`` (or a module it imports) could not be imported; ``text`` says why, with the
    author's frames, paths relative to the skill folder."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


class Skill:
    """One skill folder: ``root`` (``/skill`` inside the interpreter), an optional scratch
    directory (cwd of scripts and snippets) and the tools of its ``app.py``."""

    def __init__(self, root: str, scratch: str = None):
        self.root = root.rstrip("/") or "/"
        self.scratch = scratch
        self.registry = None
        self._search_path = None

    # -- loading -------------------------------------------------------------------------------

    @property
    def app_path(self) -> str:
        return os.path.join(self.root, APP_FILE)

    def search_path(self) -> list:
        """Folders put in front of ``sys.path``: the skill folder, then ``vendor/`` (looked
        up once per ``Skill``: a call activates the skill twice)."""
        if self._search_path is None:
            paths = [self.root]
            vendor = os.path.join(self.root, VENDOR_DIR)
            if os.path.isdir(vendor):
                paths.append(vendor)
            self._search_path = paths
        return list(self._search_path)

    def activate(self) -> None:
        """Makes the skill's modules importable and refuses native extensions under it."""
        for path in reversed(self.search_path()):
            if path not in sys.path:
                sys.path.insert(0, path)
        refuser_root = self.root.rstrip("/") + "/"
        if not any(type(f) is NativeExtensionRefuser and f.root == refuser_root
                   for f in sys.meta_path):
            sys.meta_path.insert(0, NativeExtensionRefuser(self.root))

    def load(self) -> "_tools.Registry":
        """Imports ``app.py`` into a fresh registry (once); a skill without one has no tools.
        Raises :class:`SkillLoadError` when it does not import."""
        if self.registry is not None:
            return self.registry
        registry = _tools.Registry()
        self.activate()
        if os.path.isfile(self.app_path):
            if sys.platform != "wasi" or self.root in _LOADED_ROOTS:
                _forget_modules_under(self.root)
            _LOADED_ROOTS.add(self.root)
            previous, _tools.CURRENT = _tools.CURRENT, registry
            try:
                spec = importlib.util.spec_from_file_location(APP_MODULE, self.app_path)
                module = importlib.util.module_from_spec(spec)
                sys.modules[APP_MODULE] = module
                try:
                    spec.loader.exec_module(module)
                except BaseException as err:  # noqa: BLE001 - reported, never a crash
                    sys.modules.pop(APP_MODULE, None)
                    raise SkillLoadError(
                        f"cannot import {APP_FILE}: {_tools.describe_exception(err, self.root)}"
                    ) from None
            finally:
                _tools.CURRENT = previous
        self.registry = registry
        return registry

    # -- the exported functions ----------------------------------------------------------------

    def describe(self) -> list:
        """The specs of the tools of ``app.py`` (dicts; ``input_schema`` as JSON text)."""
        return self.load().specs()

    def call(self, name: str, input_json: str) -> str:
        """Runs tool ``name``; returns JSON text or raises a ``ToolError``."""
        if name == RUN_SCRIPT:
            return json.dumps(self.run_script(_tools.parse_input(input_json)), ensure_ascii=False)
        if name == RUN_CODE:
            return json.dumps(self.run_code(_tools.parse_input(input_json)), ensure_ascii=False)
        try:
            registry = self.load()
        except SkillLoadError as err:
            raise errors.Failed(err.text) from None
        self.activate()  # a tool may import a helper lazily
        if name not in registry.tools and not os.path.isfile(self.app_path):
            raise errors.NotFound(
                f"no tool named `{name}`: this skill has no {APP_FILE}, only scripts "
                f"(run them with {RUN_SCRIPT})"
            )
        return registry.call(name, input_json, self.root)

    # -- scripts and snippets ------------------------------------------------------------------

    def run_script(self, args: dict) -> dict:
        """``__molecule_run_script__``: runs ``scripts/<script>`` as ``__main__``."""
        _only_fields(args, ("script", "args", "stdin"))
        script = args.get("script")
        if not isinstance(script, str) or not script.strip():
            raise errors.InvalidInput("field `script`: expected a path such as `stats.py`")
        argv = _string_list(args.get("args", []), "args")
        stdin = _string(args.get("stdin", ""), "stdin")
        path = self.script_path(script)
        try:
            with open(path, encoding="utf-8") as f:
                source = f.read()
        except (OSError, UnicodeDecodeError) as err:
            raise errors.Failed(f"cannot read {self.relative(path)}: {err}") from None
        folder = os.path.dirname(path)
        return self._run(source, path, [path] + argv, stdin, [folder] + self.search_path())

    def run_code(self, args: dict) -> dict:
        """``__molecule_run_code__``: runs Python source text as ``__main__``."""
        _only_fields(args, ("code", "stdin"))
        code = args.get("code")
        if not isinstance(code, str):
            raise errors.InvalidInput("field `code`: expected a string of Python source")
        stdin = _string(args.get("stdin", ""), "stdin")
        return self._run(code, "<code>", ["-c"], stdin, self.search_path())

    def script_path(self, script: str) -> str:
        """The file ``scripts/<script>`` names; ``InvalidInput`` when it leaves ``scripts/``,
        ``NotFound`` (listing the scripts) when it does not exist."""
        rel = script.replace("\\", "/")
        if rel.startswith(SCRIPTS_DIR + "/"):
            rel = rel[len(SCRIPTS_DIR) + 1:]
        scripts = os.path.join(self.root, SCRIPTS_DIR)
        path = os.path.normpath(os.path.join(scripts, rel))
        inside = path.startswith(scripts + os.sep)
        if rel.startswith("/") or not inside or ".." in rel.split("/"):
            raise errors.InvalidInput(
                f"field `script`: `{script}` is not inside {SCRIPTS_DIR}/ (give a name such as "
                "`stats.py` or `scripts/stats.py`)"
            )
        real = os.path.realpath(path)
        if not (real + os.sep).startswith(os.path.realpath(scripts) + os.sep):
            raise errors.InvalidInput(f"field `script`: `{script}` links outside {SCRIPTS_DIR}/")
        if not os.path.isfile(path):
            known = ", ".join(self.scripts()) or "none"
            raise errors.NotFound(f"no script `{script}` in {SCRIPTS_DIR}/; scripts: {known}")
        return path

    def scripts(self) -> list:
        """The ``.py`` files under ``scripts/``, relative to it."""
        base = os.path.join(self.root, SCRIPTS_DIR)
        found = []
        for folder, dirs, files in os.walk(base):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            found += [os.path.relpath(os.path.join(folder, f), base)
                      for f in sorted(files) if f.endswith(".py")]
        return found

    def relative(self, path: str) -> str:
        return os.path.relpath(path, self.root) if path.startswith(self.root) else path

    def _run(self, source: str, filename: str, argv: list, stdin: str, path: list) -> dict:
        """Runs ``source`` as ``__main__`` like ``python FILE ARGV…``: stdin from text, stdout
        and stderr captured and capped, ``SystemExit`` → exit code, an uncaught exception →
        traceback (author frames only) on stderr and exit code 1."""
        out, err = CappedText(STDOUT_CAP), CappedText(STDERR_CAP)
        main = types.ModuleType("__main__")
        main.__builtins__ = __builtins__
        if filename != "<code>":
            main.__file__ = filename
        else:
            # Tracebacks of a snippet show its lines too.
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        saved = (sys.argv, sys.stdin, sys.stdout, sys.stderr, list(sys.path),
                 sys.modules.get("__main__"), os.getcwd())
        sys.argv = list(argv)
        sys.stdin = io.StringIO(stdin)
        sys.stdout, sys.stderr = out, err
        sys.path[:0] = path
        sys.modules["__main__"] = main
        if self.scratch and os.path.isdir(self.scratch):
            os.chdir(self.scratch)
        exit_code = 0
        try:
            self.activate()
            exec(compile(source, filename, "exec"), main.__dict__)  # noqa: S102 - the purpose
        except SystemExit as done:
            exit_code = _exit_code(done.code, err)
        except BaseException as failure:  # noqa: BLE001 - like `python FILE`: traceback, exit 1
            err.write(self._traceback(failure))
            exit_code = 1
        finally:
            for stream in (out, err):
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass
            (sys.argv, sys.stdin, sys.stdout, sys.stderr, sys.path[:], main_before,
             cwd) = saved
            if main_before is None:
                sys.modules.pop("__main__", None)
            else:
                sys.modules["__main__"] = main_before
            try:
                os.chdir(cwd)
            except OSError:
                pass
            linecache.cache.pop("<code>", None)
        return {"exit_code": exit_code, "stdout": out.getvalue(), "stderr": err.getvalue()}

    def _traceback(self, failure: BaseException) -> str:
        frames = [f for f in traceback.extract_tb(failure.__traceback__)
                  if _tools._is_author_file(f.filename, self.root)]
        for frame in frames:
            frame.filename = _tools._relative(frame.filename, self.root)
        text = "".join(traceback.format_exception_only(type(failure), failure))
        if isinstance(failure, SyntaxError) and failure.filename:
            text = text.replace(f'File "{failure.filename}"',
                                f'File "{_tools._relative(failure.filename, self.root)}"')
        head = "Traceback (most recent call last):\n" + "".join(traceback.format_list(frames))
        return (head if frames else "") + text


class NativeExtensionRefuser(importlib.abc.MetaPathFinder):
    """Refuses to import a native extension module (``.so``/``.pyd``) from the skill folder:
    the WebAssembly interpreter cannot load machine code. The ``ModuleNotFoundError`` names the
    file, so ``try: import _speedups / except ImportError`` fallbacks keep working."""

    def __init__(self, root: str):
        self.root = root.rstrip("/") + "/"
        self._listings = {}

    def find_spec(self, fullname, path=None, target=None):
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None:
            origin = spec.origin or ""
            if origin.startswith(self.root) and origin.endswith(NATIVE_SUFFIXES):
                self._refuse(fullname, origin)
            return spec
        # Inside the interpreter no extension suffix is registered, so look for the file.
        tail = fullname.rpartition(".")[2]
        for folder in (path if path is not None else sys.path):
            if not isinstance(folder, str) or not (folder.rstrip("/") + "/").startswith(self.root):
                continue
            for entry in self._listing(folder):
                if entry.startswith(tail + ".") and entry.endswith(NATIVE_SUFFIXES):
                    self._refuse(fullname, os.path.join(folder, entry))
        return None

    def _listing(self, folder):
        if folder not in self._listings:
            try:
                self._listings[folder] = os.listdir(folder)
            except OSError:
                self._listings[folder] = []
        return self._listings[folder]

    def _refuse(self, fullname, file):
        rel = os.path.relpath(file, self.root)
        raise ModuleNotFoundError(
            f"cannot import `{fullname}`: {rel} is a native extension module, and Python skills "
            "run in a WebAssembly interpreter that only runs pure-Python code; use a pure-Python "
            "package (or its pure-Python fallback) instead",
            name=fullname, path=file,
        )


class CappedText(io.TextIOBase):
    """A text stream that keeps at most ``cap`` UTF-8 bytes and counts what it dropped.
    ``buffer`` accepts bytes (decoded as UTF-8, invalid bytes replaced)."""

    def __init__(self, cap: int):
        super().__init__()
        self.cap, self.size, self.dropped = cap, 0, 0
        self._parts = []
        self.buffer = _CappedBytes(self)

    @property
    def encoding(self):
        return "utf-8"

    @property
    def errors(self):
        return "replace"

    def writable(self):
        return True

    def isatty(self):
        return False

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        data = text.encode("utf-8", "replace")
        room = self.cap - self.size
        if len(data) <= room:
            self._parts.append(text)
            self.size += len(data)
        else:
            kept = data[:max(room, 0)].decode("utf-8", "ignore")
            if kept:
                self._parts.append(kept)
            kept_bytes = len(kept.encode("utf-8"))
            self.size += kept_bytes
            self.dropped += len(data) - kept_bytes
            self.size = self.cap  # full: drop everything that follows
        return len(text)

    def getvalue(self) -> str:
        text = "".join(self._parts)
        if self.dropped:
            text += f"\n[truncated: {self.dropped} more bytes not shown]\n"
        return text


class _CappedBytes:
    """``sys.stdout.buffer`` of a :class:`CappedText`."""

    def __init__(self, text: CappedText):
        self._text = text

    def write(self, data) -> int:
        self._text.write(bytes(data).decode("utf-8", "replace"))
        return len(data)

    def flush(self):
        pass


def _exit_code(code, err) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    err.write(f"{code}\n")
    return 1


def _only_fields(args: dict, allowed: tuple) -> None:
    for key in args:
        if key not in allowed:
            raise errors.InvalidInput(
                f"unknown field `{key}`; expected {', '.join(f'`{a}`' for a in allowed)}"
            )


def _string(value, field: str) -> str:
    if not isinstance(value, str):
        raise errors.InvalidInput(f"field `{field}`: expected string")
    return value


def _string_list(value, field: str) -> list:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise errors.InvalidInput(f"field `{field}`: expected an array of strings")
    return value


#: Skill folders :meth:`Skill.load` imported from in this process.
_LOADED_ROOTS = set()


def _forget_modules_under(root: str) -> None:
    """Drops modules imported from ``root`` earlier in this process (native tests import the
    same skill several times). Inside the interpreter every call is a fresh instance whose
    snapshot holds no skill module, so :meth:`Skill.load` skips this there unless it already
    loaded ``root`` in this instance: the scan touches every module of the (nearly) whole
    standard library in the snapshot, about 1,400 copy-on-write page faults and 4-5 ms per
    call."""
    prefix = root.rstrip("/") + "/"
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None) or ""
        if file.startswith(prefix):
            del sys.modules[name]
