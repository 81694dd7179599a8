"""The main job end to end: simulate, train, evaluate, predict, analyse, sample, report.

Every step is a real ``glassdyn`` command run as a subprocess, so the report can list the
exact commands; a step whose outputs exist from an earlier run with the same command is
skipped (the simulation and the trainings also resume inside themselves).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from glassdyn.data.errors import GlassdynError


@dataclass(frozen=True)
class DemoConfig:
    """What the demo runs; ``preset`` picks the dataset and the training lengths."""

    out: Path = Path("out/demo")
    preset: str = "tiny"
    workers: int = 2
    seed: int = 0
    epochs: int | None = None  # None: the preset's default
    gen_epochs: int | None = None


@dataclass(frozen=True)
class _Size:
    """Per demo preset: simulation overrides, training epochs, generative-fit wall-time cap."""

    simulate: tuple[str, ...]
    epochs: int
    gen_epochs: int
    gen_minutes: float
    gen_samples: int  # samples per T for `gen evaluate` (baselines: scripts/bench_gen.py)
    gen_sampler: tuple[str, ...] = ()  # correction settings of `gen sample` / `gen evaluate`
    gen_fit: tuple[str, ...] = ()  # settings of `gen fit` (the cnf transport from the highest T)
    train: tuple[str, ...] = ()  # split settings of `train` (the same for every model)


# tiny: 16 configurations per T x R=8 replicas x 8 times, so that chi4 (a variance over 128
# configuration-replica samples, ~15% relative error) shows its growth on cooling, and a test
# split of 5 configurations per T (--test-fraction 0.3: 9 train / 2 validation / 5 test) gives
# every Pearson an error bar; the simulate preset alone has 3 configurations, R=4, K=6
_SIZES = {
    # sampling: the cnf transport to T=0.64 from a base bridged at 0.72 (MD equilibrated from
    # the store's 0.8, which is too far at N=256), corrected by population annealing with 32
    # configurations carried down; evaluated against 2 x 8 held-out MD configurations
    "tiny": _Size(
        ("--configs", "16", "--replicas", "8", "--n-times", "8"),
        train=("--test-fraction", "0.3"),
        epochs=20,
        gen_epochs=60,
        gen_minutes=2.0,
        gen_samples=8,
        gen_sampler=("--population", "32"),
        gen_fit=("--base-configs", "32", "--batch-size", "8"),
    ),
    "small": _Size((), epochs=60, gen_epochs=200, gen_minutes=10.0, gen_samples=128),
    # ci: every step on the `ci` simulation preset (N=256, T=1.0/0.8, too short to equilibrate),
    # a couple of epochs each: checks the plumbing in minutes (1m40s of CPU), no physics
    "ci": _Size(
        ("--configs", "5"),
        epochs=2,
        gen_epochs=1,
        gen_minutes=0.2,
        gen_samples=2,
        gen_sampler=("--population", "4", "--sweeps", "1", "--refine-sweeps", "1"),
        gen_fit=("--base-configs", "4", "--batch-size", "4"),
    ),
}


@dataclass(frozen=True)
class Step:
    """One ``glassdyn`` command; ``stdout`` captures its output (JSON reports) into a file."""

    name: str
    argv: tuple[str, ...]
    outputs: tuple[Path, ...]
    stdout: Path | None = None
    optional: bool = False  # a failure is reported, the demo goes on

    @property
    def command(self) -> str:
        line = "glassdyn " + " ".join(shlex.quote(a) for a in self.argv)
        return line + (f" > {shlex.quote(str(self.stdout))}" if self.stdout else "")


def plan(cfg: DemoConfig) -> list[Step]:
    """The steps of the demo, in order."""
    if cfg.preset not in _SIZES:
        raise GlassdynError(
            f"unknown demo preset {cfg.preset!r}; choose one of {', '.join(_SIZES)}"
        )
    out = Path(cfg.out)
    size = _SIZES[cfg.preset]
    ep = cfg.epochs or size.epochs
    gen_ep = cfg.gen_epochs or size.gen_epochs
    store, runs, gen = out / "data.zarr", out / "runs", out / "runs" / "gen"
    seed = ("--seed", str(cfg.seed))
    # one command per line: the table of what the demo runs
    # fmt: off
    steps = [
        Step("simulate", ("simulate", "--preset", cfg.preset, *size.simulate, "--out", str(store),
                          "--workers", str(cfg.workers), "--no-progress", *seed), (store,)),
        Step("info", ("info", str(store), "--json"), (out / "info.json",),
             stdout=out / "info.json"),
    ]
    for model in ("botan", "tbotan", "bapst", "ridge"):
        run = runs / model
        steps += [
            Step(f"train-{model}", ("train", "--data", str(store), "--model", model, "--out",
                                    str(run), "--epochs", str(ep), *size.train, "--no-progress", *seed),
                 (run,)),
            Step(f"evaluate-{model}", ("evaluate", str(run), "--data", str(store), "--json"),
                 (run / "evaluation.json",), stdout=run / "evaluation.json"),
        ]
    preds = out / "predictions_botan.zarr"
    steps += [
        Step("predict", ("predict", str(runs / "botan"), "--data", str(store), "--out",
                         str(preds), "--overwrite"), (preds,)),
        Step("analyze", ("analyze", str(store), "--out", str(out / "analysis"), "--predictions",
                         str(preds), "--overwrite"), (out / "analysis" / "heterogeneity.json",)),
        Step("gen-fit", ("gen", "fit", "--data", str(store), "--model", "cnf", "--out",
                         str(gen), "--epochs", str(gen_ep), "--max-minutes",
                         f"{size.gen_minutes:g}", *size.gen_fit, "--no-progress", *seed), (gen,),
             optional=True),
        Step("gen-sample", ("gen", "sample", str(gen), "--n", str(size.gen_samples),
                            "--temperature", "__TLOW__", "--out", str(out / "samples.extxyz"),
                            "--overwrite", *size.gen_sampler), (out / "samples.extxyz",),
             optional=True),
        Step("gen-evaluate", ("gen", "evaluate", str(gen), "--data", str(store), "--n",
                              str(size.gen_samples), "--n-quench", "1", "--no-baselines",
                              *size.gen_sampler, "--json"), (gen / "evaluation.json",),
             stdout=gen / "evaluation.json", optional=True),
    ]
    # fmt: on
    return steps


@dataclass
class StepResult:
    name: str
    command: str
    status: str  # "ran", "reused", "failed"
    seconds: float
    error: str = ""


@dataclass
class DemoRun:
    config: DemoConfig
    results: list[StepResult] = field(default_factory=list)


def _marker(out: Path, step: Step) -> Path:
    return out / ".steps" / f"{step.name}.json"


def _is_done(out: Path, step: Step) -> bool:
    m = _marker(out, step)
    if not m.exists() or not all(p.exists() for p in step.outputs):
        return False
    return json.loads(m.read_text()).get("command") == step.command


def _lowest_temperature(store: Path) -> str:
    from glassdyn.data.store import Store

    return f"{min(Store.open(store).temperatures):g}"


def run_step(out: Path, step: Step, store: Path) -> StepResult:
    argv = list(step.argv)
    if "__TLOW__" in argv:
        argv[argv.index("__TLOW__")] = _lowest_temperature(store)
        step = Step(step.name, tuple(argv), step.outputs, step.stdout, step.optional)
    if _is_done(out, step):
        prev = json.loads(_marker(out, step).read_text())
        return StepResult(step.name, step.command, "reused", float(prev.get("seconds", 0.0)))
    print(f"\n[demo] {step.command}", flush=True)
    t0 = time.perf_counter()
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "glassdyn.cli", *argv]
    if step.stdout is not None:
        step.stdout.parent.mkdir(parents=True, exist_ok=True)
        tmp = step.stdout.with_suffix(".partial")
        with open(tmp, "w") as fh:
            proc = subprocess.run(cmd, stdout=fh, env=env)
        if proc.returncode == 0:
            tmp.replace(step.stdout)
    else:
        proc = subprocess.run(cmd, env=env)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        return StepResult(step.name, step.command, "failed", dt, f"exit code {proc.returncode}")
    m = _marker(out, step)
    m.parent.mkdir(parents=True, exist_ok=True)
    m.write_text(json.dumps({"command": step.command, "seconds": dt}))
    return StepResult(step.name, step.command, "ran", dt)


def run_demo(cfg: DemoConfig) -> DemoRun:
    """Run every step (reusing finished ones), then write report.html and summary.json.

    ``cfg.out`` is a new folder or a demo folder (:mod:`glassdyn.data.outputs`); the demo's
    own steps replace what they wrote before (``--overwrite``), never anything else."""
    from glassdyn.data import outputs
    from glassdyn.report import write_report

    out = Path(cfg.out)
    outputs.check_output(out, outputs.DEMO)
    (out / outputs.DEMO_MARKER).mkdir(parents=True, exist_ok=True)  # marks the folder as a demo's
    run = DemoRun(cfg)
    steps = plan(cfg)
    store = out / "data.zarr"
    for step in steps:
        res = run_step(out, step, store)
        run.results.append(res)
        if res.status == "failed":
            if step.optional:
                print(f"[demo] step {step.name} failed ({res.error}); continuing", file=sys.stderr)
                continue
            write_report(run)
            raise GlassdynError(
                f"demo step {step.name!r} failed ({res.error}): {res.command}; fix it and rerun the demo to continue"
            )
    write_report(run)
    return run
