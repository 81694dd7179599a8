"""Trajectory reading: real LAMMPS dumps in every column style, extended XYZ through ASE,
chunked = one pass, and one clear error per kind of bad input."""

import numpy as np
import pytest
from glassdyn.data.box import wrap
from glassdyn.data.errors import InputError
from glassdyn.data.trajectory import open_trajectory
from glassdyn.data.trajectory_index import CONTINUITY_LIMIT


def _positions(traj, chunk=1000):
    return np.concatenate([x for _, x in traj.chunks(chunk)])


@pytest.fixture(scope="module")
def dumps(tmp_path_factory):
    from glassdyn.simulate.testing import lammps_dumps

    return lammps_dumps(tmp_path_factory.mktemp("dumps"), frames=12, every=40)


@pytest.mark.lammps
def test_every_dump_style_gives_the_same_unwrapped_motion(dumps):
    ref = open_trajectory(dumps["unwrapped"])
    assert ref.unwrap == "unwrapped" and ref.n_frames == 12 and ref.n_particles == 256
    np.testing.assert_allclose(ref.times, np.arange(12) * 40 * 0.005)
    assert "default" in ref.time_source  # no ITEM: TIME, no --dt: says it assumed 0.005
    x = _positions(ref)
    moved = np.abs(x[-1] - x[0]).max()
    assert moved > 0.5  # the run is long enough for unwrapping to matter somewhere
    expected_modes = {
        "images": "image flags",
        "scaled": "image flags",
        "wrapped": "continuity",
        "element": "image flags",
    }
    for style, mode in expected_modes.items():
        tr = open_trajectory(dumps[style])
        assert tr.unwrap == mode, style
        assert np.array_equal(tr.types, ref.types)
        y = _positions(tr)
        # the same displacements from every frame (positions may differ by whole boxes)
        np.testing.assert_allclose(y - y[0], x - x[0], atol=1e-7, err_msg=style)
        np.testing.assert_allclose(wrap(y, ref.box), wrap(x, ref.box), atol=1e-7)


@pytest.mark.lammps
def test_unwrapping_by_image_flags_and_by_continuity_agree_exactly(dumps):
    """Wrapped x y z with image flags vs the same columns without them: identical steps."""
    a = _positions(open_trajectory(dumps["images"]))
    b = _positions(open_trajectory(dumps["wrapped"]))
    np.testing.assert_allclose(a - a[0], b - b[0], atol=1e-9)


@pytest.mark.lammps
def test_chunked_reading_is_one_pass(dumps):
    for style in ("unwrapped", "wrapped"):
        tr = open_trajectory(dumps[style])
        whole = _positions(tr)
        for chunk in (1, 5, 11):
            starts = [s for s, _ in tr.chunks(chunk)]
            assert starts == list(range(0, 12, chunk))
            assert np.array_equal(_positions(tr, chunk), whole), (style, chunk)


@pytest.mark.lammps
def test_extxyz_through_ase_matches_the_dump(dumps, tmp_path):
    import ase
    import ase.io

    ref = open_trajectory(dumps["unwrapped"], dt=0.005)
    x = _positions(ref)
    frames = []
    for k, xk in enumerate(x):
        atoms = ase.Atoms(
            numbers=ref.types + 1, positions=wrap(xk, ref.box), cell=np.diag(ref.box), pbc=True
        )
        atoms.info["time"] = float(ref.times[k])
        frames.append(atoms)
    ase.io.write(tmp_path / "t.extxyz", frames, format="extxyz")
    tr = open_trajectory(tmp_path / "t.extxyz")
    assert tr.format == "extxyz" and tr.unwrap == "continuity" and tr.species == ("H", "He")
    assert np.array_equal(tr.types, ref.types)
    np.testing.assert_allclose(tr.times, ref.times)
    y = _positions(tr, 4)
    np.testing.assert_allclose(y - y[0], x - x[0], atol=1e-7)
    # species named explicitly; a wrong name is one clear line
    assert open_trajectory(tmp_path / "t.extxyz", species=("H", "He")).n_frames == 12
    with pytest.raises(InputError, match=r"--species H,He"):
        open_trajectory(tmp_path / "t.extxyz", species=("A", "B"))


# ------------------------------------------------------------------------------- bad input
def _frames_text(path):
    text = path.read_text()
    parts = text.split("ITEM: TIMESTEP")
    return ["ITEM: TIMESTEP" + p for p in parts[1:]]


@pytest.mark.lammps
def test_truncated_last_frame_uses_the_complete_frames(dumps, tmp_path):
    raw = dumps["unwrapped"].read_bytes()
    cut = tmp_path / "cut.lammpstrj"
    cut.write_bytes(raw[: len(raw) - 3000])  # inside the last frame's atom lines
    tr = open_trajectory(cut)
    assert tr.n_frames == 11
    assert "incomplete" in tr.truncated and "using the 11 complete frames" in tr.truncated
    full = _positions(open_trajectory(dumps["unwrapped"]))
    np.testing.assert_array_equal(_positions(tr), full[:11])
    header_cut = tmp_path / "hcut.lammpstrj"
    frames = _frames_text(dumps["unwrapped"])
    header_cut.write_text("".join(frames[:3]) + "ITEM: TIMESTEP\n999\nITEM: NUMB")
    assert open_trajectory(header_cut).n_frames == 3


def _one_atom_less(f):
    lines = f[2].splitlines(keepends=True)
    lines[3] = "255\n"
    return f[:2] + ["".join(lines[:-1])] + f[3:]


def _tilted(f):
    lines = f[1].splitlines(keepends=True)
    lines[4] = "ITEM: BOX BOUNDS xy xz yz pp pp pp\n"
    lines[5:8] = [ln.rstrip("\n") + " 0.5\n" for ln in lines[5:8]]
    return f[:1] + ["".join(lines)] + f[2:]


def _columns(old, new):
    return lambda f: [x.replace(f"ITEM: ATOMS {old}", f"ITEM: ATOMS {new}") for x in f]


@pytest.mark.lammps
@pytest.mark.parametrize(
    "edit, message",
    [
        (_one_atom_less, "frame 2: 255 atoms, frame 0 has 256; the particle count must not change"),
        (_tilted, "frame 1: triclinic box with tilt factors"),
        (_columns("id type xu yu zu", "id type vx vy vz"), "no position columns"),
        (_columns("id type xu yu zu", "idx type xu yu zu"), "no 'id' column"),
        (lambda f: [f[1], f[0], *f[2:]], "frame 1: TIMESTEP 0 does not increase"),
        (
            lambda f: [x.replace("BOX BOUNDS pp pp pp", "BOX BOUNDS pp pp ff") for x in f],
            "not periodic in every direction",
        ),
    ],
    ids=["particle-count", "tilted", "missing-columns", "no-ids", "timestep-order", "not-periodic"],
)
def test_bad_dumps_are_one_clear_line(dumps, tmp_path, edit, message):
    bad = tmp_path / "bad.lammpstrj"
    bad.write_text("".join(edit(_frames_text(dumps["unwrapped"]))))
    with pytest.raises(InputError, match=message) as err:
        open_trajectory(bad)
    assert "\n" not in str(err.value) and str(bad) in str(err.value)


@pytest.mark.lammps
def test_types_that_do_not_map_to_a_b(dumps, tmp_path):
    frames = _frames_text(dumps["unwrapped"])
    body = [ln.split() for ln in frames[0].splitlines()[9:]]
    three = frames[0].splitlines()[:9] + [
        " ".join([r[0], "3" if r[0] == "7" else r[1], *r[2:]]) for r in body
    ]
    bad = tmp_path / "three.lammpstrj"
    bad.write_text("\n".join(three) + "\n")
    with pytest.raises(InputError, match=r"types \['1', '2', '3'\] do not map to A/B.*--species"):
        open_trajectory(bad)
    # types 1 / 2 named the other way round swap A and B
    ref = open_trajectory(dumps["unwrapped"])
    swapped = open_trajectory(dumps["unwrapped"], species=("2", "1"))
    assert np.array_equal(swapped.types, 1 - ref.types)
    # element names
    assert np.array_equal(open_trajectory(dumps["element"]).types, ref.types)
    with pytest.raises(InputError, match="do not map to A/B with --species Ni,P"):
        open_trajectory(dumps["element"], species=("Ni", "P"))


def test_box_that_changes_is_refused(tmp_path):
    from glassdyn.data.frame import Frame
    from glassdyn.data.lammps_io import write_lammps_dump

    rng = np.random.default_rng(0)
    types = (np.arange(20) >= 16).astype(int)
    frames = [
        Frame(rng.uniform(0, 4, (20, 3)), types, np.full(3, L), info={"timestep": k})
        for k, L in enumerate((4.0, 4.0, 4.1))
    ]
    write_lammps_dump(tmp_path / "npt.dump", frames)
    with pytest.raises(InputError, match="frame 2: box .* differs from frame 0's.*fixed box"):
        open_trajectory(tmp_path / "npt.dump")


def test_continuity_refuses_frames_too_far_apart(tmp_path):
    """Without image flags a jump beyond a quarter box is ambiguous: refused while reading."""
    from glassdyn.data.frame import Frame
    from glassdyn.data.lammps_io import write_lammps_dump

    L = 6.0
    rng = np.random.default_rng(1)
    x0 = rng.uniform(0, L, (30, 3))
    step = np.zeros((30, 3))
    step[4, 1] = (CONTINUITY_LIMIT + 0.05) * L
    frames = [
        Frame(wrap(x0 + s, np.full(3, L)), np.zeros(30, int), np.full(3, L), info={"timestep": k})
        for k, s in enumerate((0 * step, 0.5 * step, 1.5 * step))
    ]
    write_lammps_dump(tmp_path / "far.dump", frames)
    tr = open_trajectory(tmp_path / "far.dump", species=("1", "2"))
    assert tr.unwrap == "continuity"
    with pytest.raises(
        InputError, match=r"frames 1 and 2 are too far apart .* along y, .*image flags"
    ):
        _positions(tr)
    # a step just below the limit unwraps fine and is recovered exactly
    step[4, 1] = (CONTINUITY_LIMIT - 0.05) * L
    frames = [
        Frame(wrap(x0 + s, np.full(3, L)), np.zeros(30, int), np.full(3, L), info={"timestep": k})
        for k, s in enumerate((0 * step, step, 2 * step))
    ]
    write_lammps_dump(tmp_path / "near.dump", frames)
    x = _positions(open_trajectory(tmp_path / "near.dump"))
    np.testing.assert_allclose(x[2] - x[0], 2 * step, atol=1e-12)


def test_not_a_trajectory_and_missing_file(tmp_path):
    (tmp_path / "notes.txt").write_text("hello\n")
    with pytest.raises(InputError, match="neither a LAMMPS text dump .* nor an extended XYZ"):
        open_trajectory(tmp_path / "notes.txt")
    with pytest.raises(InputError, match="no trajectory file at"):
        open_trajectory(tmp_path / "missing.dump")
    with pytest.raises(InputError, match="--dt must be a positive"):
        open_trajectory(tmp_path / "notes.txt", dt=-1.0)


def test_extxyz_needs_a_time_and_a_box(tmp_path):
    body = "A 0 0 0 1\nB 1 1 1 2\n"
    head = 'Lattice="3 0 0 0 3 0 0 0 3" Properties=species:S:1:pos:R:3:Z:I:1 pbc="T T T"'
    (tmp_path / "notime.xyz").write_text(f"2\n{head}\n{body}2\n{head}\n{body}")
    with pytest.raises(InputError, match="no time= .*pass --dt"):
        open_trajectory(tmp_path / "notime.xyz")
    tr = open_trajectory(tmp_path / "notime.xyz", dt=0.5)
    assert tr.time_source.startswith("frame index") and tr.times.tolist() == [0.0, 0.5]
    tilted = head.replace('"3 0 0 0 3 0 0 0 3"', '"3 0 0 1 3 0 0 0 3"')
    (tmp_path / "tilt.xyz").write_text(f"2\n{tilted} time=0\n{body}")
    with pytest.raises(InputError, match="not orthorhombic"):
        open_trajectory(tmp_path / "tilt.xyz")
    (tmp_path / "nobox.xyz").write_text(f"2\nProperties=species:S:1:pos:R:3 time=0\n{body}")
    with pytest.raises(InputError, match="no Lattice"):
        open_trajectory(tmp_path / "nobox.xyz")
    (tmp_path / "grow.xyz").write_text(
        f"2\n{head} time=0\n{body}3\n{head} time=1\n{body}A 2 2 2 1\n"
    )
    with pytest.raises(InputError, match="frame 1: 3 atoms, frame 0 has 2"):
        open_trajectory(tmp_path / "grow.xyz")
