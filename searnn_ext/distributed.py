"""Data-parallel training under `torchrun`: every process takes the same global batch, rolls
out its own contiguous shard of it, and DistributedDataParallel averages the gradients (gloo
on CPU, nccl on GPU). Losses are scaled so that the average equals the global batch's loss:
the result does not depend on how many processes share a batch."""

from __future__ import annotations

import dataclasses
import os

import torch
import torch.distributed as dist

from searnn_ext.data.batching import Batch


@dataclasses.dataclass(frozen=True)
class Group:
    rank: int = 0
    world: int = 1
    device: str = "cpu"  # where collectives' tensors live (cuda for nccl)

    @property
    def leader(self) -> bool:
        """Rank 0 writes logs and checkpoints."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def start(device: str) -> tuple[Group, str]:
    """Joins the process group torchrun describes in the environment (a single process
    without it). Returns the group and this process's device: "cuda" becomes cuda:LOCAL_RANK."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Group(), device
    on_gpu = torch.device(device).type == "cuda"
    if on_gpu:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if on_gpu else "gloo")
    return Group(dist.get_rank(), dist.get_world_size(), device if on_gpu else "cpu"), device


def stop(group: Group, *, finished: bool) -> None:
    """Leaves the group. finished: every process got to the end, so they wait for each other
    first: a gloo group torn down while a peer still talks to it aborts that peer ("terminate
    called without an active exception"). A process that failed cannot wait: the others may
    never come."""
    if group.active and dist.is_initialized():
        if finished:
            dist.barrier()
        dist.destroy_process_group()


def shard(batch: Batch, group: Group) -> Batch:
    """This process's contiguous rows of the global batch (padding unchanged)."""
    if not group.active:
        return batch
    size = batch.src.shape[0]
    if size < group.world:
        raise ValueError(
            f"a batch of {size} rows cannot be shared by {group.world} processes: "
            "use a batch size of at least the number of processes"
        )
    rows = torch.tensor_split(torch.arange(size), group.world)[group.rank]
    start, stop_ = int(rows[0]), int(rows[-1]) + 1
    return Batch(*(t[start:stop_] for t in dataclasses.astuple(batch)))


def total(values: list[float], group: Group) -> list[float]:
    """Elementwise sums over the processes."""
    if not group.active:
        return values
    summed = torch.tensor(values, dtype=torch.float64, device=group.device)
    dist.all_reduce(summed)
    return summed.cpu().tolist()


def gather(value, group: Group) -> list:
    """Every process's `value`, in rank order."""
    if not group.active:
        return [value]
    values = [None] * group.world
    dist.all_gather_object(values, value)
    return values
