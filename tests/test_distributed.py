"""`searnn train` under torchrun: two CPU processes sharing each batch follow the same loss
curve as one process on the same global batches (policies without random draws, so that the
two runs make the same decisions)."""

import json
import os
import subprocess
import sys

import pytest
import torch

from searnn_ext import checkpoint, distributed
from searnn_ext.data.batching import Batch

RUN = [
    "train",
    "--task=synthetic",
    "--limit=96",
    "--batch-size=32",
    "--hidden-size=16",
    "--epochs=2",
    "--quiet",
]


def losses(output) -> list[float]:
    records = [json.loads(line) for line in (output / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in records if "loss" in r]


def train(output, processes: int, *options) -> None:
    launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    command = [sys.executable, *launcher, "-m", "searnn_ext.cli", *RUN, *options]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [*command, f"--output={output}"], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.parametrize(
    "options",
    [
        ["--loss=mle", "--reduction=per_cell"],
        ["--loss=ll", "--rollin=learned", "--rollout=learned"],
    ],
    ids=["mle-per-cell", "ll-per-sequence"],
)
def test_two_processes_follow_the_single_process_curve(tmp_path, options):
    train(tmp_path / "one", 1, *options)
    train(tmp_path / "two", 2, *options)
    alone, shared = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert len(alone) == len(shared) == 2 * 3
    assert shared == pytest.approx(alone, rel=1e-4, abs=1e-5)
    one = checkpoint.load(tmp_path / "one" / "checkpoint.pt")
    two = checkpoint.load(tmp_path / "two" / "checkpoint.pt")
    assert len(two["generators"]) == 2
    for name, weight in one["model"].items():
        torch.testing.assert_close(two["model"][name], weight, rtol=1e-4, atol=1e-5)


def test_shards_cover_the_batch_in_order():
    batch = Batch(torch.arange(7)[:, None], torch.ones(7), torch.zeros(7, 2), torch.ones(7))
    parts = [distributed.shard(batch, distributed.Group(rank, 3)) for rank in range(3)]
    assert torch.cat([p.src for p in parts]).flatten().tolist() == list(range(7))
    with pytest.raises(ValueError, match="at least the number of processes"):
        distributed.shard(
            Batch(
                *(t[:2] for t in (batch.src, batch.src_lengths, batch.target, batch.target_lengths))
            ),
            distributed.Group(0, 3),
        )
