"""Importers for the public BOTAN and GlassBench ``.npz`` data sets (3D KA, density 1.2).

**BOTAN** (Shiba et al., J. Chem. Phys. 158, 084503 (2023); reference code h3-Open-BDEC/pyg_botan):
one file per configuration and time index, ``T0.44/{train,test}/isoconfig_N4096T0.44_401_tc07.npz``
(N, T, configuration id, time index ``tcKK``), holding

| array | shape | meaning |
| --- | --- | --- |
| ``types`` | (N,) | 0 = A, 1 = B |
| ``initial_positions`` | (N, 3) | the configuration at t = 0 (inside the box) |
| ``positions`` | (R, N, 3) | unwrapped positions of the R replicas at time index KK |

The box is cubic with L = (N / 1.2)^(1/3) (15.05658 for N = 4096).  Displacements are
``positions - initial_positions``.  At T = 0.44 the time indices 0..9 are the times
0.13, 1.3, 13, 130, 412, 1300, 4120, 13000, 41200, 130000; elsewhere pass ``times``.

**GlassBench** (Jung et al., "Roadmap on machine learning glassy liquids", arXiv:2311.14752;
zenodo 10.5281/zenodo.10118191): one file per configuration, ``T0.44/{train,test}/N4096T0.44_401.npz``,
holding ``types`` (N,) (0/1 or 1/2), ``initial_positions`` (N, 3), ``initial_positions_inherent``
(N, 3), optionally ``initial_positions_cage`` (N, 3), and ``md_prop`` (K, N): the propensity at
BOTAN's K = 10 times.  There are no replica displacements: the store gets ``isoconfig/propensity``
and no ``isoconfig/displacements`` (``n_replicas`` = 0).  ``bb_prop`` (bond-breaking propensity)
is not imported.

:func:`export_botan` writes a store's isoconfigurational data back in BOTAN's layout.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from glassdyn.data import keys
from glassdyn.data.box import box_length, wrap
from glassdyn.data.errors import InputError
from glassdyn.data.importers import (
    ImportReport,
    Progress,
    importing_into,
    natural_key,
    prepare_state,
)

#: BOTAN's times (LJ units) at T = 0.44.  File time indices count from 1: ``tc01`` is 0.13 and
#: ``tc07`` is 4120, about tau_alpha (pyg_botan's README calls time_index=7 the alpha-relaxation
#: time; Fs_A(k=7.25) of its tc07 sample is 0.29, near 1/e, where 13000 would be far past it).
BOTAN_TIMES_T044 = (0.13, 1.3, 13.0, 130.0, 412.0, 1300.0, 4120.0, 13000.0, 41200.0, 130000.0)
BOTAN_DENSITY = 1.2

_BOTAN_NAME = re.compile(r"isoconfig_N(\d+)T(\d+(?:\.\d*)?)_(\d+)_tc(\d+)\.npz$")
_GLASSBENCH_NAME = re.compile(r"N(\d+)T(\d+(?:\.\d*)?)_(\d+)\.npz$")


@dataclass
class _Source:
    """Files of one temperature: config id -> {time index: path} (BOTAN) or -> path (GlassBench)."""

    temperature: float
    n_particles: int
    files: dict = field(default_factory=dict)
    splits: dict = field(default_factory=dict)  # config id -> parent directory name (train/test)


def scan(root: str | os.PathLike, kind: str) -> dict[float, _Source]:
    """Group the ``.npz`` files under ``root`` by temperature and configuration id."""
    root = Path(root)
    if not root.exists():
        raise InputError(f"no directory or file at {root}")
    pattern = _BOTAN_NAME if kind == "botan" else _GLASSBENCH_NAME
    example = "isoconfig_N4096T0.44_401_tc07.npz" if kind == "botan" else "N4096T0.44_401.npz"
    paths = [root] if root.is_file() else sorted(root.rglob("*.npz"), key=natural_key)
    out: dict[float, _Source] = {}
    unmatched = []
    for p in paths:
        m = pattern.search(p.name)
        if not m:
            unmatched.append(p.name)
            continue
        n, T, cid = int(m.group(1)), round(float(m.group(2)), 3), int(m.group(3))
        src = out.setdefault(T, _Source(T, n))
        if n != src.n_particles:
            raise InputError(
                f"{p}: N={n} in the name, other files at T={T:g} have N={src.n_particles}"
            )
        if kind == "botan":
            tc = int(m.group(4))
            if tc in src.files.setdefault(cid, {}):
                raise InputError(
                    f"{p}: configuration {cid} time tc{tc:02d} appears twice (also {src.files[cid][tc]})"
                )
            src.files[cid][tc] = p
        else:
            if cid in src.files:
                raise InputError(f"{p}: configuration {cid} appears twice (also {src.files[cid]})")
            src.files[cid] = p
        src.splits[cid] = p.parent.name
    if not out:
        seen = f" (found e.g. {unmatched[0]})" if unmatched else ""
        raise InputError(f"no {kind} files under {root}: expected names like {example}{seen}")
    return out


def _load(
    path: Path, required: dict[str, tuple], optional: Sequence[str] = ()
) -> dict[str, np.ndarray]:
    """Arrays of an npz file, checked against shapes (ints; None = any size)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            names = set(z.files)
            missing = [k for k in required if k not in names]
            if missing:
                raise InputError(f"{path}: missing array(s) {missing}; it has {sorted(names)}")
            arrays = {
                k: np.asarray(z[k]) for k in [*required, *(o for o in optional if o in names)]
            }
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise InputError(
            f"{path}: not a readable .npz file ({type(exc).__name__}: {exc})"
        ) from None
    for k, shape in required.items():
        a = arrays[k]
        if a.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, a.shape)):
            want = "(" + ", ".join("?" if s is None else str(s) for s in shape) + ")"
            raise InputError(f"{path}: array {k!r} has shape {a.shape}, expected {want}")
    for k, a in arrays.items():
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise InputError(f"{path}: array {k!r} holds NaN or inf")
        if a.dtype.kind not in "fiub":
            raise InputError(f"{path}: array {k!r} has dtype {a.dtype}, expected numbers")
    return arrays


def _types(values: np.ndarray, path: Path) -> np.ndarray:
    """0/1 as stored, or LAMMPS-style 1/2 (GlassBench) -> 0/1."""
    u = set(np.unique(values).tolist())
    if u <= {0, 1}:
        return values.astype(np.int8)
    if u <= {1, 2}:
        return (values - 1).astype(np.int8)
    raise InputError(f"{path}: types {sorted(u)[:5]} are neither 0/1 nor 1/2 (A/B)")


def _times(
    T: float, indices: Sequence[int], times: Sequence[float] | None, what: str
) -> tuple[list[float], list[str]]:
    """Times of the time indices, and notes."""
    if times is not None:
        if max(indices) >= len(times):
            raise InputError(
                f"{what}: time index {max(indices)} needs at least {max(indices) + 1} --times, got {len(times)}"
            )
        return [float(times[i]) for i in indices], []
    if keys.same_temperature(T, 0.44):
        return [BOTAN_TIMES_T044[i] for i in indices], []
    note = (
        f"T={T:g}: no times given and BOTAN's times are known only at T=0.44, so isoconfig/times holds the "
        "time INDICES (attr times_are_indices=True); re-import with --times t0,t1,... for LJ times"
    )
    return [float(i) for i in indices], [note]


def import_botan(
    root: str | os.PathLike,
    out: str | os.PathLike,
    *,
    temperature: float | None = None,
    times: Sequence[float] | None = None,
    density: float = BOTAN_DENSITY,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> list[ImportReport]:
    """Import a BOTAN data set directory (all temperatures, or only ``temperature``).

    Configurations are ordered by their id (the store records ids and train/test split in the
    group attr ``import``).  The store's times are the union of the time indices found; a
    configuration lacking one of them is written but not marked done, and the report says
    which.  ``times``: LJ times of tc01, tc02, ... (file time indices count from 1; needed at
    T != 0.44, and applied to every temperature imported, so import one temperature at a time
    when their times differ).
    """
    sources = _select(scan(root, "botan"), temperature, root)
    with importing_into(out, inputs=(root,)) as store:
        reports = []
        for T, src in sources.items():
            ids = sorted(src.files)
            tcs = sorted({tc for per in src.files.values() for tc in per})
            if tcs[0] < 1:
                raise InputError(
                    f"{root} T={T:g}: a file has time index tc{tcs[0]:02d}; BOTAN's time indices count from tc01"
                )
            if times is None and keys.same_temperature(T, 0.44) and tcs[-1] > len(BOTAN_TIMES_T044):
                raise InputError(
                    f"{root} T={T:g}: time index tc{tcs[-1]:02d} is beyond BOTAN's {len(BOTAN_TIMES_T044)} times; pass --times"
                )
            tvals, notes = _times(T, [tc - 1 for tc in tcs], times, f"{root} T={T:g}")
            N = src.n_particles
            L = box_length(N, density)
            first = _load(next(iter(src.files[ids[0]].values())), {"positions": (None, N, 3)})
            R = int(first["positions"].shape[0])
            source = {
                "format": "botan",
                "path": str(Path(root).resolve()),
                "ids": ids,
                "splits": [src.splits[i] for i in ids],
                "time_indices": tcs,
            }
            sp, _ = prepare_state(
                store,
                T,
                source=source,
                overwrite=overwrite,
                n_configs=len(ids),
                n_particles=N,
                n_replicas=R,
                times=tvals,
                fields=[keys.THERMAL_POSITIONS, keys.ISO_DISPLACEMENTS, keys.ISO_PROPENSITY],
                attrs={"density": density, "times_are_indices": bool(notes), "source": "BOTAN npz"},
            )
            report = ImportReport(str(store.path), T, len(ids), notes=notes)
            done = sp.done
            for c, cid in enumerate(ids):
                if done[c]:
                    report.skipped.append(c)
                else:
                    missing = _write_botan_config(sp, c, src.files[cid], tcs, N, R, L)
                    report.written.append(c)
                    if missing:
                        report.incomplete[c] = f"id {cid} lacks " + ", ".join(
                            f"tc{t:02d}" for t in missing
                        )
                    else:
                        sp.mark_done(c)
                if progress:
                    progress(c + 1, len(ids))
            reports.append(report)
        return reports


def _write_botan_config(
    sp, c: int, files: dict[int, Path], tcs: list[int], N: int, R: int, L: float
) -> list[int]:
    box = np.full(3, L)
    disp = np.full((R, len(tcs), N, 3), np.nan, dtype=np.float32)
    ref = None
    missing = []
    for k, tc in enumerate(tcs):
        path = files.get(tc)
        if path is None:
            missing.append(tc)
            continue
        a = _load(path, {"types": (N,), "initial_positions": (N, 3), "positions": (R, N, 3)})
        types = _types(a["types"], path)
        x0 = a["initial_positions"].astype(np.float64)
        if ref is None:
            ref = (path, types, x0)
        elif not (np.array_equal(types, ref[1]) and np.allclose(x0, ref[2], rtol=0, atol=1e-6)):
            raise InputError(
                f"{path}: types / initial_positions differ from {ref[0].name} of the same configuration"
            )
        xt = a["positions"].astype(np.float64)
        d = xt - x0[None]
        if np.all((xt >= 0) & (xt < L)) and np.abs(d).max() > L / 2:
            raise InputError(
                f"{path}: positions lie inside the box and jump by more than L/2 from initial_positions: "
                "they look wrapped, but BOTAN files hold unwrapped positions (displacements would be wrong)"
            )
        disp[:, k] = d
    if ref is not None:
        _, types, x0 = ref
        sp.write(
            c,
            **{
                keys.TYPES: types,
                keys.BOX: box,
                keys.THERMAL_POSITIONS: wrap(x0, box).astype(np.float32),
            },
        )
        # propensity as StatePoint.update_propensity computes it, without reading back
        prop = np.linalg.norm(disp.astype(np.float64), axis=-1).mean(axis=0)
        sp.write(c, **{keys.ISO_DISPLACEMENTS: disp, keys.ISO_PROPENSITY: prop})
    return missing


def import_glassbench(
    root: str | os.PathLike,
    out: str | os.PathLike,
    *,
    temperature: float | None = None,
    times: Sequence[float] | None = None,
    density: float = BOTAN_DENSITY,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> list[ImportReport]:
    """Import a GlassBench directory: thermal + inherent (+ cage) positions and ``md_prop``.

    ``times``: the K LJ times of the ``md_prop`` rows (at T = 0.44 with K = 10: BOTAN's).
    """
    sources = _select(scan(root, "glassbench"), temperature, root)
    with importing_into(out, inputs=(root,)) as store:
        reports = []
        for T, src in sources.items():
            ids = sorted(src.files)
            N = src.n_particles
            L = box_length(N, density)
            box = np.full(3, L)
            first_path = src.files[ids[0]]
            first = _load(
                first_path, {"md_prop": (None, None)}, optional=["initial_positions_cage"]
            )
            K = (
                first["md_prop"].shape[0]
                if first["md_prop"].shape[1] == N
                else first["md_prop"].shape[1]
            )
            has_cage = "initial_positions_cage" in first
            if times is not None and len(times) != K:
                raise InputError(f"{first_path}: md_prop has {K} times, --times gives {len(times)}")
            if times is not None or K == len(BOTAN_TIMES_T044):
                tvals, notes = _times(T, list(range(K)), times, f"{root} T={T:g}")
            else:
                tvals = [float(i) for i in range(K)]
                notes = [
                    f"T={T:g}: md_prop has {K} rows, not BOTAN's 10: isoconfig/times holds indices; pass --times"
                ]
            fields = [keys.THERMAL_POSITIONS, keys.INHERENT_POSITIONS, keys.ISO_PROPENSITY]
            if has_cage:
                fields += [keys.CAGE_POSITIONS, keys.CAGE_DONE]
            source = {
                "format": "glassbench",
                "path": str(Path(root).resolve()),
                "ids": ids,
                "splits": [src.splits[i] for i in ids],
            }
            sp, _ = prepare_state(
                store,
                T,
                source=source,
                overwrite=overwrite,
                n_configs=len(ids),
                n_particles=N,
                n_replicas=0,
                times=tvals,
                fields=fields,
                attrs={
                    "density": density,
                    "times_are_indices": bool(notes),
                    "source": "GlassBench npz",
                    **(
                        {"cage": {"protocol": "imported: GlassBench initial_positions_cage"}}
                        if has_cage
                        else {}
                    ),
                },
            )
            report = ImportReport(str(store.path), T, len(ids), notes=notes)
            report.notes.append(
                "GlassBench holds propensity only (no replica displacements, so no edge targets); bb_prop is not imported"
            )
            done = sp.done
            for c, cid in enumerate(ids):
                if done[c]:
                    report.skipped.append(c)
                else:
                    arrays = _glassbench_arrays(src.files[cid], N, K, box, has_cage, first_path)
                    sp.write(c, **arrays)
                    sp.mark_done(c)
                    report.written.append(c)
                if progress:
                    progress(c + 1, len(ids))
            reports.append(report)
        return reports


def _glassbench_arrays(path, N: int, K: int, box, has_cage: bool, first_path) -> dict:
    """The store arrays of one GlassBench file (positions wrapped into the box, float32;
    ``md_prop`` as (K, N), whichever way round the file holds it)."""
    req = {
        "types": (N,),
        "initial_positions": (N, 3),
        "initial_positions_inherent": (N, 3),
        "md_prop": (None, None),
    }
    if has_cage:
        req["initial_positions_cage"] = (N, 3)
    a = _load(path, req)
    prop = a["md_prop"]
    if prop.shape == (N, K) and N != K:
        prop = prop.T
    if prop.shape != (K, N):
        raise InputError(
            f"{path}: md_prop has shape {a['md_prop'].shape}, expected ({K}, {N}) like {first_path.name}"
        )

    def wrapped(name):
        return wrap(a[name].astype(np.float64), box).astype(np.float32)

    arrays = {
        keys.TYPES: _types(a["types"], path),
        keys.BOX: box,
        keys.THERMAL_POSITIONS: wrapped("initial_positions"),
        keys.INHERENT_POSITIONS: wrapped("initial_positions_inherent"),
        keys.ISO_PROPENSITY: prop.astype(np.float32),
    }
    if has_cage:
        arrays[keys.CAGE_POSITIONS] = wrapped("initial_positions_cage")
        arrays[keys.CAGE_DONE] = True
    return arrays


def _select(sources: dict[float, _Source], temperature: float | None, root) -> dict[float, _Source]:
    if temperature is None:
        return dict(sorted(sources.items()))
    for T, src in sources.items():
        if keys.same_temperature(T, temperature):
            return {T: src}
    raise InputError(
        f"{root} holds no files at T={temperature:g} (it has T = {', '.join(f'{t:g}' for t in sorted(sources))})"
    )


def export_botan(
    state,
    out: str | os.PathLike,
    *,
    configs: Sequence[int] | None = None,
    density: float = BOTAN_DENSITY,
) -> list[Path]:
    """Write configurations of a state point in BOTAN's npz layout, for the reference code
    (h3-Open-BDEC/pyg_botan) and other tools that read it.

    Files: ``out/T0.44/isoconfig_N{N}T0.44_{id}_tc{KK}.npz`` with ``types`` (N,) int8,
    ``initial_positions`` (N, 3) and ``positions`` (R, N, 3) = initial + displacements
    (unwrapped), float64.  Ids and time indices are the BOTAN ones when the store was imported
    from BOTAN, else id = config + 1 and KK = time index + 1.  BOTAN files carry no box: readers
    assume a cube of side (N / density)^(1/3), so other boxes are refused; nor times (KK counts
    from 1): import
    such files back with ``times=state.times`` (``--times``) unless they are BOTAN's at T=0.44.
    """
    out = Path(out)
    sel = [int(c) for c in (state.completed if configs is None else configs)]
    times = state.times
    if times is None or not state.has(keys.ISO_DISPLACEMENTS):
        raise InputError(
            f"store {state.store_path} group {state.name} has no {keys.ISO_DISPLACEMENTS}: BOTAN files "
            "hold replica positions; simulate with --replicas > 0 (GlassBench-style stores have none)"
        )
    src = state.attrs.get("import") or {}
    from_botan = src.get("format") == "botan"
    ids = src["ids"] if from_botan else [c + 1 for c in range(state.n_configs)]
    one_based = list(range(1, len(times) + 1))  # BOTAN's tc indices count from 1
    tcs = src.get("time_indices", one_based) if from_botan else one_based
    if max(tcs) > 99:
        raise InputError(
            f"BOTAN file names hold two-digit time indices; the store has {len(times)} times"
        )
    L = box_length(state.n_particles, density)
    d = out / f"T{state.temperature:.2f}"
    d.mkdir(parents=True, exist_ok=True)
    written = []
    for c in sel:
        box = state.read(keys.BOX, c)
        if not np.allclose(box, L, rtol=1e-6, atol=0):
            raise InputError(
                f"{state.store_path}/{state.name} configuration {c}: box {box.tolist()} is not the cube of side "
                f"(N/{density:g})^(1/3) = {L:.6g} that BOTAN readers assume; pass the store's density"
            )
        x0 = state.read(keys.THERMAL_POSITIONS, c).astype(np.float64)
        types = state.read(keys.TYPES, c).astype(np.int8)
        disp = state.read(keys.ISO_DISPLACEMENTS, c)  # (R, K, N, 3)
        for k, tc in enumerate(tcs):
            path = (
                d
                / f"isoconfig_N{state.n_particles}T{state.temperature:.2f}_{ids[c]}_tc{tc:02d}.npz"
            )
            np.savez(
                path,
                types=types,
                initial_positions=x0,
                positions=x0[None] + disp[:, k].astype(np.float64),
            )
            written.append(path)
    return written
