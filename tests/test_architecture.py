"""The house rules of docs/architecture.md, checked against the code.

The rules about imports are stated once, in `docs/module_graph.py`, which
reads the import graph from the source (every import statement, lazy ones
too); here they are checked against the tree as it is now, so a module or
package added later is covered without editing this file.

- The search logic imports no Keras, TensorFlow or JAX: every module of the
  rooms (top-level modules and packages) in `PURE_ROOMS`, and the few pure
  modules of mixed packages in `PURE_MODULES`, imports in a fresh interpreter
  without them; `core/` and `strategies/` have no import statement of them
  at all.
- Only `kgan_nas.executors` starts worker processes.
- No modules and no packages import each other in a circle, and no module
  imports from a higher floor of `LAYERS`.
- `docs/architecture.md`'s generated part is what `docs/module_graph.py`
  writes from the code now.
- No module is over 600 lines and no function body over 80 lines. A body is
  counted from its first statement after the docstring: a signature that
  the formatter puts one argument per line, and a docstring documenting
  them, add no logic (`kgan_nas.search` has 27 documented arguments).
"""

import ast
import json
import pathlib
import subprocess
import sys

import pytest

import kgan_nas

PACKAGE_DIR = pathlib.Path(kgan_nas.__file__).parent
REGENERATE = "run `python docs/module_graph.py`"


def _module_graph():
    sys.path.insert(0, str(PACKAGE_DIR.parent / "docs"))
    try:
        import module_graph
    finally:
        sys.path.pop(0)
    return module_graph


def test_every_room_is_on_a_floor_and_said_to_be_pure_or_not():
    """A package added, renamed or removed must be placed in `docs/module_graph.py`."""
    module_graph = _module_graph()
    assert module_graph.layout_problems(PACKAGE_DIR) == []
    assert module_graph.purity_problems(PACKAGE_DIR) == []


def test_search_logic_imports_no_keras_or_tensorflow():
    module_graph = _module_graph()
    names = module_graph.pure_modules(PACKAGE_DIR)
    rooms = module_graph.module_rooms(PACKAGE_DIR)
    assert {"core/", "strategies/", "engine/", "store/", "cli/"} <= {rooms[name] for name in names}
    code = (
        "import importlib, json, sys\n"
        f"heavy = {module_graph.HEAVY!r}\n"
        "found, seen = {}, set()\n"
        "for name in sys.argv[1:]:\n"
        "    importlib.import_module(name)\n"
        "    new = sorted(m for m in heavy if m in sys.modules and m not in seen)\n"
        "    if new:\n"
        "        found[name] = new\n"
        "        seen.update(new)\n"
        "print(json.dumps(found))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *names], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # {the first module after whose import they were loaded: [keras, tensorflow, jax]}
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {}


def test_core_and_strategies_have_no_keras_import_at_all():
    """Not even inside a function: the pure core never needs a backend."""
    module_graph = _module_graph()
    assert module_graph.KERAS_FREE_SOURCE == ("core/", "strategies/")
    assert module_graph.heavy_imports(PACKAGE_DIR) == []
    # The check sees lazy imports: evaluation/decode.py builds Keras models.
    found = module_graph.heavy_imports(PACKAGE_DIR, folders=("evaluation/",))
    assert any(line.startswith("kgan_nas/evaluation/decode.py:") for line in found)


def _calls(path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            yield ast.unparse(node.func)


def test_only_executors_start_worker_processes():
    starters = (
        "subprocess.Popen",
        "multiprocessing.Process",
        "os.fork",
        "get_context",
        "subprocess.run",
        "os.system",
        "os.exec",
    )
    found = set()
    for path in PACKAGE_DIR.rglob("*.py"):
        for name in _calls(path):
            if name.startswith(starters) or name.endswith(".Process"):
                found.add((path.relative_to(PACKAGE_DIR).as_posix(), name))
    outside = {(path, name) for path, name in found if not path.startswith("executors/")}
    # The report may run Graphviz's `dot` for its architecture diagrams; nothing else.
    assert outside == {("report/architecture.py", "subprocess.run")}
    assert ("executors/subprocess.py", "subprocess.Popen") in found


def _body_lines(function):
    """Lines from the first statement after the docstring to the end."""
    body = function.body
    first = body[0]
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
        and len(body) > 1
    ):
        first = body[1]
    return function.end_lineno - first.lineno + 1


def test_modules_and_functions_stay_small():
    long_modules, long_functions = [], []
    for path in PACKAGE_DIR.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        relative = path.relative_to(PACKAGE_DIR).as_posix()
        if len(text.splitlines()) > 600:
            long_modules.append(relative)
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if _body_lines(node) > 80:
                    long_functions.append(f"{relative}:{node.name}")
    assert long_modules == []
    assert long_functions == []


def test_no_modules_import_each_other_in_a_circle():
    module_graph = _module_graph()
    graph = module_graph.import_graph(PACKAGE_DIR)
    # The reader sees lazy imports: a few known edges.
    assert "kgan_nas.training" in graph["kgan_nas.evaluation.decode"]  # inside a function
    assert "kgan_nas.report.numbers" in graph["kgan_nas.report.page"]
    assert module_graph.circles(graph) == []
    # Two packages importing each other (through any of their modules) are a circle too.
    assert module_graph.circles(module_graph.rooms(graph)) == []


def test_no_module_imports_a_higher_floor():
    """Every import, lazy ones too, goes to the importer's floor of `LAYERS` or a lower one."""
    module_graph = _module_graph()
    upward = module_graph.upward_imports(PACKAGE_DIR)
    assert upward == [], "imports of a higher floor (see LAYERS in docs/module_graph.py):\n" + (
        "\n".join(upward)
    )


def test_the_architecture_page_is_generated_from_the_code_now():
    module_graph = _module_graph()
    page = module_graph.PAGE.read_text(encoding="utf-8")
    now = module_graph.with_section(page, module_graph.generated_section(PACKAGE_DIR))
    assert page == now, (
        f"docs/architecture.md's generated part is out of date: {REGENERATE} "
        "(a module was added, moved or described anew, or LAYERS changed)"
    )


def test_the_generated_part_lists_every_module_with_its_floor():
    module_graph = _module_graph()
    section = module_graph.generated_section(PACKAGE_DIR)
    assert section.startswith(module_graph.BEGIN + "\n") and section.endswith(
        module_graph.END + "\n"
    )
    floor = module_graph.floor_of()
    for module, room in module_graph.module_rooms(PACKAGE_DIR).items():
        if module.count(".") < 2:
            assert f"| {floor[room]} | `{room}` |" in section
        else:
            relative = module.split(".", 2)[2].replace(".", "/")
            assert f"- `{relative}" in section
    # The hand-written prose stays around the generated part.
    page = (
        "# Title\n\nprose\n\n"
        + module_graph.BEGIN
        + "\nold\n"
        + module_graph.END
        + "\n\n## Rules\n"
    )
    assert module_graph.with_section(page, "new\n") == "# Title\n\nprose\n\nnew\n\n## Rules\n"
    with pytest.raises(ValueError, match="no lines"):
        module_graph.with_section("# no markers\n", section)


def test_the_module_graph_finds_circles_and_floors():
    module_graph = _module_graph()
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "c"}, "e": set()}
    assert module_graph.circles(graph) == [["a", "b", "c"]]
    assert module_graph.circles(graph, ignore={("c", "a")}) == []
    with pytest.raises(ValueError, match="import circle"):
        module_graph.floors(graph)
    acyclic = {"top": {"mid", "low"}, "mid": {"low"}, "low": set()}
    assert module_graph.floors(acyclic) == {"top": 2, "mid": 1, "low": 0}
    # top -> low is implied by top -> mid -> low: the picture leaves it out.
    assert module_graph.reduction(acyclic) == {"top": {"mid"}, "mid": {"low"}, "low": set()}
    assert module_graph.room_of("kgan_nas.training.gan") == "training/"
    assert module_graph.room_of("kgan_nas.store.run_dir") == "store/"
    assert module_graph.room_of("kgan_nas.config") == "config.py"
    assert module_graph.room_of("kgan_nas.core", packages={"kgan_nas.core"}) == "core/"
    assert module_graph.room_of("kgan_nas") == "__init__.py"


def _fake_package(tmp_path, files):
    package = tmp_path / "kgan_nas"
    for name, text in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    return package


def test_the_module_graph_resolves_relative_and_lazy_imports(tmp_path):
    module_graph = _module_graph()
    package = _fake_package(
        tmp_path,
        {
            "__init__.py": (
                '_LAZY = {"Thing": ("kgan_nas.low", "Thing")}\n'
                '_SUBMODULES = {"short": "kgan_nas.sub.other"}\n'
            ),
            "low.py": "Thing = 1\n",
            "top.py": "def f():\n    from kgan_nas import Thing\n    from kgan_nas import short\n",
            "sub/__init__.py": "from . import inner\nfrom .. import low\n",
            "sub/inner.py": "from .. import top\nfrom ..low import Thing\nfrom . import other\n",
            "sub/other.py": "import kgan_nas.low\n",
        },
    )
    graph = module_graph.import_graph(package)
    assert graph["kgan_nas"] == set()
    # through the lazy tables: `_LAZY`'s names and `_SUBMODULES`' short module names
    assert graph["kgan_nas.top"] == {"kgan_nas.low", "kgan_nas.sub.other"}
    assert graph["kgan_nas.sub"] == {"kgan_nas.sub.inner", "kgan_nas.low"}
    assert graph["kgan_nas.sub.inner"] == {"kgan_nas.top", "kgan_nas.low", "kgan_nas.sub.other"}
    assert graph["kgan_nas.sub.other"] == {"kgan_nas.low"}
    assert module_graph.rooms(graph)["sub/"] == {"top.py", "low.py"}
    assert module_graph.lines_of(package)["sub/"] == 6
    assert ("kgan_nas.top", "kgan_nas.sub.other", package / "top.py", 3) in (
        module_graph.import_edges(package)
    )


def test_the_module_graph_finds_upward_imports_and_unplaced_rooms(tmp_path):
    module_graph = _module_graph()
    package = _fake_package(
        tmp_path,
        {
            "__init__.py": "",
            "low.py": "def f():\n    from kgan_nas.high import thing\n",
            "high/__init__.py": "from kgan_nas import low\n",
            "high/thing.py": "from . import other\n",  # within one room: never upward
            "high/other.py": "",
            "extra.py": "import kgan_nas.high\n",
        },
    )
    layers = (("__init__.py", "low.py"), ("high/", "gone/"))
    assert module_graph.upward_imports(package, layers) == [
        "kgan_nas/low.py:2: kgan_nas.low (low.py, floor 0) imports "
        "kgan_nas.high.thing (high/, floor 1)"
    ]
    assert module_graph.layout_problems(package, layers) == [
        "LAYERS names gone/, which is no module or package",
        "extra.py is on no floor: add it to LAYERS in docs/module_graph.py",
    ]
    assert module_graph.circles(module_graph.rooms(module_graph.import_graph(package))) == [
        ["high/", "low.py"]
    ]
