"""Data-parallel training over several processes (torch DDP), launched with ``torchrun``.

    torchrun --nproc_per_node 4 -m glassdyn.cli train --data STORE --model botan --out RUN

Each process takes one GPU (``LOCAL_RANK``; NCCL) or, without GPUs, one CPU share (gloo).
Gradients are averaged across processes every step, each process sees a disjoint shard of the
training graphs (``DistributedSampler``, reshuffled per epoch from the seed), and only rank 0
writes checkpoints, history and the progress bar.  Without ``torchrun`` (``WORLD_SIZE`` unset or
1) everything runs in the one process as before.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from glassdyn.data.errors import InputError


@dataclass(frozen=True)
class DistContext:
    """Rank, world size and device of this process; ``enabled`` when world_size > 1."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: object = None  # torch.device, or None: choose as in a single process

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, device: str = "auto") -> DistContext:
        """Join the process group that ``torchrun`` describes in the environment, if any."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        import torch
        import torch.distributed as dist

        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        use_cuda = torch.cuda.is_available() and device != "cpu"
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise InputError("--device cuda asked for, but torch sees no CUDA device")
        if use_cuda:
            if local >= torch.cuda.device_count():
                raise InputError(
                    f"LOCAL_RANK {local} but only {torch.cuda.device_count()} GPUs: "
                    "use --nproc_per_node <= the number of GPUs"
                )
            torch.cuda.set_device(local)
            dev = torch.device("cuda", local)
        else:
            dev = torch.device("cpu")
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if use_cuda else "gloo")
        return cls(rank=rank, world_size=world, local_rank=local, device=dev)

    def wrap(self, model, *, find_unused_parameters: bool = False):
        """The model in DistributedDataParallel when enabled (call after ``model.to(device)``).

        ``find_unused_parameters``: whether some parameter gets no gradient in a step (edge
        pre-training leaves the node decoder out); DDP needs it then, and warns when it is set
        but every parameter is used."""
        if not self.enabled:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(
            model, device_ids=ids, find_unused_parameters=find_unused_parameters
        )

    def sampler(self, dataset, seed: int):
        """A per-rank shard of ``dataset`` (None when not distributed: the loader shuffles)."""
        if not self.enabled:
            return None
        from torch.utils.data.distributed import DistributedSampler

        return DistributedSampler(
            dataset, num_replicas=self.world_size, rank=self.rank, shuffle=True, seed=seed
        )

    def broadcast(self, tensor):
        """``tensor`` as rank 0 holds it, on every rank (a no-op when not distributed)."""
        if not self.enabled:
            return tensor
        import torch.distributed as dist

        t = tensor.to(self.device)
        dist.broadcast(t, src=0)
        return t.cpu()

    def agree(self, flag: bool) -> bool:
        """Rank 0's ``flag`` on every rank (e.g. whether ``--max-minutes`` has passed, so that
        every rank stops after the same epoch)."""
        if not self.enabled:
            return flag
        import torch

        return bool(self.broadcast(torch.tensor([float(flag)]))[0])

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
