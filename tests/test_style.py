"""The tree stays formatted: `ruff format` (pinned in the test extra; line length 100 in
pyproject.toml) would change no file."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_tree_is_ruff_formatted():
    beside = Path(sys.executable).parent / "ruff"  # the venv's, when it is not on PATH
    ruff = str(beside) if beside.exists() else shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]')")
    out = subprocess.run(
        [ruff, "format", "--check", "."], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, "run `ruff format .`:\n" + out.stdout + out.stderr
