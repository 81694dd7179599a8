"""The Zarr store (schema ``glassdyn/1``): one group per state point, arrays per configuration.

Every per-configuration array is chunked with one configuration per chunk (and one replica per
chunk for displacements), so parallel work units never share a chunk and need no locks.  The
``done`` flag of a configuration is written last; readers treat a configuration without it as
absent and the simulation driver recomputes it on resume.

>>> store = Store.create("out/ka.zarr")                                     # doctest: +SKIP
>>> sp = store.create_state(0.44, n_configs=10, n_particles=4096, n_replicas=32, times=t)
>>> sp.write(3, **{keys.THERMAL_POSITIONS: pos, keys.TYPES: types, keys.BOX: box})
>>> sp.mark_done(3)
>>> Store.open("out/ka.zarr").state(0.44).read(keys.THERMAL_POSITIONS, sp.completed)
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import zarr
from glassdyn.data import keys
from glassdyn.data.errors import StoreError
from glassdyn.data.keys import FIELDS, group_name
from glassdyn.data.records import Configuration

import glassdyn

_STATIC = (keys.TYPES, keys.BOX, keys.THERMAL_POSITIONS, keys.THERMAL_ENERGY)
_INHERENT = (keys.INHERENT_POSITIONS, keys.INHERENT_ENERGY, keys.INHERENT_MAX_FORCE)
_ISOCONFIG = (keys.ISO_DISPLACEMENTS, keys.ISO_PROPENSITY)


def _shape_and_chunks(field: keys.Field, C: int, N: int, R: int, K: int):
    sizes = {"C": C, "N": N, "R": R, "K": K, "3": 3}
    shape = tuple(sizes[a] for a in field.axes)
    chunks = tuple(1 if a in "CR" else sizes[a] for a in field.axes)
    return shape, chunks


def _jsonable(v):
    return json.loads(json.dumps(v))


def _fill(dtype: str):
    return False if dtype == "bool" else (0 if dtype.startswith("int") else np.nan)


class Store:
    """A glassdyn dataset on disk (a directory store)."""

    def __init__(self, root: zarr.Group, path: str | os.PathLike):
        self.root = root
        self.path = Path(path)

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls, path: str | os.PathLike, mode: str = "r", *, while_written: bool = False
    ) -> Store:
        """Open an existing store, checking its schema version.

        A reader (``mode="r"``) is refused a store another process is writing (a ``simulate``,
        ``import`` or ``quench`` in progress: :func:`glassdyn.data.lock.check_unlocked`), unless
        ``while_written`` (``glassdyn info`` shows such a store, saying so)."""
        from glassdyn.data.outputs import describe

        p = Path(path)
        if not p.exists():
            raise StoreError(
                f"no store at {p}: create one with `glassdyn simulate` or `glassdyn import`"
            )
        found = describe(p)
        if found.kind in ("file", "empty", "directory") or found.kind.endswith("run"):
            raise StoreError(f"{p} is {found.text}, not a glassdyn store")
        try:
            root = zarr.open_group(str(p), mode=mode)
        except Exception as exc:  # zarr raises several types for a non-store directory
            raise StoreError(f"{p} is not a Zarr store ({type(exc).__name__}: {exc})") from None
        schema = root.attrs.get("schema")
        if schema != keys.SCHEMA:
            if found.kind == "predictions":
                raise StoreError(
                    f"{p} is a predictions file of `glassdyn predict`, not a data store; pass it "
                    "as --predictions to `glassdyn analyze` or `glassdyn export`, with the store "
                    "it was made for"
                )
            if str(schema).startswith("glassdyn/"):
                raise StoreError(
                    f"{p} has schema {schema!r}, this glassdyn reads {keys.SCHEMA!r}; "
                    "re-create or re-import it with this version"
                )
            raise StoreError(
                f"{p} is a Zarr store of schema {schema!r}, not a glassdyn store ({keys.SCHEMA!r}); "
                "import your data with `glassdyn import`"
            )
        if mode == "r" and not while_written:
            from glassdyn.data.lock import check_unlocked

            check_unlocked(p, what="store", reading=True)
        return cls(root, p)

    @classmethod
    def create(cls, path: str | os.PathLike, **attrs) -> Store:
        """Create a store, or open an existing one of this schema for appending (resume).

        An existing store is reopened only when it already holds ``attrs`` (the same writer
        resuming); otherwise StoreError, and nothing on disk has been touched.
        """
        p = Path(path)
        if p.exists() and not p.is_dir():
            raise StoreError(f"{p} exists and is not a store directory; choose another path")
        if p.exists() and any(p.iterdir()):
            store = cls.open(p, mode="r+")
            old = store.attrs
            differ = [k for k in attrs if k not in old or old[k] != _jsonable(attrs[k])]
            if differ:
                k = differ[0]
                writer = old.get("source") or (
                    "glassdyn simulate" if "simulation" in old else "another writer"
                )
                what = f"written by {writer}" if k == "source" else f"its {k!r} is {old.get(k)!r}"
                raise StoreError(
                    f"{p} is an existing store ({what}, not {attrs[k]!r}); it is left as it was: "
                    "write to a new path"
                )
            return store
        p.parent.mkdir(parents=True, exist_ok=True)
        root = zarr.open_group(str(p), mode="w")
        root.attrs.update(
            {"schema": keys.SCHEMA, "glassdyn_version": glassdyn.__version__, **attrs}
        )
        return cls(root, p)

    # ---------------------------------------------------------------- contents
    @property
    def attrs(self) -> dict:
        return dict(self.root.attrs)

    def rerun_hint(self) -> str:
        """How to finish or repair this store: the command that wrote it, run again.

        A simulated store records its commands: the last one that ran as ``glassdyn simulate``
        is given back with ``--out`` set to this store's path (the other options are settings,
        which a resume must repeat)."""
        import shlex

        attrs = self.attrs
        if "simulation" in attrs:
            for entry in reversed(attrs.get("runs") or []):
                cmd = list(entry.get("command") or [])
                if cmd[:2] == ["glassdyn", "simulate"] and "--out" in cmd[:-1]:
                    cmd[cmd.index("--out") + 1] = str(self.path)
                    return f"rerun `{shlex.join(cmd)}`"
            return f"rerun the `glassdyn simulate ... --out {self.path}` that wrote it, with the same settings"
        src = str(attrs.get("source") or "")
        if src.startswith("glassdyn gen"):
            return "sample again into a new --out (`glassdyn gen sample RUN ... --out NEW`)"
        if any("import" in g.attrs for _, g in self.root.groups()):
            return f"rerun the `glassdyn import ... --out {self.path}` that wrote it"
        return f"rerun the `glassdyn simulate` or `glassdyn import` that wrote it (same --out {self.path})"

    @property
    def temperatures(self) -> list[float]:
        """Temperatures of the state points, ascending."""
        temps = []
        for name, g in self.root.groups():
            if name.startswith("T") and "temperature" in g.attrs:
                temps.append(float(g.attrs["temperature"]))
        return sorted(temps)

    def has_state(self, temperature: float) -> bool:
        return group_name(temperature) in self.root

    def state(self, temperature: float) -> StatePoint:
        """The state point at ``temperature`` (matched to three decimals)."""
        name = group_name(temperature)
        if name not in self.root:
            have = ", ".join(f"{t:g}" for t in self.temperatures) or "none"
            raise StoreError(
                f"store {self.path} has no state point T={temperature:g} (it has: {have})"
            )
        return StatePoint(self.root[name], self.path)

    def states(self, temperatures: Sequence[float] | None = None) -> list[StatePoint]:
        temps = self.temperatures if temperatures is None else temperatures
        return [self.state(t) for t in temps]

    def create_state(
        self,
        temperature: float,
        *,
        n_configs: int,
        n_particles: int,
        n_replicas: int = 0,
        times: Sequence[float] | None = None,
        inherent: bool = True,
        attrs: dict | None = None,
        fields: Sequence[str] | None = None,
    ) -> StatePoint:
        """Create the arrays of one state point, or reopen them if they exist with the same sizes.

        Arrays start filled with NaN (floats) / False (``done``); isoconfigurational arrays exist
        only when ``n_replicas > 0`` and ``times`` is given.  ``fields`` (store paths) replaces
        that default set, for importers that hold only some arrays (e.g. GlassBench: propensity
        without displacements, ``n_replicas=0``); ``types``, ``box``, ``done`` and, with
        ``times``, ``isoconfig/times`` are always created.  Reopening creates requested fields
        that are missing.
        """
        name = group_name(temperature)
        K = 0 if times is None else len(times)
        paths = list(_STATIC) + ([*_INHERENT] if inherent else [])
        if K and n_replicas > 0:
            paths += list(_ISOCONFIG)
        if fields is not None:
            paths = [
                keys.TYPES,
                keys.BOX,
                *(f for f in fields if f not in (keys.TYPES, keys.BOX, keys.DONE, keys.ISO_TIMES)),
            ]
        paths.append(keys.DONE)
        for path in fields or ():
            if path not in FIELDS:
                raise StoreError(
                    f"create_state: unknown store path {path!r}; see glassdyn.data.keys"
                )
            axes = FIELDS[path].axes
            if ("K" in axes and not K) or ("R" in axes and n_replicas <= 0):
                raise StoreError(
                    f"create_state: {path} has axes {axes} and needs times and/or n_replicas > 0"
                )
        if name in self.root:
            sp = StatePoint(self.root[name], self.path)
            want = (n_configs, n_particles, n_replicas if K else 0, K)
            have = (
                sp.n_configs,
                sp.n_particles,
                sp.n_replicas,
                len(sp.times) if sp.times is not None else 0,
            )
            if want != have:
                raise StoreError(
                    f"{self.path}/{name} exists with (C, N, R, K) = {have}, asked for {want}; "
                    "use a new --out or the same settings to resume"
                )
            if attrs:
                sp.group.attrs.update(attrs)
            for path in paths:  # an array deleted since (or never made): made again, unwritten
                if not sp.has(path):
                    _create(sp.group, path, n_configs, n_particles, n_replicas, K)
            sp.group.attrs["arrays"] = sorted(set(sp.expected_arrays) | set(paths))
            return sp
        g = self.root.create_group(name)
        g.attrs.update({"temperature": float(temperature), **(attrs or {})})
        for path in paths:
            _create(g, path, n_configs, n_particles, n_replicas, K)
        g.attrs["arrays"] = sorted(paths)
        if K:
            _create(g, keys.ISO_TIMES, n_configs, n_particles, n_replicas, K)
            g[keys.ISO_TIMES][:] = np.asarray(times, dtype=np.float64)
            g.attrs["times"] = [float(t) for t in times]
            g.attrs["n_replicas"] = int(n_replicas)
        return StatePoint(g, self.path)


def _create(g: zarr.Group, path: str, C: int, N: int, R: int, K: int) -> zarr.Array:
    field = FIELDS[path]
    shape, chunks = _shape_and_chunks(field, C, N, R, K)
    parent, _, leaf = path.rpartition("/")
    grp = g.require_group(parent) if parent else g
    return grp.create_array(
        leaf,
        shape=shape,
        chunks=chunks,
        dtype=field.dtype,
        fill_value=_fill(field.dtype),
        dimension_names=field.dimension_names,
    )


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return text if len(text) <= 160 else text[:157] + "..."


class StatePoint:
    """The arrays of one temperature; reads return numpy arrays."""

    def __init__(self, group: zarr.Group, store_path: Path):
        self.group = group
        self.store_path = store_path

    def __repr__(self) -> str:
        return f"StatePoint(T={self.temperature:g}, C={self.n_configs}, N={self.n_particles}, R={self.n_replicas}, K={len(self.times) if self.times is not None else 0})"

    @property
    def name(self) -> str:
        return group_name(self.temperature)

    def rerun_hint(self) -> str:
        """:meth:`Store.rerun_hint` of the store holding this state point."""
        try:
            root = zarr.open_group(str(self.store_path), mode="r")
        except Exception:  # noqa: BLE001  (advice only: any failure to read it gives the plain one)
            return "rerun the command that wrote the store"
        return Store(root, self.store_path).rerun_hint()

    @property
    def temperature(self) -> float:
        return float(self.group.attrs["temperature"])

    @property
    def attrs(self) -> dict:
        return dict(self.group.attrs)

    def _any(self, axes: str) -> zarr.Array:
        """The first array present whose axes start with ``axes`` (``types`` unless deleted)."""
        for path in (keys.TYPES, keys.THERMAL_POSITIONS, keys.DONE, *sorted(FIELDS)):
            if FIELDS[path].axes.startswith(axes) and self.has(path):
                return self.group[path]
        return self.array(keys.TYPES)  # none at all: the clear error

    @property
    def n_configs(self) -> int:
        return int(self._any("C").shape[0])

    @property
    def n_particles(self) -> int:
        return int(self._any("CN").shape[1])

    @property
    def n_replicas(self) -> int:
        return (
            int(self.array(keys.ISO_DISPLACEMENTS).shape[1])
            if self.has(keys.ISO_DISPLACEMENTS)
            else 0
        )

    @property
    def times(self) -> np.ndarray | None:
        return self.array(keys.ISO_TIMES)[:] if self.has(keys.ISO_TIMES) else None

    def has(self, path: str) -> bool:
        try:
            return isinstance(self.group[path], zarr.Array)
        except KeyError:
            return False

    def array(self, path: str) -> zarr.Array:
        """The zarr array at ``path``, with a clear error when it is missing."""
        if not self.has(path):
            fix = {
                keys.ISO_DISPLACEMENTS: "run `glassdyn simulate` with --replicas > 0",
                keys.ISO_PROPENSITY: "run `glassdyn simulate` with --replicas > 0",
                keys.ISO_TIMES: "run `glassdyn simulate` with --replicas > 0",
                keys.INHERENT_POSITIONS: "run `glassdyn quench STORE` to add inherent structures",
                keys.CAGE_POSITIONS: "run `glassdyn cage STORE` to add cage states",
            }.get(path, "the store is incomplete or was written by another tool")
            raise StoreError(f"store {self.store_path} group {self.name} has no {path}; {fix}")
        return self.group[path]

    # ------------------------------------------------------------------- reads
    @property
    def done(self) -> np.ndarray:
        """(C,) bool: configurations whose every array is written.

        A configuration whose ``done`` chunk cannot be read (a damaged file) counts as not done,
        so readers skip it and ``glassdyn simulate`` recomputes it.
        """
        if not self.has(keys.DONE):  # deleted: nothing counts as done until it is rewritten
            return np.zeros(self.n_configs, dtype=bool)
        arr = self.array(keys.DONE)
        try:
            return np.asarray(arr[:], dtype=bool)
        except Exception:  # a damaged chunk: decompression raises RuntimeError, reading OSError
            out = np.zeros(arr.shape[0], dtype=bool)
            for c in range(arr.shape[0]):
                try:
                    out[c] = bool(arr[c])
                except Exception:
                    out[c] = False
            return out

    @property
    def completed(self) -> np.ndarray:
        """Indices of the completed configurations."""
        return np.flatnonzero(self.done)

    @property
    def missing(self) -> np.ndarray:
        return np.flatnonzero(~self.done)

    @property
    def inherent_done(self) -> np.ndarray:
        """(C,) bool: configurations with a converged inherent structure.

        ``inherent/done`` where ``glassdyn quench`` wrote it; in stores simulated with inherent
        structures (no such flag), every completed configuration with a finite max force.
        """
        if self.has(keys.INHERENT_DONE):
            return np.asarray(self.array(keys.INHERENT_DONE)[:], dtype=bool) & self.done
        if self.has(keys.INHERENT_MAX_FORCE):
            return self.done & np.isfinite(np.asarray(self.array(keys.INHERENT_MAX_FORCE)[:]))
        return np.zeros(self.n_configs, dtype=bool)

    @property
    def cage_done(self) -> np.ndarray:
        """(C,) bool: completed configurations with a cage state (``cage/done``, written last by
        ``glassdyn cage``)."""
        if not self.has(keys.CAGE_DONE):
            return np.zeros(self.n_configs, dtype=bool)
        return np.asarray(self.array(keys.CAGE_DONE)[:], dtype=bool) & self.done

    def _require_inherent(self, path: str, sel: list[int]) -> None:
        """Refuse IS positions / energies of configurations ``glassdyn quench`` did not converge."""
        if path in (keys.INHERENT_POSITIONS, keys.INHERENT_ENERGY) and self.has(keys.INHERENT_DONE):
            inh = self.inherent_done
            lack = [i for i in sel if not inh[i]]
            if lack:
                raise StoreError(
                    f"{self.store_path}/{self.name}: configuration {lack[0]} has no converged inherent "
                    f"structure; run `glassdyn quench {self.store_path}`"
                )
        if path == keys.CAGE_POSITIONS:
            cage = self.cage_done
            lack = [i for i in sel if not cage[i]]
            if lack:
                raise StoreError(
                    f"{self.store_path}/{self.name}: configuration {lack[0]} has no cage state; "
                    f"run `glassdyn cage {self.store_path}`"
                )

    def read(self, path: str, configs=None) -> np.ndarray:
        """Array ``path`` for ``configs`` (None = all completed; an int, slice or index list).

        Raises StoreError if a requested configuration is not done or holds NaN.
        """
        arr = self.array(path)
        if FIELDS[path].axes[0] != "C":
            try:
                return np.asarray(arr[:])
            except Exception as exc:
                raise StoreError(
                    f"{self.store_path}/{self.name}/{path} cannot be read ({_short(exc)})"
                ) from None
        idx = self.completed if configs is None else configs
        if isinstance(idx, (int, np.integer)):
            sel = [int(idx)]
        elif isinstance(idx, slice):
            sel = list(range(*idx.indices(arr.shape[0])))
        else:
            sel = [int(i) for i in np.asarray(idx).ravel()]
        bad = [i for i in sel if not 0 <= i < arr.shape[0]]
        if bad:
            raise StoreError(
                f"{self.store_path}/{self.name}/{path}: configuration {bad[0]} out of range 0..{arr.shape[0] - 1}"
            )
        self._require_inherent(path, sel)
        done = self.done
        notdone = [i for i in sel if not done[i]]
        if notdone:
            raise StoreError(
                f"{self.store_path}/{self.name}: configuration {notdone[0]} is not complete "
                "(resume the simulation with the same command)"
            )
        out = self._select(path, arr, sel)
        if out.dtype.kind == "f" and not np.all(np.isfinite(out)):
            finite = np.isfinite(out.reshape(len(sel), -1)).all(axis=1)
            c = sel[int(np.flatnonzero(~finite)[0])]
            raise StoreError(
                f"{self.store_path}/{self.name}/{path}: configuration {c} holds NaN or inf values "
                f"(a damaged or lost chunk); to recompute it, {self.rerun_hint()}"
            )
        return out[0] if isinstance(idx, (int, np.integer)) else out

    def row(self, path: str, c: int) -> np.ndarray:
        """Configuration ``c`` of array ``path`` as stored (no completeness or NaN check); a chunk
        that cannot be read is a StoreError naming the array and the configuration."""
        return self._select(path, self.array(path), [int(c)])[0]

    def _select(self, path: str, arr: zarr.Array, sel: list[int]) -> np.ndarray:
        """Rows ``sel`` of ``arr``; a chunk that cannot be read is a StoreError naming the array
        and the configuration."""
        if not sel:
            return np.empty((0, *arr.shape[1:]), arr.dtype)
        try:
            return arr.get_orthogonal_selection((np.asarray(sel, dtype=np.int64),))
        except Exception:
            for c in sel:  # find the damaged configuration
                reason = self._unreadable(arr, c)
                if reason:
                    raise StoreError(
                        f"{self.store_path}/{self.name}/{path}: configuration {c} cannot be read "
                        f"({reason}); to recompute it, {self.rerun_hint()}"
                    ) from None
            raise

    @staticmethod
    def _unreadable(arr: zarr.Array, c: int) -> str | None:
        try:
            arr[c]
        except Exception as exc:
            return _short(exc)
        return None

    @property
    def expected_arrays(self) -> tuple[str, ...]:
        """The arrays this state point was made with (recorded in its attrs ``arrays``; for
        stores written before that record, the ones every state point has)."""
        return tuple(self.attrs.get("arrays") or (keys.TYPES, keys.BOX, keys.THERMAL_POSITIONS))

    def rows_written(self, path: str) -> np.ndarray:
        """(C,) bool: configurations whose every chunk of array ``path`` is on disk.

        A chunk never written, or deleted, reads as the fill value (NaN), so a flag alone cannot
        tell it.  Looked up by listing the chunk files of a local store (zarr 3's default
        ``c/i/...`` keys); any other layout counts as written."""
        arr = self.array(path)
        enc = arr.metadata.chunk_key_encoding
        root = getattr(arr.store, "root", None)
        if (
            root is None
            or getattr(enc, "separator", None) != "/"
            or "Default" not in type(enc).__name__
        ):
            return np.ones(arr.shape[0], dtype=bool)
        per_row = int(np.prod(arr.cdata_shape[1:]))
        out = np.zeros(arr.shape[0], dtype=bool)
        base = Path(root) / arr.path / "c"
        if not base.is_dir():
            return out
        for entry in os.scandir(base):
            if entry.name.isdigit() and int(entry.name) < len(out):
                n = 1 if entry.is_file() else sum(len(f) for _, _, f in os.walk(entry.path))
                out[int(entry.name)] = n >= per_row
        return out

    def check(self, required: Sequence[str] = (keys.BOX, keys.THERMAL_POSITIONS)) -> dict:
        """What the ``done`` flags alone do not say: ``{"missing_arrays": [...], "unwritten":
        {c: path}}``, the arrays of :attr:`expected_arrays` that are gone and the done
        configurations with a float array not on disk: the ``required`` arrays always (a
        simulated store: every array), another one when its writer filled it for some
        configuration (an importer may leave energies unwritten), inherent structures where
        ``quench`` or ``simulate`` made them."""
        missing = [p for p in self.expected_arrays if not self.has(p)]
        done = self.done
        inherent = self.inherent_done
        unwritten: dict[int, str] = {}
        for path in sorted(FIELDS):
            field = FIELDS[path]
            if field.axes[0] != "C" or not field.dtype.startswith("float") or not self.has(path):
                continue
            rows = self.rows_written(path)
            if path not in required and not rows[done].any():
                continue  # an array this store's writer does not fill
            lack = done & ~rows
            if path.startswith("inherent/"):
                lack &= inherent
            for c in np.flatnonzero(lack).tolist():
                unwritten.setdefault(int(c), path)
        return {"missing_arrays": missing, "unwritten": dict(sorted(unwritten.items()))}

    def damage(self, c: int) -> str | None:
        """Why configuration ``c`` is damaged, or None: the first per-configuration array whose
        chunks cannot be read, or whose float values hold NaN (a lost chunk reads as NaN).

        Inherent-structure arrays of a configuration ``glassdyn quench`` has not (yet) converged
        (``inherent/done`` False) are NaN by design and not damage."""
        unquenched = False
        if self.has(keys.INHERENT_DONE):
            try:
                unquenched = not bool(self.group[keys.INHERENT_DONE][c])
            except Exception:  # an unreadable flag: `glassdyn quench` redoes that configuration
                unquenched = True
        for path in sorted(FIELDS):
            if FIELDS[path].axes[0] != "C" or path == keys.DONE or not self.has(path):
                continue
            if unquenched and path.startswith("inherent/"):
                continue
            arr = self.group[path]
            try:
                row = np.asarray(arr[c])
            except Exception as exc:
                return f"{path} cannot be read ({_short(exc)})"
            if row.dtype.kind == "f" and not np.all(np.isfinite(row)):
                return f"{path} holds NaN or inf (a missing or damaged chunk)"
        return None

    def configuration(self, c: int, which: str = "thermal") -> Configuration:
        """Configuration ``c`` from the thermal or inherent positions."""
        path = {"thermal": keys.THERMAL_POSITIONS, "inherent": keys.INHERENT_POSITIONS}[which]
        return Configuration(self.read(path, c), self.read(keys.TYPES, c), self.read(keys.BOX, c))

    # ------------------------------------------------------------------ writes
    def write(self, c: int, **arrays: np.ndarray) -> None:
        """Write the slices of configuration ``c``; keyword names are store paths (see ``keys``).

        Use ``**{keys.THERMAL_POSITIONS: x}``.  ``done`` is not touched: call :meth:`mark_done`.
        """
        for path, value in arrays.items():
            arr = self.array(path)
            value = np.asarray(value, dtype=arr.dtype)
            if value.shape != arr.shape[1:]:
                raise StoreError(
                    f"{self.name}/{path}: expected shape {arr.shape[1:]} for one configuration, got {value.shape}"
                )
            arr[c] = value

    def write_replica(self, c: int, r: int, displacements: np.ndarray) -> None:
        """Displacements (K, N, 3) of replica ``r`` of configuration ``c``."""
        arr = self.array(keys.ISO_DISPLACEMENTS)
        value = np.asarray(displacements, dtype=np.float32)
        if value.shape != arr.shape[2:]:
            raise StoreError(
                f"{self.name}/{keys.ISO_DISPLACEMENTS}: expected {arr.shape[2:]}, got {value.shape}"
            )
        arr[c, r] = value

    def mark_done(self, c: int) -> None:
        self.array(keys.DONE)[c] = True

    def mark_not_done(self, c: int) -> None:
        """Withdraw configuration ``c`` (e.g. damaged) so that readers skip it until it is rewritten."""
        self.array(keys.DONE)[c] = False

    def update_propensity(self, c: int) -> np.ndarray:
        """Recompute ``isoconfig/propensity`` of configuration ``c`` from its displacements."""
        disp = np.asarray(self.row(keys.ISO_DISPLACEMENTS, c), dtype=np.float64)  # (R, K, N, 3)
        prop = np.linalg.norm(disp, axis=-1).mean(axis=0).astype(np.float32)  # (K, N)
        self.array(keys.ISO_PROPENSITY)[c] = prop
        return prop

    def summary(self, required: Sequence[str] = (keys.BOX, keys.THERMAL_POSITIONS)) -> dict:
        """Machine-readable summary (used by ``glassdyn info --json``): ``completed`` counts the
        configurations marked done whose arrays are all on disk (:meth:`check` with
        ``required``); ``damaged``
        lists the others marked done, ``missing_arrays`` the arrays that are gone."""
        times = self.times
        check = self.check(required)
        done = self.done
        gone = check["missing_arrays"]
        broken = set(check["unwritten"]) | (set(np.flatnonzero(done).tolist()) if gone else set())
        return {
            "temperature": self.temperature,
            "group": self.name,
            "n_configs": self.n_configs,
            "n_particles": self.n_particles,
            "n_replicas": self.n_replicas,
            "times": None if times is None else [float(t) for t in times],
            "completed": int(done.sum()) - len(broken),
            "damaged": {
                str(c): (
                    f"{check['unwritten'][c]} is not on disk"
                    if c in check["unwritten"]
                    else f"{gone[0]} is missing"
                )
                for c in sorted(broken)
            },
            "missing_arrays": check["missing_arrays"],
            "inherent": int(
                sum(1 for c in np.flatnonzero(self.inherent_done & done) if c not in broken)
            ),
            "cage": (
                int(sum(1 for c in np.flatnonzero(self.cage_done) if c not in broken))
                if self.has(keys.CAGE_DONE)
                else None
            ),
            "arrays": sorted(p for p in FIELDS if self.has(p)),
        }
