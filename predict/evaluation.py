"""Evaluate and apply a trained run (``glassdyn evaluate`` / ``glassdyn predict``).

:class:`TrainedRun` opens a run directory of any kind (botan, tbotan, bapst, ridge) and predicts
one configuration at a time in LJ units.  :func:`evaluate_run` computes the metrics of
:mod:`glassdyn.predict.metrics` per temperature on the test split of the training temperatures and on all
configurations of held-out temperatures; for T-BOTAN it also writes a heat map of the distances
between the temperature latents (mean global feature per temperature).

Which configurations are scored is decided by content, not by path
(:func:`glassdyn.data.splits.unseen_configs`): a store holding the run's own configurations (a
copy or a moved store included) is scored on the run's test split; any other store on every
configuration whose structure the run did not train or validate on.  A training configuration is
never scored as test data.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
from glassdyn.data import keys
from glassdyn.data.errors import InputError
from glassdyn.data.runs import clean_json, read_run_file, resolve_device
from glassdyn.data.splits import identity, training_identities, unseen_configs
from glassdyn.data.store import StatePoint, Store
from glassdyn.predict.config import TrainConfig
from glassdyn.predict.metrics import temperature_reading_floor
from glassdyn.predict.training import require_targets

from glassdyn.nn import keys as nk


class TrainedRun:
    """A trained run directory, ready to predict.  ``checkpoint``: best (default), last or
    pretrain_best (runs with edge pre-training)."""

    def __init__(self, run_dir: str | os.PathLike, device: str = "cpu", checkpoint: str = "best"):
        self.run_dir = Path(run_dir)
        info = read_run_file(self.run_dir)
        if "train_config" not in info:
            raise InputError(
                f"{run_dir} is a {info.get('kind')!r} run, not one of `glassdyn train`; "
                "use the command that wrote it"
            )
        self.info = info
        self.kind: str = info["kind"]
        self.config = TrainConfig.from_dict(info["train_config"])
        self.spec = self.config.graph_spec()
        self.split: dict = info["split"]
        self.times: dict = info["times"]
        recorded = info.get("data_path") or self.config.data  # "": a run made without a store
        self.data_path = Path(recorded).resolve() if recorded else None
        self._fingerprint = info.get("fingerprint")
        # converted weights predict one physical time (glassdyn.predict.convert), not a time index
        self.fixed_time = (info.get("converted_from") or {}).get("time")
        if self.kind in ("ridge", "mlp"):
            from glassdyn.predict.baselines import DescriptorModel

            from glassdyn.nn.descriptors import DescriptorCache

            self.model = DescriptorModel.load(self.run_dir)
            self.descriptors = DescriptorCache(self.run_dir / "descriptors")
            self.device = None
        else:
            from glassdyn.predict.checkpoints import load_model

            self.device = resolve_device(device)
            self.model, self.checkpoint = load_model(
                self.run_dir / f"{checkpoint}.pt", kind=self.kind, map_location="cpu"
            )
            self.model.to(self.device)

    @property
    def fingerprint(self) -> dict | None:
        """The run's data fingerprint; for a run written before fingerprints existed, recomputed
        from the store it recorded (None when that store is gone)."""
        if self._fingerprint is None and self.data_path is not None and self.data_path.exists():
            from glassdyn.data.splits import fingerprint

            trained = {k: s for k, s in self.split.items() if not s.get("held_out")}
            self._fingerprint = fingerprint(
                Store.open(self.data_path), trained, self.config.data_fields()
            )
        return self._fingerprint

    def scored_configs(self, sp: StatePoint, part: str = "test") -> dict:
        """Which configurations of ``sp`` may be scored as ``part`` (see the module docstring):
        ``{"from": "split" | "store", "configs", "excluded", "changed"}``."""
        key = f"{sp.temperature:g}"
        fp = self.fingerprint
        if fp is None:  # an old run whose store is gone (or none): the old rule, by path
            same = Path(sp.store_path).resolve() == self.data_path and key in self.split
            if same:
                return {
                    "from": "split",
                    "configs": self.configs(sp.temperature, part),
                    "excluded": [],
                    "changed": [],
                    "unchecked": True,
                }
            return {
                "from": "store",
                "configs": sp.completed.tolist(),
                "excluded": [],
                "changed": [],
                "unchecked": "no store" if self.data_path is None else True,
            }
        return unseen_configs(
            sp,
            part,
            self.split.get(key),
            fp["states"].get(key),
            training_identities(fp, self.split),
            fp.get("fields"),
        )

    @property
    def n_outputs(self) -> int:
        return (
            self.model.n_outputs if self.kind in ("ridge", "mlp") else self.model.config.n_outputs
        )

    def configs(self, temperature: float, part: str = "test") -> list[int]:
        """Configurations of ``part`` at a temperature; held-out temperatures: all completed ones."""
        s = self.split.get(f"{temperature:g}")
        if s is None:
            raise InputError(
                f"temperature {temperature:g} was not in the store this run was trained on; pass configurations explicitly"
            )
        return list(s["test"]) if s.get("held_out") else list(s[part])

    def predict(self, sp: StatePoint, c: int, targets: bool = True) -> tuple[dict, object]:
        """Predictions (numpy, LJ units) for configuration ``c`` and the sample they came from.

        Returns the outputs of :mod:`glassdyn.nn.keys` (node (N, K), edge (E, K) or None,
        temperature a float or None, latent (H,) or None) and the sample: the graph ``Data``
        (GNN runs) or a dict with ``y`` and ``node_mask`` (descriptor baselines).
        """
        if targets:
            require_targets(sp)
        if self.kind in ("ridge", "mlp"):
            types = sp.read(keys.TYPES, c)
            feats = self.descriptors.get(sp, c, self.model.spec)
            pred = {
                nk.NODE: self.model.predict(feats, types),
                nk.EDGE: None,
                nk.OUT_TEMPERATURE: None,
                nk.LATENT: None,
                nk.LINEAR: None,
            }
            self._check_finite(pred, sp, c)
            sample = {nk.NODE_MASK: types == 0}
            if targets:
                idx = self.spec.time_indices(len(sp.times))
                sample[nk.Y] = sp.read(keys.ISO_PROPENSITY, c)[idx].T
            return pred, sample
        from glassdyn.nn.dataset import build_graph

        data = build_graph(sp, c, self.spec, targets=targets)
        out = self.model.predict(data.to(self.device))
        t = out[nk.OUT_TEMPERATURE]
        res = {
            nk.NODE: out[nk.NODE].cpu().numpy(),
            nk.EDGE: None if out[nk.EDGE] is None else out[nk.EDGE].cpu().numpy(),
            nk.OUT_TEMPERATURE: None if t is None else float(t[0]),
            nk.LATENT: None if out[nk.LATENT] is None else out[nk.LATENT][0].cpu().numpy(),
            nk.LINEAR: None if out[nk.LINEAR] is None else out[nk.LINEAR].cpu().numpy(),
        }
        self._check_finite(res, sp, c)
        return res, data.cpu()

    def _check_finite(self, pred: dict, sp: StatePoint, c: int) -> None:
        """Broken weights (NaN, inf) give NaN scores and predictions: refused, naming the run."""
        if not np.all(np.isfinite(pred[nk.NODE])):
            raise InputError(
                f"the run {self.run_dir} predicts NaN or inf for configuration {c} of "
                f"{sp.store_path} T={sp.temperature:g}: its weights are broken; train it again "
                "into a new --out (or convert an intact weights file)"
            )


def _temperatures(run: TrainedRun, store: Store, temperatures) -> list[float]:
    """The temperatures asked for, else every one of the store (for converted weights: every one
    that holds the time they predict)."""
    asked = None if temperatures is None else [float(t) for t in temperatures]
    if run.fixed_time is None:
        return store.temperatures if asked is None else asked
    t = float(run.fixed_time)
    held = [T for T in store.temperatures if _holds_time(store.state(T), t)]
    if not held:
        raise InputError(
            f"the run {run.run_dir} predicts t={t:g}; no state point of {store.path} holds that "
            "time: use a store that does"
        )
    lacking = [T for T in asked or () if store.has_state(T) and T not in held]
    if lacking:
        raise InputError(
            f"the run {run.run_dir} predicts t={t:g}; {store.path} T={lacking[0]:g} has no such "
            f"time: pass --temperatures {','.join(f'{T:g}' for T in held)} (those that hold it)"
        )
    return held if asked is None else asked


def _holds_time(sp: StatePoint, t: float) -> bool:
    return sp.times is not None and bool(np.isclose(sp.times, t, rtol=1e-6, atol=0).any())


def _check_times(run: TrainedRun, sp: StatePoint) -> None:
    if sp.times is None:
        return
    if run.fixed_time is not None:  # converted weights: the one time they predict, by value
        idx = run.spec.time_indices(len(sp.times))
        t = float(run.fixed_time)
        if len(idx) != 1 or not np.isclose(sp.times[idx[0]], t, rtol=1e-6, atol=0):
            where = f"{sp.store_path} T={sp.temperature:g}"
            if not _holds_time(sp, t):
                fix = f"{where} has no time {t:g}: leave it out with --temperatures"
            else:
                src = run.info["converted_from"].get("path", "WEIGHTS.pth")
                fix = (
                    f"{where} holds t={t:g} at another index: convert the weights for this store, "
                    f"`glassdyn convert pyg-botan {src} --data {sp.store_path} --time {t:g} --out NEW_RUN`"
                )
            raise InputError(
                f"the run {run.run_dir} predicts t={t:g}, which is not the time it would be "
                f"scored at on {where} ({', '.join(f'{x:g}' for x in sp.times[idx])}); {fix}"
            )
    K = len(run.spec.time_indices(len(sp.times)))
    if K != run.n_outputs:
        raise InputError(
            f"{sp.name} of {sp.store_path} has {K} selected times, the model predicts {run.n_outputs}"
        )


def evaluate_run(
    run_dir,
    data,
    device: str = "cpu",
    temperatures=None,
    part: str = "test",
    latent_png: str | None = "auto",
    checkpoint: str = "best",
) -> dict:
    """Metrics per temperature on ``part`` (test by default) of a run; see the module docstring.

    ``checkpoint``: ``best`` (default), ``last`` or ``pretrain_best`` (the end of BOTAN's edge
    pre-training phase, for runs trained with ``pretrain_epochs``).

    Held-out temperatures (not trained on), and every temperature of a store other than the
    training one, are evaluated on all their completed configurations and listed in ``held_out``.

    Returns ``{"node_pearson": {"<T>": [K values]}, "edge_pearson": {...} or None,
    "temperature_mae": float or None, ...}`` with per-time ``mean``/``std`` of predicted and true
    propensity (A particles), pooled Pearsons, the times and the held-out temperatures.
    """
    run = TrainedRun(run_dir, device=device, checkpoint=checkpoint)
    store = Store.open(data)
    temps = _temperatures(run, store, temperatures)
    result: dict = {
        "model": run.kind,
        "input": run.config.input,
        "split": part,
        "temperatures": [],
        "held_out": [],
        "times": {},
        "configs": {},
        "warnings": [],
    }
    per_t: dict[str, dict] = {}
    latents: dict[str, np.ndarray] = {}
    linear: dict[str, list] = {}
    for T in temps:
        sp = store.state(T)
        if sp.times is None:
            continue
        require_targets(sp)
        _check_times(run, sp)
        key = f"{T:g}"
        sel = run.scored_configs(sp, part)
        record_selection(result, key, sel, sp)
        if not sel["configs"]:
            continue
        per_t[key], lat, lin = _score_state(run, sp, sel["configs"])
        if lin is not None:
            linear[key] = lin
        result.setdefault("noise_ceiling", {})[key], why = noise_ceiling_of(
            sp, sel["configs"], run.spec.time_indices(len(sp.times))
        )
        if why:
            result.setdefault("noise_ceiling_note", {})[key] = why
        result["temperatures"].append(T)
        result["times"][key] = run.times.get(
            key, [float(sp.times[k]) for k in run.spec.time_indices(len(sp.times))]
        )
        if sel["from"] == "store" or run.split[key].get("held_out"):
            result["held_out"].append(T)
        if lat is not None:
            latents[key] = lat
    trained = [
        k for k in result["configs"] if not run.split.get(k, {"held_out": True}).get("held_out")
    ]
    # the store holds the run's own training data (wherever it lies): scored on its split
    result["same_store"] = bool(trained) and all(
        result["configs"][k]["from"] == "split" for k in trained
    )
    if not per_t:
        raise InputError(
            f"nothing to evaluate: no {part} configurations with targets in {store.path}"
        )
    _collect(result, per_t)
    if linear:
        result["network_over_linear"] = network_over_linear(
            result["node_pearson_per_config"], linear
        )
    if run.kind == "tbotan" and (result["same_store"] or _holds_training_data(run, store)):
        result["energy_thermometer"] = energy_thermometer(run, store, result["configs"])
    if latents:
        result["latent_distances"] = {
            "temperatures": list(latents),
            "matrix": latent_distances(latents).tolist(),
        }
        if latent_png:
            path = (
                Path(run_dir) / "latent_distances.png" if latent_png == "auto" else Path(latent_png)
            )
            plot_latent_distances(latents, path, result["held_out"])
            result["latent_png"] = str(path)
    return clean_json(result)


def _holds_training_data(run: TrainedRun, store: Store) -> bool:
    """Whether ``store`` holds the run's training configurations under their ids (checked by
    their recorded identities), e.g. when only a held-out temperature of it is scored."""
    fp = run.fingerprint
    if fp is None:
        return False
    for key, s in run.split.items():
        if s.get("held_out"):
            continue
        if not store.has_state(float(key)):
            return False
        sp, ids = store.state(float(key)), fp["states"].get(key, {}).get("identity", {})
        if any(ids.get(str(c)) != identity(sp, c) for c in s["train"]):
            return False
    return True


def energy_thermometer(run: TrainedRun, store: Store, scored: dict) -> dict | None:
    """The plain structural thermometer T-BOTAN's read-out is measured against: T linear in the
    potential energy per particle of the thermal structure, least squares over the run's training
    configurations, and its absolute error on the scored configurations (``scored``:
    ``result["configs"]``).  A single configuration's energy fluctuates by ~sqrt(c_v / N) T, so
    on a small system this error is not small either: ``floor_mae_per_T`` is the least expected
    error of any unbiased reading of one configuration
    (:func:`glassdyn.predict.metrics.temperature_reading_floor`).  None with fewer than two training
    temperatures or without stored energies."""
    e, t = [], []
    for key, s in run.split.items():
        if s.get("held_out") or not store.has_state(float(key)):
            continue
        sp = store.state(float(key))
        if not sp.has(keys.THERMAL_ENERGY):  # e.g. an imported store without energies
            return None
        e.extend(sp.read(keys.THERMAL_ENERGY, list(s["train"])).tolist())
        t.extend([float(key)] * len(s["train"]))
    if len(set(t)) < 2:
        return None
    slope, intercept = np.polyfit(e, t, 1)
    per_t, floor = {}, {}
    for key, sel in scored.items():
        sp = store.state(float(key))
        if not sp.has(keys.THERMAL_ENERGY):
            return None
        pred = slope * sp.read(keys.THERMAL_ENERGY, list(sel["ids"])) + intercept
        per_t[key] = float(np.mean(np.abs(pred - float(key))))
        c_v, floor[key] = temperature_reading_floor(t, e, float(key), sp.n_particles)
    return {
        "temperature_mae": float(np.mean(list(per_t.values()))),
        "temperature_mae_per_T": per_t,
        "fit": "T = a e + b over the training configurations",
        "c_v": c_v,
        "floor_mae": float(np.mean(list(floor.values()))),
        "floor_mae_per_T": floor,
        "floor": "least mean |error| of an unbiased reading of one configuration: "
        "sqrt(2/pi) T / sqrt(N c_v), c_v = d<e>/dT over the training configurations (Cramer-Rao)",
    }


def _collect(result: dict, per_t: dict[str, dict]) -> None:
    """Gather the per-temperature metrics into ``result[name][T]``, and the temperature MAEs."""
    for name in (
        "node_pearson",
        "node_pearson_se",
        "node_pearson_pooled",
        "node_pearson_per_config",
        "edge_pearson",
        "edge_pearson_se",
        "edge_pearson_pooled",
        "mean_pred",
        "mean_true",
        "std_pred",
        "std_true",
        "temperature_pred",
        "n_configs",
    ):
        vals = {k: v[name] for k, v in per_t.items()}
        result[name] = None if all(v is None for v in vals.values()) else vals
    maes = [v["temperature_mae"] for v in per_t.values() if v["temperature_mae"] is not None]
    result["temperature_mae"] = float(np.mean(maes)) if maes else None
    result["temperature_mae_per_T"] = (
        {k: v["temperature_mae"] for k, v in per_t.items()} if maes else None
    )


def record_selection(result: dict, key: str, sel: dict, sp: StatePoint) -> None:
    """Say in ``result`` which configurations of temperature ``key`` are scored, and warn (in
    ``result["warnings"]``) about excluded training configurations and changed data."""
    result["configs"][key] = {
        "from": sel["from"],
        "n": len(sel["configs"]),
        "ids": list(sel["configs"]),
        "excluded_training": len(sel["excluded"]),
    }
    where = f"{sp.store_path} T={key}"
    if sel["excluded"]:
        result["warnings"].append(
            f"{where}: {len(sel['excluded'])} configurations are ones the run trained or validated "
            f"on; they are not scored ({len(sel['configs'])} are)"
        )
    if sel["changed"]:
        result["warnings"].append(
            f"{where}: the data of configurations {sel['changed'][:5]} differs from what the run "
            "recorded (re-simulated targets?); the scores compare with the store as it is now"
        )
    if sel.get("unchecked") == "no store":
        result["warnings"].append(
            f"{where}: the run records no store (weights converted without --data), so every "
            "configuration is scored, including any its authors trained on"
        )
    elif sel.get("unchecked"):
        result["warnings"].append(
            f"{where}: the run predates data fingerprints and its store is gone, so the scored "
            "configurations were chosen by path only"
        )


def noise_ceiling_of(
    sp: StatePoint, configs: list[int], times: list[int]
) -> tuple[list[float] | None, str | None]:
    """The replica-noise ceiling per time of the node Pearson averaged over ``configs``, or
    (None, why not).  The split-half correlations of the configurations
    (:func:`glassdyn.predict.metrics.split_half`) are averaged before Spearman-Brown and the
    square root (:func:`~glassdyn.predict.metrics.ceiling_from_split_half`): both are concave,
    so this bounds the mean of the per-configuration ceilings from above, and with few
    replicas it is far less noisy than clipping each configuration's estimate at zero."""
    from glassdyn.predict.metrics import ceiling_from_split_half, split_half

    if not sp.has(keys.ISO_DISPLACEMENTS) or sp.n_replicas < 2:
        return None, (
            f"{sp.store_path} T={sp.temperature:g} holds {sp.n_replicas} replica(s) per "
            "configuration (imported data without replicas?): its replica-noise ceiling, which "
            "needs two halves of the replicas, cannot be computed"
        )
    r = []
    for c in configs:
        disp = np.asarray(sp.row(keys.ISO_DISPLACEMENTS, c))[:, times]  # (R, K, N, 3)
        r.append(split_half(disp, sp.read(keys.TYPES, c) == 0, seed=int(c)))
    ceiling = ceiling_from_split_half(np.nanmean(np.stack(r), axis=0), sp.n_replicas)
    return [float(v) for v in ceiling], None


def _score_state(run: TrainedRun, sp: StatePoint, configs: list[int]):
    """(metrics of :class:`glassdyn.predict.metrics.MobilityMetrics`, mean T-BOTAN latent or None,
    node Pearsons per configuration (C, K) of the linear skip alone or None)."""
    from glassdyn.predict.metrics import MobilityMetrics

    m, linear = MobilityMetrics(sp.temperature), MobilityMetrics(sp.temperature)
    lat = []
    for c in configs:
        pred, sample = run.predict(sp, c)
        if run.kind in ("ridge", "mlp"):
            m.compute(pred[nk.NODE], sample[nk.Y], sample[nk.NODE_MASK])
        else:
            m.compute(
                pred[nk.NODE],
                sample.y.numpy(),
                sample.node_mask.numpy(),
                pred[nk.EDGE],
                None if pred[nk.EDGE] is None else sample.y_edge.numpy(),
                sample.edge_mask.numpy(),
                pred[nk.OUT_TEMPERATURE],
            )
            if pred[nk.LINEAR] is not None:
                linear.compute(pred[nk.LINEAR], sample.y.numpy(), sample.node_mask.numpy())
        if pred[nk.LATENT] is not None:
            lat.append(pred[nk.LATENT])
    lin = linear.result()["node_pearson_per_config"] if len(linear) else None
    return m.result(), (np.mean(lat, axis=0) if lat else None), lin


def network_over_linear(per_config: dict, linear: dict) -> dict:
    """What a GNN with the linear skip adds to the skip alone (the ridge fit on its training
    configurations it starts from), paired per configuration: per temperature, the skip's node
    Pearson, the mean gain of the whole model over it, the gain's standard error and the number
    of configurations where the model is above, each per time; means and standard errors by the
    rules of the node Pearson's own (:mod:`glassdyn.predict.metrics`)."""
    from glassdyn.predict.metrics import _nanmean, _standard_error

    out = {}
    for T, lin in linear.items():
        a, b = np.asarray(per_config[T], dtype=float), np.asarray(lin, dtype=float)  # (C, K)
        d = a - b
        K = d.shape[1]
        out[T] = {
            "node_pearson": [_nanmean(b[:, k]) for k in range(K)],
            "gain": [_nanmean(d[:, k]) for k in range(K)],
            "gain_se": [_standard_error(d[:, k]) for k in range(K)],
            "above": (d > 0).sum(0).tolist(),
            "n": len(d),
        }
    return out


def latent_distances(latents: dict[str, np.ndarray]) -> np.ndarray:
    """Euclidean distances (T, T) between mean temperature latents (H,) each."""
    L = np.stack(list(latents.values()))
    return np.linalg.norm(L[:, None, :] - L[None, :, :], axis=-1)


def plot_latent_distances(
    latents: dict[str, np.ndarray], path: str | os.PathLike, held_out: list[float] | None = None
) -> Path:
    """Heat map PNG of :func:`latent_distances`, labelled by temperature (held-out ones starred)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    D = latent_distances(latents)
    held = {f"{t:g}" for t in (held_out or [])}
    names = [f"T={n}*" if n in held else f"T={n}" for n in latents]
    n = len(names)
    fig, ax = plt.subplots(figsize=(3.0 + 0.7 * n, 2.4 + 0.6 * n))
    im = ax.imshow(D, cmap="viridis")
    ax.set_xticks(range(n), names, rotation=45, ha="right")
    ax.set_yticks(range(n), names)
    if n <= 12:
        for a in range(n):
            for b in range(n):
                ax.text(
                    b,
                    a,
                    f"{D[a, b]:.2g}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if D[a, b] < 0.5 * D.max() else "black",
                )
    ax.set_title("T-BOTAN temperature latents" + (" (* held out)" if held else ""), fontsize=10)
    fig.colorbar(im, ax=ax, label="distance of mean latents", shrink=0.8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def predict_run(
    run_dir,
    data,
    out,
    device: str = "cpu",
    temperatures=None,
    part: str = "test",
    log=None,
    overwrite: bool = False,
) -> Path:
    """Write predictions of a run for ``part`` configurations (test, val, train or all) of every
    (or the given) temperature with :func:`glassdyn.data.predictions.write_predictions`.

    ``part`` test / val / train is chosen as in :func:`evaluate_run` (a training configuration is
    never predicted as test); ``all`` is every completed configuration.  ``log`` receives
    warnings (default: printed to stderr).  ``out`` follows :mod:`glassdyn.data.outputs`: a new
    path, or (``overwrite``) an earlier predictions file; never a store or a run."""
    from glassdyn.data import outputs
    from glassdyn.data.predictions import Predictions, write_predictions

    outputs.check_output(out, outputs.PREDICTIONS, inputs=(run_dir, data), overwrite=overwrite)
    log = log or (lambda msg: print(f"warning: {msg}", file=sys.stderr))
    run = TrainedRun(run_dir, device=device)
    store = Store.open(data)
    temps = _temperatures(run, store, temperatures)
    preds = []
    for T in temps:
        sp = store.state(T)
        key = f"{T:g}"
        if part == "all":
            configs = sp.completed.tolist()
        else:
            note: dict = {"configs": {}, "warnings": []}
            sel = run.scored_configs(sp, part)
            record_selection(note, key, sel, sp)
            for w in note["warnings"]:
                log(w)
            configs = sel["configs"]
        if not configs:
            continue
        if sp.times is not None:
            _check_times(run, sp)
            times = np.array([sp.times[k] for k in run.spec.time_indices(len(sp.times))])
        else:
            times = np.array(run.times.get(key) or next(iter(run.times.values())))
        mob, temp = [], []
        for c in configs:
            pred, _ = run.predict(sp, c, targets=False)
            mob.append(pred[nk.NODE].T)
            temp.append(pred[nk.OUT_TEMPERATURE])
        preds.append(
            Predictions(
                temperature=T,
                configs=np.asarray(configs, dtype=np.int64),
                times=times,
                mobility=np.stack(mob).astype(np.float32),
                predicted_temperature=None
                if temp[0] is None
                else np.asarray(temp, dtype=np.float32),
                identity=tuple(identity(sp, c) for c in configs),
            )
        )
    if not preds:
        raise InputError(f"no configurations to predict in {store.path} (split {part!r})")
    write_predictions(
        out,
        preds,
        model=run.kind,
        run=str(run.run_dir.resolve()),
        input=run.config.input,
        data=str(Path(store.path).resolve()),
    )
    return Path(out)
