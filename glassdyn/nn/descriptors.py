"""Coarse-grained structural descriptors of a KA configuration, for the ridge and MLP baselines.

Local descriptors per particle (kernels in :mod:`glassdyn.nn.local_structure`), in *families*:

| family | columns | needs |
| --- | --- | --- |
| ``radial`` | G^A, G^B at shells r_k (2 S) of the thermal structure (TS) | TS |
| ``angular`` | Steinhardt q_1 .. q_lmax of the TS first shell | TS |
| ``energy`` | KA potential energy e_i of the TS | TS |
| ``radial_is``, ``angular_is``, ``energy_is`` | the same of the inherent structure (IS) | IS |
| ``displacement`` | TS -> IS displacement |r_i^IS - r_i^TS| (minimum image) | IS |
| ``radial_cage``, ..., ``displacement_cage`` | the same of the cage state (TS -> cage) | cage state |

Then each local column is averaged over neighbours at every coarse-graining length a of
``cg_lengths`` (weights exp(-r/a) within ``cg_cutoff`` x a, on the TS neighbour distances, the
particle itself included): Boattini, Smallenburg, Filion, PRL 127, 088007 (2021).  The matrix is
[local, <local>_a1, <local>_a2, ...], (N, F) float64 with F = L (1 + len(cg_lengths)).

Descriptors are computed once per configuration and cached (:class:`DescriptorCache`, keyed by
the content of the positions, types, box and the spec).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from glassdyn.data import keys
from glassdyn.data.box import minimum_image
from glassdyn.data.errors import InputError
from glassdyn.data.runs import atomic_write
from glassdyn.data.store import StatePoint
from glassdyn.simulate.ka import KAParameters

TS_FAMILIES = ("radial", "angular", "energy")
IS_FAMILIES = ("radial_is", "angular_is", "energy_is", "displacement")
CAGE_FAMILIES = ("radial_cage", "angular_cage", "energy_cage", "displacement_cage")
FAMILIES = TS_FAMILIES + IS_FAMILIES  # the default descriptors (with inherent structures)
ALL_FAMILIES = FAMILIES + CAGE_FAMILIES
STRUCTURE_FAMILIES = {"ts": TS_FAMILIES, "is": IS_FAMILIES, "cage": CAGE_FAMILIES}

# the inputs of every predictor (``--input``): thermal structure, inherent structure, cage state
STRUCTURES = ("ts", "is", "cage")
INPUTS = ("ts", "is", "cage", "ts+is", "ts+cage", "is+cage", "ts+is+cage")


def input_structures(inp: str) -> tuple[str, ...]:
    """The structures an input reads, in the order of :data:`STRUCTURES`: ``is+cage`` ->
    ``("is", "cage")``."""
    return tuple(s for s in STRUCTURES if s in inp.split("+"))


def family_structure(fam: str) -> str:
    """The structure a family describes: ``ts``, ``is`` (``*_is`` and ``displacement``) or
    ``cage`` (``*_cage``)."""
    if fam.endswith("_cage"):
        return "cage"
    return "is" if fam.endswith("_is") or fam == "displacement" else "ts"


def family_base(fam: str) -> str:
    """``radial``, ``angular``, ``energy`` or ``displacement``."""
    return fam.removesuffix("_cage").removesuffix("_is")


CACHE_VERSION = 1  # bump when the content of a descriptor matrix changes


# coarse-graining lengths (sigma_AA) of the default descriptors: the third raised ridge's
# leave-one-file-out Pearson on BOTAN's ten T=0.44 training files from 0.755 to 0.770
CG_LENGTHS = (1.0, 2.0, 3.0)


def _default_shells() -> tuple[float, ...]:
    return tuple(round(0.8 + 0.1 * k, 2) for k in range(18))  # 0.8 .. 2.5


@dataclass(frozen=True)
class DescriptorSpec:
    """What the descriptor matrix holds.  Lengths in sigma_AA.

    families: subset of :data:`ALL_FAMILIES` (IS families need inherent structures, cage
    families cage states);
    shells / shell_width: radial shells r_k and Gaussian width w; l_max / bond_cutoff: q_l for
    l = 1 .. l_max over neighbours closer than bond_cutoff (first minimum of g(r));
    cg_lengths: coarse-graining lengths a, weights exp(-r/a) for r < cg_cutoff a.
    """

    families: tuple[str, ...] = FAMILIES
    shells: tuple[float, ...] = field(default_factory=_default_shells)
    shell_width: float = 0.1
    l_max: int = 8
    bond_cutoff: float = 1.45
    cg_lengths: tuple[float, ...] = CG_LENGTHS
    cg_cutoff: float = 2.0
    params: KAParameters = KAParameters()

    def __post_init__(self) -> None:
        bad = [f for f in self.families if f not in ALL_FAMILIES]
        if bad or not self.families:
            raise InputError(
                f"descriptor families must be among {ALL_FAMILIES}, got {self.families}"
            )
        for name in ("families", "shells", "cg_lengths"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if any(a <= 0 for a in self.cg_lengths) or self.l_max < 1 or self.shell_width <= 0:
            raise InputError("cg lengths and the shell width must be positive, l_max >= 1")

    @property
    def inherent(self) -> bool:
        """Whether the spec needs inherent structures."""
        return any(f in IS_FAMILIES for f in self.families)

    @property
    def cage(self) -> bool:
        """Whether the spec needs cage states."""
        return any(f in CAGE_FAMILIES for f in self.families)

    def without_inherent(self) -> DescriptorSpec:
        """The same spec with the thermal-structure families only."""
        return replace(self, families=tuple(f for f in self.families if f in TS_FAMILIES))

    def for_structures(self, structures) -> DescriptorSpec:
        """The families of the thermal structure (always: coarse-graining runs on its
        neighbours) and of each structure of ``structures`` (``is``, ``cage``), in that order."""
        fams = TS_FAMILIES + tuple(
            f for s in ("is", "cage") if s in structures for f in STRUCTURE_FAMILIES[s]
        )
        return replace(self, families=fams)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["params"] = self.params.as_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> DescriptorSpec:
        d = dict(d)
        d["params"] = KAParameters(**d.get("params", {}))
        return cls(**d)

    def pair_cutoff(self) -> float:
        """Largest distance any family or average needs."""
        radial = max(self.shells) + 5 * self.shell_width
        cg = self.cg_cutoff * max(self.cg_lengths) if self.cg_lengths else 0.0
        return max(radial, self.bond_cutoff, self.params.max_cutoff, cg)


def local_names(spec: DescriptorSpec) -> list[str]:
    """Names of the local (not coarse-grained) columns, in order."""
    out = []
    for fam in spec.families:
        where = family_structure(fam)
        suffix = {"ts": "", "is": "_IS", "cage": "_cage"}[where]
        base = family_base(fam)
        if base == "radial":
            out += [f"G{s}{suffix}({r:g})" for s in "AB" for r in spec.shells]
        elif base == "angular":
            out += [f"q{l}{suffix}" for l in range(1, spec.l_max + 1)]
        elif base == "energy":
            out.append(f"e{suffix}")
        else:
            out.append("|r_IS-r_TS|" if where == "is" else "|r_cage-r_TS|")
    return out


def descriptor_names(spec: DescriptorSpec | bool) -> list[str]:
    """Column names of :func:`describe`: local, then ``<name>_a`` per coarse-graining length
    (a bool: the default spec with / without the IS families, as :func:`local_descriptors`)."""
    if isinstance(spec, bool):
        spec = DescriptorSpec() if spec else DescriptorSpec().without_inherent()
    loc = local_names(spec)
    return loc + [f"<{n}>_{a:g}" for a in spec.cg_lengths for n in loc]


def family_columns(spec: DescriptorSpec) -> dict[str, np.ndarray]:
    """Column indices of :func:`describe` per family (local and coarse-grained), for ablations."""
    sizes = {"radial": 2 * len(spec.shells), "angular": spec.l_max, "energy": 1, "displacement": 1}
    start, local = 0, {}
    for fam in spec.families:
        n = sizes[family_base(fam)]
        local[fam] = np.arange(start, start + n)
        start += n
    L = start
    return {
        f: np.concatenate([c + k * L for k in range(1 + len(spec.cg_lengths))])
        for f, c in local.items()
    }


def _structure(p, types: np.ndarray, spec: DescriptorSpec, fam: str) -> np.ndarray:
    """One local family of a pair list ``p`` (:func:`glassdyn.nn.local_structure.pairs`)."""
    from glassdyn.nn import local_structure as ls

    if fam == "radial":
        return ls.radial_densities(p, types, np.asarray(spec.shells), spec.shell_width)
    if fam == "angular":
        return ls.bond_order(p, spec.l_max, spec.bond_cutoff)
    return ls.particle_energy(p, types, spec.params)[:, None]


def describe(
    thermal: np.ndarray,
    types: np.ndarray,
    box: np.ndarray,
    inherent: np.ndarray | None = None,
    spec: DescriptorSpec = DescriptorSpec(),
    cage: np.ndarray | None = None,
) -> np.ndarray:
    """The descriptor matrix (N, F) of one configuration (columns: :func:`descriptor_names`).

    thermal / inherent / cage: (N, 3) positions; types (N,) 0 = A, 1 = B; box (3,).
    """
    from glassdyn.nn import local_structure as ls  # scipy: only when descriptors are computed

    if spec.inherent and inherent is None:
        raise InputError(
            f"descriptor families {[f for f in spec.families if f in IS_FAMILIES]} need inherent "
            "structures; run `glassdyn quench STORE` first"
        )
    if spec.cage and cage is None:
        raise InputError(
            f"descriptor families {[f for f in spec.families if f in CAGE_FAMILIES]} need cage "
            "states; run `glassdyn cage STORE` first"
        )
    types = np.asarray(types, dtype=np.int64)
    box = np.asarray(box, dtype=np.float64)
    p_ts = ls.pairs(thermal, box, spec.pair_cutoff())
    local_cut = max(
        max(spec.shells) + 5 * spec.shell_width, spec.bond_cutoff, spec.params.max_cutoff
    )
    other = {"is": inherent, "cage": cage}
    pairs = {"ts": p_ts}
    for where in ("is", "cage"):
        if any(
            family_structure(f) == where and family_base(f) != "displacement" for f in spec.families
        ):
            pairs[where] = ls.pairs(other[where], box, local_cut)
    cols = []
    for fam in spec.families:
        where, base = family_structure(fam), family_base(fam)
        if base == "displacement":
            d = minimum_image(
                np.asarray(other[where], np.float64) - np.asarray(thermal, np.float64), box
            )
            cols.append(np.linalg.norm(d, axis=1)[:, None])
        else:
            cols.append(_structure(pairs[where], types, spec, base))
    local = np.concatenate(cols, axis=1)
    blocks = [local] + [
        ls.coarse_grain(local, p_ts, a, spec.cg_cutoff * a) for a in spec.cg_lengths
    ]
    return np.concatenate(blocks, axis=1)


class DescriptorCache:
    """Descriptor matrices kept in memory and (optionally) on disk as ``.npy``, keyed by content
    (positions, types, box and the spec), so a changed store never serves stale descriptors."""

    def __init__(self, directory: str | os.PathLike | None = None):
        self.directory = Path(directory) if directory is not None else None
        self._memory: dict[str, np.ndarray] = {}

    @staticmethod
    def key(spec: DescriptorSpec, arrays: list[np.ndarray]) -> str:
        h = hashlib.sha1(json.dumps([CACHE_VERSION, spec.to_dict()], sort_keys=True).encode())
        for a in arrays:
            a = np.ascontiguousarray(a)
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(a.tobytes())
        return h.hexdigest()[:24]

    def get(self, sp: StatePoint, c: int, spec: DescriptorSpec) -> np.ndarray:
        """Descriptors (N, F) of configuration ``c`` of ``sp``."""
        thermal = sp.read(keys.THERMAL_POSITIONS, c)
        types = sp.read(keys.TYPES, c)
        box = sp.read(keys.BOX, c)
        inherent = sp.read(keys.INHERENT_POSITIONS, c) if spec.inherent else None
        cage = sp.read(keys.CAGE_POSITIONS, c) if spec.cage else None
        arrays = [thermal, types, box] + [a for a in (inherent, cage) if a is not None]
        k = self.key(spec, arrays)
        if k in self._memory:
            return self._memory[k]
        path = (
            self.directory / f"{sp.name}_c{int(c)}_{k}.npy" if self.directory is not None else None
        )
        if path is not None and path.exists():
            X = np.load(path)
        else:
            X = describe(thermal, types, box, inherent, spec, cage)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(path, lambda tmp: _save_npy(tmp, X))
        self._memory[k] = X
        return X


# ------------------------------------------------------------------ earlier interface
def local_descriptors(
    positions: np.ndarray, types: np.ndarray, box: np.ndarray, inherent: np.ndarray | None = None
) -> np.ndarray:
    """The default descriptor matrix (N, F): TS families, plus the IS families with ``inherent``."""
    spec = DescriptorSpec() if inherent is not None else DescriptorSpec().without_inherent()
    return describe(positions, types, box, inherent, spec)


def family_subset(spec: DescriptorSpec, families) -> np.ndarray:
    """Column indices of :func:`describe` (``spec``) that make the matrix of ``spec`` with only
    ``families`` (kept in ``spec``'s order): coarse-graining is column by column, so a subset's
    matrix is a selection of the full one's columns."""
    sizes = {"radial": 2 * len(spec.shells), "angular": spec.l_max, "energy": 1, "displacement": 1}
    start, local = 0, []
    for fam in spec.families:
        n = sizes[family_base(fam)]
        if fam in families:
            local.append(np.arange(start, start + n))
        start += n
    cols = np.concatenate(local)
    return np.concatenate([cols + k * start for k in range(1 + len(spec.cg_lengths))])


def _save_npy(path: Path, X: np.ndarray) -> None:
    with open(path, "wb") as fh:  # a file object: numpy adds no suffix to the name
        np.save(fh, X)
