"""Sample quality against held-out MD configurations at the same temperature, and baselines.

Metrics (each function documents its own):

* ``rdf_l2``: L2 distance sqrt(int (g_s(r) - g_md(r))^2 dr) of the partial g(r) (AA, AB, BB);
* ``energy_w1``: Wasserstein-1 distance of the potential energy per particle;
* ``close_contact_fraction``: fraction of samples with any pair closer than ``0.7 sigma_ab``
  (V_ab(0.7 sigma_ab) ~ 4 eps_ab * 70, i.e. ~ 10^2 k_B T above thermal energies: MD at the KA
  temperatures never produces one);
* ``kish_ess`` / n of the Boltzmann importance weights (:mod:`glassdyn.gen.sampling`);
* inherent-structure energy after a FIRE quench vs the MD inherent structures;
* ``coordination_numbers``: mean partial coordination numbers (chemical order: in KA the B
  particles avoid one another, so Z_BB is small; a sampler that mixes the species badly shows it
  here first);
* samples per second.

Baselines: uniform random positions, and a Gaussian-perturbed simple-cubic lattice (N of the
m^3 >= N sites, random species assignment, random common shift), whose width is tuned on the
training data (best summed g(r) distance).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from math import comb

import numpy as np
from glassdyn.analysis.structure import partial_rdf
from glassdyn.data.neighbors import neighbor_pairs
from glassdyn.simulate.ka import KAParameters
from scipy.stats import wasserstein_distance

PAIRS = ("AA", "AB", "BB")


def rdf_l2(
    positions, reference, types, ref_types, box, *, r_max: float | None = None, bins: int = 100
) -> dict:
    """{"AA", "AB", "BB", "sum"}: L2 distance of partial g(r) between two sets of frames (M, N, 3).

    r_max defaults to min(2.5, 0.49 L) (no pair counted twice through the periodic images)."""
    box = np.asarray(box, dtype=np.float64)
    r_max = float(min(2.5, 0.49 * box.min())) if r_max is None else float(r_max)
    r, g1 = partial_rdf(positions, types, box, r_max=r_max, bins=bins)
    _, g2 = partial_rdf(reference, ref_types, box, r_max=r_max, bins=bins)
    dr = r[1] - r[0]
    out = {k: float(np.sqrt(np.nansum((g1[k] - g2[k]) ** 2) * dr)) for k in PAIRS}
    out["sum"] = float(sum(out[k] for k in PAIRS))
    return out


def energy_w1(e_samples: np.ndarray, e_reference: np.ndarray) -> float:
    """Wasserstein-1 distance of two samples of energies per particle (non-finite -> 1e30)."""
    a = np.nan_to_num(np.asarray(e_samples, dtype=np.float64), nan=1e30, posinf=1e30)
    return float(wasserstein_distance(a, np.asarray(e_reference, dtype=np.float64)))


def close_contacts(
    positions: np.ndarray, types: np.ndarray, box: np.ndarray, factor: float = 0.7, params=None
) -> np.ndarray:
    """(M,) number of pairs closer than ``factor * sigma_ab`` in each configuration (M, N, 3)."""
    params = params or KAParameters()
    sig = params.sigma
    box = np.asarray(box, dtype=np.float64)
    types = np.asarray(types)
    out = np.zeros(len(positions), dtype=np.int64)
    for k, p in enumerate(positions):
        t = types if types.ndim == 1 else types[k]
        i, j, s = neighbor_pairs(np.mod(p, box), box, factor * sig.max())
        if len(i) == 0:
            continue
        d = np.linalg.norm(np.mod(p, box)[j] - np.mod(p, box)[i] + s * box, axis=1)
        out[k] = int(np.sum(d < factor * sig[t[i], t[j]]))
    return out


# first minima of the partial g(r) of KA near T = 0.8 (the usual shells; e.g. Coslovich & Pastore 2007)
SHELL_CUTOFFS = {"AA": 1.40, "AB": 1.20, "BB": 1.07}


def coordination_numbers(
    positions: np.ndarray, types: np.ndarray, box: np.ndarray, cutoffs=None
) -> dict:
    """Mean number of j neighbours of an i particle within the first shell, for ij in AA, AB
    (B neighbours of an A), BA (A neighbours of a B), BB, over configurations (M, N, 3);
    ``cutoffs`` {"AA", "AB", "BB"} (default :data:`SHELL_CUTOFFS`)."""
    cut = {**SHELL_CUTOFFS, **(cutoffs or {})}
    box = np.asarray(box, dtype=np.float64)
    types = np.asarray(types)
    counts = {k: 0.0 for k in ("AA", "AB", "BA", "BB")}
    n_a = n_b = 0
    for k, p in enumerate(positions):
        t = types if types.ndim == 1 else types[k]
        p = np.mod(p, box)
        i, j, sh = neighbor_pairs(p, box, max(cut.values()))
        d = np.linalg.norm(p[j] - p[i] + sh * box, axis=1)
        kind = t[i] + t[j]  # 0 AA, 1 AB, 2 BB (unordered pairs)
        rc = np.array([cut["AA"], cut["AB"], cut["BB"]])[kind]
        inside = d < rc
        counts["AA"] += 2 * np.sum(inside & (kind == 0))
        counts["BB"] += 2 * np.sum(inside & (kind == 2))
        n_ab = np.sum(inside & (kind == 1))
        counts["AB"] += n_ab
        counts["BA"] += n_ab
        n_a += int(np.sum(t == 0))
        n_b += int(np.sum(t == 1))
    per = {"AA": n_a, "AB": n_a, "BA": n_b, "BB": n_b}
    return {k: float(counts[k] / per[k]) if per[k] else float("nan") for k in counts}


def close_contact_fraction(positions, types, box, factor: float = 0.7) -> float:
    """Fraction of configurations with at least one pair closer than ``factor * sigma_ab``."""
    return float(np.mean(close_contacts(positions, types, box, factor) > 0))


# ------------------------------------------------------------------------------- baselines
def uniform_baseline(n: int, types: np.ndarray, box: np.ndarray, seed: int = 0):
    """n uniform configurations and their log q = -N log V."""
    rng = np.random.default_rng(seed)
    box = np.asarray(box, dtype=np.float64)
    N = len(types)
    x = rng.random((n, N, 3)) * box
    return x, np.full(n, -N * np.log(np.prod(box)))


def lattice_baseline(n: int, types: np.ndarray, box: np.ndarray, sigma: float, seed: int = 0):
    """n Gaussian-perturbed simple-cubic configurations and their log q given the site choice.

    Each configuration takes N random sites of the m^3 lattice (m = ceil(N^(1/3))), a random
    common shift and isotropic Gaussian displacements of width ``sigma`` (length units).  The
    returned log q is that of the positions given the (uniformly drawn) site assignment and shift,
    which is what an importance weight in the extended space (x, assignment, shift) needs."""
    rng = np.random.default_rng(seed)
    box = np.asarray(box, dtype=np.float64)
    N = len(types)
    m = int(np.ceil(N ** (1 / 3) - 1e-9))
    grid = np.stack(np.meshgrid(*[np.arange(m)] * 3, indexing="ij"), -1).reshape(-1, 3) * (box / m)
    xs = np.empty((n, N, 3))
    logq = np.empty(n)
    for k in range(n):
        sites = grid[rng.permutation(len(grid))[:N]] + rng.random(3) * box
        noise = rng.normal(scale=sigma, size=(N, 3))
        xs[k] = np.mod(sites + noise, box)
        logq[k] = -0.5 * 3 * N * np.log(2 * np.pi * sigma**2) - 0.5 * np.sum(noise**2) / sigma**2
    return xs, logq


def tune_lattice_sigma(
    reference: np.ndarray,
    types: np.ndarray,
    box: np.ndarray,
    grid=None,
    n: int = 32,
    seed: int = 0,
    ref_types=None,
) -> tuple[float, dict]:
    """The lattice width (length units) with the smallest summed g(r) L2 to ``reference`` frames
    (of types ``ref_types``, default ``types``)."""
    grid = np.linspace(0.04, 0.4, 10) if grid is None else np.asarray(grid)
    scores = {}
    for s in grid:
        x, _ = lattice_baseline(n, types, box, float(s), seed)
        scores[float(s)] = rdf_l2(
            x, reference, types, types if ref_types is None else ref_types, box
        )["sum"]
    best = min(scores, key=scores.get)
    return best, scores


# ------------------------------------------------------------- against the MD-vs-MD floor
@dataclass
class Profile:
    """Per-configuration summaries of M configurations: energy per particle (M,), partial g(r)
    per configuration {"AA", "AB", "BB"} -> (M, bins) on bin centres ``r``, Z_BB (M,) and the
    count of close contacts (M,)."""

    energy: np.ndarray
    r: np.ndarray
    g: dict
    z_bb: np.ndarray
    close: np.ndarray

    def __len__(self) -> int:
        return len(self.energy)

    def subset(self, rows) -> Profile:
        rows = np.asarray(rows)
        return Profile(
            self.energy[rows],
            self.r,
            {k: v[rows] for k, v in self.g.items()},
            self.z_bb[rows],
            self.close[rows],
        )


def profile(positions, types, box, energy_per_particle=None) -> Profile:
    """The :class:`Profile` of configurations (M, N, 3) of one composition ``types`` (N,)."""
    from glassdyn.gen.sampling import energies

    x = np.asarray(positions, dtype=np.float64)
    box = np.asarray(box, dtype=np.float64)
    types = np.asarray(types)
    e = (
        energies(x, types, box) / len(types)
        if energy_per_particle is None
        else np.asarray(energy_per_particle)
    )
    r_max = float(min(2.5, 0.49 * box.min()))
    gs = {k: [] for k in PAIRS}
    r = None
    for p in x:
        r, g = partial_rdf(p, types, box, r_max=r_max, bins=100)
        for k in PAIRS:
            gs[k].append(g[k])
    z = np.array([coordination_numbers(p[None], types, box)["BB"] for p in x])
    return Profile(
        np.asarray(e, dtype=np.float64),
        r,
        {k: np.asarray(v) for k, v in gs.items()},
        z,
        close_contacts(x, types, box),
    )


def compare(sample: Profile, reference: Profile) -> dict:
    """Distances of a sample set from a reference set: W1 of e/N, L2 of each partial g(r) (mean
    over each set's configurations), |difference| of the mean Z_BB."""
    dr = sample.r[1] - sample.r[0]
    out = {"energy_w1": energy_w1(sample.energy, reference.energy)}
    for k in PAIRS:
        d = np.nanmean(sample.g[k], axis=0) - np.nanmean(reference.g[k], axis=0)
        out[f"g_{k}"] = float(np.sqrt(np.nansum(d * d) * dr))
    out["z_bb"] = float(abs(np.nanmean(sample.z_bb) - np.nanmean(reference.z_bb)))
    return out


DISTANCES = ("energy_w1", "g_AA", "g_AB", "g_BB", "z_bb")


def chain_halves(
    origin: np.ndarray, n: int, rng: np.random.Generator, max_splits: int = 20
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Ordered splits (A, B) of an MD reference into two halves from disjoint chains: ``origin``
    (M,) is each configuration's chain; each half keeps its first ``m = min(n, both sizes)``
    configurations (the same sample count on both sides).  Every split of the chains into
    floor(S/2) and the rest when there are at most ``max_splits`` ordered ones, else
    ``max_splits`` random ones.  One chain cannot be split: then its alternate configurations
    (correlated halves, the floor too small), said by the caller."""
    origin = np.asarray(origin)
    chains = np.unique(origin)
    S = len(chains)
    if S < 2:
        idx = np.arange(len(origin))
        m = min(n, len(idx) // 2)
        return [(idx[0::2][:m], idx[1::2][:m])]
    k = S // 2
    n_groups = comb(S, k)
    if S % 2 == 0 and n_groups <= max_splits:  # a group's complement is another group
        groups, both = [np.array(g) for g in itertools.combinations(chains, k)], False
    elif 2 * n_groups <= max_splits:
        groups, both = [np.array(g) for g in itertools.combinations(chains, k)], True
    else:
        groups = [rng.choice(chains, k, replace=False) for _ in range(max(max_splits // 2, 1))]
        both = True
    out = []
    for g in groups:
        inside = np.isin(origin, g)
        a, b = np.flatnonzero(inside), np.flatnonzero(~inside)
        m = min(n, len(a), len(b))
        out.append((a[:m], b[:m]))
        if both:
            out.append((b[:m], a[:m]))
    return out


def split_floors(reference: Profile, halves) -> list[dict]:
    """Each split's own floor: the distances of half B from half A, per split of ``halves``."""
    return [compare(reference.subset(b), reference.subset(a)) for a, b in halves]


def iid_distances(
    reference: Profile, n: int, rng: np.random.Generator, repeats: int = 100
) -> dict[str, np.ndarray]:
    """Each distance between two disjoint sets of ``m = min(n, M // 2)`` configurations of the
    reference drawn at random, chains ignored, once per repeat: {name: (repeats,)}, the law of
    the distance between two independent MD sets of the same size (the suite's premise at 2
    tau_alpha: every configuration independent)."""
    M = len(reference.energy)
    m = min(n, M // 2)
    per = []
    for _ in range(repeats):
        p = rng.permutation(M)
        per.append(compare(reference.subset(p[m : 2 * m]), reference.subset(p[:m])))
    return {k: np.array([c[k] for c in per]) for k in DISTANCES}


def iid_floor(reference: Profile, n: int, rng: np.random.Generator, repeats: int = 100) -> dict:
    """The mean of :func:`iid_distances`: the floor of two independent MD sets if every
    configuration were independent, free of the few-chain noise of :func:`split_floors`."""
    return {k: float(v.mean()) for k, v in iid_distances(reference, n, rng, repeats).items()}


def false_fail(
    distances: dict[str, np.ndarray],
    floor: dict,
    draws: int,
    rng: np.random.Generator,
    threshold: float = 1.5,
    repeats: int = 4000,
) -> dict:
    """How often an exact sampler fails ``value <= threshold x floor``: the value being the mean
    over ``draws`` independent sample sets, each distributed like one of ``distances``
    (:func:`iid_distances`, independent MD sets of the sample's size), resampled ``repeats``
    times.  {name: probability, "any": of failing at least one distance}.  The draws of an
    evaluation share one reference, which this null redraws each time: a lower bound."""
    R = len(next(iter(distances.values())))
    idx = rng.integers(0, R, size=(repeats, int(draws)))
    fails = {k: distances[k][idx].mean(axis=1) > threshold * floor[k]["floor"] for k in DISTANCES}
    out = {k: float(v.mean()) for k, v in fails.items()}
    out["any"] = float(np.mean(np.any(np.array(list(fails.values())), axis=0)))
    return out


def md_floor(reference: Profile, halves, iid: dict | None = None) -> dict:
    """The MD-vs-MD floor of every distance: half B against half A, averaged over the splits
    ``halves`` of :func:`chain_halves` (``floor_chains``; it carries what the chains' memory
    adds), and not below ``iid`` (:func:`iid_floor`, or the distances of :func:`iid_distances`
    whose mean it is: the configurations' own scatter; with a
    handful of chains the split average can fall far below it by chance, e.g. Z_BB at T=0.64,
    N=256: 0.0086 against 0.021, and then independent MD fails the test).  {name: {"value" (the
    chain splits' mean: the MD row), "floor", "floor_chains", "floor_iid", "floor_std"}}."""
    per = split_floors(reference, halves)
    out = {}
    for k in DISTANCES:
        v = np.array([p[k] for p in per])
        chains = float(v.mean())
        scatter = None if iid is None else float(np.mean(iid[k]))
        out[k] = {
            "value": chains,
            "floor": chains if scatter is None else max(chains, scatter),
            "floor_chains": chains,
            "floor_iid": scatter,
            "floor_std": float(v.std()),
        }
    return out


def against_md(sample: Profile, reference: Profile, halves, floor: dict, rng) -> dict:
    """Each distance of :func:`compare` between ``sample`` and half A of the reference, averaged
    over the splits ``halves`` (a random m of the sample when a half holds fewer configurations
    than it), beside its ``floor`` (:func:`md_floor`).  {name: {"value", "floor", "floor_std"}}."""
    per = []
    for a, _ in halves:
        rows = np.arange(len(sample))
        if len(a) < len(rows):
            rows = np.sort(rng.choice(rows, len(a), replace=False))
        per.append(compare(sample.subset(rows), reference.subset(a)))
    return {
        k: {
            **{f: v for f, v in floor[k].items() if f != "value"},
            "value": float(np.mean([p[k] for p in per])),
        }
        for k in DISTANCES
    }


def energy_statistics(
    e: np.ndarray, temperature: float, n_particles: int, n_eff: float | None = None
) -> dict:
    """Mean of e/N with its standard error (over ``n_eff`` independent configurations, default
    all) and the canonical fluctuation N Var(e) / T^2 (= c_v for Boltzmann configurations)."""
    e = np.asarray(e, dtype=np.float64)
    n_eff = len(e) if n_eff is None else max(float(n_eff), 1.0)
    return {
        "mean": float(e.mean()),
        "se": float(e.std(ddof=1) / np.sqrt(n_eff)) if len(e) > 1 else float("nan"),
        "n_var_over_t2": float(n_particles * e.var(ddof=1) / temperature**2)
        if len(e) > 1
        else float("nan"),
        "n_eff": n_eff,
    }
