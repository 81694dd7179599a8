"""Which configurations a run trains, validates and tests on, and a fingerprint of that data.

**Split.**  Per temperature, the completed configurations are split into train / validation /
test deterministically from the seed and the temperature (:func:`split_configs`).  When a state
point records its dataset's own split (a BOTAN or GlassBench import writes ``import.splits``, one
``"train"`` / ``"test"`` label per configuration), its test files are the test split and the
validation configurations are drawn, seeded, from its training files only.  Temperatures that are
not trained on are held out whole.

**Fingerprint.**  :func:`fingerprint` records, per state point, the store schema, the shape
(C, N, R, K), the times, the configuration ids of the split and, per configuration, two digests:

* ``identity``: SHA-1 of types, box and thermal positions, the structure a configuration *is*
  (the same configuration in a copied, moved or re-assembled store has the same identity);
* ``content``: SHA-1 of every array a trainer reads for it (``fields``), targets included.

The store's path is not part of it, so a moved store still resumes.  A run refuses to resume on
data whose fingerprint differs (:func:`fingerprint_difference`), and evaluation never scores a
configuration whose identity is that of a training or validation configuration
(:func:`training_identities`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence

import numpy as np
from glassdyn.data import keys
from glassdyn.data.errors import InputError
from glassdyn.data.store import StatePoint, Store

FINGERPRINT_VERSION = 1


def split_settings() -> dict:
    """The split fields both trainers' configurations declare (``TrainConfig``, ``FitConfig``):
    ``val_fraction``, ``test_fraction``, ``max_configs`` with their defaults and help, said once
    (``val_fraction: float = split_settings()["val_fraction"]``)."""
    from glassdyn.data.settings import setting

    return {
        "val_fraction": setting(0.1, "validation configurations per temperature"),
        "test_fraction": setting(
            0.2, "test configurations per temperature, never trained on (what evaluation scores)"
        ),
        "max_configs": setting(None, "use at most this many configurations per temperature"),
    }


IDENTITY_FIELDS = (keys.TYPES, keys.BOX, keys.THERMAL_POSITIONS)
PARTS = ("train", "val", "test")


def temperature_key(T: float) -> str:
    """The key of a temperature in splits and fingerprints: ``"0.44"``."""
    return f"{float(T):g}"


# ------------------------------------------------------------------------------ split
def split_configs(
    completed: Sequence[int],
    seed: int,
    temperature: float,
    val_fraction: float,
    test_fraction: float,
    recorded: Sequence[str] | None = None,
) -> dict:
    """Deterministic train / val / test split of configuration indices at one temperature.

    Without ``recorded``: a seeded permutation of ``completed``, at least one test and one
    validation configuration when there are three or more.  With ``recorded`` (one label per
    configuration index of the state point, e.g. ``import.splits``): test = the completed
    configurations labelled ``"test"``, validation = a seeded ``val_fraction`` of the others
    (at least one when two or more), train = the rest; ``test_fraction`` is not used.
    Returns ``{"train": [...], "val": [...], "test": [...], "source": "seed" | "import.splits"}``.
    """
    completed = np.asarray(completed, dtype=np.int64)
    rng = np.random.default_rng([int(seed), round(float(temperature) * 1000)])
    if recorded is not None:
        test = [int(c) for c in completed if recorded[c] == "test"]
        pool = np.array([c for c in completed if recorded[c] != "test"], dtype=np.int64)
        perm = pool[rng.permutation(len(pool))]
        n_val = round(val_fraction * len(pool))
        if len(pool) >= 2 and val_fraction > 0:
            n_val = max(n_val, 1)
        n_val = min(n_val, max(len(pool) - 1, 0))
        return {
            "train": sorted(perm[n_val:].tolist()),
            "val": sorted(perm[:n_val].tolist()),
            "test": sorted(test),
            "source": "import.splits",
        }
    C = len(completed)
    perm = completed[rng.permutation(C)]
    n_test = round(test_fraction * C)
    n_val = round(val_fraction * C)
    if C >= 3:
        n_test = max(n_test, 1 if test_fraction > 0 else 0)
        n_val = max(n_val, 1 if val_fraction > 0 else 0)
    n_test = min(n_test, max(C - 1, 0))
    n_val = min(n_val, max(C - 1 - n_test, 0))
    return {
        "train": sorted(perm[n_test + n_val :].tolist()),
        "val": sorted(perm[n_test : n_test + n_val].tolist()),
        "test": sorted(perm[:n_test].tolist()),
        "source": "seed",
    }


def recorded_split(sp: StatePoint) -> list[str] | None:
    """The dataset's own per-configuration labels (``import.splits``) when they name a test set
    and something to train on, else None."""
    labels = (sp.attrs.get("import") or {}).get("splits")
    if not labels or len(labels) != sp.n_configs:
        return None
    labels = [str(s) for s in labels]
    if "test" not in labels or all(s == "test" for s in labels):
        return None
    return labels


def plan_splits(
    store: Store,
    temperatures: Iterable[float],
    *,
    seed: int,
    val_fraction: float,
    test_fraction: float,
    max_configs: int | None = None,
    held_out: Iterable[float] = (),
) -> dict[str, dict]:
    """The split of each temperature in ``temperatures`` (keys ``"0.44"``-style) and, for each
    in ``held_out``, ``{"train": [], "val": [], "test": all completed, "held_out": True}``.
    ``max_configs`` keeps the first completed configurations of each temperature."""
    out: dict[str, dict] = {}
    for T, training in [(t, True) for t in temperatures] + [(t, False) for t in held_out]:
        sp = store.state(T)
        completed = sp.completed
        if max_configs is not None:
            completed = completed[:max_configs]
        if training:
            out[temperature_key(T)] = split_configs(
                completed, seed, sp.temperature, val_fraction, test_fraction, recorded_split(sp)
            )
        else:
            out[temperature_key(T)] = {
                "train": [],
                "val": [],
                "test": completed.tolist(),
                "held_out": True,
            }
    return out


# ------------------------------------------------------------------------ fingerprint
def _digest(sp: StatePoint, c: int, fields: Iterable[str]) -> str:
    h = hashlib.sha1()
    for path in fields:
        if not sp.has(path):
            h.update(f"{path}:absent;".encode())
            continue
        a = np.ascontiguousarray(sp.row(path, c))
        h.update(f"{path}:{a.dtype.str}:{a.shape};".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:20]


def identity(sp: StatePoint, c: int) -> str:
    """Digest of the structure of configuration ``c`` (types, box, thermal positions)."""
    return _digest(sp, c, IDENTITY_FIELDS)


def content_digest(sp: StatePoint, c: int, fields: Iterable[str]) -> str:
    """Digest of ``fields`` (store paths) of configuration ``c``, plus the state point's times."""
    h = hashlib.sha1(_digest(sp, c, fields).encode())
    if sp.times is not None:
        h.update(np.asarray(sp.times, dtype=np.float64).tobytes())
    return h.hexdigest()[:20]


def state_fingerprint(sp: StatePoint, configs: Iterable[int], fields: Sequence[str]) -> dict:
    """Shape, times and per-configuration digests of ``configs`` of one state point."""
    configs = sorted(int(c) for c in configs)
    times = sp.times
    return {
        "group": sp.name,
        "shape": [sp.n_configs, sp.n_particles, sp.n_replicas, 0 if times is None else len(times)],
        "times": None if times is None else [float(t) for t in times],
        "configs": configs,
        "identity": {str(c): identity(sp, c) for c in configs},
        "content": {str(c): content_digest(sp, c, fields) for c in configs},
    }


def fingerprint(store: Store, split: dict[str, dict], fields: Sequence[str], progress=None) -> dict:
    """Fingerprint of the configurations of ``split`` (every part) in ``store``.

    ``fields``: the store paths the trainer reads per configuration (e.g. types, box, thermal
    positions, displacements).  ``progress(iterable, total)`` may wrap the state points."""
    states = {}
    items = list(split.items())
    for key, s in progress(items, len(items)) if progress else items:
        configs = {c for part in PARTS for c in s.get(part, [])}
        states[key] = state_fingerprint(store.state(float(key)), configs, fields)
    body = {
        "version": FINGERPRINT_VERSION,
        "schema": store.attrs.get("schema"),
        "fields": list(fields),
        "states": states,
    }
    body["digest"] = hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest()[:20]
    return body


def fingerprint_difference(old: dict, new: dict) -> str | None:
    """None when two fingerprints describe the same data, else the first difference in words."""
    if old.get("digest") == new.get("digest"):
        return None
    for name in ("version", "schema", "fields"):
        if old.get(name) != new.get(name):
            return f"{name} {old.get(name)!r} there, {new.get(name)!r} now"
    a, b = old["states"], new["states"]
    if sorted(a) != sorted(b):
        return f"temperatures {sorted(a)} there, {sorted(b)} now"
    for key in a:
        sa, sb = a[key], b[key]
        for name in ("shape", "times", "configs"):
            if sa[name] != sb[name]:
                return f"T={key}: {name} {sa[name]} there, {sb[name]} now"
        for name in ("identity", "content"):
            bad = [c for c in sa[name] if sa[name][c] != sb[name].get(c)]
            if bad:
                what = "structure" if name == "identity" else "data (positions or targets)"
                return f"T={key}: the {what} of configuration {bad[0]} changed"
    return "the data differs"


def training_identities(fp: dict, split: dict[str, dict]) -> dict[str, tuple[str, int]]:
    """identity -> (temperature key, configuration) of every train / validation configuration."""
    out = {}
    for key, s in split.items():
        ids = fp["states"].get(key, {}).get("identity", {})
        for c in list(s.get("train", [])) + list(s.get("val", [])):
            if str(c) in ids:
                out[ids[str(c)]] = (key, int(c))
    return out


def unseen_configs(
    sp: StatePoint,
    part: str,
    split_entry: dict | None,
    recorded: dict | None,
    train_ids: dict[str, tuple[str, int]],
    fields: Sequence[str] | None = None,
) -> dict:
    """The configurations of ``sp`` that a run may score as ``part`` (test, val or train).

    ``split_entry`` / ``recorded``: the run's split and fingerprint entry at this temperature
    (None when it has none); ``train_ids``: :func:`training_identities` of the run.

    * ``sp`` holds the very configurations the run recorded (same structure at the same indices):
      the run's own ``part`` (``"from": "split"``); ``changed`` lists those whose arrays
      (``fields``, e.g. the targets) differ from the record.
    * Otherwise (another store, a held-out temperature): every completed configuration whose
      structure is not one the run trained or validated on (``"from": "store"``); ``excluded``
      lists the others.  ``part`` must then be ``test``.
    """
    same = recorded is not None and split_entry is not None and _holds(sp, recorded)
    if recorded is not None and split_entry is not None and not same:
        _refuse_damaged(sp, recorded)
    if same:
        configs = (
            list(split_entry["test"]) if split_entry.get("held_out") else list(split_entry[part])
        )
        changed = []
        if fields is not None:
            changed = [
                c
                for c in configs
                if content_digest(sp, c, fields) != recorded["content"].get(str(c))
            ]
        return {"from": "split", "configs": configs, "excluded": [], "changed": changed}
    if part != "test" and not (split_entry or {}).get("held_out"):
        raise InputError(
            f"{sp.store_path} {sp.name} does not hold the configurations the run was trained on "
            f"there, so it has no {part} split; evaluate its test data (--split test)"
        )
    configs, excluded = [], []
    for c in sp.completed.tolist():
        (excluded if identity(sp, c) in train_ids else configs).append(c)
    return {"from": "store", "configs": configs, "excluded": excluded, "changed": []}


def _refuse_damaged(sp: StatePoint, recorded: dict) -> None:
    """A store that fails to match the run's record because the structure of a recorded
    configuration is damaged (NaN, unreadable) is the run's own store, broken: say so, rather than
    treat it as another store (and its own training configurations as foreign ones)."""
    from glassdyn.data.errors import StoreError

    done = sp.done
    for c in sorted(int(c) for c in recorded["identity"]):
        if not (c < len(done) and done[c]):
            continue
        for path in IDENTITY_FIELDS:
            try:
                row = np.asarray(sp.row(path, c))
                why = None if row.dtype.kind != "f" or np.isfinite(row).all() else "NaN or inf"
            except StoreError:
                why = "cannot be read"
            if why:
                raise StoreError(
                    f"{sp.store_path} {sp.name}: configuration {c}, one the run recorded, is "
                    f"damaged ({path}: {why}); to recompute it, {sp.rerun_hint()}"
                )


def _holds(sp: StatePoint, recorded: dict) -> bool:
    """Whether ``sp`` holds every configuration of a fingerprint entry, unchanged in structure."""
    done = sp.done
    for c, ident in recorded["identity"].items():
        c = int(c)
        if c >= len(done) or not done[c] or identity(sp, c) != ident:
            return False
    return True


def check_same_data(run_dir, old: dict, fp: dict, split: dict, data) -> None:
    """Refuse to resume the run of ``run.json`` ``old`` on data with fingerprint ``fp`` and split
    ``split`` (from store ``data``) unless both are the ones it started with.

    A run written before fingerprints existed resumes only on the store path it recorded."""
    from pathlib import Path

    if "fingerprint" in old:
        why = fingerprint_difference(old["fingerprint"], fp)
        if why:
            raise InputError(
                f"{run_dir} was trained on other data than {data} ({why}); a run resumes only "
                "on the data it started with: pass that store, or use another --out"
            )
    elif Path(old.get("data_path", "")).resolve() != Path(data).resolve():
        raise InputError(
            f"{run_dir} was written by glassdyn {old.get('versions', {}).get('glassdyn', '?')} "
            f"without a data fingerprint; it resumes only on the store it was trained on "
            f"({old.get('data_path')}): pass that store, or use another --out"
        )
    if _trained_parts(old["split"]) != _trained_parts(split):
        raise InputError(
            f"{run_dir} holds a run with another train / validation / test split than {data} "
            "gives now (the store's recorded split changed?); use another --out"
        )


def _trained_parts(split: dict) -> dict:
    """The configurations of each part at the training temperatures (held-out ones may grow)."""
    return {
        k: {p: list(s.get(p, [])) for p in PARTS} for k, s in split.items() if not s.get("held_out")
    }
