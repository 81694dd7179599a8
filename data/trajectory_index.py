"""An indexed trajectory file (:class:`Trajectory`) and what the two readers
(:mod:`glassdyn.data.lammps_trajectory`, :mod:`glassdyn.data.extxyz_trajectory`) share: the index
pass over the frames (:class:`FrameScan`: headers read, atom lines skipped unparsed, a truncated
last frame dropped and reported), the species mapping and the unwrapping by continuity.  Open a
file with :func:`glassdyn.data.trajectory.open_trajectory` (the module docstring says what is
read and refused).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from glassdyn.data.errors import InputError

LAMMPS_DT = 0.005  # LAMMPS' default timestep for `units lj`
CONTINUITY_LIMIT = 0.25  # largest minimum-image step between frames, in box lengths


@dataclass(frozen=True)
class Trajectory:
    """An indexed trajectory file (see the module docstring); frames are parsed by :meth:`chunks`.

    format "lammps-dump" or "extxyz"; types (N,) int8; box (3,) lengths; times (F,) float64 LJ
    units from the first frame; steps (F,) int64 TIMESTEP or None; time_source says how the
    times were obtained; unwrap "unwrapped", "image flags" or "continuity"; truncated a message
    when the last frame was incomplete and dropped (else None); species the labels (A, B);
    offsets (F + 1,) byte offset of each frame and of the end of the last one; layout the
    format's parser (``parse(trajectory, raw bytes, start, stop) -> list of (N, 3)``).
    """

    path: Path
    format: str
    types: np.ndarray
    box: np.ndarray
    times: np.ndarray
    steps: np.ndarray | None
    time_source: str
    unwrap: str
    truncated: str | None
    species: tuple[str, str]
    offsets: np.ndarray
    layout: object

    @property
    def n_frames(self) -> int:
        return int(self.times.shape[0])

    @property
    def n_particles(self) -> int:
        return int(self.types.shape[0])

    def __repr__(self) -> str:
        return (
            f"Trajectory({str(self.path)!r}, {self.format}, frames={self.n_frames}, "
            f"N={self.n_particles}, box={self.box.tolist()}, unwrap={self.unwrap!r})"
        )

    def describe(self) -> dict:
        """JSON-ready summary: path, format, frames, N, box, time range, unwrapping, truncation."""
        return {
            "path": str(self.path),
            "format": self.format,
            "n_frames": self.n_frames,
            "n_particles": self.n_particles,
            "n_a": int(np.sum(self.types == 0)),
            "box": self.box.tolist(),
            "time_span": float(self.times[-1]),
            "time_source": self.time_source,
            "unwrap": self.unwrap,
            "species": list(self.species),
            "truncated": self.truncated,
        }

    def chunks(self, chunk_frames: int = 256) -> Iterator[tuple[int, np.ndarray]]:
        """(first frame index, unwrapped positions (n, N, 3) float64), n <= ``chunk_frames``,
        for the frames in order; each frame is parsed once."""
        if chunk_frames < 1:
            raise InputError(f"chunk_frames must be >= 1, got {chunk_frames}")
        previous = None  # (as read, unwrapped) positions of the last frame, for continuity
        with open(self.path, "rb") as fh:
            for start in range(0, self.n_frames, chunk_frames):
                stop = min(start + chunk_frames, self.n_frames)
                fh.seek(int(self.offsets[start]))
                raw = fh.read(int(self.offsets[stop] - self.offsets[start]))
                frames = self.layout.parse(self, raw, start, stop)
                out = np.empty((stop - start, self.n_particles, 3))
                for a, x in enumerate(frames):
                    if self.unwrap == "continuity":
                        if previous is None:
                            unwrapped = x
                        else:
                            unwrapped = previous[1] + minimum_image_step(
                                x - previous[0], self.box, start + a
                            )
                        previous = (x, unwrapped)
                        x = unwrapped
                    out[a] = x
                yield start, out


def minimum_image_step(delta: np.ndarray, box: np.ndarray, frame: int) -> np.ndarray:
    """The step (N, 3) between two consecutive frames (``frame`` - 1, ``frame``) under minimum
    image; InputError when one exceeds ``CONTINUITY_LIMIT`` box lengths (unwrapping unsafe)."""
    step = delta - box * np.round(delta / box)
    worst = np.abs(step) / box
    if worst.max() > CONTINUITY_LIMIT:
        i, ax = np.unravel_index(int(np.argmax(worst)), worst.shape)
        raise InputError(
            f"frames {frame - 1} and {frame} are too far apart to unwrap by continuity: a particle "
            f"(index {i}) moves {abs(step[i, ax]):.3g} sigma along {'xyz'[ax]}, more than a "
            f"quarter of the box ({CONTINUITY_LIMIT * box[ax]:.3g}); dump image flags "
            "(x y z ix iy iz) or unwrapped coordinates (xu yu zu), or dump more often"
        )
    return step


def map_species(
    labels: np.ndarray,
    species: Sequence[str] | None,
    defaults: Sequence[tuple[str, str]],
    where: str,
) -> tuple[np.ndarray, tuple[str, str]]:
    """Labels (N,) -> (types (N,) int8: species[0] -> 0 (A), species[1] -> 1 (B); the pair used).

    Without ``species`` the first pair of ``defaults`` that covers every label is used.
    """
    labels = np.asarray(labels).astype(str)
    found = sorted(set(np.unique(labels).tolist()))
    for pair in [tuple(species)] if species is not None else list(defaults):
        if set(found) <= set(pair):
            return np.where(labels == pair[1], 1, 0).astype(np.int8), pair
    hint = ",".join(found) if len(found) == 2 else "A_LABEL,B_LABEL"
    told = f"--species {','.join(species)}" if species is not None else "the default labels"
    raise InputError(
        f"{where}: particle types {found[:5]} do not map to A/B with {told}; name the labels of A "
        f"and B, e.g. --species {hint}" + ("" if len(found) <= 2 else " (KA has two species)")
    )


# ------------------------------------------------------------------- helpers of the index passes
class Truncated(Exception):
    """The file ends inside a frame."""


def truncation_note(path, where: str, k: int, exc: Truncated) -> str:
    """What to say when the file ends inside frame ``k``: the note that the ``k`` complete frames
    are used, or :class:`InputError` when not even the first frame is complete."""
    if k == 0:
        raise InputError(f"{where}: the file ends inside the first frame ({exc})")
    return (
        f"{path}: the last frame ({k}) is incomplete (the file ends after {exc}); "
        f"using the {k} complete frames"
    )


def skip_lines(fh, n: int, guess: int) -> None:
    """Advance binary ``fh`` past ``n`` newline-terminated lines; Truncated if it ends first."""
    left, size = n, max(guess, 1 << 16)
    while left > 0:
        block = fh.read(size)
        if not block:
            raise Truncated(f"{n - left} of {n} atom lines")
        nl = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)
        if len(nl) >= left:
            fh.seek(int(nl[left - 1]) + 1 - len(block), 1)
            return
        left -= len(nl)
        size = 1 << 16


def read_line(fh) -> bytes:
    line = fh.readline()
    if not line:
        raise Truncated("a header")
    return line


class FrameScan:
    """The index pass of a text trajectory, frame by frame: iterating yields
    ``(k, where, start, body, n, header)`` for every complete frame (``start``: the byte offset of
    the frame, ``body``: of its ``n`` atom lines, which are skipped unparsed; ``header``: what
    ``read_header(fh, where) -> (n, header) | None`` returned, None at the end of the file).
    Afterwards ``end`` is the offset after the last complete frame and ``truncated`` the note on
    an incomplete last frame (None when there is none).  A file without a frame is refused."""

    def __init__(self, path: Path, read_header: Callable):
        self.path, self.read_header = path, read_header
        self.end, self.truncated = 0, None

    def __iter__(self) -> Iterator[tuple]:
        k, guess = 0, 1 << 16
        with open(self.path, "rb") as fh:
            while True:
                start, where = fh.tell(), f"{self.path} frame {k}"
                try:
                    head = self.read_header(fh, where)
                    if head is None:
                        break
                    n, header = head
                    body = fh.tell()
                    skip_lines(fh, n, guess)
                except Truncated as exc:
                    self.truncated = truncation_note(self.path, where, k, exc)
                    break
                if k == 0:
                    guess = int((fh.tell() - body) * 1.02) + 256
                yield k, where, start, body, n, header
                k += 1
        self.end = start  # the end of the last complete frame
        if k == 0:
            raise InputError(f"{self.path}: no frames (empty file?)")
