"""The speed benchmarks run end to end (quick sizes) on the CPU, and on a GPU when one is
visible; asking for a GPU that is not there is a clear error."""

import re

import pytest
import torch
from conftest import needs_gpu

from searnn_ext.bench import costs, precision, rollout
from searnn_ext.cli import train_argv


@pytest.mark.parametrize(
    "device", ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, needs_gpu])]
)
def test_quick_benchmarks_print_their_tables(device, capsys):
    costs.main(["--quick", "--repeats", "1", "--device", device])
    costs.main(["--quick", "--repeats", "1", "--device", device, "--ops", "gleu_cost"])
    rollout.main(["--quick", "--shapes", "OCR", "Spelling", "--threads", "1", "--device", device])
    out = capsys.readouterr().out
    assert f"on {device}" in out
    assert out.count("| gleu_cost ") == 2 * 2 * 2  # two runs, two cases, two methods
    # 3 cases x 2 distances and 2 cases x (BLEU, GLEU), then 2 cases x GLEU alone.
    assert out.count("| searnn_ext ") == 6 + 4 + 2
    assert out.count("| sacrebleu sentence_bleu per pair ") == 2
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


def test_precision_of_a_trained_checkpoint(tmp_path, capsys):
    output = tmp_path / "run"
    train_argv(
        [
            "--task=synthetic",
            "--limit=16",
            "--hidden-size=12",
            "--epochs=1",
            "--quiet",
            f"--output={output}",
        ]
    )
    capsys.readouterr()
    precision.main([str(output / "checkpoint.pt"), "--batches", "1", "--threads", "1"])
    out = capsys.readouterr().out
    for model in ("trained", "random"):
        line = next(line for line in out.splitlines() if f"{model} model:" in line)
        equal, entries, changed = (float(x) for x in re.findall(r"([\d.]+)%", line))
        assert 0 <= changed <= 100 - equal + 1e-9 and 50 < equal <= entries


def test_agreement_counts_cells():
    candidates = torch.tensor([[[0, 1], [0, 1], [0, 1]]])
    truth = torch.tensor([[1, 0, -1]])
    full = torch.tensor([[[1.0, 2.0], [3.0, 3.0], [float("inf"), float("inf")]]])
    reduced = torch.tensor([[[1.0, 2.5], [4.0, 3.0], [float("inf"), float("inf")]]])
    result = precision.agreement(candidates, full, reduced, truth)
    # Two cells count; neither keeps all its costs (2 of their 4 candidates do); the second's LL
    # target moves from 0 (the ground truth, tied) to 1.
    assert (result.cells, result.equal_costs, result.changed_targets) == (2, 0.0, 0.5)
    assert result.equal_entries == 0.5


@pytest.mark.parametrize(
    "device", ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, needs_gpu])]
)
def test_transformer_rows_report_peak_memory(device, capsys):
    rollout.main(["--quick", "--shapes", "Long-Transformer", "--threads", "1", "--device", device])
    out = capsys.readouterr().out
    # On a GPU the backends' float32 sums run in other orders (cuBLAS, the attention's warp
    # sums), so near-ties may flip: the share the other float32 comparisons ask for.
    share = re.search(
        r"Long-Transformer: float32 costs of the two backends equal on ([0-9.]+)%", out
    )
    assert share and float(share.group(1)) >= (100 if device == "cpu" else 97)
    rows = {
        line.split("|")[3].strip(): line.split("|")[6].strip()
        for line in out.splitlines()
        if line.startswith("| Long-Transformer")
    }
    assert float(rows["searnn_ext, float32"]) > 0 and float(rows["pure PyTorch, float32"]) > 0
    floors = [method for method in rows if method.startswith("GEMM floor")]
    assert floors and all(rows[method] == "-" for method in floors)  # no memory of its own
    assert re.search(r"peak memory is [0-9.]+x the PyTorch path's", out)
