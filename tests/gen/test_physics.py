"""Physics against physics: population annealing (the correction every transport ends with)
reproduces MD's canonical energy at a colder temperature (slow: a minute of LAMMPS)."""

import numpy as np
import pytest
from glassdyn.data import keys
from glassdyn.data.store import Store
from glassdyn.gen.mdpool import md_pool
from glassdyn.gen.sampler import CorrectionOptions, transported

pytestmark = [pytest.mark.slow, pytest.mark.lammps]


def _configs(store, T):
    sp = Store.open(store).state(T)
    idx = np.asarray(sp.completed)
    return (
        sp.read(keys.THERMAL_POSITIONS, idx).astype(np.float64),
        sp.read(keys.TYPES, 0).astype(np.int64),
        sp.read(keys.BOX, 0),
    )


def test_population_annealing_reproduces_the_md_energy_at_the_colder_temperature(ka_store):
    """64 configurations carried from T=1.0 down to 0.8 (identity transport: plain population
    annealing, HMC moves) against 64 MD configurations at 0.8 (NVT chains 2 tau_alpha apart):
    mean e/N within 3 combined standard errors (the standard error of the annealed population
    counts its effective configurations).  Without the reweighting the population keeps
    T=1.0's energy, ~0.3 per particle higher: 10+ standard errors away."""
    rng = np.random.default_rng(5)
    hot, types, box = _configs(ka_store, 1.0)
    cold, _, _ = _configs(ka_store, 0.8)
    N = len(types)
    md = md_pool(cold, types, box, 0.8, 64, rng)
    s = transported(
        None,
        hot,
        types,
        box,
        1.0,
        0.8,
        64,
        rng,
        CorrectionOptions(population=64),
        method="population annealing",
    )
    e_md, e_pa = md.energy / N, s.energy / N
    se_md = e_md.std(ddof=1) / np.sqrt(len(e_md))
    n_eff = max(s.report["effective_configurations"], 1.0)
    se_pa = e_pa.std(ddof=1) / np.sqrt(n_eff)
    z = (e_pa.mean() - e_md.mean()) / np.hypot(se_md, se_pa)
    assert abs(z) < 3, (e_pa.mean(), e_md.mean(), se_pa, se_md, n_eff)
    assert s.report["ladder"][-1] == 0.8 and s.report["effective_families"] > 4
    hot_pool = md_pool(hot, types, box, 1.0, 16, rng)
    assert hot_pool.energy.mean() / N - e_md.mean() > 10 * np.hypot(se_md, se_pa)  # it can fail
