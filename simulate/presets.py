"""Named simulation presets: frozen settings of a whole dataset, overridable field by field.

A preset fixes the physics (N, density, temperatures, dt, thermostat, protocol lengths in units
of tau_alpha), the sizes (C configurations, R replicas, K times) and the isoconfigurational
sampling times.  ``settings.replace(n_configs=10)`` gives an overridden copy;
``PRESETS["tiny"]`` the named one.

tau_alpha estimates (Fs_A(k=7.25, tau_alpha) = 1/e, N=1000 KA at density 1.2): 2.6 at T=0.80
and 9.4 at T=0.64 (measured with scripts/measure_tau_alpha.py: 4 configurations x 4 NVE replicas
after 10 tau_alpha of NVT; an earlier estimate gave 8.1 at 0.64), roughly 27 at 0.56, 120 at 0.50, 500 at 0.47
and 4000 at 0.44 (the literature's order of magnitude; BOTAN's time 4120 at T=0.44 is about
tau_alpha).  N=256 (presets ``tiny`` and ``ci``) has its own measured table, ``TAU_ALPHA_N256``.  Between and beyond the table, log(tau_alpha) is interpolated linearly in 1/T.
Presets use these only to size equilibration and sampling times; the values used are recorded
in the store; ``glassdyn analyze`` (:mod:`glassdyn.analysis.dynamics`) measures tau_alpha from the data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

import numpy as np
from glassdyn.data.box import box_length
from glassdyn.data.errors import InputError
from glassdyn.simulate.ka import KAParameters
from glassdyn.simulate.protocols import Melt, MinimizerOptions, System

TAU_ALPHA_ESTIMATES: tuple[tuple[float, float], ...] = (
    (0.44, 4000.0),
    (0.47, 500.0),
    (0.50, 120.0),
    (0.56, 27.0),
    (0.64, 9.4),
    (0.80, 2.6),
    (1.00, 1.0),
)

# N=256 (tiny, ci): measured here with scripts/measure_tau_alpha.py (4 configurations x 4 NVE
# replicas after 10 tau_alpha of NVT): 3.6 at T=0.80, 10.9 at T=0.64 -- small KA systems relax
# more slowly than N=1000; T=1.0 extrapolated (log tau linear in 1/T), colder T scaled by 1.35.
TAU_ALPHA_N256: tuple[tuple[float, float], ...] = (
    (0.44, 5400.0),
    (0.47, 675.0),
    (0.50, 162.0),
    (0.56, 36.0),
    (0.64, 10.9),
    (0.80, 3.6),
    (1.00, 1.5),
)

BOTAN_TIMES_T044 = (0.13, 1.3, 13.0, 130.0, 412.0, 1300.0, 4120.0, 13000.0, 41200.0, 130000.0)


def tau_alpha_estimate(
    temperature: float, table: tuple[tuple[float, float], ...] = TAU_ALPHA_ESTIMATES
) -> float:
    """tau_alpha(T) from ``table`` ((T, tau) pairs): log(tau) linear in 1/T between and beyond points."""
    if temperature <= 0:
        raise InputError(f"temperature must be positive, got {temperature}")
    pts = sorted(table)
    inv = np.array([1.0 / t for t, _ in pts])[::-1]  # ascending 1/T
    logtau = np.log([tau for _, tau in pts])[::-1]
    x = 1.0 / temperature
    if x <= inv[0]:
        i = 0
    elif x >= inv[-1]:
        i = len(inv) - 2
    else:
        i = int(np.searchsorted(inv, x)) - 1
    slope = (logtau[i + 1] - logtau[i]) / (inv[i + 1] - inv[i])
    return float(np.exp(logtau[i] + slope * (x - inv[i])))


@dataclass(frozen=True)
class SimulationSettings:
    """Everything that decides the arrays of a dataset (besides the seed).

    Times are LJ units.  Equilibration: a fresh random melt per configuration (``melt``), then NVT
    (Nose-Hoover, damping ``tdamp``) at T for ``equilibration_tau`` x tau_alpha(T), or for exactly
    ``equilibration_fixed_time`` (LJ time) at every T when it is set.  Replicas:
    ``ensemble`` "nve" (default) or "nvt", sampled at K times: explicit ``times`` (given at
    ``times_temperature`` and scaled by tau_alpha(T) / tau_alpha(times_temperature) at other T),
    else ``n_times`` log-spaced from ``time_min`` to ``time_max_tau`` x tau_alpha(T).
    """

    name: str
    n_particles: int
    temperatures: tuple[float, ...]
    n_configs: int
    n_replicas: int
    n_times: int = 6
    density: float = 1.2
    fraction_a: float = 0.8
    dt: float = 0.005
    tdamp: float = 0.5
    equilibration_tau: float = 10.0
    equilibration_fixed_time: float | None = (
        None  # LJ time at every T; None: equilibration_tau x tau_alpha(T)
    )
    time_min: float = 0.05
    time_max_tau: float = 3.0
    times: tuple[float, ...] | None = None
    times_temperature: float | None = None
    ensemble: str = "nve"
    inherent: bool = True
    tau_alpha: tuple[tuple[float, float], ...] = TAU_ALPHA_ESTIMATES
    melt: Melt = Melt()
    minimizer: MinimizerOptions = MinimizerOptions()
    params: KAParameters = KAParameters()
    replica_block: int = (
        0  # replicas per work unit; 0 = all replicas of a configuration in one unit
    )
    trajectory_blocks: int = 0  # one long run per configuration: blocks of the sampling times
    description: str = field(default="", compare=False)

    def replace(self, **changes) -> SimulationSettings:
        """A copy with ``changes`` (None values are ignored), validated."""
        changes = {k: v for k, v in changes.items() if v is not None}
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise InputError(f"unknown simulation setting(s) {sorted(unknown)}")
        if "temperatures" in changes:
            changes["temperatures"] = tuple(float(t) for t in changes["temperatures"])
        if "times" in changes and changes["times"] is not None:
            changes["times"] = tuple(float(t) for t in changes["times"])
        out = replace(self, **changes)
        out.validate()
        return out

    def validate(self) -> None:
        def bad(msg):
            raise InputError(f"preset {self.name!r}: {msg}")

        if self.n_particles < 10:
            bad(f"--particles must be at least 10, got {self.n_particles}")
        if self.n_configs < 1:
            bad(f"--configs must be positive, got {self.n_configs}")
        if self.n_replicas < 0:
            bad(f"--replicas must be >= 0, got {self.n_replicas}")
        if not self.temperatures or any(not (0 < t < np.inf) for t in self.temperatures):
            bad(f"--temperatures must be positive and finite, got {self.temperatures}")
        if len({f"{t:.3f}" for t in self.temperatures}) != len(self.temperatures):
            bad(f"temperatures must differ at three decimals, got {self.temperatures}")
        for name in ("density", "dt", "tdamp", "time_min", "time_max_tau"):
            v = getattr(self, name)
            if not 0 < v < np.inf:
                bad(f"{name} must be positive and finite, got {v}")
        if not 0 < self.fraction_a <= 1:
            bad(f"fraction_a must be in (0, 1], got {self.fraction_a}")
        if self.ensemble not in ("nve", "nvt"):
            bad(f"replica ensemble must be 'nve' or 'nvt', got {self.ensemble!r}")
        if not 0 <= self.equilibration_tau < np.inf:
            bad(f"--equilibration-tau must be >= 0 and finite, got {self.equilibration_tau}")
        if (
            self.equilibration_fixed_time is not None
            and not 0 <= self.equilibration_fixed_time < np.inf
        ):
            bad(
                f"--equilibration-time must be >= 0 and finite, got {self.equilibration_fixed_time}"
            )
        if self.times is not None:
            t = np.asarray(self.times)
            if (
                t.ndim != 1
                or len(t) == 0
                or not np.all((t > 0) & np.isfinite(t))
                or np.any(np.diff(t) <= 0)
            ):
                bad(f"--times must be positive and increasing, got {self.times}")
        elif self.n_times < 1:
            bad(f"--n-times must be positive, got {self.n_times}")
        if self.replica_block < 0:
            bad(f"replica block must be >= 0, got {self.replica_block}")
        if self.trajectory_blocks < 0:
            bad(f"--trajectory must be >= 0 blocks, got {self.trajectory_blocks}")
        if self.box_length < 2 * (self.params.max_cutoff + 0.3):
            bad(
                f"N={self.n_particles} at density {self.density} gives a box of {self.box_length:.3f}, "
                f"shorter than twice the cutoff + skin ({2 * (self.params.max_cutoff + 0.3):.2f}); use more particles"
            )

    # -------------------------------------------------------------- derived
    @property
    def box_length(self) -> float:
        return box_length(self.n_particles, self.density)

    def system(self) -> System:
        return System(
            self.n_particles, self.density, self.fraction_a, self.dt, self.tdamp, self.params
        )

    def tau(self, temperature: float) -> float:
        """The tau_alpha estimate used at ``temperature``."""
        return tau_alpha_estimate(temperature, self.tau_alpha)

    def equilibration_time(self, temperature: float) -> float:
        """NVT equilibration at T in LJ time: the fixed time when set, else equilibration_tau x tau_alpha(T)."""
        if self.equilibration_fixed_time is not None:
            return float(self.equilibration_fixed_time)
        return self.equilibration_tau * self.tau(temperature)

    def sample_steps(self, temperature: float) -> np.ndarray:
        """(K,) strictly increasing MD step counts of the isoconfigurational samples at T."""
        if self.times is not None:
            t = np.asarray(self.times, dtype=np.float64)
            if self.times_temperature is not None:
                t = t * self.tau(temperature) / self.tau(self.times_temperature)
        else:
            t = np.geomspace(self.time_min, self.time_max_tau * self.tau(temperature), self.n_times)
        steps = np.maximum(1, np.round(t / self.dt)).astype(np.int64)
        for k in range(1, len(steps)):  # keep them strictly increasing after rounding
            steps[k] = max(steps[k], steps[k - 1] + 1)
        return steps

    def trajectory_steps(self, temperature: float) -> np.ndarray:
        """(F,) MD steps of the frames of the long trajectory at T: ``trajectory_blocks`` blocks
        of period P = the last sampling step, each dumped at 0 and the other sampling steps
        (block-periodic log spacing), and a last frame at blocks x P.  Lags from the start of a
        block are the isoconfigurational times, so both chi4 compare time by time."""
        sample = self.sample_steps(temperature)
        offsets = np.concatenate([[0], sample[:-1]])
        period = int(sample[-1])
        blocks = np.arange(self.trajectory_blocks, dtype=np.int64)[:, None] * period
        return np.append((blocks + offsets).ravel(), self.trajectory_blocks * period)

    def times_at(self, temperature: float) -> np.ndarray:
        """(K,) sampling times at T in LJ units (multiples of dt)."""
        return self.sample_steps(temperature) * self.dt

    def n_replica_blocks(self) -> int:
        block = self.replica_block or self.n_replicas
        return 0 if self.n_replicas == 0 else -(-self.n_replicas // block)

    def as_dict(self) -> dict:
        """JSON-ready dict (stored in the store's attrs)."""
        d = asdict(self)
        d["melt"] = asdict(self.melt)
        d["minimizer"] = self.minimizer.as_dict()
        d["params"] = self.params.as_dict()
        d["tau_alpha"] = [list(p) for p in self.tau_alpha]
        d["temperatures"] = list(self.temperatures)
        d["times"] = None if self.times is None else list(self.times)
        return d

    def physics(self) -> dict:
        """The settings that decide the arrays of each state point (compared on resume)."""
        d = self.as_dict()
        for k in ("name", "description", "temperatures", "replica_block"):
            d.pop(k)
        if not self.trajectory_blocks:
            d.pop("trajectory_blocks")  # stores simulated before the option existed resume
        return d


PRESETS: dict[str, SimulationSettings] = {
    s.name: s
    for s in (
        SimulationSettings(
            name="tiny",
            description="smoke-test dataset: N=256, T=0.80 and 0.64, 3 configurations, R=4, K=6 (about a minute on 2 cores)",
            n_particles=256,
            temperatures=(0.8, 0.64),
            n_configs=3,
            n_replicas=4,
            n_times=6,
            equilibration_tau=10.0,
            time_max_tau=3.0,
            tau_alpha=TAU_ALPHA_N256,
        ),
        SimulationSettings(
            name="ci",
            description="seconds, for tests and CI (too short to equilibrate: not for physics): N=256, T=1.0,0.8, 4 configurations, R=3, K=4",
            n_particles=256,
            temperatures=(1.0, 0.8),
            n_configs=4,
            n_replicas=3,
            n_times=4,
            equilibration_tau=2.0,
            time_max_tau=1.0,
            tau_alpha=TAU_ALPHA_N256,
            melt=Melt(melt_time=2.0),
            minimizer=MinimizerOptions(ftol=1e-6),
        ),
        SimulationSettings(
            name="small",
            description="N=1000, T=0.80 and 0.64, 32 configurations, R=16, K=8 (about an hour on 2 cores)",
            n_particles=1000,
            temperatures=(0.8, 0.64),
            n_configs=32,
            n_replicas=16,
            n_times=8,
            equilibration_tau=20.0,
            time_max_tau=5.0,
        ),
        SimulationSettings(
            name="botan",
            description="BOTAN/T-BOTAN scale (cluster work): N=4096, 6 temperatures, 500 configurations, R=32, BOTAN's 10 times",
            n_particles=4096,
            temperatures=(0.44, 0.47, 0.5, 0.56, 0.64, 0.8),
            n_configs=500,
            n_replicas=32,
            n_times=10,
            equilibration_tau=10.0,
            times=BOTAN_TIMES_T044,
            times_temperature=0.44,
            replica_block=4,
        ),
    )
}


def get_preset(name: str) -> SimulationSettings:
    """The preset called ``name``; a clear error listing the choices otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise InputError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}") from None
