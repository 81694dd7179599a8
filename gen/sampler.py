"""Corrected samples: what ``glassdyn gen sample`` and ``gen evaluate`` draw from a fitted run.

Every sampler ends in Boltzmann configurations at the asked temperature T, never in raw model
output:

* a **transport** (``flow``, ``cnf``, or ``none``: the identity, i.e. plain population annealing)
  starts from MD configurations at the run's base temperature T_0 > T (NVT chains continuing the
  run's own training configurations, :func:`glassdyn.gen.mdpool.md_pool`) and carries them down
  to T with annealed importance weights, resampling and Hybrid Monte Carlo moves
  (:func:`glassdyn.gen.anneal.anneal`): weighted averages over the population are exact for the
  Boltzmann distribution at T, and the n configurations returned are drawn from it by weight;
* the **diffusion** model has no tractable density along its stochastic sampler, so its
  proposals are refined by ``refine_sweeps`` Hybrid Monte Carlo moves at T, each of which leaves
  the Boltzmann distribution invariant: the samples approach it as the number of moves grows,
  and that number is reported with the result.

``raw=True`` returns the model's proposals without any correction (diagnostics only).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
from glassdyn.data.errors import InputError
from glassdyn.data.settings import setting
from glassdyn.gen.anneal import AnnealOptions, anneal, systematic_resample
from glassdyn.simulate.sampling import HMCOptions, MoveStats, hmc

# diffusion refinement: HMC time in units of tau_alpha(T) (measured, README: 4 brought the energy
# to MD's at T=0.64 / 0.56 on one draw but left Z_BB at 2.1x its floor at T=0.5, where 6 passed
# it; on four draws at T=0.64, 6 left the samples too hot (e/N z +2.9, W1(e) 1.72x its floor) and
# 12 brings them to MD's (z +1.0, 0.97x): proposals 0.9 per particle hot age slowly)
REFINE_TAU = 12.0
# transports: HMC time at T of each configuration returned, in tau_alpha(T): what the chemical
# order (Z_BB) needs, which relaxes more slowly than tau_alpha (measured, README, on the same drawn
# configurations: 20 moves left Z_BB 2-3x its floor at N=256, T=0.64; 2 tau_alpha left the flow
# there at 2.9x and cnf / flow at T=0.5 at 1.5x on W1(e); 6 tau_alpha passes all three)
ANNEAL_FINAL_TAU = 6.0
# diffusion: largest force component (LJ units) above which FIRE pulls a proposal apart
RELAX_FORCE = 1000.0


@dataclass(frozen=True)
class CorrectionOptions:
    """How proposals become Boltzmann samples (the help of each field is the command line's)."""

    population: int | None = setting(
        None, "transports: configurations carried down together (default: max(n, 64))"
    )
    anneal_steps: int | None = setting(
        None,
        "transports: temperature steps from the base to T (default: adaptive, each step keeping "
        "half the effective sample size of plain population annealing)",
    )
    sweeps: int = setting(4, "Hybrid Monte Carlo moves after each annealing step")
    refine_sweeps: int | None = setting(
        None,
        "Hybrid Monte Carlo moves at T at the end: the whole refinement of diffusion proposals "
        f"(default: {REFINE_TAU:g} tau_alpha(T) of HMC time, what the samples need to reach MD's "
        "energy and chemical order) and of each configuration a transport returns (default: "
        f"{ANNEAL_FINAL_TAU:g} tau_alpha(T), the time the chemical order needs: it relaxes more "
        "slowly than tau_alpha)",
    )
    relax_force: float = setting(
        RELAX_FORCE,
        "diffusion: before the Hybrid Monte Carlo moves, FIRE pulls apart the proposals whose "
        "largest force component exceeds this (LJ units; in MD configurations at N=256 it stays "
        "below ~150, a pair at 0.7 sigma_ab pushes with more than 3000), so that no proposal is "
        "stuck on an overlap; 0 turns it off",
    )
    leapfrog: int = setting(50, "velocity-Verlet steps per Hybrid Monte Carlo move")
    dt: float = setting(0.005, "velocity-Verlet time step of the moves (LJ time)")
    raw: bool = setting(False, "return the model's proposals uncorrected (diagnostics only)")

    def __post_init__(self) -> None:
        checks = (
            ("--population", self.population, self.population is None or self.population >= 2),
            (
                "--anneal-steps",
                self.anneal_steps,
                self.anneal_steps is None or self.anneal_steps >= 1,
            ),
            ("--sweeps", self.sweeps, self.sweeps >= 0),
            ("--refine-sweeps", self.refine_sweeps, (self.refine_sweeps or 0) >= 0),
            ("--relax-force", self.relax_force, self.relax_force >= 0),
            ("--leapfrog", self.leapfrog, self.leapfrog >= 1),
            ("--dt", self.dt, 0 < self.dt <= 0.02),
        )
        for flag, value, ok in checks:
            if not ok:
                raise InputError(
                    f"{flag} got {value}: see `glassdyn gen sample --help` for its range"
                )

    def hmc(self, sweeps: int) -> HMCOptions:
        return HMCOptions(dt=self.dt, leapfrog=self.leapfrog, sweeps=sweeps)

    def anneal(self) -> AnnealOptions:
        """The annealing of a transport to T: its ladder and the moves after each step."""
        return AnnealOptions(steps=self.anneal_steps, hmc=self.hmc(self.sweeps))

    def final_sweeps(self, temperature: float, n_particles: int) -> int:
        """HMC moves of each configuration a transport returns, at T after the annealing:
        ``refine_sweeps``, by default :data:`ANNEAL_FINAL_TAU` tau_alpha(T) of HMC time."""
        return self._moves(ANNEAL_FINAL_TAU, temperature, n_particles)

    def refinement(self, temperature: float, n_particles: int) -> int:
        """HMC moves refining proposals without a density at T: ``refine_sweeps``, by default
        :data:`REFINE_TAU` tau_alpha(T) of HMC time (tau_alpha: :func:`glassdyn.gen.mdpool.tau_alpha`)."""
        return self._moves(REFINE_TAU, temperature, n_particles)

    def _moves(self, taus: float, temperature: float, n_particles: int) -> int:
        """``refine_sweeps``, else the moves that make ``taus`` tau_alpha(T) of HMC time."""
        if self.refine_sweeps is not None:
            return self.refine_sweeps
        from glassdyn.gen.mdpool import tau_alpha

        per_move = self.leapfrog * self.dt
        return int(np.ceil(taus * tau_alpha(temperature, n_particles) / per_move))


@dataclass
class SampleSet:
    """n configurations (n, N, 3) at ``temperature`` with total energies (n,), the family (n,) each
    descends from (its base configuration or proposal), and what it took (``report``)."""

    positions: np.ndarray
    energy: np.ndarray
    family: np.ndarray
    temperature: float
    method: str
    corrected: bool
    report: dict = field(default_factory=dict)
    # refined sets keep what they refined: the raw proposals (n, N, 3), scored by `gen evaluate`
    # without drawing them a second time
    proposals: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.energy)

    def raw(self, types, box) -> SampleSet | None:
        """The proposals this set refined, as an uncorrected set (None for other sets)."""
        if self.proposals is None:
            return None
        spent = self.report.get("seconds", {}).get("proposals", 0.0)
        x = np.mod(self.proposals, box)
        return _raw_set(x, types, box, self.temperature, self.method, self.family, spent)


# seed of draw k (> 0) of a repeated evaluation: seed + DRAW_SEED * k (draw 0 is the seed itself)
DRAW_SEED = 7919
_SUMMED = ("effective_configurations", "md_steps")
_AVERAGED = (
    "ess",
    "ess_per_member",
    "effective_families",
    "distinct_families",
    "families_in_sample",
    "hmc_acceptance",
    "energy_before",
)


def pooled(sets: list[SampleSet]) -> SampleSet:
    """Independent sample sets of one sampler as one set: configurations, energies and proposals
    concatenated, families kept apart, effective configurations, MD steps and seconds summed,
    per-set quality (ESS, families, acceptance) averaged, ``report["draws"]`` the number of
    sets and ``report["per_draw"]`` each one's effective configurations and seconds."""
    if len(sets) == 1:
        return sets[0]
    first = sets[0]
    families, offset = [], 0
    for s in sets:
        families.append(np.asarray(s.family) + offset)
        offset += int(np.max(s.family, initial=-1)) + 1
    report = {k: v for k, v in first.report.items() if k not in ("log_w", "steps")}
    for k in _SUMMED:
        if k in report:
            report[k] = float(sum(s.report.get(k, 0.0) for s in sets))
    for k in _AVERAGED:
        if k in report:
            report[k] = float(np.mean([s.report.get(k, np.nan) for s in sets]))
    seconds = {}
    for s in sets:
        for k, v in s.report.get("seconds", {}).items():
            seconds[k] = seconds.get(k, 0.0) + float(v)
    report["seconds"] = seconds
    eff = [float(s.report.get("effective_configurations", s.n)) for s in sets]
    spc = [s.report.get("seconds_per_effective_configuration") for s in sets]
    if all(v is not None for v in spc) and sum(eff) > 0:
        report["seconds_per_effective_configuration"] = float(
            sum(v * e for v, e in zip(spc, eff)) / sum(eff)
        )
    report["draws"] = len(sets)
    report["per_draw"] = [
        {
            "effective_configurations": e,
            "effective_families": s.report.get("effective_families"),
            "seconds": s.report.get("seconds", {}).get("total"),
        }
        for e, s in zip(eff, sets)
    ]
    proposals = (
        np.concatenate([s.proposals for s in sets])
        if all(s.proposals is not None for s in sets)
        else None
    )
    return SampleSet(
        np.concatenate([s.positions for s in sets]),
        np.concatenate([s.energy for s in sets]),
        np.concatenate(families),
        first.temperature,
        first.method,
        all(s.corrected for s in sets),
        report,
        proposals=proposals,
    )


def effective_count(report: dict) -> float:
    """The number of independent configurations a sample set is worth: the smaller of the final
    population's ESS and effective number of families, scaled to the n returned."""
    return float(report.get("effective_configurations", 0.0))


def transported(
    transport,
    base_starts: np.ndarray,
    types: np.ndarray,
    box: np.ndarray,
    T_base: float,
    T: float,
    n: int,
    rng: np.random.Generator,
    options: CorrectionOptions = CorrectionOptions(),
    *,
    method: str,
    source: float | None = None,
    log=None,
) -> SampleSet:
    """``n`` Boltzmann configurations at T from base MD at ``T_base`` carried down by ``transport``
    (a :data:`glassdyn.gen.anneal.Transport`, or None for population annealing).  ``base_starts``
    are equilibrated at ``source`` (default ``T_base``; another temperature: a bridged base, whose
    chains first equilibrate at ``T_base``)."""
    from glassdyn.gen.mdpool import bridge_warmup, md_pool

    if not T < T_base:
        raise InputError(
            f"--temperature {T:g} is not below the run's base temperature {T_base:g}: a transport "
            f"carries MD configurations of T={T_base:g} down to colder states; fit a run with a "
            f"higher --base-temperature to sample T={T:g}"
        )
    M = options.population or max(n, 64)
    t0 = time.perf_counter()
    source = T_base if source is None else float(source)
    warmup = bridge_warmup(T_base, source, len(types))
    pool = md_pool(base_starts, types, box, T_base, M, rng, warmup=warmup)
    base_seconds = time.perf_counter() - t0
    if log:
        bridged = f", equilibrated from T={source:g}" if warmup else ""
        log(f"base: {M} MD configurations at T={T_base:g}{bridged} ({base_seconds:.1f} s)")
    if options.raw:  # the proposals of one transport step, with their importance weights
        take = np.arange(n) % M
        z, U0 = pool.positions[take], pool.energy[take]
        if transport is None:
            x, logdet, var = z, np.zeros(n), np.zeros(n)
        else:
            x, logdet, var = transport(z, T_base, T)
        s = _raw_set(np.mod(x, box), types, box, T, method, take, base_seconds)
        s.report["log_w"] = -s.energy / T + U0 / T_base + logdet - 0.5 * var
        return s
    final = options.final_sweeps(T, len(types))
    res = anneal(
        pool.positions,
        types,
        box,
        T_base,
        T,
        rng,
        options=options.anneal(),
        transport=transport,
        energies=pool.energy,
        log=log,
    )
    pop = res.population
    ess, fam = pop.ess(), pop.effective_families()
    # resample-move: the n configurations returned, drawn by weight, take the long refinement at
    # T (the rest of the population would only be thrown away after it)
    take = systematic_resample(pop.log_w, n, rng)
    x, e = pop.positions[take], pop.energy[take]
    if final:
        x, e, _, stats = hmc(x, types, box, float(T), rng, options.hmc(final))
        res.moves = res.moves.add(stats)
        if log:
            log(
                f"  refinement at T={T:g}: {final} HMC moves of the {n} configurations "
                f"drawn (acceptance {stats.acceptance:.2f})"
            )
    seconds = base_seconds + res.seconds
    effective = min(ess, fam) * min(1.0, n / M)
    report = {
        "method": method,
        "base_temperature": T_base,
        "base_source": source,
        "population": M,
        "ladder": [s.temperature for s in res.steps],
        "steps": [vars(s) for s in res.steps],
        "ess": ess,
        "ess_per_member": ess / M,
        "effective_families": fam,
        "distinct_families": pop.distinct_families(),
        "families_in_sample": int(len(np.unique(pop.family[take]))),
        "hmc_acceptance": res.moves.acceptance,
        "refine_sweeps": final,
        "md_steps": res.moves.md_steps + pool.cost.md_steps,
        "seconds": {
            "base_md": base_seconds,
            "transport": res.transport_seconds,
            "moves": res.moves.seconds,
            "energies": res.energy_seconds,
            "total": seconds,
        },
        "effective_configurations": effective,
        "seconds_per_effective_configuration": seconds * min(1.0, n / M) / max(effective, 1e-12),
    }
    return SampleSet(x, e, pop.family[take], float(T), method, True, report)


def refined(
    proposals: np.ndarray,
    types: np.ndarray,
    box: np.ndarray,
    T: float,
    rng: np.random.Generator,
    options: CorrectionOptions = CorrectionOptions(),
    *,
    method: str,
    proposal_seconds: float = 0.0,
    log=None,
) -> SampleSet:
    """Proposals (n, N, 3) without a density, refined by ``options.refine_sweeps`` Hybrid Monte
    Carlo moves at T (each move leaves the Boltzmann distribution invariant).  Proposals with a
    force component above ``options.relax_force`` are first pulled apart by FIRE
    (:func:`glassdyn.gen.fire.pull_apart`): where the chain starts does not change what it
    converges to, but a start on an overlap never moves."""
    from glassdyn.gen.fire import pull_apart
    from glassdyn.gen.sampling import energies

    n = len(proposals)
    sweeps = options.refinement(T, proposals.shape[1])
    if options.raw or sweeps == 0:
        s = _raw_set(np.mod(proposals, box), types, box, T, method, np.arange(n), proposal_seconds)
        if not options.raw:  # zero refinement: uncorrected, said so
            s.report["refine_sweeps"] = 0
        return s
    t0 = time.perf_counter()
    starts, relax_steps = proposals, np.zeros(n, dtype=np.int64)
    if options.relax_force > 0:
        starts, relax_steps = pull_apart(proposals, types, box, options.relax_force)
    relax_seconds = time.perf_counter() - t0
    if log:
        pulled = int(np.sum(relax_steps > 0))
        log(
            f"refining {n} proposals at T={T:g}: {pulled} pulled apart by FIRE "
            f"(at most {int(relax_steps.max(initial=0))} steps), then {sweeps} HMC moves"
        )
    x, e, acc, stats = hmc(starts, types, box, T, rng, options.hmc(sweeps))
    if log:
        log(f"refined {n} proposals by {sweeps} HMC moves (acceptance {stats.acceptance:.2f})")
    seconds = proposal_seconds + relax_seconds + stats.seconds
    report = {
        "method": method,
        "relaxed": int(np.sum(relax_steps > 0)),
        "relax_steps": int(relax_steps.max(initial=0)),
        "refine_sweeps": sweeps,
        "refine_time": sweeps * options.leapfrog * options.dt,
        "hmc_acceptance": stats.acceptance,
        "stuck": int(np.sum(acc == 0)),
        "md_steps": stats.md_steps,
        "seconds": {
            "proposals": proposal_seconds,
            "relax": relax_seconds,
            "moves": stats.seconds,
            "total": seconds,
        },
        "effective_configurations": float(n),
        "seconds_per_effective_configuration": seconds / n,
        "energy_before": float(np.mean(energies(proposals, types, box)) / len(types)),
    }
    return SampleSet(x, e, np.arange(n), float(T), method, True, report, proposals=proposals)


def _raw_set(x, types, box, T, method, family, seconds) -> SampleSet:
    from glassdyn.gen.sampling import energies

    e = energies(x, types, box)
    rep = {"method": method, "raw": True, "seconds": {"total": seconds}}
    return SampleSet(x, e, np.asarray(family), float(T), method, False, rep)


def with_options(options: CorrectionOptions, **changes) -> CorrectionOptions:
    return replace(options, **changes)


# ------------------------------------------------------------------------ fitted runs
TRANSPORT_KINDS = ("flow", "cnf")


def model_transport(
    model, types: np.ndarray, box: np.ndarray, batch_size: int = 16, device: str = "cpu"
):
    """The :data:`glassdyn.gen.anneal.Transport` of a fitted flow or cnf (float64, no gradient)."""
    import torch

    model = model.to(device=device, dtype=torch.float64).eval()
    box_t = torch.as_tensor(np.asarray(box, dtype=np.float64), device=device)
    types_t = torch.as_tensor(np.asarray(types), dtype=torch.long, device=device)

    def transport(x, T_from, T_to):
        ys, lds, vs = [], [], []
        with torch.no_grad():
            for s in range(0, len(x), batch_size):
                xb = torch.as_tensor(x[s : s + batch_size], dtype=torch.float64, device=device)
                B = len(xb)
                y, ld, var = model.transport(
                    xb,
                    types_t[None].expand(B, -1),
                    box_t,
                    torch.full((B,), float(T_from), dtype=torch.float64, device=device),
                    torch.full((B,), float(T_to), dtype=torch.float64, device=device),
                )
                ys.append(y.cpu().numpy())
                lds.append(ld.cpu().numpy())
                vs.append(np.zeros(B) if var is None else var.cpu().numpy())
        return np.concatenate(ys), np.concatenate(lds), np.concatenate(vs)

    return transport


def base_starts(ck: dict, store=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(positions (S, N, 3), types (N,), box (3,)) of the training and validation configurations
    at a transport run's base temperature (for a bridged base, at the store temperature its MD
    starts from: ``base_source``), read from ``store`` (default: the run's own) and checked to be
    the very ones the fit recorded."""
    from glassdyn.data import keys
    from glassdyn.data.errors import StoreError
    from glassdyn.data.splits import identity, temperature_key
    from glassdyn.data.store import Store

    Tb = ck["data"].get("base_source") or ck["data"]["base_temperature"]
    key = temperature_key(Tb)
    path = store or ck.get("data_path") or ck["data"]["store"]
    fix = "pass --data STORE, a store holding the configurations the run was fitted on"
    try:
        sp = Store.open(path).state(Tb)
    except StoreError as exc:
        raise InputError(
            f"the base configurations of this run (T={Tb:g}) cannot be read: {exc}; {fix}"
        ) from None
    split, fp = ck.get("split") or {}, ck.get("fingerprint") or {}
    configs = [int(c) for part in ("train", "val") for c in split.get(key, {}).get(part, [])]
    ids = fp.get("states", {}).get(key, {}).get("identity", {})
    done = sp.done
    if not configs or any(
        c >= len(done) or not done[c] or identity(sp, c) != ids.get(str(c)) for c in configs
    ):
        raise InputError(
            f"{path} does not hold the T={Tb:g} configurations this run was fitted on; {fix}"
        )
    idx = np.asarray(configs, dtype=np.int64)
    types = sp.read(keys.TYPES, idx)
    return (
        sp.read(keys.THERMAL_POSITIONS, idx).astype(np.float64),
        types[0],
        sp.read(keys.BOX, idx)[0],
    )


def physics_only(model):
    """A copy of a diffusion model whose learned network outputs zero: the physics term alone
    (the ablation of the network)."""
    import copy

    import torch

    class _Zero(torch.nn.Module):
        def forward(self, u, *args, **kwargs):
            return torch.zeros_like(u)

    m = copy.deepcopy(model)
    m.field.net = _Zero()
    return m


def sample_run(
    model,
    ck: dict,
    temperature: float,
    n: int,
    *,
    seed: int = 0,
    options: CorrectionOptions = CorrectionOptions(),
    store=None,
    transport: str = "model",
    batch_size: int = 16,
    device: str = "cpu",
    log=None,
) -> SampleSet:
    """``n`` corrected samples of a fitted run at ``temperature``.  ``transport``: for flow / cnf
    runs, ``model`` (the fitted map) or ``none`` (the identity: population annealing from the same
    base, the ablation); diffusion runs take ``model`` or ``physics`` (the physics term alone)."""
    import torch

    rng = np.random.default_rng([int(seed), 21])
    types = np.asarray(ck["data"]["types"], dtype=np.int64)
    box = np.asarray(ck["data"]["box"], dtype=np.float64)
    kind = ck["kind"]
    if kind in TRANSPORT_KINDS:
        starts, types_b, box_b = base_starts(ck, store)
        f = (
            None
            if transport == "none"
            else model_transport(model, types_b, box_b, batch_size, device)
        )
        method = f"{kind} transport" if f is not None else "population annealing"
        return transported(
            f,
            starts,
            types_b,
            box_b,
            float(ck["data"]["base_temperature"]),
            float(temperature),
            n,
            rng,
            options,
            method=method,
            source=ck["data"].get("base_source"),
            log=log,
        )
    m = physics_only(model) if transport == "physics" else model
    t0 = time.perf_counter()
    g = torch.Generator(device=device).manual_seed(int(seed))
    dtype = getattr(m, "sample_dtype", torch.float32)
    m = m.to(device=device, dtype=dtype)
    xs = []
    with torch.no_grad():
        for s in range(0, n, batch_size):
            k = min(batch_size, n - s)
            x, _ = m.sample(
                k,
                torch.as_tensor(types, device=device),
                torch.as_tensor(box, dtype=dtype, device=device),
                float(temperature),
                generator=g,
            )
            xs.append(x.double().cpu().numpy())
    x = np.concatenate(xs)
    method = "diffusion" if transport != "physics" else "diffusion, physics term alone"
    return refined(
        x,
        types,
        box,
        float(temperature),
        rng,
        options,
        method=method,
        proposal_seconds=time.perf_counter() - t0,
        log=log,
    )


__all__ = [
    "CorrectionOptions",
    "SampleSet",
    "MoveStats",
    "effective_count",
    "pooled",
    "refined",
    "transported",
]


def sample_to(
    run_dir,
    temperature: float,
    n: int,
    out,
    *,
    options: CorrectionOptions = CorrectionOptions(),
    sampler=None,
    seed: int = 0,
    overwrite: bool = False,
    data=None,
    transport: str = "model",
    batch_size: int = 16,
    device: str = "cpu",
    log=print,
) -> SampleSet:
    """``glassdyn gen sample``: ``n`` corrected configurations of the run in ``run_dir`` at
    ``temperature`` written to ``out`` (a new store or an extended-XYZ file; checked before
    anything is computed).  ``sampler``: the run's :class:`~glassdyn.gen.options.SamplerOptions`
    (diffusion's reverse SDE); ``data``: the store of the run's base configurations (transports;
    default the run's own); ``transport``: ``model`` (the fitted network) or ``off`` (the
    ablation: the identity map for flow / cnf, the physics term alone for diffusion)."""
    from glassdyn.gen.checkpoints import load_run
    from glassdyn.gen.writers import check_output, write_samples

    if transport not in ("model", "off"):
        raise ValueError(f"transport must be 'model' or 'off', got {transport!r}")
    if n < 1:
        raise InputError(f"--n must be positive, got {n}")
    if not temperature > 0:
        raise InputError(f"--temperature must be positive, got {temperature}")
    check_output(out, temperature, overwrite, inputs=(run_dir, *([data] if data else [])))
    model, ck = load_run(run_dir)
    if sampler is not None:
        sampler.apply(model)
    if ck["kind"] not in TRANSPORT_KINDS:
        temps = ck["data"]["temperatures"]
        if not min(temps) - 1e-9 <= temperature <= max(temps) + 1e-9:
            log(
                f"warning: T={temperature:g} is outside the trained range {min(temps):g}..{max(temps):g} (extrapolating)"
            )
    if transport == "off":  # the ablation: the identity map, or the physics term alone
        transport = "none" if ck["kind"] in TRANSPORT_KINDS else "physics"
    s = sample_run(
        model,
        ck,
        temperature,
        n,
        seed=seed,
        options=options,
        store=data,
        transport=transport,
        batch_size=batch_size,
        device=device,
        log=log,
    )
    types = np.asarray(ck["data"]["types"], dtype=np.int8)
    box = np.asarray(ck["data"]["box"], dtype=np.float64)
    summary = {k: v for k, v in s.report.items() if k not in ("steps", "log_w")}
    write_samples(
        out,
        s.positions,
        types,
        box,
        temperature,
        energy=s.energy / len(types),
        log_w=s.report.get("log_w"),
        attrs={
            "run": str(run_dir),
            "model": ck["kind"],
            "method": s.method,
            "corrected": s.corrected,
            "family": [int(f) for f in s.family],
            "sampler_report": summary,
        },
        overwrite=overwrite,
    )
    return s


FEW_EFFECTIVE = 8.0  # below min(this, n / 2) effective configurations, gen sample says so


def caution(s: SampleSet) -> str | None:
    """A line for a population method's samples worth few independent configurations (the
    annealing kept few families: members of a family share their chemical order), with the two
    levers that keep more; None otherwise."""
    r = s.report
    if not s.corrected or "population" not in r:
        return None
    eff = float(r["effective_configurations"])
    if eff >= min(FEW_EFFECTIVE, s.n / 2):
        return None
    from glassdyn.gen.mdpool import close_base

    bigger = max(2 * r["population"], 2 * s.n)
    T, Tb = s.temperature, r["base_temperature"]
    near = close_base(T, s.positions.shape[1])
    closer = ""
    if near < Tb - 1e-9:  # the base is farther than the close one: a bridged base keeps more
        closer = (
            f"a transport fitted from a base closer to {T:g} keeps more (`gen fit --temperatures "
            f"{T:g} --base-temperature {near:g}`: MD equilibrated there from the store's nearest "
            "temperature above), and "
        )
    return (
        f"note: these {s.n} configurations are worth about {eff:.1f} independent ones (only "
        f"{r['effective_families']:.1f} effective families of the {r['population']} carried down "
        f"from T={Tb:g} survived the annealing); {closer}a larger population drawn whole keeps "
        f"more at proportional cost (--n {bigger} --population {bigger}); a larger --population "
        "alone adds families the n drawn barely see"
    )


def describe(s: SampleSet) -> str:
    """One line on how a sample set was made and what it is worth."""
    r = s.report
    if not s.corrected:
        return f"{s.n} raw proposals ({s.method}; not Boltzmann-distributed: diagnostics only)"
    if "population" in r:
        return (
            f"{s.n} configurations by {s.method} from T={r['base_temperature']:g} "
            f"({len(r['ladder'])} temperature steps, population {r['population']}, final ESS "
            f"{r['ess']:.1f}, {r['effective_families']:.1f} effective families, HMC acceptance "
            f"{r['hmc_acceptance']:.2f}; {r['seconds']['total']:.1f} s)"
        )
    pulled = r.get("relaxed", 0)
    relax = f"{pulled} pulled apart by FIRE first, " if pulled else ""
    stuck = f", {r['stuck']} never moved" if r.get("stuck") else ""
    return (
        f"{s.n} configurations by {s.method}, {relax}refined by {r['refine_sweeps']} Hybrid Monte "
        f"Carlo moves at T ({r['refine_time']:.3g} LJ time, acceptance {r['hmc_acceptance']:.2f}"
        f"{stuck}; {r['seconds']['total']:.1f} s)"
    )
