"""Fitting the generative models on a store, checkpoints, resume.

A *run* is a directory holding ``checkpoint.pt``: ``state_dict`` (last epoch), ``best_state_dict``
(lowest validation loss), ``ema_state_dict`` (when fitted with ``ema``), optimizer state, the model kind and architecture, the
:class:`FitConfig`, the data description (store path, temperatures, N, composition, box) and the
library versions.  Everything loads on CPU.  Calling :func:`fit` again on the same run resumes
after the last completed epoch (the configuration must match), drawing the same batches and noise
as an uninterrupted fit.

``ema`` keeps an exponential moving average of the weights, updated after every optimiser step
(with the usual warm-up of the decay, :func:`ema_decay`);
validation, the kept best weights and therefore sampling use the average (the usual practice for
score models, whose raw weights jitter at a constant learning rate).  ``init`` starts a new run
from another run's best weights (fine-tuning): the network shapes must match, while settings that
do not change the weights (noise range, physics term) may differ and are logged.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

import glassdyn
from glassdyn.data import keys
from glassdyn.data.errors import InputError, StoreError
from glassdyn.gen import frame
from glassdyn.gen.cnf import CNFConfig, ContinuousFlow
from glassdyn.gen.coupling import CouplingFlow, FlowConfig

FORMAT = "glassdyn.gen/1"
MODELS = ("flow", "cnf", "diffusion")
SAMPLER_FIELDS = ("steps", "sde_steps", "corrector_steps", "snr")  # sampling settings, not weights


@dataclass(frozen=True)
class FitConfig:
    """How to fit.  ``arch`` holds the keyword arguments of FlowConfig / CNFConfig."""

    model: str = "flow"
    temperatures: tuple[float, ...] | None = None  # None = every state point of the store
    source: str = "thermal"  # or "inherent"
    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3
    val_fraction: float = 0.1
    max_configs: int | None = None  # per temperature
    energy_weight: float = 0.0  # weight of the reverse-KL term (flow only)
    score_target: str = "auto"  # diffusion: "denoising", "target" (forces / T), "auto" (target on thermal data)
    max_minutes: float | None = None  # stop (and checkpoint) after this wall time
    seed: int = 0
    ema: float = 0.0  # decay of an exponential moving average of the weights (0: none), see :func:`fit`
    init: str | None = None  # start from this run's best weights (fine-tuning; same architecture)
    arch: dict = field(default_factory=dict)


@dataclass
class TrainingData:
    """positions (M, N, 3) float32, types (M, N) long, temperature (M,), box (3,) float64."""

    positions: torch.Tensor
    types: torch.Tensor
    temperature: torch.Tensor
    box: torch.Tensor
    store: str
    source: str
    forces: torch.Tensor | None = None  # (M, N, 3) KA forces -grad U, when asked for

    def with_forces(self) -> "TrainingData":
        """Compute the KA forces -grad U of every configuration (float64)."""
        from glassdyn.simulate.ka import forces

        box = self.box.double().numpy()
        pos, types = self.positions.double().numpy(), self.types.numpy()
        self.forces = torch.as_tensor(np.stack([forces(p, t, box) for p, t in zip(pos, types)]), dtype=torch.float32)
        return self

    @property
    def n_particles(self) -> int:
        return int(self.positions.shape[1])


def load_data(store_path, temperatures=None, source: str = "thermal", max_configs: int | None = None) -> TrainingData:
    """Completed configurations of a store at the given temperatures (all by default)."""
    from glassdyn.data.store import Store

    if source not in ("thermal", "inherent"):
        raise InputError(f"source must be 'thermal' or 'inherent', got {source!r}")
    store = Store.open(store_path)
    temps = store.temperatures if not temperatures else [float(t) for t in temperatures]
    if not temps:
        raise StoreError(f"store {store_path} has no state points; simulate or import some first")
    path = keys.THERMAL_POSITIONS if source == "thermal" else keys.INHERENT_POSITIONS
    pos, typ, temp, boxes = [], [], [], []
    for T in temps:
        sp = store.state(T)
        idx = sp.completed
        if max_configs is not None:
            idx = idx[:max_configs]
        if len(idx) == 0:
            raise StoreError(f"store {store_path} group {sp.name} has no completed configuration")
        pos.append(sp.read(path, idx))
        typ.append(sp.read(keys.TYPES, idx))
        boxes.append(sp.read(keys.BOX, idx))
        temp.append(np.full(len(idx), sp.temperature))
    ns = {p.shape[1] for p in pos}
    if len(ns) > 1:
        raise InputError(f"state points of {store_path} have different N {sorted(ns)}; fit one N per model")
    box = np.concatenate(boxes)
    if not np.allclose(box, box[0], rtol=1e-6):
        raise InputError(f"{store_path}: boxes differ between configurations; the samplers need one box per run")
    return TrainingData(
        torch.as_tensor(np.concatenate(pos), dtype=torch.float32),
        torch.as_tensor(np.concatenate(typ), dtype=torch.long),
        torch.as_tensor(np.concatenate(temp), dtype=torch.float32),
        torch.as_tensor(box[0], dtype=torch.float64),
        str(store_path),
        source,
    )


def build_model(kind: str, arch: dict | None = None) -> torch.nn.Module:
    arch = dict(arch or {})
    if kind == "flow":
        return CouplingFlow(FlowConfig(**arch))
    if kind == "cnf":
        return ContinuousFlow(CNFConfig(**arch))
    if kind == "diffusion":
        from glassdyn.gen.diffusion import DiffusionConfig, ScoreDiffusion

        return ScoreDiffusion(DiffusionConfig(**arch))
    raise InputError(f"unknown model {kind!r}; choose one of {', '.join(MODELS)}")


def random_reference(types: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A uniformly chosen A particle per configuration: types (B, N) -> (B,) long."""
    w = (types == 0).float()
    return torch.multinomial(w, 1, generator=generator)[:, 0]


def uses_target_score(cfg: FitConfig) -> bool:
    """Whether a diffusion fit regresses on forces / T (target score matching)."""
    if cfg.score_target not in ("auto", "denoising", "target"):
        raise InputError(f"score_target must be 'auto', 'denoising' or 'target', got {cfg.score_target!r}")
    if cfg.model != "diffusion":
        if cfg.score_target == "target":
            raise InputError("target score matching applies to --model diffusion only")
        return False
    if cfg.score_target == "target" and cfg.source != "thermal":
        raise InputError("target score matching needs Boltzmann-distributed data: use --source thermal")
    return cfg.score_target == "target" or (cfg.score_target == "auto" and cfg.source == "thermal")


def batch_loss(model, x, types, T, box, generator=None, energy_weight: float = 0.0, forces=None) -> torch.Tensor:
    """Training loss of one batch: NLL per particle (flow), the flow-matching loss (cnf) or the
    denoising / target score-matching loss (diffusion; ``forces`` (B, N, 3) switch on the latter)."""
    dtype = next(model.parameters()).dtype
    x, box = x.to(dtype), box.to(dtype)
    ref = random_reference(types, generator)
    if model.kind == "flow":
        loss = -model.log_prob(x, types, box, T.to(x.dtype), ref).mean() / x.shape[1]
        if energy_weight > 0:
            loss = loss + energy_weight * reverse_kl(model, types[0], box, T, generator)
        return loss
    if model.kind == "diffusion":
        score = None if forces is None else forces.to(dtype) / T.to(dtype)[:, None, None]
        return model.denoising_loss(x, types, box, T.to(x.dtype), ref, generator, score)
    return model.flow_matching_loss(x, types, box, T.to(x.dtype), ref, generator)


def reverse_kl(model, types, box, T, generator=None, e_max: float = 10.0) -> torch.Tensor:
    """E_q[U/T + log q] / N with model samples at the batch temperatures; U per particle is
    softened above ``e_max`` (log growth) so a rare overlap does not blow up the gradient."""
    from glassdyn.simulate.ka import energy_torch

    n = len(T)
    N = len(types)
    dev = box.device
    types_b = types.long()[None].expand(n, -1)
    ref = torch.as_tensor(frame.reference_index(types_b[:1].cpu().numpy()), device=dev).expand(n)
    z = torch.rand(n, N, 3, generator=generator, dtype=box.dtype, device=dev)
    u, ld = model.forward_u(z, types_b, box, T.to(box.dtype), ref)
    x = u * box
    U = energy_torch(x, types.cpu().numpy(), box.cpu().numpy()) / N
    U = torch.where(U > e_max, e_max + torch.log1p(torch.clamp(U - e_max, min=0)), U)
    logq = -ld - frame.log_volume(box, N)
    return (U / T.to(U.dtype) + logq / N).mean()


@torch.no_grad()
def evaluate_loss(model, data: TrainingData, idx: np.ndarray, batch_size: int, seed: int = 1234) -> float:
    g = torch.Generator().manual_seed(seed)
    model.eval()
    total, count = 0.0, 0
    for s in range(0, len(idx), batch_size):
        b = torch.as_tensor(idx[s : s + batch_size])
        forces = None if data.forces is None else data.forces[b]
        with torch.enable_grad() if model.kind == "cnf" else torch.no_grad():
            loss = batch_loss(model, data.positions[b], data.types[b], data.temperature[b], data.box, g, forces=forces)
        total += float(loss) * len(b)
        count += len(b)
    return total / max(count, 1)


def _versions() -> dict:
    import normflows
    import torchdiffeq

    return {
        "glassdyn": glassdyn.__version__,
        "torch": torch.__version__,
        "normflows": getattr(normflows, "__version__", "unknown"),
        "torchdiffeq": getattr(torchdiffeq, "__version__", "unknown"),
    }


def _fit_key(cfg: FitConfig) -> dict:
    """The settings a resumed fit must share (``init`` only matters for the first epoch)."""
    d = asdict(cfg)
    for k in ("epochs", "max_minutes", "init"):
        d.pop(k)
    d["temperatures"] = None if cfg.temperatures is None else [float(t) for t in cfg.temperatures]
    return json.loads(json.dumps(d))


def _stored_key(ck: dict) -> dict:
    """A checkpoint's fit key, with the defaults of settings added since it was written."""
    defaults = _fit_key(FitConfig())
    key = dict(ck.get("fit_key") or {})
    key.pop("init", None)  # keys written before init left the key
    return {**{k: defaults[k] for k in ("ema",) if k not in key}, **key}


def fit(store_path, run_dir, cfg: FitConfig = FitConfig(), *, device: str = "cpu", log=print) -> dict:
    """Fit (or resume fitting) a model; returns the history dict.  Writes ``run_dir/checkpoint.pt``."""
    run = Path(run_dir)
    ckpt_path = run / "checkpoint.pt"
    if not 0.0 <= cfg.ema < 1.0:
        raise InputError(f"ema must be in [0, 1), got {cfg.ema}")
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, cfg.arch).float()
    if cfg.init and not ckpt_path.exists():  # checked before the (slow) data loading
        model.load_state_dict(initial_weights(cfg.init, model, log))
        log(f"starting from the best weights of {cfg.init}")
    data = load_data(store_path, cfg.temperatures, cfg.source, cfg.max_configs)
    if not torch.all(torch.isfinite(data.positions)):
        raise InputError(f"{store_path}: positions contain NaN or inf")
    if uses_target_score(cfg):
        log(f"computing KA forces of {len(data.positions)} training configurations (target score matching)")
        data.with_forces()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    rng = np.random.default_rng(cfg.seed)
    perm = rng.permutation(len(data.positions))
    n_val = max(1, int(round(cfg.val_fraction * len(perm)))) if len(perm) > 1 else 0
    val_idx, train_idx = np.sort(perm[:n_val]), perm[n_val:]
    history = {"epoch": [], "train_loss": [], "val_loss": [], "seconds": []}
    start_epoch, best = 0, math.inf
    best_state = None
    ema = {k: v.detach().clone() for k, v in model.state_dict().items()} if cfg.ema > 0 else None
    if ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        if _stored_key(ck) != _fit_key(cfg):
            raise InputError(
                f"{run} holds a run fitted with other settings ({ck.get('fit_key')}); "
                "use a new --out, or the same settings to resume"
            )
        model.load_state_dict(ck["state_dict"])
        opt.load_state_dict(ck["optimizer"])
        history, start_epoch, best = ck["history"], ck["epoch"] + 1, ck["best_val"]
        best_state = ck["best_state_dict"]
        if ema is not None:
            ema = ck["ema_state_dict"]
        log(f"resuming {run} after epoch {ck['epoch']}")
    dev = torch.device(device)
    model.to(dev)
    data.positions, data.types, data.temperature = data.positions.to(dev), data.types.to(dev), data.temperature.to(dev)
    data.box = data.box.to(dev)
    if data.forces is not None:
        data.forces = data.forces.to(dev)
    if ema is not None:
        ema = {k: v.to(dev) for k, v in ema.items()}
    g = torch.Generator(device=dev)
    t_start = time.perf_counter()
    run.mkdir(parents=True, exist_ok=True)
    for epoch in range(start_epoch, cfg.epochs):
        model.train()
        t0 = time.perf_counter()
        order = np.random.default_rng(cfg.seed + epoch).permutation(train_idx)
        g.manual_seed(cfg.seed + epoch)  # per epoch: a resumed fit draws what an uninterrupted one does
        losses = []
        for s in range(0, len(order), cfg.batch_size):
            b = torch.as_tensor(order[s : s + cfg.batch_size], device=dev)
            forces = None if data.forces is None else data.forces[b]
            loss = batch_loss(model, data.positions[b], data.types[b], data.temperature[b], data.box, g, cfg.energy_weight, forces)
            if not torch.isfinite(loss):
                raise RuntimeError(f"non-finite loss at epoch {epoch}; lower --lr")
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            if ema is not None:
                _ema_update(ema, model, ema_decay(cfg.ema, _optimizer_steps(opt)))
            losses.append(float(loss.detach()))
            if cfg.max_minutes is not None and time.perf_counter() - t_start > 60 * cfg.max_minutes:
                break  # the epoch ends early; checkpointed below
        if ema is not None:  # validate (and keep as best) the averaged weights
            raw = {k: v.detach().clone() for k, v in model.state_dict().items()}
            model.load_state_dict(ema)
        val = evaluate_loss(model, data, val_idx, cfg.batch_size) if n_val else float(np.mean(losses))
        history["epoch"].append(epoch)
        history["train_loss"].append(float(np.mean(losses)))
        history["val_loss"].append(val)
        history["seconds"].append(time.perf_counter() - t0)
        if val < best:
            best = val
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        if ema is not None:
            model.load_state_dict(raw)
        log(f"epoch {epoch}: train {np.mean(losses):.4f}  val {val:.4f}  ({time.perf_counter() - t0:.1f} s)")
        save_checkpoint(ckpt_path, model, opt, cfg, data, history, epoch, best, best_state, ema)
        if cfg.max_minutes is not None and time.perf_counter() - t_start > 60 * cfg.max_minutes:
            log(f"stopping after {cfg.max_minutes} min (checkpoint saved; rerun with more time to continue)")
            break
    return history


def ema_decay(decay: float, step: int) -> float:
    """The decay used at optimiser step ``step`` (1, 2, ...): min(decay, (1 + step) / (10 + step)),
    so that a short fit's average is not stuck near the initial weights."""
    return min(decay, (1.0 + step) / (10.0 + step))


def _optimizer_steps(opt: torch.optim.Optimizer) -> int:
    """Steps taken by an Adam optimiser (restored with its state on resume)."""
    for state in opt.state.values():
        if "step" in state:
            return int(state["step"])
    return 0


def _ema_update(ema: dict, model: torch.nn.Module, decay: float) -> None:
    """ema <- decay ema + (1 - decay) weights (floating-point entries; others copied)."""
    with torch.no_grad():
        for k, v in model.state_dict().items():
            if v.dtype.is_floating_point:
                ema[k].mul_(decay).add_(v.detach(), alpha=1.0 - decay)
            else:
                ema[k].copy_(v)


def initial_weights(run_dir, model: torch.nn.Module, log=print) -> dict:
    """The best weights of another run for ``model`` (``init``): same kind and network shapes.

    Settings that do not change the weights (noise range, physics term, samplers) may differ;
    they are listed in the log."""
    src, _ = load_run(run_dir)
    theirs, ours = src.cfg.as_dict(), model.cfg.as_dict()
    state, mine = src.state_dict(), model.state_dict()
    shapes_differ = set(state) != set(mine) or any(state[k].shape != mine[k].shape for k in mine)
    changed = sorted(k for k in set(theirs) | set(ours) if k not in SAMPLER_FIELDS and theirs.get(k) != ours.get(k))
    what = ", ".join(f"{k} {theirs.get(k)} -> {ours.get(k)}" for k in changed)
    if src.kind != model.kind or shapes_differ:
        raise InputError(
            f"--init {run_dir}: that run is a {src.kind} network of another shape than the {model.kind} network "
            f"asked for ({what or 'different layers'}); pass the same model and architecture options"
        )
    if changed:
        log("fine-tuning with changed settings: " + what)
    return state


def save_checkpoint(path, model, opt, cfg, data, history, epoch, best, best_state, ema=None) -> None:
    types0 = data.types[0].cpu().numpy()
    ck = {
        "format": FORMAT,
        "kind": model.kind,
        "arch": model.cfg.as_dict(),
        "fit": asdict(cfg),
        "fit_key": _fit_key(cfg),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "best_state_dict": best_state,
        "best_val": best,
        "ema_state_dict": None if ema is None else {k: v.detach().cpu().clone() for k, v in ema.items()},
        "optimizer": opt.state_dict(),
        "epoch": epoch,
        "history": history,
        "data": {
            "store": data.store,
            "source": data.source,
            "temperatures": sorted({round(float(t), 6) for t in data.temperature.cpu().numpy()}),
            "n_particles": data.n_particles,
            "types": types0.tolist(),
            "box": data.box.cpu().numpy().tolist(),
        },
        "versions": _versions(),
    }
    tmp = Path(str(path) + ".tmp")
    torch.save(ck, tmp)
    tmp.replace(path)


def load_run(run_dir, *, best: bool = True, device: str = "cpu"):
    """(model in eval mode, checkpoint dict) from a run directory or checkpoint file."""
    p = Path(run_dir)
    path = p / "checkpoint.pt" if p.is_dir() else p
    if not path.exists():
        raise InputError(f"no checkpoint at {path}; fit one with `glassdyn gen fit --out {run_dir}`")
    ck = torch.load(path, map_location="cpu", weights_only=False)
    if ck.get("format") != FORMAT:
        raise InputError(f"{path} is not a glassdyn.gen checkpoint (format {ck.get('format')!r})")
    model = build_model(ck["kind"], ck["arch"])
    state = ck["best_state_dict"] if best and ck.get("best_state_dict") is not None else ck["state_dict"]
    model.load_state_dict(state)
    return model.to(device).eval(), ck
