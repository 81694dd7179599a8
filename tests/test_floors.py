"""The floors of DESIGN.md: light imports, imports that point down only, and no import cycle.

Every import statement counts, those inside functions (lazy imports) and under ``TYPE_CHECKING``
included: a lazy import that points up, or closes a loop, is the same tangle, only deferred."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGES = {"data", "simulate", "analysis", "gen", "predict", "nn"}
# folder -> (import name, the glassdyn subpackages it may import)
FLOORS = {
    "data": ("glassdyn.data", {"glassdyn.data"}),
    "simulate": ("glassdyn.simulate", {"glassdyn.data", "glassdyn.simulate"}),
    "analysis": ("glassdyn.analysis", {"glassdyn.data", "glassdyn.analysis"}),
    "gen": (
        "glassdyn.gen",
        {"glassdyn.data", "glassdyn.simulate", "glassdyn.analysis", "glassdyn.gen"},
    ),
    # the top floor: the models first, then the predictor stage that trains and applies them
    "glassdyn/nn": (
        "glassdyn.nn",
        {"glassdyn.data", "glassdyn.simulate", "glassdyn.analysis", "glassdyn.nn"},
    ),
    "predict": (
        "glassdyn.predict",
        {
            "glassdyn.data",
            "glassdyn.simulate",
            "glassdyn.analysis",
            "glassdyn.gen",
            "glassdyn.nn",
            "glassdyn.predict",
        },
    ),
}
# the package folders and their import names (setup.cfg's package_dir)
PACKAGES = {
    "glassdyn": "glassdyn",
    "glassdyn/commands": "glassdyn.commands",
    "glassdyn/nn": "glassdyn.nn",
    "data": "glassdyn.data",
    "simulate": "glassdyn.simulate",
    "analysis": "glassdyn.analysis",
    "gen": "glassdyn.gen",
    "predict": "glassdyn.predict",
}


def _modules() -> dict[str, Path]:
    """Import name -> file of every module of the package."""
    out = {}
    for folder, name in PACKAGES.items():
        for path in sorted((ROOT / folder).glob("*.py")):
            out[name if path.stem == "__init__" else f"{name}.{path.stem}"] = path
    return out


def _glassdyn_imports(path: Path, modules=None) -> set[str]:
    """The glassdyn modules ``path`` imports (``from pkg import mod`` names the module ``mod``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                names.add(sub if modules is not None and sub in modules else node.module)
    return {n for n in names if n == "glassdyn" or n.startswith("glassdyn.")}


def test_setup_cfg_maps_every_package_folder():
    cfg = (ROOT / "setup.cfg").read_text()
    for folder, name in PACKAGES.items():
        assert f"{name} = {folder}" in cfg, f"setup.cfg lacks `{name} = {folder}`"


@pytest.mark.parametrize("folder", sorted(FLOORS))
def test_imports_point_down(folder):
    _, allowed = FLOORS[folder]
    for path in sorted((ROOT / folder).glob("*.py")):
        for name in _glassdyn_imports(path):
            parts = name.split(".")
            if name == "glassdyn" or parts[1] not in STAGES:
                # the light root (version) is fine; the top floor's modules (commands, test
                # helpers, demo, report) are not
                assert name == "glassdyn", f"{path.relative_to(ROOT)} imports {name}"
                continue
            top = ".".join(parts[:2])
            assert top in allowed, f"{path.relative_to(ROOT)} imports {name}, above its floor"


def test_only_the_command_line_imports_the_commands():
    for name, path in _modules().items():
        if name.startswith("glassdyn.commands") or name == "glassdyn.cli":
            continue
        bad = [
            n
            for n in _glassdyn_imports(path)
            if n.startswith(("glassdyn.commands", "glassdyn.cli"))
        ]
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}: commands only parse and call"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module, or a self-import (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_anywhere():
    modules = _modules()
    graph = {
        name: {n for n in _glassdyn_imports(path, modules) if n in modules and n != name}
        for name, path in modules.items()
    }
    # a package's __init__ that imports its own modules is Python's package pattern, not a loop
    graph = {name: {n for n in g if not name.startswith(n + ".")} for name, g in graph.items()}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_lazy_loop():
    """The check above can fail: a loop through a lazy import is found."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_data_pulls_neither_torch_nor_lammps():
    code = (
        "import sys, glassdyn.data, glassdyn.data.store, glassdyn.data.neighbors, glassdyn.data.graph,"
        " glassdyn.data.run_engine;"
        "bad=[m for m in ('torch','lammps') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
