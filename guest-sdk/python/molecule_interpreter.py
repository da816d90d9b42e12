"""The Python interpreter component's entry module: exports WIT interface ``tool`` for whatever
skill folder the host mounts.

Built ONCE for all Python skills (componentize-py 0.25.1, world ``python-skill``)::

    componentize-py -d wit -w python-skill componentize molecule_interpreter \\
        -p guest-sdk/python -o interp.wasm

componentize-py runs this module at build time and snapshots the interpreter's memory, and the
component has no standard-library files at run time: only modules imported here (directly or
through :mod:`molecule_preload`) exist when a tool runs. Hence the heavy imports below.

Mounts the host provides to each call (a fresh instance every time):

- ``/skill`` (read-only): the skill folder; ``app.py`` is imported at call time, so editing it
  needs no rebuild.
- ``/pycache`` (read-write, optional): a bytecode cache for this skill version; with it, the
  compiled ``app.py`` is written once and read by later calls.
- ``/scratch`` (read-write, optional): per-task scratch space, the working directory of
  scripts and ``__molecule_run_code__`` snippets.

All the logic is in :mod:`molecule_skill._runner` (tested natively); this module maps its
results and ``ToolError`` kinds to the generated bindings.
"""

import importlib  # noqa: F401 - in the snapshot
import json
import os
import runpy  # noqa: F401 - in the snapshot
import sys
import traceback

import molecule_preload  # noqa: F401 - (nearly) the whole standard library, in the snapshot
import molecule_skill
import molecule_skill.testing  # noqa: F401 - in the snapshot, like every SDK module
from molecule_skill import _runner, _tools, _wasm, errors
from componentize_py_types import Err
from wit_world import exports

types = _wasm.types  # wit_world.imports.{molecule_runtime_types | types}

#: Where the host mounts the skill folder, the bytecode cache and the scratch directory.
SKILL_DIR = "/skill"
PYCACHE_DIR = "/pycache"
SCRATCH_DIR = "/scratch"

_TOOL_ERRORS = {
    "invalid-input": types.ToolError_InvalidInput,
    "failed": types.ToolError_Failed,
    "denied": types.ToolError_Denied,
    "not-found": types.ToolError_NotFound,
}


def configure_bytecode(pycache: str = None) -> None:
    """Writes and reads ``.pyc`` files under ``pycache`` (default :data:`PYCACHE_DIR`) when the
    host mounted it; never anywhere else (the skill folder is read-only)."""
    pycache = pycache or PYCACHE_DIR
    if os.path.isdir(pycache):
        sys.pycache_prefix = pycache
        sys.dont_write_bytecode = False
    else:
        sys.dont_write_bytecode = True


def skill_root() -> str:
    """The mounted skill folder."""
    return SKILL_DIR


_skill = None


def current_skill() -> "_runner.Skill":
    """The skill of this instance (one per call; created on first use)."""
    global _skill
    if _skill is None:
        configure_bytecode()
        molecule_skill.host.set_backend(_wasm.WasmHost())
        scratch = SCRATCH_DIR if os.path.isdir(SCRATCH_DIR) else None
        _skill = _runner.Skill(skill_root(), scratch)
    return _skill


def _err(error: "errors.ToolError") -> Err:
    return Err(_TOOL_ERRORS.get(error.kind, types.ToolError_Failed)(error.message))


def _internal(what: str, failure: BaseException) -> str:
    """A bug of the interpreter itself, reported instead of trapping."""
    text = "".join(traceback.format_exception_only(type(failure), failure)).strip()
    return f"internal error of the Python interpreter component while {what}: {text}"


def _print_load_error(kind, value, tb):
    if isinstance(value, _runner.SkillLoadError):
        print(f"molecule python skill: {value.text}", file=sys.stderr, flush=True)
    else:
        sys.__excepthook__(kind, value, tb)


class Tool(exports.Tool):
    """WIT ``molecule:runtime/tool``."""

    def describe(self):
        skill = current_skill()
        if not os.path.isdir(skill.root):
            print(f"molecule python interpreter: no skill folder is mounted at {skill.root}",
                  file=sys.stderr)
            return []
        try:
            specs = skill.describe()
        except _runner.SkillLoadError as failure:
            # `describe` has no error channel: say why on stderr (the host attaches the tail of
            # stderr to the crash report) and trap, so the skill fails to load with the reason.
            # componentize-py prints the uncaught exception through sys.excepthook: print the
            # author's reason only, not the interpreter's own frames.
            sys.excepthook = _print_load_error
            raise _runner.SkillLoadError(failure.text) from None
        return [types.ToolSpec(name=s["name"], description=s["description"],
                               input_schema=s["input_schema"]) for s in specs]

    def call(self, name, input):
        try:
            return current_skill().call(name, input)
        except errors.ToolError as error:
            raise _err(error) from None
        except Err:
            raise
        except BaseException as failure:  # noqa: BLE001 - never trap on a tool call
            raise Err(types.ToolError_Failed(_internal(f"calling `{name}`", failure))) from None


# Everything importable at run time must be imported now; json is used by the SDK.
_ = (json, _tools)
