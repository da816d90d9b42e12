"""The interpreter component's entry module, natively: ``molecule_interpreter`` is imported
against stand-ins for the componentize-py bindings, and the mounts (``/skill``, ``/pycache``,
``/scratch``) are temporary folders. Covers loading app.py at call time, the reserved tools
(``__molecule_run_script__``, ``__molecule_run_code__``), output caps, refusals, and the
mapping of host errors and tool errors to the WIT variants."""

import dataclasses
import enum
import json
import os
import sys
import textwrap
import types

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

from molecule_skill import _runner, host  # noqa: E402
from molecule_skill.testing import run_code, run_script, skill  # noqa: E402


# -- stand-ins for the generated bindings ----------------------------------------------------

class Err(Exception):
    def __init__(self, value):
        super().__init__(value)
        self.value = value


Err.__module__ = "componentize_py_types"


def _variant(name):
    return dataclasses.make_dataclass(name, [("value", object, None)])


def _install_fake_bindings():
    cpt = types.ModuleType("componentize_py_types")
    cpt.Err, cpt.Ok = Err, type("Ok", (), {})
    rt = types.ModuleType("wit_world.imports.molecule_runtime_types")
    rt.ToolSpec = dataclasses.make_dataclass("ToolSpec", ["name", "description", "input_schema"])
    for kind in ("InvalidInput", "Failed", "Denied", "NotFound"):
        setattr(rt, f"ToolError_{kind}", _variant(f"ToolError_{kind}"))
    for kind in ("Denied", "InvalidInput", "Unavailable", "Failed", "Cancelled"):
        setattr(rt, f"HostError_{kind}", _variant(f"HostError_{kind}"))
    rt.Role = enum.Enum("Role", "USER AGENT")
    rt.TaskState = enum.Enum("TaskState", "SUBMITTED WORKING COMPLETED FAILED")
    rt.Part_Text = _variant("Part_Text")
    rt.Message = dataclasses.make_dataclass(
        "Message", ["message_id", "role", "parts", "context_id", "task_id", "metadata"])
    rt.Artifact = dataclasses.make_dataclass(
        "Artifact", ["artifact_id", "name", "parts", "append", "last_chunk"])
    log = types.ModuleType("wit_world.imports.log")
    log.Level = enum.Enum("Level", "TRACE DEBUG INFO WARN ERROR")
    log.records = []
    log.write = lambda level, message: log.records.append((level.name, message))
    config = types.ModuleType("wit_world.imports.config")
    config.get = lambda key: (_ for _ in ()).throw(Err(rt.HostError_Denied(f"key {key} denied")))
    config.keys = lambda: []
    memory = types.ModuleType("wit_world.imports.memory")
    memory.Scope = enum.Enum("Scope", "LOCAL TEAM GLOBAL")

    def commit(content, scope):
        raise Err(rt.HostError_Denied("skill py is not granted `memory`; grant it in config"))

    memory.commit = commit
    memory.search = lambda q, s, n: []
    llm = types.ModuleType("wit_world.imports.llm")
    events = types.ModuleType("wit_world.imports.events")
    imports = types.ModuleType("wit_world.imports")
    exports = types.ModuleType("wit_world.exports")
    exports.Tool = object
    world = types.ModuleType("wit_world")
    modules = {
        "componentize_py_types": cpt, "wit_world": world, "wit_world.exports": exports,
        "wit_world.imports": imports, "wit_world.imports.molecule_runtime_types": rt,
        "wit_world.imports.log": log, "wit_world.imports.config": config,
        "wit_world.imports.memory": memory, "wit_world.imports.llm": llm,
        "wit_world.imports.events": events,
    }
    for name, module in modules.items():
        if "." in name:
            parent, _, child = name.rpartition(".")
            setattr(modules[parent], child, module)
    sys.modules.update(modules)
    return rt


RT = _install_fake_bindings()
import molecule_interpreter as interp  # noqa: E402


@pytest.fixture
def mounts(tmp_path, monkeypatch):
    """A skill folder at a temporary `/skill`, with `/pycache` and `/scratch` beside it."""
    root = tmp_path / "skill"
    (root / "scripts").mkdir(parents=True)
    monkeypatch.setattr(interp, "SKILL_DIR", str(root))
    monkeypatch.setattr(interp, "PYCACHE_DIR", str(tmp_path / "no-pycache"))
    monkeypatch.setattr(interp, "SCRATCH_DIR", str(tmp_path / "scratch"))
    monkeypatch.setattr(interp, "_skill", None)
    monkeypatch.setattr(sys, "dont_write_bytecode", sys.dont_write_bytecode)
    monkeypatch.setattr(sys, "pycache_prefix", sys.pycache_prefix)
    monkeypatch.setattr(host, "_BACKEND", None)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    yield root
    _runner._forget_modules_under(str(root))


def write(root, rel, text):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def call(name, args=None):
    """The exported `call`, as the host sees it: JSON text, or the WIT error variant."""
    try:
        return json.loads(interp.Tool().call(name, json.dumps(args or {})))
    except Err as err:
        return (type(err.value).__name__.replace("ToolError_", ""), err.value.value)


APP = """
    from molecule_skill import tool, memory, InvalidInput
    import helpers

    @tool
    def hello(name: str) -> dict:
        \"\"\"Greets someone.\"\"\"
        return {"greeting": helpers.greet(name)}

    @tool
    def divide(a: int, b: int) -> float:
        \"\"\"Divides.\"\"\"
        return helpers.div(a, b)

    @tool
    def remember(text: str) -> str:
        \"\"\"Stores a note.\"\"\"
        return memory.commit(text)

    @tool
    def leave() -> None:
        \"\"\"Exits.\"\"\"
        raise SystemExit(3)

    @tool
    def raw() -> None:
        \"\"\"Raises the binding error directly.\"\"\"
        from componentize_py_types import Err
        raise Err("plain text")

    @tool
    def raw_kind() -> None:
        \"\"\"Raises a binding tool-error variant.\"\"\"
        from componentize_py_types import Err
        from wit_world.imports.molecule_runtime_types import ToolError_InvalidInput
        raise Err(ToolError_InvalidInput("field `x`: bad"))
"""

HELPERS = """
    def greet(name):
        return f"Hello, {name}!"

    def div(a, b):
        return a / b
"""


def test_describe_and_call_load_app_py_at_call_time(mounts):
    write(mounts, "app.py", APP)
    write(mounts, "helpers.py", HELPERS)
    specs = interp.Tool().describe()
    assert [s.name for s in specs] == ["hello", "divide", "remember", "leave", "raw", "raw_kind"]
    assert json.loads(specs[0].input_schema)["required"] == ["name"]
    assert call("hello", {"name": "Ada"}) == {"greeting": "Hello, Ada!"}
    assert sys.dont_write_bytecode is True  # no /pycache mounted: never write .pyc


def test_an_edit_is_seen_by_the_next_instance(mounts):
    write(mounts, "app.py", APP)
    write(mounts, "helpers.py", HELPERS)
    assert call("hello", {"name": "Ada"}) == {"greeting": "Hello, Ada!"}
    write(mounts, "helpers.py", HELPERS.replace("Hello", "Bonjour"))
    interp._skill = None  # the next call is a fresh instance
    assert call("hello", {"name": "Ada"}) == {"greeting": "Bonjour, Ada!"}


def test_errors_are_variants_with_the_authors_frames(mounts):
    write(mounts, "app.py", APP)
    write(mounts, "helpers.py", HELPERS)
    kind, text = call("divide", {"a": 1, "b": 0})
    assert kind == "Failed"
    assert text.startswith("ZeroDivisionError: division by zero"), text
    assert "at app.py:" in text and "at helpers.py:" in text and "in div" in text, text
    assert str(mounts) not in text and "molecule_skill" not in text, text
    assert call("divide", {"a": "x", "b": 0}) == (
        "InvalidInput", "field `a`: expected integer, got string")
    assert call("nope")[0] == "NotFound"
    assert call("hello", None)[0] == "InvalidInput"


def test_denied_host_call_is_denied(mounts):
    write(mounts, "app.py", APP)
    write(mounts, "helpers.py", HELPERS)
    assert call("remember", {"text": "tea"}) == (
        "Denied", "skill py is not granted `memory`; grant it in config")


def test_exit_and_raw_binding_errors_are_explained(mounts):
    write(mounts, "app.py", APP)
    write(mounts, "helpers.py", HELPERS)
    kind, text = call("leave")
    assert kind == "Failed" and "sys.exit() and exit() are for scripts" in text
    kind, text = call("raw")
    assert kind == "Failed" and text.startswith("plain text") and "molecule_skill.Failed" in text
    assert call("raw_kind") == ("InvalidInput", "field `x`: bad")


def test_an_app_that_does_not_import(mounts, capsys):
    write(mounts, "app.py", "from molecule_skill import tool\nimport helpers\n")
    write(mounts, "helpers.py", "x = 1\ndef f(:\n    pass\n")
    kind, text = call("hello", {"name": "x"})
    assert kind == "Failed"
    assert text.startswith("cannot import app.py: SyntaxError: invalid syntax (helpers.py, line 2)")
    assert "at app.py:2 in <module>" in text
    interp._skill = None
    try:
        with pytest.raises(_runner.SkillLoadError) as trap:  # describe traps: a crash …
            interp.Tool().describe()
        assert sys.excepthook is interp._print_load_error
        sys.excepthook(type(trap.value), trap.value, trap.value.__traceback__)
    finally:
        sys.excepthook = sys.__excepthook__
    err = capsys.readouterr().err  # … whose stderr says why, without interpreter frames
    assert err.startswith("molecule python skill: cannot import app.py: SyntaxError"), err
    assert "molecule_interpreter" not in err and "Traceback" not in err


def test_runtime_error_at_import_names_the_line(mounts):
    write(mounts, "app.py", "from molecule_skill import tool\n\nvalue = {}['missing']\n")
    kind, text = call("anything")
    assert kind == "Failed"
    assert text.splitlines()[:2] == ["cannot import app.py: KeyError: 'missing'",
                                     "  at app.py:3 in <module>"]


def test_reserved_names_are_refused_and_not_listed(mounts):
    write(mounts, "app.py", """
        from molecule_skill import tool
        @tool(name="__molecule_mine", description="x")
        def mine():
            pass
    """)
    kind, text = call("x")
    assert kind == "Failed" and "reserved" in text
    write(mounts, "app.py", "from molecule_skill import tool\n")
    interp._skill = None
    assert interp.Tool().describe() == []


def test_vendored_packages_import_and_native_extensions_are_refused(mounts):
    write(mounts, "vendor/purepkg/__init__.py", "VALUE = 'vendored'\n")
    (mounts / "vendor" / "fastthing.cpython-314-wasm32-wasi.so").write_bytes(b"\x7fELF")
    write(mounts, "app.py", """
        from molecule_skill import tool
        @tool
        def pure() -> str:
            \"\"\"Vendored.\"\"\"
            import purepkg
            return purepkg.VALUE
        @tool
        def native() -> str:
            \"\"\"Native.\"\"\"
            import fastthing
            return "loaded"
        @tool
        def fallback() -> str:
            \"\"\"Falls back.\"\"\"
            try:
                import fastthing
            except ImportError:
                return "pure fallback"
            return "loaded"
    """)
    assert call("pure") == "vendored"
    kind, text = call("native")
    assert kind == "Failed", text
    assert "vendor/fastthing.cpython-314-wasm32-wasi.so is a native extension module" in text
    assert call("fallback") == "pure fallback"


def test_pycache_mount_turns_on_bytecode(mounts, tmp_path, monkeypatch):
    pycache = tmp_path / "pycache"
    pycache.mkdir()
    monkeypatch.setattr(interp, "PYCACHE_DIR", str(pycache))
    write(mounts, "app.py", APP)
    write(mounts, "helpers.py", HELPERS)
    assert call("hello", {"name": "Ada"}) == {"greeting": "Hello, Ada!"}
    assert sys.pycache_prefix == str(pycache) and sys.dont_write_bytecode is False
    assert list(pycache.rglob("helpers.*.pyc")), list(pycache.rglob("*"))


# -- scripts -----------------------------------------------------------------------------------

WC = """
    import argparse, os, sys
    parser = argparse.ArgumentParser(prog="wc.py")
    parser.add_argument("--upper", action="store_true")
    parser.add_argument("--code", type=int, default=0)
    args = parser.parse_args()
    data = sys.stdin.read()
    print(data.upper() if args.upper else data, end="")
    print(f"lines={len(data.splitlines())} argv0={os.path.basename(sys.argv[0])}")
    print("note", file=sys.stderr)
    sys.exit(args.code)
"""


def test_run_script_argv_stdin_exit_codes(mounts):
    write(mounts, "scripts/wc.py", WC)
    result = call("__molecule_run_script__",
                  {"script": "wc.py", "args": ["--upper", "--code", "3"], "stdin": "a b\nc\n"})
    assert result == {"exit_code": 3, "stdout": "A B\nC\nlines=2 argv0=wc.py\n",
                      "stderr": "note\n"}
    result = call("__molecule_run_script__", {"script": "scripts/wc.py", "args": ["--bogus"]})
    assert result["exit_code"] == 2 and "unrecognized arguments: --bogus" in result["stderr"]
    assert interp.Tool().describe() == []  # scripts only: no app.py, no listed tools


def test_run_script_exceptions_and_exit_values(mounts):
    write(mounts, "scripts/boom.py", "import lib\nlib.explode({})\n")
    write(mounts, "scripts/lib.py", "def explode(d):\n    return d['key']\n")
    write(mounts, "scripts/text_exit.py", "raise SystemExit('bad things')\n")
    write(mounts, "scripts/none_exit.py", "import sys\nprint('ok')\nsys.exit()\n")
    result = call("__molecule_run_script__", {"script": "boom.py"})
    assert result["exit_code"] == 1
    assert result["stderr"].startswith("Traceback (most recent call last):\n"), result
    assert 'File "scripts/boom.py", line 2, in <module>' in result["stderr"]
    assert 'File "scripts/lib.py", line 2, in explode' in result["stderr"]
    assert result["stderr"].endswith("KeyError: 'key'\n")
    assert "molecule_skill" not in result["stderr"] and str(mounts) not in result["stderr"]
    assert call("__molecule_run_script__", {"script": "text_exit.py"}) == {
        "exit_code": 1, "stdout": "", "stderr": "bad things\n"}
    assert call("__molecule_run_script__", {"script": "none_exit.py"}) == {
        "exit_code": 0, "stdout": "ok\n", "stderr": ""}


def test_run_script_refuses_paths_outside_scripts(mounts):
    write(mounts, "app.py", "from molecule_skill import tool\n")
    write(mounts, "scripts/ok.py", "print(1)\n")
    os.symlink(mounts / "app.py", mounts / "scripts" / "link.py")
    for script in ("../app.py", "/etc/passwd", "scripts/../app.py", "a/../../app.py", "link.py"):
        kind, text = call("__molecule_run_script__", {"script": script})
        assert kind == "InvalidInput", (script, text)
    kind, text = call("__molecule_run_script__", {"script": "missing.py"})
    assert kind == "NotFound" and "ok.py" in text
    assert call("__molecule_run_script__", {"script": "ok.py", "args": "x"})[0] == "InvalidInput"
    assert call("__molecule_run_script__", {"script": "ok.py", "stdin": 1})[0] == "InvalidInput"
    assert call("__molecule_run_script__", {"script": "ok.py", "nope": 1})[0] == "InvalidInput"
    assert call("__molecule_run_script__", {})[0] == "InvalidInput"


def test_output_is_capped(mounts):
    write(mounts, "scripts/loud.py", """
        import sys
        print("x" * 3_000_000)
        sys.stdout.buffer.write(b"more")
        print("é" * 200_000, file=sys.stderr)
    """)
    result = call("__molecule_run_script__", {"script": "loud.py"})
    out, err = result["stdout"], result["stderr"]
    assert len(out.encode()) < _runner.STDOUT_CAP + 100
    assert out.startswith("x" * 1000) and "[truncated: " in out and out.endswith("bytes not shown]\n")
    assert len(err.encode()) < _runner.STDERR_CAP + 100 and "[truncated: " in err
    assert len(json.dumps(result, ensure_ascii=False).encode()) < 1024 * 1024


def test_scratch_is_the_working_directory(mounts, tmp_path):
    (tmp_path / "scratch").mkdir()
    write(mounts, "scripts/cwd.py", "import os\nopen('out.txt', 'w').write('hi')\nprint(os.getcwd())\n")
    before = os.getcwd()
    result = call("__molecule_run_script__", {"script": "cwd.py"})
    assert result["stdout"].strip() == str(tmp_path / "scratch")
    assert (tmp_path / "scratch" / "out.txt").read_text() == "hi"
    assert os.getcwd() == before


def test_run_code(mounts):
    write(mounts, "helpers.py", HELPERS)
    result = call("__molecule_run_code__", {
        "code": "import sys, helpers\nprint(helpers.greet(sys.stdin.read()), sys.argv)\n",
        "stdin": "Ada"})
    assert result == {"exit_code": 0, "stdout": "Hello, Ada! ['-c']\n", "stderr": ""}
    result = call("__molecule_run_code__", {"code": "x = 1\n1 / 0\n"})
    assert result["exit_code"] == 1
    assert 'File "<code>", line 2, in <module>\n    1 / 0' in result["stderr"]
    result = call("__molecule_run_code__", {"code": "def f(:\n"})
    assert result["exit_code"] == 1 and "SyntaxError" in result["stderr"]
    assert call("__molecule_run_code__", {"script": "x"})[0] == "InvalidInput"
    assert sys.modules.get("__main__") is not None


# -- molecule_skill.testing helpers for authors ------------------------------------------------

def test_testing_helpers_run_scripts_and_code(tmp_path):
    write(tmp_path, "scripts/wc.py", WC)
    result = run_script(tmp_path, "wc.py", args=["--upper"], stdin="hi\n")
    assert result == {"exit_code": 0, "stdout": "HI\nlines=1 argv0=wc.py\n", "stderr": "note\n"}
    assert run_code("print(6 * 7)")["stdout"] == "42\n"
    write(tmp_path, "app.py", "from molecule_skill import tool\n@tool\ndef one() -> int:\n"
                              "    '''One.'''\n    return 1\n")
    loaded = skill(tmp_path)
    assert [s["name"] for s in loaded.describe()] == ["one"]
    assert loaded.call("one", "{}") == "1"
    _runner._forget_modules_under(str(tmp_path))


def test_per_call_work_stays_small(tmp_path, monkeypatch):
    """One refuser per skill however many calls; inside the interpreter (a fresh instance per
    call) the first load does not scan sys.modules, a second load of the same folder does."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.setattr(_runner, "_LOADED_ROOTS", set())
    app = "from molecule_skill import tool\n\n@tool\ndef hello(name: str):\n    \"\"\"Hi.\"\"\"\n" \
          "    return name\n"
    write(tmp_path / "a", "app.py", app)
    before = len(sys.meta_path)
    first = _runner.Skill(str(tmp_path / "a"))
    for _ in range(3):
        assert first.call("hello", '{"name": "x"}') == '"x"'
    assert len(sys.meta_path) == before + 1
    assert json.loads(first.describe()[0]["input_schema"])["required"] == ["name"]

    scanned = []
    monkeypatch.setattr(sys, "platform", "wasi")
    monkeypatch.setattr(_runner, "_forget_modules_under", scanned.append)
    write(tmp_path / "b", "app.py", app)
    assert _runner.Skill(str(tmp_path / "b")).call("hello", '{"name": "y"}') == '"y"'
    assert scanned == []
    _runner.Skill(str(tmp_path / "b")).load()
    assert scanned == [str(tmp_path / "b")]
    for name in [n for n, m in sys.modules.items()
                 if (getattr(m, "__file__", None) or "").startswith(str(tmp_path))]:
        del sys.modules[name]
