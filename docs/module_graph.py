"""The modules of kgan_nas and their imports: a graph, its circles, its floors, its picture.

Read from the source as text (`ast`), so nothing of the package is run:
every `import` statement of a kgan_nas module counts, a lazy one inside a
function as much as one at the top of a file, because either way the
importing module depends on the imported one. `from kgan_nas import Name`
counts as an import of the module that the package's lazy table (`_LAZY`
in `kgan_nas/__init__.py`) loads `Name` from. Imports made by calling
`importlib.import_module` are not seen (the package's `__init__` makes its
lazy ones so; it is the public facade and imports nothing itself).
`tests/test_architecture.py` checks with it that no modules import each
other in a circle (the house rule in `docs/architecture.md`); run as a
script, it draws the picture there:

    python docs/module_graph.py            # writes docs/img/architecture.png

A room of the picture is a top-level module or a subpackage (its files
together), its width grows with its lines, an arrow is an import, and a
room stands on a higher floor than every room it imports.
"""

import ast
import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = "kgan_nas"


def module_files(package_dir):
    """`{dotted module name: path}` for every `.py` file under `package_dir`."""
    package_dir = pathlib.Path(package_dir)
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _lazy_names(package_dir):
    """The package's lazy table: `{name: module}` from `_LAZY` in its `__init__.py`."""
    init = pathlib.Path(package_dir) / "__init__.py"
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "_LAZY" for target in node.targets
        ):
            return {name: module for name, (module, _) in ast.literal_eval(node.value).items()}
    return {}


def _imported_names(tree, module, is_package, modules, lazy):
    """Every dotted name `tree` imports, relative imports made absolute."""
    base = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - node.level + 1]
                stem = ".".join(anchor + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            # `from kgan_nas import metrics` depends on the module `kgan_nas.metrics`
            # (Python runs the package's `__init__` on the way, as for any
            # submodule, which is no dependency of the importer's own).
            for alias in node.names:
                submodule = f"{stem}.{alias.name}"
                if submodule in modules:
                    yield submodule
                elif stem == PACKAGE and alias.name in lazy:
                    yield lazy[alias.name]
                else:
                    yield stem


def import_graph(package_dir):
    """`{module: set of kgan_nas modules it imports}`, over every file of the package.

    Args:
        package_dir: The package's folder (holding `__init__.py`).

    Returns:
        A dict from each dotted module name to the names of the package's
        modules it imports (itself left out).
    """
    modules = module_files(package_dir)
    lazy = _lazy_names(package_dir)
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        graph[name] = {
            imported
            for imported in _imported_names(tree, name, is_package, modules, lazy)
            if imported in modules and imported != name
        }
    return graph


def circles(graph, ignore=()):
    """The groups of modules that import each other in a circle (Tarjan's SCC).

    Args:
        graph: From `import_graph` (or `rooms`).
        ignore: Edges `(importer, imported)` left out, e.g. a package's
            `__init__` re-exporting its own modules.

    Returns:
        A sorted list of sorted lists, one per circle of two or more modules.
    """
    ignore = set(ignore)
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        # Iterative, so a long chain of imports cannot overflow Python's stack.
        work = [(node, iter(sorted(graph.get(node, ()))))]
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        while work:
            current, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[current])
                if low[current] == index[current]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == current:
                            break
                    if len(group) > 1:
                        found.append(sorted(group))
                continue
            if (current, child) in ignore:
                continue
            if child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[current] = min(low[current], index[child])

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def room_of(module, packages=()):
    """A module's room: `kgan_nas.training.gan` -> `training/`, `kgan_nas.run` -> `run.py`.

    Args:
        module: A dotted module name.
        packages: The dotted names that are packages (folders), so that a
            subpackage's own `__init__` belongs to its folder's room.
    """
    parts = module.split(".")
    if len(parts) == 1:
        return "__init__.py"
    return parts[1] + ("/" if len(parts) > 2 or module in packages else ".py")


def rooms(graph):
    """The graph with each module replaced by its room (`room_of`), self-imports dropped."""
    packages = {name for name in graph if any(other.startswith(name + ".") for other in graph)}
    merged = {}
    for module, imported in graph.items():
        room = room_of(module, packages)
        merged.setdefault(room, set()).update(room_of(other, packages) for other in imported)
    return {room: targets - {room} for room, targets in merged.items()}


def floors(graph):
    """Each node's floor: 0 when it imports nothing, else one above the highest it imports.

    Raises:
        ValueError: if the graph has a circle (then no floors exist).
    """
    floor = {}

    def height(node, path=()):
        if node in floor:
            return floor[node]
        if node in path:
            raise ValueError(f"import circle through {node}")
        below = [height(other, path + (node,)) for other in graph.get(node, ())]
        floor[node] = 1 + max(below) if below else 0
        return floor[node]

    for node in graph:
        height(node)
    return floor


def reduction(graph):
    """The graph without the arrows that a longer way already implies.

    `a -> c` is left out when `a` reaches `c` through another room it
    imports: the picture keeps only the imports that say something new.
    """

    def reach(node, seen):
        for other in graph.get(node, ()):
            if other not in seen:
                seen.add(other)
                reach(other, seen)
        return seen

    reduced = {}
    for node, targets in graph.items():
        through = set()
        for other in targets:
            through |= reach(other, set())
        reduced[node] = {other for other in targets if other not in through}
    return reduced


def lines_of(package_dir):
    """`{room: lines of code}`: each room's files' lines together."""
    counts = {}
    files = module_files(package_dir)
    packages = {
        path.parent.relative_to(pathlib.Path(package_dir).parent) for path in files.values()
    }
    packages = {".".join(folder.parts) for folder in packages}
    for module, path in files.items():
        room = room_of(module, packages)
        with open(path, encoding="utf-8") as stream:
            counts[room] = counts.get(room, 0) + sum(1 for _ in stream)
    return counts


def draw(package_dir, path):
    """Draws the rooms on their floors with their imports as arrows; writes a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch
    from matplotlib.patches import Rectangle

    # The package's `__init__.py` is its public facade (lazy names, no imports
    # of its own): a room that says nothing about the layering.
    graph = {
        room: {other for other in targets if other != "__init__.py"}
        for room, targets in rooms(import_graph(package_dir)).items()
        if room != "__init__.py"
    }
    floor = floors(graph)
    drawn = reduction(graph)
    size = lines_of(package_dir)
    levels = {}
    for room, level in floor.items():
        levels.setdefault(level, []).append(room)
    width = max(len(row) for row in levels.values())
    figure, axes = plt.subplots(figsize=(max(12, 1.3 * width), 1.2 * (len(levels) + 1)))
    centre = {}
    largest = max(size.values())
    for level in sorted(levels):
        row = levels[level]

        def below(room):
            # Under the rooms it imports, to keep arrows short and uncrossed.
            xs = [centre[other][0] for other in drawn[room] if other in centre]
            return (sum(xs) / len(xs) if xs else width / 2, -size[room], room)

        row.sort(key=below)
        spacing = width / len(row)
        for column, room in enumerate(row):
            x = (column + 0.5) * spacing
            box_width = min(0.9 * spacing, 0.45 + 0.9 * (size[room] / largest) ** 0.5)
            centre[room] = (x, level)
            axes.add_patch(
                Rectangle(
                    (x - box_width / 2, level - 0.22),
                    box_width,
                    0.44,
                    facecolor="#dbe6f3" if room.endswith("/") else "#eef2f7",
                    edgecolor="#4a5a6a",
                )
            )
            axes.text(x, level + 0.05, room, ha="center", va="center", fontsize=8, weight="bold")
            axes.text(x, level - 0.12, f"{size[room]} lines", ha="center", fontsize=6)
    for room, targets in drawn.items():
        for other in targets:
            (x0, y0), (x1, y1) = centre[room], centre[other]
            axes.add_patch(
                FancyArrowPatch(
                    (x0, y0 - 0.22),
                    (x1, y1 + 0.22),
                    arrowstyle="-|>",
                    mutation_scale=6,
                    color="#5a6876",
                    alpha=0.5,
                    linewidth=0.6,
                )
            )
    axes.set_xlim(-0.5, width + 0.5)
    axes.set_ylim(-0.6, len(levels) - 0.4)
    axes.axis("off")
    axes.set_title(
        f"kgan_nas: {len(graph)} modules and packages on {len(levels)} floors; "
        f"{sum(len(t) for t in drawn.values())} of their "
        f"{sum(len(t) for t in graph.values())} imports drawn (an arrow points to what "
        "is imported; one that a longer way implies is left out; width grows with lines)",
        fontsize=10,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    output = argv[0] if argv else os.path.join(ROOT, "docs", "img", "architecture.png")
    package_dir = ROOT / PACKAGE
    graph = import_graph(package_dir)
    found = circles(graph) or circles(rooms(graph))
    if found:
        raise SystemExit(f"import circles: {found}")
    print(f"wrote {os.path.relpath(draw(package_dir, output))}")


if __name__ == "__main__":
    main()
