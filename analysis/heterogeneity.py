"""Dynamic heterogeneity of a state point: self dynamics, chi4, S4(q, t) and its OZ fits, on
numpy arrays or straight from a glassdyn store, plus S4 of per-particle fields (true propensity,
predicted mobility) for comparing a model's heterogeneity with the truth.

>>> sp = Store.open("out/ka.zarr").state(0.44)                               # doctest: +SKIP
>>> dh = analyze_state(sp, HeterogeneityConfig(q_max=2.5))
>>> dh.dynamics.tau_alpha["A"], dh.four_point.s4.shape, dh.oz_fits[3].xi
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from glassdyn.analysis.dynamics import SelfDynamics, self_overlap
from glassdyn.analysis.fourpoint import FourPoint
from glassdyn.analysis.ornstein_zernike import OZFit, fit_ornstein_zernike
from glassdyn.data import keys
from glassdyn.data.errors import InputError, StoreError


@dataclass(frozen=True)
class HeterogeneityConfig:
    """Parameters of a heterogeneity analysis (LJ units).

    a: overlap cutoff (sigma); k: Fs wavenumbers per species (1/sigma); fs_mode: "isotropic"
    (sin(kr)/kr) or "axes"; q_max: largest |q| of S4 (1/sigma); shell_width: None = exact |q|
    shells; q_fit_max: OZ fit range; s4_species: particles entering W(q, t) ("total" or "A" or "B");
    dtype: "float64" (exact) or "float32" (fast S4 GEMM).
    """

    a: float = 0.3
    k: dict = field(default_factory=lambda: {"A": 7.25, "B": 5.75, "total": 7.25})
    fs_mode: str = "isotropic"
    q_max: float = 2.5
    shell_width: float | None = None
    q_fit_max: float = 1.5
    s4_species: str = "total"
    dtype: str = "float64"

    def __post_init__(self):
        if self.s4_species not in ("total", "A", "B"):
            raise InputError(f"s4_species must be 'total', 'A' or 'B', got {self.s4_species!r}")
        if self.dtype not in ("float32", "float64"):
            raise InputError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")


def _species_mask(types: np.ndarray, species: str) -> np.ndarray:
    t = np.asarray(types)
    return np.ones(t.shape, bool) if species == "total" else t == {"A": 0, "B": 1}[species]


class DynamicHeterogeneity:
    """Self dynamics + overlap S4(q, t) + OZ fits, accumulated over configurations.

    ``compute(displacements (C, R, K, N, 3), positions (C, N, 3) r(0), types (C, N) or (N,),
    box (3,) or (C, 3), times (K,))``; results ``dynamics`` (:class:`SelfDynamics`),
    ``four_point`` (:class:`FourPoint`), ``oz_fits`` (list of K :class:`OZFit`), ``to_dict()``.
    """

    def __init__(self, config: HeterogeneityConfig | None = None):
        self.config = config or HeterogeneityConfig()
        self.dynamics = SelfDynamics(a=self.config.a, k=self.config.k, mode=self.config.fs_mode)
        self.four_point: FourPoint | None = None

    def __repr__(self) -> str:
        return f"DynamicHeterogeneity({self.config}, samples={self.dynamics.n_samples})"

    def compute(self, displacements, positions, types, box, times=None) -> DynamicHeterogeneity:
        d = np.asarray(displacements)
        pos = np.asarray(positions)
        if d.ndim == 4:
            d, pos = d[None], pos[None]
        if d.ndim != 5 or pos.ndim != 3 or d.shape[0] != pos.shape[0] or d.shape[3] != pos.shape[1]:
            raise InputError(
                f"expected displacements (C, R, K, N, 3) and positions (C, N, 3), got {d.shape} and {pos.shape}"
            )
        C, N = pos.shape[:2]
        typ = np.broadcast_to(np.asarray(types), (C, N))
        bx = np.broadcast_to(np.asarray(box, dtype=np.float64), (C, 3))
        self.dynamics.compute(d, typ, times)
        mask = _species_mask(typ, self.config.s4_species)
        if self.four_point is None:
            n_sel = int(mask[0].sum())
            if n_sel == 0:
                raise InputError(f"no {self.config.s4_species} particles for S4")
            self.four_point = FourPoint(
                bx[0],
                q_max=self.config.q_max,
                shell_width=self.config.shell_width,
                dtype=np.dtype(self.config.dtype),
                n_particles=n_sel,
            )
        for c in range(C):
            if int(mask[c].sum()) != self.four_point.n_particles:
                raise InputError(
                    "S4 needs the same number of selected particles in every configuration"
                )
            w = self_overlap(d[c], self.config.a) * mask[c]  # (R, K, N)
            self.four_point.compute(w[None], pos[c][None], bx[c])
        return self

    @property
    def oz_fits(self) -> list[OZFit]:
        fp = self.four_point
        if fp is None:
            raise InputError("DynamicHeterogeneity has no data: call compute(...) first")
        s4, err = fp.s4, fp.s4_err
        return [
            fit_ornstein_zernike(
                fp.q, s4[k], err[k], q_fit_max=self.config.q_fit_max, xi_max=0.5 * fp.box.min()
            )
            for k in range(s4.shape[0])
        ]

    def to_dict(self) -> dict:
        """JSON-ready summary (NaN -> None)."""
        dyn, fp = self.dynamics, self.four_point
        species = {}
        for s in dyn.species:
            species[s] = {
                "k": dyn.k[s],
                "Q": dyn.overlap[s],
                "Fs": dyn.fs[s],
                "MSD": dyn.msd[s],
                "alpha2": dyn.alpha2[s],
                "chi4": dyn.chi4[s],
                "chi4_err": dyn.chi4_err[s],
                "chi4_iso": dyn.chi4_iso[s],
                "chi4_Fs": dyn.chi4_fs[s],
                "tau_alpha": dyn.tau_alpha[s] if dyn.times is not None else None,
                "tau_alpha_err": dyn.tau_alpha_err[s] if dyn.times is not None else None,
            }
        out = {
            "times": dyn.times,
            "n_configs": dyn.n_configs,
            "n_samples": dyn.n_samples,
            "config": asdict(self.config),
            "species": species,
            "s4": s4_dict(fp, self.oz_fits),
        }
        return jsonable(out)


def s4_dict(fp: FourPoint, fits: list[OZFit]) -> dict:
    """q, S4 (K, Q), S4 errors and per-time OZ fits as plain lists."""
    return s4_summary(fp.q, 2 * fp.wave_vectors.counts, fp.s4, fp.s4_err, fits)


def s4_summary(q, shell_counts, s4, s4_err, fits: list[OZFit]) -> dict:
    """The "s4" entry of heterogeneity.json: q (Q,), shell_counts (Q,) (both signs of q),
    S4 and S4_err (K, Q), and the K OZ fits, as plain lists."""
    return jsonable(
        {
            "q": q,
            "shell_counts": shell_counts,
            "S4": s4,
            "S4_err": s4_err,
            "chi4_OZ": [f.chi4 for f in fits],
            "chi4_OZ_err": [f.chi4_err for f in fits],
            "xi4": [f.xi for f in fits],
            "xi4_err": [f.xi_err for f in fits],
            "fit_shells": [f.n_shells for f in fits],
            "fit_ok": [f.ok for f in fits],
        }
    )


def jsonable(x):
    """numpy -> lists, NaN/inf -> None, recursively."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if np.isfinite(x) else None
    return x


# ------------------------------------------------------------------ per-particle fields
def field_four_point(
    field_values: np.ndarray,
    positions: np.ndarray,
    box: np.ndarray,
    *,
    types: np.ndarray | None = None,
    species: str = "total",
    center: bool = True,
    standardize: bool = False,
    q_max: float = 2.5,
    shell_width: float | None = None,
    dtype=np.float64,
) -> FourPoint:
    """S4(q, t) of a per-particle field (propensity, predicted mobility) in place of the overlap.

    field_values (C, K, N); positions (C, N, 3) r(0); box (3,).  ``center`` subtracts the mean of
    each configuration and time over the selected particles (so the static structure factor of the
    mean does not leak in) and then S4 = <|W(q)|^2>/N per configuration, defined even for one
    configuration; ``standardize`` also divides by their standard deviation (compares the
    spatial structure of two fields independently of their amplitude).  Only particles of
    ``species`` (needs ``types`` (C, N) or (N,)) enter; S4 is normalised by their number.
    """
    f = np.asarray(field_values, dtype=np.float64)
    pos = np.asarray(positions)
    if f.ndim != 3 or pos.ndim != 3 or f.shape[0] != pos.shape[0] or f.shape[2] != pos.shape[1]:
        raise InputError(
            f"expected a field (C, K, N) and positions (C, N, 3), got {f.shape} and {pos.shape}"
        )
    if not np.all(np.isfinite(f)):
        raise InputError("the per-particle field contains NaN or inf")
    C, _, N = f.shape
    mask = (
        np.ones((C, N), bool)
        if types is None
        else _species_mask(np.broadcast_to(np.asarray(types), (C, N)), species)
    )
    if types is None and species != "total":
        raise InputError("a species-resolved field S4 needs types")
    n_sel = int(mask[0].sum())
    m = mask[:, None, :].astype(np.float64)  # (C, 1, N)
    w = f * m
    if center or standardize:
        mean = w.sum(-1, keepdims=True) / n_sel
        w = (f - mean) * m
    if standardize:
        std = np.sqrt((w**2).sum(-1, keepdims=True) / n_sel)
        w = w / np.where(std > 0, std, 1.0)
    # a centred field has no mean to subtract across configurations: S4 = <|W_delta(q)|^2>/N
    fp = FourPoint(
        box,
        q_max=q_max,
        shell_width=shell_width,
        dtype=dtype,
        n_particles=n_sel,
        subtract_mean=not (center or standardize),
    )
    return fp.compute(w[:, None], pos)


# ------------------------------------------------------------------ store readers
def analyze_state(
    sp, config: HeterogeneityConfig | None = None, *, configs=None, progress=None
) -> DynamicHeterogeneity:
    """:class:`DynamicHeterogeneity` of a store state point, reading one configuration at a time.

    ``sp`` a :class:`glassdyn.data.store.StatePoint`; ``configs`` indices (None = all completed).
    Needs ``isoconfig/displacements`` (C, R, K, N, 3), ``thermal/positions``, ``types``, ``box``.
    """
    for path in (keys.ISO_DISPLACEMENTS, keys.ISO_TIMES):
        if not sp.has(path):
            raise StoreError(
                f"store {sp.store_path} group {sp.name} has no {path}: nothing to analyse; "
                "run `glassdyn simulate` with isoconfigurational replicas (R > 0)"
            )
    idx = sp.completed if configs is None else np.asarray(configs, dtype=np.int64).ravel()
    if len(idx) == 0:
        raise StoreError(
            f"store {sp.store_path} group {sp.name} has no completed configuration to analyse"
        )
    times = sp.times
    dh = DynamicHeterogeneity(config)
    for i, c in enumerate(idx):
        dh.compute(
            sp.read(keys.ISO_DISPLACEMENTS, int(c))[None],
            sp.read(keys.THERMAL_POSITIONS, int(c))[None],
            sp.read(keys.TYPES, int(c)),
            sp.read(keys.BOX, int(c)),
            times,
        )
        if progress is not None:
            progress(i + 1, len(idx))
    return dh


def compare_predictions(
    sp, predictions, config: HeterogeneityConfig | None = None, *, species: str = "total"
) -> dict:
    """S4 of the true propensity and of the predicted mobility on the same configurations/times.

    ``predictions`` a :class:`glassdyn.data.predictions.Predictions` for this temperature
    (mobility (C, K', N) for store configurations ``configs`` at ``times`` among the store's).
    Both fields are mean-subtracted per configuration and time; returned per time: q, S4 of each
    (centred, and standardized), their OZ fits, and the field standard deviations.
    """
    cfg = config or HeterogeneityConfig()
    store_times = sp.times
    if store_times is None or not sp.has(keys.ISO_PROPENSITY):
        raise StoreError(
            f"store {sp.store_path} group {sp.name} has no {keys.ISO_PROPENSITY} to compare predictions with"
        )
    cols = []
    for t in predictions.times:
        hit = np.flatnonzero(np.isclose(store_times, t, rtol=1e-6))
        if len(hit) == 0:
            raise InputError(
                f"predicted time {t:g} is not a store time at T={sp.temperature:g} ({store_times.tolist()})"
            )
        cols.append(int(hit[0]))
    configs = np.asarray(predictions.configs, dtype=np.int64)
    pred = np.asarray(predictions.mobility, dtype=np.float64)
    true = sp.read(keys.ISO_PROPENSITY, configs)[:, cols, :].astype(np.float64)
    if pred.shape != true.shape:
        raise InputError(
            f"predicted mobility {pred.shape} does not match the store propensity {true.shape}"
        )
    pos = sp.read(keys.THERMAL_POSITIONS, configs)
    types = sp.read(keys.TYPES, configs)
    box = sp.read(keys.BOX, configs)[0]
    out = {"times": predictions.times, "configs": configs, "species": species}
    for name, f in (("true", true), ("predicted", pred)):
        entry = {}
        for mode, std in (("centered", False), ("standardized", True)):
            fp = field_four_point(
                f,
                pos,
                box,
                types=types,
                species=species,
                standardize=std,
                q_max=cfg.q_max,
                shell_width=cfg.shell_width,
                dtype=np.dtype(cfg.dtype),
            )
            fits = [
                fit_ornstein_zernike(
                    fp.q, fp.s4[k], fp.s4_err[k], q_fit_max=cfg.q_fit_max, xi_max=0.5 * fp.box.min()
                )
                for k in range(fp.s4.shape[0])
            ]
            entry[mode] = s4_dict(fp, fits)
        mask = _species_mask(types, species)[:, None, :]
        sel = np.where(mask, f, np.nan)
        entry["std"] = np.nanmean(np.nanstd(sel, axis=-1), axis=0)
        out[name] = entry
    mask = _species_mask(types, species)
    r = []
    for k in range(len(cols)):
        rs = [
            np.corrcoef(true[c, k, mask[c]], pred[c, k, mask[c]])[0, 1] for c in range(len(configs))
        ]
        r.append(float(np.nanmean(rs)))
    out["pearson"] = r
    return jsonable(out)
