"""The speed benchmarks run end to end (quick sizes) on the CPU, and on a GPU when one is
visible; asking for a GPU that is not there is a clear error."""

import pytest
import torch
from conftest import needs_gpu

from searnn_ext.bench import costs, rollout


@pytest.mark.parametrize(
    "device", ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, needs_gpu])]
)
def test_quick_benchmarks_print_their_tables(device, capsys):
    costs.main(["--quick", "--repeats", "1", "--device", device])
    rollout.main(["--quick", "--shapes", "OCR", "Spelling", "--threads", "1", "--device", device])
    out = capsys.readouterr().out
    assert f"on {device}" in out
    assert out.count("| searnn_ext ") == 6  # 3 cases x 2 ops
    table = "\n".join(line for line in out.splitlines() if line.startswith("| "))
    for row in ("searnn_ext, float32", "searnn_ext, bfloat16 (autocast)", "floor, bfloat16"):
        assert table.count(row) == 2, row  # a table row per roll-out shape
    assert out.count("bfloat16 against float32 roll-outs: costs equal on") == 2
    assert out.count("bfloat16 (autocast) roll-outs took") == 2


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible")
@pytest.mark.parametrize("bench", [costs, rollout])
def test_a_missing_gpu_is_named(bench):
    with pytest.raises(ValueError, match="--device cuda: no GPU is visible"):
        bench.main(["--quick", "--device", "cuda"])
