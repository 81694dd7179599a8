"""Structure formats: round trips, third-party readers (ASE, LAMMPS), store exports, bad input."""

import numpy as np
import pytest
from glassdyn.data import keys
from glassdyn.data.errors import InputError, StoreError
from glassdyn.data.export import frame_from_store
from glassdyn.data.extxyz import read_extxyz, write_extxyz
from glassdyn.data.formats import (
    FORMATS,
    HOLDS,
    check_holds,
    from_ase,
    guess_format,
    read_frames,
    to_ase,
    write_frames,
)
from glassdyn.data.frame import Frame
from glassdyn.data.lammps_io import read_lammps_data, read_lammps_dump, write_lammps_data
from glassdyn.data.predictions import Predictions, read_predictions, write_predictions
from glassdyn.data.store import Store

from glassdyn.cli import main
from glassdyn.testing import random_ka_configuration, write_synthetic_store

SUFFIX = {"lammps-data": ".data", "lammps-dump": ".dump", "extxyz": ".xyz"}
F32 = dict(rtol=2e-7, atol=1e-6)  # float32 tolerance for O(10) numbers


def _frame(n=50, seed=0, fields=("propensity", "mobility"), unwrapped=False) -> Frame:
    conf = random_ka_configuration(n, seed=seed)
    rng = np.random.default_rng(seed)
    pos = conf.positions.astype(np.float64)
    if unwrapped:
        pos = pos + rng.integers(-2, 3, size=pos.shape) * conf.box
    flds = {f: rng.random(n).astype(np.float32) for f in fields}
    return Frame(pos, conf.types, conf.box, flds, {"temperature": 0.44})


def _assert_same(a: Frame, b: Frame, fields=True):
    np.testing.assert_allclose(b.positions, a.positions, **F32)
    np.testing.assert_array_equal(b.types, a.types)
    np.testing.assert_array_equal(b.box, a.box)  # written with 17 digits: exact
    if fields:
        assert sorted(b.fields) == sorted(a.fields)
        for k in a.fields:
            np.testing.assert_allclose(b.fields[k], a.fields[k], **F32)


# ------------------------------------------------------------------------------ round trips


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_every_format(tmp_path, fmt):
    fr = _frame()
    path = tmp_path / f"c{SUFFIX[fmt]}"
    write_frames(path, fr, fmt)
    assert guess_format(path) == fmt
    (back,) = read_frames(path)
    _assert_same(fr, back, fields=fmt != "lammps-data")  # a data file carries no fields
    # float32 positions survive exactly (9 significant digits)
    np.testing.assert_array_equal(
        back.positions.astype(np.float32), fr.positions.astype(np.float32)
    )
    np.testing.assert_array_equal(back.configuration().positions, fr.configuration().positions)


@pytest.mark.parametrize("fmt", FORMATS)
def test_unwrapped_positions_survive(tmp_path, fmt):
    fr = _frame(unwrapped=True, fields=())
    path = tmp_path / f"u{SUFFIX[fmt]}"
    write_frames(path, fr, fmt)
    (back,) = read_frames(path, fmt)
    np.testing.assert_allclose(back.positions, fr.positions, rtol=1e-8, atol=1e-6)


@pytest.mark.parametrize("fmt", ["lammps-dump", "extxyz"])
def test_many_frames(tmp_path, fmt):
    frames = [_frame(seed=s) for s in range(3)]
    path = tmp_path / f"m{SUFFIX[fmt]}"
    write_frames(path, frames, fmt)
    back = read_frames(path, fmt)
    assert len(back) == 3
    for a, b in zip(frames, back):
        _assert_same(a, b)
    if fmt == "lammps-dump":
        assert [b.info["timestep"] for b in back] == [0, 1, 2]
    with pytest.raises(InputError, match="one configuration"):
        write_frames(tmp_path / "x.data", frames, "lammps-data")


def test_extxyz_info_round_trip(tmp_path):
    fr = Frame(
        np.zeros((2, 3)),
        [0, 1],
        [2.0, 2.0, 2.0],
        info={"temperature": 0.44, "note": 'two "quoted" words', "flag": True, "k": 3},
    )
    write_extxyz(tmp_path / "i.xyz", fr)
    (back,) = read_extxyz(tmp_path / "i.xyz")
    assert back.info == {"temperature": 0.44, "note": 'two "quoted" words', "flag": True, "k": 3}
    assert type(back.info["k"]) is int and type(back.info["temperature"]) is float


# --------------------------------------------------------------------------- other readers


def test_ase_reads_extxyz(tmp_path):
    ase_io = pytest.importorskip("ase.io")
    fr = _frame()
    write_extxyz(tmp_path / "c.xyz", [fr, _frame(seed=1)])
    atoms = ase_io.read(tmp_path / "c.xyz", index=":")
    assert len(atoms) == 2
    a = atoms[0]
    np.testing.assert_allclose(a.positions, fr.positions, **F32)
    np.testing.assert_allclose(a.cell.array, np.diag(fr.box))
    assert a.pbc.all()
    np.testing.assert_array_equal(a.numbers, fr.types + 1)  # Z column: A -> H, B -> He
    np.testing.assert_allclose(a.arrays["propensity"], fr.fields["propensity"], **F32)
    assert a.info["temperature"] == 0.44
    # ASE writes it back with species H / He: name them to read it
    ase_io.write(tmp_path / "ase.xyz", a)
    with pytest.raises(InputError, match="--species"):
        read_extxyz(tmp_path / "ase.xyz")
    (back,) = read_extxyz(tmp_path / "ase.xyz", species=("H", "He"))
    _assert_same(fr, back)


def test_ase_atoms_round_trip():
    pytest.importorskip("ase")
    fr = _frame()
    atoms = to_ase(fr)
    assert atoms.get_chemical_symbols()[:0] == [] and set(atoms.get_chemical_symbols()) <= {
        "H",
        "He",
    }
    np.testing.assert_array_equal(atoms.arrays["type"], fr.types)
    back = from_ase(atoms)
    _assert_same(fr, back)
    assert back.info["temperature"] == 0.44
    del atoms.arrays["type"]
    np.testing.assert_array_equal(from_ase(atoms).types, fr.types)  # from atomic numbers
    np.testing.assert_array_equal(from_ase(atoms, species=("H", "He")).types, fr.types)
    atoms.cell[0, 1] = 0.3
    with pytest.raises(InputError, match="not orthorhombic"):
        from_ase(atoms)


def test_ase_missing_gives_clear_message(monkeypatch):
    import builtins

    real = builtins.__import__

    def fake(name, *a, **k):
        if name == "ase" or name.startswith("ase."):
            raise ImportError("no ase")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(InputError, match="pip install ase"):
        to_ase(_frame(n=4, fields=()))


def test_dump_column_variants(tmp_path):
    """xu / xs columns, element names, shuffled ids, a shifted origin, zero tilts, extra columns."""
    fr = _frame(n=6, fields=())
    order = np.array([3, 0, 5, 1, 4, 2])
    lo = np.array([-1.0, 2.0, 0.5])
    L = fr.box
    g = "{:.17g}".format
    body_u = "\n".join(
        f"{i + 1} {fr.types[i] + 1} {g(fr.positions[i, 0] + lo[0])} {g(fr.positions[i, 1] + lo[1])} {g(fr.positions[i, 2] + lo[2])} {0.5 * i}"
        for i in order
    )
    s = fr.positions / L
    body_s = "\n".join(
        f"{i + 1} {'AB'[fr.types[i]]} {g(s[i, 0])} {g(s[i, 1])} {g(s[i, 2])}" for i in order
    )
    bounds = "".join(f"{g(lo[a])} {g(lo[a] + L[a])} 0.0\n" for a in range(3))
    text = (
        f"ITEM: TIMESTEP\n100\nITEM: NUMBER OF ATOMS\n6\nITEM: BOX BOUNDS xy xz yz pp pp pp\n{bounds}"
        f"ITEM: ATOMS id type xu yu zu c_pe\n{body_u}\n"
        f"ITEM: TIMESTEP\n200\nITEM: NUMBER OF ATOMS\n6\nITEM: BOX BOUNDS pp pp pp\n{bounds.replace(' 0.0', '')}"
        f"ITEM: ATOMS id element xs ys zs\n{body_s}\n"
    )
    text = "ITEM: UNITS\nlj\nITEM: TIME\n0.5\n" + text  # dump_modify units yes time yes
    (tmp_path / "v.lammpstrj").write_text(text)
    a, b = read_lammps_dump(tmp_path / "v.lammpstrj")
    for f in (a, b):
        np.testing.assert_allclose(f.positions, fr.positions, atol=1e-12)
        np.testing.assert_array_equal(f.types, fr.types)
        np.testing.assert_allclose(f.box, L)
    np.testing.assert_allclose(a.fields["c_pe"], 0.5 * np.arange(6))
    assert (a.info["timestep"], b.info["timestep"]) == (100, 200)
    assert a.info["units"] == "lj" and a.info["time"] == 0.5


def test_data_file_other_atom_style(tmp_path):
    text = """title

3 atoms
2 atom types
0.0 2.0 xlo xhi
0.0 2.0 ylo yhi
0.0 2.0 zlo zhi
0 0 0 xy xz yz

Masses

1 1.0
2 1.0

Pair Coeffs # lj/cut

1 1.0 1.0
2 0.5 0.88

Atoms # full

3 1 2 0.0 0.5 0.5 0.5
1 1 1 0.0 0.1 0.2 0.3 0 1 0
2 1 1 0.0 1.0 1.0 1.0

Velocities

1 0 0 0
2 0 0 0
3 0 0 0
"""
    (tmp_path / "f.data").write_text(text)
    fr = read_lammps_data(tmp_path / "f.data")
    np.testing.assert_allclose(fr.positions, [[0.1, 2.2, 0.3], [1.0, 1.0, 1.0], [0.5, 0.5, 0.5]])
    np.testing.assert_array_equal(fr.types, [0, 0, 1])


# ------------------------------------------------------------------------------- bad input


def _dump(
    cols="id type x y z",
    bounds="pp pp pp\n0 2\n0 2\n0 2",
    rows=("1 1 0.1 0.2 0.3", "2 2 1 1 1"),
    n=None,
):
    n = len(rows) if n is None else n
    return (
        f"ITEM: TIMESTEP\n0\nITEM: NUMBER OF ATOMS\n{n}\nITEM: BOX BOUNDS {bounds}\nITEM: ATOMS {cols}\n"
        + "\n".join(rows)
        + "\n"
    )


@pytest.mark.parametrize(
    "text, match",
    [
        (_dump(cols="id type vx vy vz"), "needs position columns x y z"),
        (_dump(cols="id x y z", rows=("1 0.1 0.2 0.3", "2 1 1 1")), "needs a 'type'"),
        (_dump(bounds="xy xz yz pp pp pp\n0 2 0.3\n0 2 0\n0 2 0"), "tilt factors"),
        (_dump(bounds="pp pp ff\n0 2\n0 2\n0 2"), "not periodic"),
        (_dump(n=3), "truncated"),
        (_dump(rows=("1 1 0.1 0.2", "2 2 1 1 1")), "has 4 values for 5 columns"),
        (_dump(rows=("1 1 nan 0.2 0.3", "2 2 1 1 1")), "NaN"),
        (_dump(rows=("1 3 0.1 0.2 0.3", "2 2 1 1 1")), r"type\(s\) \[3\]"),
        ("hello\n", "expected 'ITEM: TIMESTEP'"),
    ],
)
def test_bad_dumps(tmp_path, text, match):
    p = tmp_path / "bad.dump"
    p.write_text(text)
    with pytest.raises(InputError, match=match) as exc:
        read_lammps_dump(p)
    assert str(p) in str(exc.value)


def test_bad_data_files(tmp_path):
    good = tmp_path / "g.data"
    write_lammps_data(good, _frame(n=4, fields=()))
    text = good.read_text()
    cases = {
        "tilt factors": text.replace("zlo zhi\n", "zlo zhi\n0.5 0 0 xy xz yz\n"),
        "header says 5 atoms": text.replace("4 atoms", "5 atoms"),
        "no 'N atoms'": text.replace("4 atoms", ""),
        "atom types must be 1": text.replace("\n3 2 ", "\n3 7 ").replace("\n3 1 ", "\n3 7 "),
        "not supported": text.replace("# atomic", "# sphere"),
    }
    for match, bad in cases.items():
        p = tmp_path / "b.data"
        p.write_text(bad)
        with pytest.raises(InputError, match=match):
            read_lammps_data(p)
    with pytest.raises(InputError, match="no file"):
        read_lammps_data(tmp_path / "missing.data")


def test_bad_extxyz(tmp_path):
    ok = 'Lattice="2 0 0 0 2 0 0 0 2" Properties=species:S:1:pos:R:3'
    cases = {
        "not orthorhombic": '2\nLattice="2 0 0 0.4 2 0 0 0 2" Properties=species:S:1:pos:R:3\nA 0 0 0\nB 1 1 1\n',
        "no Lattice": "2\nProperties=species:S:1:pos:R:3\nA 0 0 0\nB 1 1 1\n",
        "periodic in every direction": f'2\n{ok} pbc="T T F"\nA 0 0 0\nB 1 1 1\n',
        "Frame has 2 atoms, expected 3": f"3\n{ok}\nA 0 0 0\nB 1 1 1\n",
        "is not an extended XYZ file ASE can read": f"2\n{ok}\nA 0 0\nB 1 1 1\n",
        "are not A/B": f"2\n{ok}\nA 0 0 0\nC 1 1 1\n",
        "NaN": f"2\n{ok}\nA 0 0 nan\nB 1 1 1\n",
        "Expected xyz header": "two\nx\n",
        "Properties needs species and pos": f"2\n{ok.replace('species:S:1:', '')}\n0 0 0\n1 1 1\n",
        "no frames": "",
    }
    for match, text in cases.items():
        p = tmp_path / "b.xyz"
        p.write_text(text)
        with pytest.raises(InputError, match=match):
            read_extxyz(p)


def test_frame_validation():
    with pytest.raises(InputError, match="types must have shape"):
        Frame(np.zeros((3, 3)), [0, 1], [1, 1, 1])
    with pytest.raises(InputError, match="field 'p' must have shape"):
        Frame(np.zeros((2, 3)), [0, 1], [1, 1, 1], {"p": np.zeros(3)})
    with pytest.raises(InputError, match="must not be empty or hold spaces"):
        Frame(np.zeros((2, 3)), [0, 1], [1, 1, 1], {"a b": np.zeros(2)})
    with pytest.raises(InputError, match="positive"):
        Frame(np.zeros((2, 3)), [0, 1], [1, -1, 1])
    with pytest.raises(InputError, match="suffix"):
        guess_format("x.cfg")


# ---------------------------------------------------------------------------- store exports


@pytest.fixture()
def store(tmp_path):
    return write_synthetic_store(
        tmp_path / "s.zarr", temperatures=[0.8], n_configs=3, n_particles=32, n_replicas=2
    )


def _predictions(tmp_path, sp, times=None):
    mob = np.random.default_rng(0).random((2, len(sp.times), sp.n_particles)).astype(np.float32)
    p = Predictions(
        0.8,
        np.array([2, 0]),
        np.asarray(times if times is not None else sp.times),
        mob,
        np.array([0.79, 0.81], np.float32),
    )
    write_predictions(tmp_path / "p.zarr", [p])
    return mob


def test_frame_from_store(tmp_path, store):
    sp = store.state(0.8)
    mob = _predictions(tmp_path, sp)
    preds = read_predictions(tmp_path / "p.zarr")
    fr = frame_from_store(sp, 2, fields=["propensity"], time_index=1, predictions=preds)
    np.testing.assert_array_equal(fr.positions, sp.read(keys.THERMAL_POSITIONS, 2))
    np.testing.assert_array_equal(fr.fields["propensity"], sp.read(keys.ISO_PROPENSITY, 2)[1])
    np.testing.assert_array_equal(fr.fields["mobility"], mob[0, 1])
    assert fr.info["time"] == sp.times[1] and fr.info["config"] == 2
    assert fr.info["predicted_temperature"] == pytest.approx(0.79)
    inh = frame_from_store(sp, 0, which="inherent", predictions=preds[0.8], time_index=-1)
    np.testing.assert_array_equal(inh.positions, sp.read(keys.INHERENT_POSITIONS, 0))
    np.testing.assert_array_equal(inh.fields["mobility"], mob[1, -1])
    with pytest.raises(InputError, match="several times"):
        frame_from_store(sp, 0, fields=["propensity"])
    with pytest.raises(InputError, match="out of range"):
        frame_from_store(sp, 0, fields=["propensity"], time_index=7)
    with pytest.raises(InputError, match="do not cover configuration 1"):
        frame_from_store(sp, 1, predictions=preds, time_index=0)
    with pytest.raises(InputError, match="unknown field"):
        frame_from_store(sp, 0, fields=["energy"])
    _predictions(tmp_path, sp, times=[1.0, 2.0, 3.0])
    with pytest.raises(InputError, match="not t="):
        frame_from_store(sp, 0, predictions=read_predictions(tmp_path / "p.zarr"), time_index=0)


def test_what_each_format_holds():
    assert set(HOLDS) == set(FORMATS)
    for fmt in ("lammps-dump", "extxyz"):
        check_holds(fmt, 3, fields=True)
    check_holds("lammps-data", 1)
    with pytest.raises(InputError, match="a LAMMPS data file holds one configuration, got 2"):
        check_holds("lammps-data", 2)
    with pytest.raises(
        InputError, match="carries no per-particle fields; use --format lammps-dump or extxyz"
    ):
        check_holds("lammps-data", 1, fields=True)
    with pytest.raises(InputError, match="unknown format 'cfg'"):
        check_holds("cfg", 1)


def test_export_command(tmp_path, store, capsys):
    sp = store.state(0.8)
    mob = _predictions(tmp_path, sp)
    out = tmp_path / "c.xyz"
    assert (
        main(
            [
                "export",
                str(store.path),
                "--config",
                "2",
                "--out",
                str(out),
                "--field",
                "propensity",
                "--time",
                "2",
                "--predictions",
                str(tmp_path / "p.zarr"),
            ]
        )
        == 0
    )
    assert "propensity, mobility" in capsys.readouterr().out
    (fr,) = read_extxyz(out)
    np.testing.assert_allclose(fr.fields["mobility"], mob[0, 2], **F32)
    np.testing.assert_allclose(fr.fields["propensity"], sp.read(keys.ISO_PROPENSITY, 2)[2], **F32)
    assert (
        main(
            [
                "export",
                str(store.path),
                "--temperature",
                "0.8",
                "--config",
                "all",
                "--format",
                "lammps-dump",
                "--out",
                str(tmp_path / "all.txt"),
                "--which",
                "inherent",
            ]
        )
        == 0
    )
    frames = read_lammps_dump(tmp_path / "all.txt")
    assert [f.info["timestep"] for f in frames] == [0, 1, 2]
    np.testing.assert_allclose(frames[1].positions, sp.read(keys.INHERENT_POSITIONS, 1), **F32)
    assert main(["export", str(store.path), "--out", str(tmp_path / "c.data")]) == 0
    fr = read_lammps_data(tmp_path / "c.data")
    np.testing.assert_array_equal(
        fr.positions.astype(np.float32), sp.read(keys.THERMAL_POSITIONS, 0)
    )
    capsys.readouterr()
    bad = [
        (["--out", str(tmp_path / "new.data"), "--config", "0,1"], "holds one configuration"),
        (
            ["--out", str(tmp_path / "new.data"), "--field", "propensity", "--time", "0"],
            "carries no per-particle fields",
        ),
        (["--out", str(tmp_path / "new.xyz"), "--field", "propensity"], "choose one with --time"),
        (["--out", str(tmp_path / "new.xyz"), "--temperature", "0.5"], "no state point T=0.5"),
        (["--out", str(tmp_path / "new.xyz"), "--config", "9"], "out of range"),
        (["--out", str(tmp_path / "c.cfg")], "suffix"),
    ]
    for args, match in bad:  # new paths: an existing --out is refused before anything else
        assert main(["export", str(store.path), *args]) == 2
        assert match in capsys.readouterr().err
    Store.create(tmp_path / "empty.zarr")
    assert main(["export", str(tmp_path / "empty.zarr"), "--out", str(tmp_path / "new.xyz")]) == 2
    assert "no state points" in capsys.readouterr().err
    sp2 = Store.create(tmp_path / "t.zarr").create_state(
        1.0, n_configs=1, n_particles=2, inherent=False
    )
    sp2.write(
        0, **{keys.TYPES: [0, 1], keys.BOX: [2.0, 2, 2], keys.THERMAL_POSITIONS: np.ones((2, 3))}
    )
    sp2.mark_done(0)
    with pytest.raises(StoreError, match="no isoconfig/propensity"):
        frame_from_store(sp2, 0, fields=["propensity"])
    with pytest.raises(StoreError, match="no inherent/positions"):
        frame_from_store(sp2, 0, which="inherent")


# ----------------------------------------------------------------------------- real LAMMPS


@pytest.mark.lammps
def test_lammps_reads_exported_files(tmp_path):
    """LAMMPS ``read_data`` of an exported data file gives the numpy KA energy of the store
    configuration (to 1e-6 per particle), and ``read_dump`` of an exported dump gives the
    stored positions and their energy."""
    from glassdyn.simulate import ka
    from glassdyn.simulate.engine import new_lammps
    from glassdyn.simulate.protocols import pair_commands

    n = 256
    store = write_synthetic_store(
        tmp_path / "s.zarr", temperatures=[0.8], n_configs=2, n_particles=n, n_replicas=1
    )
    sp = store.state(0.8)
    c0, c1 = sp.configuration(0), sp.configuration(1)
    assert (
        main(["export", str(store.path), "--config", "1", "--out", str(tmp_path / "c.data")]) == 0
    )
    params = ka.KAParameters()
    lmp = new_lammps()
    try:
        lmp.commands_list(
            ["units lj", "atom_style atomic", "boundary p p p", f"read_data {tmp_path / 'c.data'}"]
        )
        lmp.commands_list(pair_commands(params) + ["thermo_modify norm no", "run 0"])
        e_numpy = ka.potential_energy(c1.positions.astype(np.float64), c1.types, c1.box, params)
        assert float(lmp.get_thermo("pe")) / n == pytest.approx(e_numpy / n, abs=1e-6)
        lo, hi = lmp.extract_box()[:2]
        np.testing.assert_allclose(np.subtract(hi, lo), c1.box, rtol=1e-15)
        # read_dump of configuration 0 (exported as a dump) replaces the positions
        assert (
            main(["export", str(store.path), "--config", "0", "--out", str(tmp_path / "c0.dump")])
            == 0
        )
        lmp.commands_list([f"read_dump {tmp_path / 'c0.dump'} 0 x y z box yes", "run 0"])
        nloc = int(lmp.extract_global("nlocal"))
        x = np.array(lmp.numpy.extract_atom("x")[:nloc])
        ids = np.array(lmp.numpy.extract_atom("id")[:nloc])
        np.testing.assert_allclose(
            x[np.argsort(ids)], c0.positions, rtol=0, atol=1e-12
        )  # exact doubles
        # dumps do not carry types (read_dump keeps the data file's): compare with c0 positions, c1 types
        e0 = ka.potential_energy(c0.positions.astype(np.float64), c1.types, c0.box, params)
        assert float(lmp.get_thermo("pe")) / n == pytest.approx(e0 / n, abs=1e-6)
    finally:
        lmp.close()


@pytest.mark.lammps
def test_lammps_energy_of_exported_simulated_store(tmp_path):
    """A store written by `glassdyn simulate` (real LAMMPS): read_data of the exported thermal
    and inherent structures gives the stored per-particle energies (to 1e-9)."""
    from glassdyn.simulate import ka
    from glassdyn.simulate.engine import new_lammps
    from glassdyn.simulate.protocols import pair_commands

    store = tmp_path / "ci.zarr"
    args = ["simulate", "--preset", "ci", "--out", str(store), "--workers", "0", "--no-progress"]
    assert main([*args, "--temperatures", "0.8", "--configs", "1", "--replicas", "0"]) == 0
    sp = Store.open(store).state(0.8)
    for which in ("thermal", "inherent"):
        assert (
            main(["export", str(store), "--which", which, "--out", str(tmp_path / f"{which}.data")])
            == 0
        )
        lmp = new_lammps()
        try:
            lmp.commands_list(
                [
                    "units lj",
                    "atom_style atomic",
                    "boundary p p p",
                    f"read_data {tmp_path / f'{which}.data'}",
                ]
            )
            lmp.commands_list(
                pair_commands(ka.KAParameters()) + ["thermo_modify norm yes", "run 0"]
            )
            e = float(lmp.get_thermo("pe"))
        finally:
            lmp.close()
        assert e == pytest.approx(float(sp.read(f"{which}/energy", 0)), abs=1e-9), which


def test_ovito_reads_exports(tmp_path):
    """OVITO (optional; `pip install ovito`) opens every export with types 1 = A, 2 = B (named A / B
    in data files and extended XYZ; a dump carries the LAMMPS type numbers only, since its
    `element` column was what ASE could not read), the box and the per-particle columns, so
    particles can be coloured by mobility."""
    ovito_io = pytest.importorskip("ovito.io")
    fr = _frame()
    for fmt in FORMATS:
        path = tmp_path / f"o{SUFFIX[fmt]}"
        write_frames(path, [fr] if fmt == "lammps-data" else [fr, _frame(seed=1)], fmt)
        pipeline = ovito_io.import_file(str(path))
        assert pipeline.source.num_frames == (1 if fmt == "lammps-data" else 2)
        data = pipeline.compute(0)
        types = data.particles.particle_types
        names = {t.id: t.name for t in types.types}
        assert set(names) == {1, 2}
        if fmt != "lammps-dump":
            assert names == {1: "A", 2: "B"}
        np.testing.assert_array_equal(np.asarray(types) - 1, fr.types)
        np.testing.assert_allclose(np.asarray(data.particles.positions), fr.positions, **F32)
        np.testing.assert_allclose(np.asarray(data.cell)[:3, :3], np.diag(fr.box))
        if fmt != "lammps-data":
            np.testing.assert_allclose(
                np.asarray(data.particles["mobility"]), fr.fields["mobility"], **F32
            )


def test_data_file_with_type_labels_in_atoms(tmp_path):
    write_lammps_data(tmp_path / "a.data", _frame(n=5, fields=()))
    text = (tmp_path / "a.data").read_text()
    assert "Atom Type Labels\n\n1 A\n2 B" in text
    head, atoms = text.split("Atoms # atomic\n\n")
    rows = [ln.split() for ln in atoms.strip().splitlines()]
    for r in rows:
        r[1] = "AB"[int(r[1]) - 1]
    (tmp_path / "b.data").write_text(
        head + "Atoms # atomic\n\n" + "\n".join(map(" ".join, rows)) + "\n"
    )
    _assert_same(read_lammps_data(tmp_path / "a.data"), read_lammps_data(tmp_path / "b.data"))
