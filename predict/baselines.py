"""Descriptor baselines: ridge (``--model ridge``) and a GlassMLP-like MLP (``--model mlp``) on the
coarse-grained descriptors of :mod:`glassdyn.nn.descriptors`.

Both standardise the descriptors with the training particles' mean and std.  Ridge: one linear
model per species (A, B) and time, its strength chosen by leave-one-configuration-out
cross-validation over the training *and* validation configurations (all the non-test data;
:mod:`glassdyn.predict.ridge_cv`).  MLP: one network for both species (one-hot type input) and all
times, trained on the training configurations; epoch and hyper-parameters (:data:`~glassdyn.predict.mlp.GRID`)
chosen on the validation configurations (:mod:`glassdyn.predict.mlp`).  The test configurations are
never read here.

The families follow ``--input`` (:meth:`DescriptorSpec.for_structures`: the thermal structure's
always, plus those of the inherent structure and of the cage state when the input names them);
every configuration of the split must have what the input reads.  ``--input auto`` is decided
in :func:`glassdyn.predict.training.resolve_inputs`; with cage states it is :func:`choose_input`,
a ridge scored leave-one-configuration-out over the training and validation configurations
(never the test ones).

A run directory holds ``baseline.npz`` (arrays and, as JSON, the descriptor spec and settings),
``baseline.json`` (what was chosen and how it scored) and ``descriptors/`` (the cache).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from glassdyn.data import keys
from glassdyn.data.errors import InputError
from glassdyn.data.runs import atomic_write
from glassdyn.data.store import StatePoint, Store

from glassdyn.nn.descriptors import (
    DescriptorCache,
    DescriptorSpec,
    descriptor_names,
    family_subset,
    input_structures,
)

KINDS = ("ridge", "mlp")
MODEL_FILE = "baseline.npz"
REPORT_FILE = "baseline.json"


@dataclass
class Sample:
    """One configuration: descriptors X (N, F), types (N,), propensity y (N, K) or None."""

    X: np.ndarray
    types: np.ndarray
    y: np.ndarray | None
    temperature: float
    config: int


def load_sample(
    sp: StatePoint, c: int, spec: DescriptorSpec, cache: DescriptorCache, times: list[int] | None
) -> Sample:
    """Descriptors (cached) and, with ``times`` (indices), the propensity of configuration ``c``."""
    y = None
    if times is not None:
        y = np.asarray(sp.read(keys.ISO_PROPENSITY, c), dtype=np.float64)[times].T  # (N, K)
    return Sample(cache.get(sp, c, spec), sp.read(keys.TYPES, c), y, sp.temperature, int(c))


def _count(store: Store, split: dict, flag: str) -> tuple[int, int]:
    """How many configurations of ``split`` have an inherent structure / a cage state."""
    have, total = 0, 0
    for T, s in split.items():
        sp = store.state(float(T))
        ok = sp.inherent_done if flag == "is" else sp.cage_done
        configs = [c for part in ("train", "val", "test") for c in s.get(part, [])]
        have += int(ok[configs].sum())
        total += len(configs)
    return have, total


def choose_spec(
    store: Store, split: dict, spec: DescriptorSpec = DescriptorSpec(), input: str | None = None
) -> DescriptorSpec:
    """The descriptors of ``input`` (:meth:`DescriptorSpec.for_structures`), refused unless every
    configuration of ``split`` has the structures it reads.  ``input=None`` (runs made before
    ``--input`` applied to the baselines): ``spec`` with the IS families when every
    configuration has an inherent structure, without them when none has."""
    if input is not None:
        structures = input_structures(input)
        fix = {"is": "glassdyn quench", "cage": "glassdyn cage"}
        for s in ("is", "cage"):
            if s in structures:
                have, total = _count(store, split, s)
                if have < total:
                    what = "inherent structures" if s == "is" else "cage states"
                    raise InputError(
                        f"--input {input} needs {what} for every configuration; store "
                        f"{store.path} has {have} of the {total} of this run: run "
                        f"`{fix[s]} {store.path}` first"
                    )
        return spec if structures in (("is",), ("ts", "is")) else spec.for_structures(structures)
    have, total = _count(store, split, "is")
    if have == total:
        return spec
    if have == 0:
        return spec.without_inherent()
    raise InputError(
        f"store {store.path} has inherent structures for {have} of the {total} configurations of "
        f"this run; run `glassdyn quench {store.path}` to add the others (descriptors must not mix)"
    )


def choose_input(
    store: Store,
    split: dict,
    candidates: list[str],
    *,
    cg_lengths=None,
    times: tuple[int, ...] | None = None,
) -> tuple[str, dict]:
    """The candidate input whose descriptors give the best ridge on data held out from its fit,
    among the training and validation configurations of ``split`` (never the test ones):
    leave-one-configuration-out, as the ridge chooses its strength
    (:func:`glassdyn.predict.ridge_cv.fit_ridge_loo`), scored by the held-out node Pearson on A
    particles at the best strength, averaged over the times (``times``: indices, None = all).
    With one validation file (a 10% split of ten) its score alone picks by chance; every
    non-test file held out in turn does not.  Returns the choice and a record of the scores."""
    base = DescriptorSpec() if cg_lengths is None else DescriptorSpec(cg_lengths=cg_lengths)
    structures = sorted({s for c in candidates for s in input_structures(c)})
    full = base.for_structures(structures)
    cache = DescriptorCache()
    fit_on = []
    for T, s in split.items():
        if s.get("held_out"):
            continue
        sp = store.state(float(T))
        idx = list(range(len(sp.times))) if times is None else list(times)
        fit_on += [load_sample(sp, c, full, cache, idx) for c in s["train"] + s.get("val", [])]
    if len(fit_on) < 2:
        return candidates[0], {
            "chosen": candidates[0],
            "why": "fewer than two non-test configurations: the first candidate, untested",
        }
    scores = {}
    for cand in candidates:
        spec = choose_spec(store, split, base, cand)
        cols = family_subset(full, spec.families)
        model = fit_ridge(
            [Sample(x.X[:, cols], x.types, x.y, x.temperature, x.config) for x in fit_on], spec
        )
        cv = np.asarray(model.meta["cv"]["A"]["cv_pearson"], dtype=float)  # (alphas, K)
        scores[cand] = float(np.nanmean(np.nanmax(cv, axis=0)))
    chosen = max(candidates, key=lambda c: scores[c])
    return chosen, {
        "chosen": chosen,
        "loo_pearson_A": scores,
        "how": "ridge per candidate on the training and validation configurations, each held out "
        "in turn (leave-one-configuration-out): mean held-out node Pearson on A particles at the "
        "best ridge strength, over the times; test configurations never read",
        "n_configs": len(fit_on),
    }


class DescriptorModel:
    """A fitted ridge or MLP baseline: ``predict(X (N, F), types (N,)) -> (N, K)`` in LJ units."""

    def __init__(
        self,
        kind: str,
        spec: DescriptorSpec,
        mean: np.ndarray,
        std: np.ndarray,
        params: dict,
        meta: dict,
    ):
        self.kind, self.spec, self.mean, self.std = kind, spec, mean, std
        self.params, self.meta = params, meta
        self._mlp = None

    @property
    def n_outputs(self) -> int:
        return int(self.meta["n_outputs"])

    @property
    def inherent(self) -> bool:
        return self.spec.inherent

    def standardise(self, X: np.ndarray) -> np.ndarray:
        if X.shape[1] != len(self.mean):
            raise InputError(
                f"{self.kind} model expects {len(self.mean)} descriptors, got {X.shape[1]}"
            )
        return (X - self.mean) / self.std

    def predict(self, X: np.ndarray, types: np.ndarray) -> np.ndarray:
        Z = self.standardise(X)
        t = np.asarray(types, dtype=np.int64)
        if self.kind == "ridge":
            W, b = self.params["weights"], self.params["intercept"]  # (S, F, K), (S, K)
            return np.einsum("nf,nfk->nk", Z, W[t]) + b[t]
        import torch
        from glassdyn.predict.mlp import inputs

        with torch.no_grad():
            out = self._network()(inputs(Z, t)).numpy().astype(np.float64)
        return out * self.params["target_std"] + self.params["target_mean"]

    def _network(self):
        if self._mlp is None:
            import torch
            from glassdyn.predict.mlp import DescriptorMLP

            s = self.meta["mlp"]
            net = DescriptorMLP(
                len(self.mean) + 2, self.n_outputs, tuple(s["hidden"]), s["dropout"]
            )
            state = {
                k[4:]: torch.from_numpy(v) for k, v in self.params.items() if k.startswith("mlp.")
            }
            net.load_state_dict(state)
            self._mlp = net.eval()
        return self._mlp

    def save(self, directory: str | os.PathLike) -> Path:
        path = Path(directory) / MODEL_FILE
        meta = {**self.meta, "kind": self.kind, "spec": self.spec.to_dict()}
        arrays = {
            "mean": self.mean,
            "std": self.std,
            "meta": np.array(json.dumps(meta)),
            **self.params,
        }

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:  # a file object: numpy adds no suffix to the name
                np.savez(fh, **arrays)

        return atomic_write(path, write)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> DescriptorModel:
        d = Path(directory)
        path = d / MODEL_FILE
        if not path.exists():
            if (d / "ridge.npz").exists():
                raise InputError(
                    f"{d} holds a ridge model of an earlier glassdyn (other descriptors); retrain it "
                    f"with `glassdyn train --model ridge --out {d}` in a new directory"
                )
            raise InputError(
                f"no baseline model in {d}; train one with `glassdyn train --model ridge|mlp`"
            )
        with np.load(path) as z:
            meta = json.loads(str(z["meta"]))
            params = {k: z[k] for k in z.files if k not in ("mean", "std", "meta")}
            mean, std = z["mean"], z["std"]
        return cls(meta["kind"], DescriptorSpec.from_dict(meta["spec"]), mean, std, params, meta)


# ------------------------------------------------------------------------------ fitting
def _standardisation(samples: list[Sample]) -> tuple[np.ndarray, np.ndarray]:
    X = np.concatenate([s.X for s in samples])
    mean, std = X.mean(0), X.std(0)
    std[std < 1e-12] = 1.0
    return mean, std


def fit_ridge(samples: list[Sample], spec: DescriptorSpec) -> DescriptorModel:
    """Ridge per species and time; alphas by leave-one-configuration-out CV over ``samples``."""
    from glassdyn.predict.ridge_cv import ALPHAS, fit_ridge_loo

    mean, std = _standardisation(samples)
    F, K = len(mean), samples[0].y.shape[1]
    W, b, alpha, cv = np.zeros((2, F, K)), np.zeros((2, K)), np.full((2, K), np.nan), {}
    for s in (0, 1):
        groups = [((x.X[x.types == s] - mean) / std, x.y[x.types == s]) for x in samples]
        groups = [g for g in groups if len(g[0]) > 1]
        if not groups:
            continue
        fit = fit_ridge_loo(groups)
        W[s], b[s], alpha[s] = fit["weights"], fit["intercept"], fit["alpha"]
        cv["AB"[s]] = {"alphas": list(ALPHAS), "cv_pearson": np.asarray(fit["cv_pearson"]).tolist()}
    meta = {
        "n_outputs": K,
        "feature_names": descriptor_names(spec),
        "alpha": alpha.tolist(),
        "cv": cv,
    }
    return DescriptorModel("ridge", spec, mean, std, {"weights": W, "intercept": b}, meta)


def fit_mlp(
    train: list[Sample], val: list[Sample], spec: DescriptorSpec, seed: int = 0
) -> DescriptorModel:
    """The GlassMLP-like network; settings of :data:`~glassdyn.predict.mlp.GRID` chosen on ``val``."""
    from glassdyn.predict.mlp import GRID
    from glassdyn.predict.mlp import fit_mlp as fit

    mean, std = _standardisation(train)
    Y = np.concatenate([s.y for s in train])
    ym, ys = Y.mean(0), Y.std(0)
    ys[ys < 1e-12] = 1.0

    def prep(samples):
        return [((s.X - mean) / std, s.types, (s.y - ym) / ys) for s in samples]

    tr, va = prep(train), prep(val)
    runs = []
    for settings in GRID if val else GRID[:1]:
        net, record = fit(tr, va, settings, seed)
        runs.append((record["val_pearson"] if val else 0.0, net, record))
    _, net, record = max(runs, key=lambda r: -np.inf if r[0] is None else r[0])
    params = {f"mlp.{k}": v.detach().cpu().numpy() for k, v in net.state_dict().items()}
    params |= {"target_mean": ym, "target_std": ys}
    meta = {
        "n_outputs": Y.shape[1],
        "feature_names": descriptor_names(spec),
        "mlp": record["settings"],
        "grid": [
            {"settings": r[2]["settings"], "val_pearson": r[0], "best_epoch": r[2]["best_epoch"]}
            for r in runs
        ],
    }
    return DescriptorModel("mlp", spec, mean, std, params, meta)


def train_baseline(store: Store, config, split: dict, out: str | os.PathLike) -> Path:
    """``glassdyn train --model ridge|mlp``: fit on the split's non-test data, save in ``out``.

    ``config`` is the run's :class:`~glassdyn.predict.config.TrainConfig` (times, seed)."""
    out = Path(out)
    t0 = time.perf_counter()
    spec = choose_spec(store, split, DescriptorSpec(cg_lengths=config.cg_lengths), config.input)
    cache = DescriptorCache(out / "descriptors")
    times_of = {}

    def samples(part: str) -> list[Sample]:
        res = []
        for T, s in split.items():
            sp = store.state(float(T))
            if T not in times_of:
                times_of[T] = config.graph_spec().time_indices(len(sp.times))
            res += [load_sample(sp, c, spec, cache, times_of[T]) for c in s.get(part, [])]
        return res

    train, val = samples("train"), samples("val")
    if not train:
        raise InputError(f"no training configurations in {store.path} for this run")
    if config.model == "ridge":
        model = fit_ridge(train + val, spec)
    else:
        model = fit_mlp(train, val, spec, seed=config.seed)
    model.meta["train_seconds"] = time.perf_counter() - t0
    model.save(out)
    report = {k: v for k, v in model.meta.items() if k != "feature_names"}
    report |= {"kind": model.kind, "families": list(spec.families), "n_features": len(model.mean)}
    report["fit_configs"] = {
        T: sorted(s["train"] + (s["val"] if config.model == "ridge" else []))
        for T, s in split.items()
    }
    (out / REPORT_FILE).write_text(json.dumps(report, indent=1))
    return out
