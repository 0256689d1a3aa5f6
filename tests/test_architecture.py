"""The house rules of docs/architecture.md, checked against the code.

- The search logic (genomes, space, strategies, the loop, results, config,
  the run directory, the CLI's argument handling) imports no Keras or
  TensorFlow.
- Only `kgan_nas.executors` starts Python worker processes.
- No modules import each other in a circle (`docs/module_graph.py` reads
  every import statement, lazy ones too).
- No module is over 600 lines and no function body over 80 lines. A body is
  counted from its first statement after the docstring: a signature that
  the formatter puts one argument per line, and a docstring documenting
  them, add no logic (`kgan_nas.search` has 27 documented arguments).
"""

import ast
import pathlib
import subprocess
import sys

import pytest

import kgan_nas

PACKAGE_DIR = pathlib.Path(kgan_nas.__file__).parent
PURE_MODULES = (
    "kgan_nas.genome",
    "kgan_nas.conditioning",
    "kgan_nas.recipe",
    "kgan_nas.conditional_search",
    "kgan_nas.conditional_scoring",
    "kgan_nas.class_labels",
    "kgan_nas.signals",
    "kgan_nas.space",
    "kgan_nas.repair",
    "kgan_nas.plan",
    "kgan_nas.operators",
    "kgan_nas.strategies",
    "kgan_nas.fitness",
    "kgan_nas.objectives",
    "kgan_nas.config",
    "kgan_nas.validate",
    "kgan_nas.cache",
    "kgan_nas.errors",
    "kgan_nas.run",
    "kgan_nas.candidate_files",
    "kgan_nas.run_options",
    "kgan_nas.lock",
    "kgan_nas.results",
    "kgan_nas.final",
    "kgan_nas.final_summary",
    "kgan_nas.protocol",
    "kgan_nas.search_loop",
    "kgan_nas.fidelity",
    "kgan_nas.hooks",
    "kgan_nas.search_api",
    "kgan_nas.cli",
    "kgan_nas.cli_parser",
    "kgan_nas.report.numbers",
    "kgan_nas.executors",
)


def test_search_logic_imports_no_keras_or_tensorflow():
    code = (
        f"import importlib, sys\nfor name in {PURE_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in ('keras', 'tensorflow', 'jax') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


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


def _module_graph():
    sys.path.insert(0, str(PACKAGE_DIR.parent / "docs"))
    try:
        import module_graph
    finally:
        sys.path.pop(0)
    return module_graph


def test_no_modules_import_each_other_in_a_circle():
    module_graph = _module_graph()
    graph = module_graph.import_graph(PACKAGE_DIR)
    # The reader sees lazy imports: a few known edges.
    assert "kgan_nas.training" in graph["kgan_nas.decode"]  # inside a function
    assert "kgan_nas.report.numbers" in graph["kgan_nas.report.page"]
    assert module_graph.circles(graph) == []
    assert module_graph.circles(module_graph.rooms(graph)) == []


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
    assert module_graph.room_of("kgan_nas.run") == "run.py"


def test_the_module_graph_resolves_relative_and_lazy_imports(tmp_path):
    module_graph = _module_graph()
    package = tmp_path / "kgan_nas"
    (package / "sub").mkdir(parents=True)
    files = {
        "__init__.py": '_LAZY = {"Thing": ("kgan_nas.low", "Thing")}\n',
        "low.py": "Thing = 1\n",
        "top.py": "def f():\n    from kgan_nas import Thing\n",
        "sub/__init__.py": "from . import inner\nfrom .. import low\n",
        "sub/inner.py": "from .. import top\nfrom ..low import Thing\nfrom . import other\n",
        "sub/other.py": "import kgan_nas.low\n",
    }
    for name, text in files.items():
        (package / name).write_text(text)
    graph = module_graph.import_graph(package)
    assert graph["kgan_nas"] == set()
    assert graph["kgan_nas.top"] == {"kgan_nas.low"}  # through the lazy table
    assert graph["kgan_nas.sub"] == {"kgan_nas.sub.inner", "kgan_nas.low"}
    assert graph["kgan_nas.sub.inner"] == {"kgan_nas.top", "kgan_nas.low", "kgan_nas.sub.other"}
    assert graph["kgan_nas.sub.other"] == {"kgan_nas.low"}
    assert module_graph.rooms(graph)["sub/"] == {"top.py", "low.py"}
    assert module_graph.lines_of(package)["sub/"] == 6
