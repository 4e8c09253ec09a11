"""The compiled decode loop of TransformerSeq2Seq (torch.ops.searnn.transformer_rollout, on the
CPU, in emulated CUDA and on CUDA): float32, bfloat16 and autocast roll-outs against the
pure-PyTorch path, wide heads, max_rows chunks, the op contract (opcheck) and its checks. The
float64 brute force is in test_transformer.py."""

import re

import pytest
import torch
from conftest import KERNELS
from hypothesis import given
from hypothesis import strategies as st
from test_greedy_rollout import NAMESPACES, on_device

import searnn_ext
from searnn_ext import rollout_transformer
from searnn_ext.rollout import _prefix_states, eval_mode

# (d_model, heads, source vocabulary, target vocabulary, source width, target width):
# head sizes of 4 to 64 (a warp's lanes take several features each past 32), 40 source positions.
SHAPES = {
    "small": (16, 4, 9, 6, 6, 7),
    "wide": (64, 1, 30, 70, 40, 9),
    "two-heads": (64, 2, 12, 20, 12, 12),
}


def case(shape: str, eos: bool, seed: int = 0, layers: int = 2):
    """A model (float64, eval mode) and a batch with ragged source and target lengths."""
    d_model, heads, source_vocab, vocab, width, target_width = SHAPES[shape]
    torch.manual_seed(seed)
    model = searnn_ext.TransformerSeq2Seq(
        target_vocab=vocab,
        source_vocab=source_vocab,
        d_model=d_model,
        heads=heads,
        layers=layers,
        ffn_size=2 * d_model,
        eos_id=vocab - 1 if eos else None,
    )
    model = model.double().eval()
    generator = torch.Generator().manual_seed(seed)
    batch = 5
    src = torch.randint(0, source_vocab, (batch, width), generator=generator)
    src_lengths = torch.randint(1, width + 1, (batch,), generator=generator)
    src_lengths[0] = width
    target = torch.randint(0, vocab - 1, (batch, target_width), generator=generator)
    target_lengths = torch.randint(1, target_width + 1, (batch,), generator=generator)
    target_lengths[0] = target_width
    if eos:
        target[torch.arange(batch), target_lengths - 1] = vocab - 1
    return model, (src, src_lengths, target, target_lengths)


def costs_of(model, data, backend, device="cpu", autocast=None, **options):
    """rollout_costs of every token of a learned roll-in's cells, learned roll-outs."""
    model = model.to(device)
    src, src_lengths, target, target_lengths = (t.to(device) for t in data)
    with torch.autocast(torch.device(device).type, dtype=autocast, enabled=autocast is not None):
        rollin = searnn_ext.roll_in(
            model, model.encode(src, src_lengths), target, target_lengths, policy="learned"
        )
        candidates = torch.arange(model.target_vocab, device=device)
        candidates = candidates.expand(*rollin.tokens.shape, -1).clone()
        cost = "hamming" if model.eos_id is None else "edit"
        return searnn_ext.rollout_costs(
            model,
            rollin,
            candidates,
            target,
            target_lengths,
            cost=cost,
            backend=backend,
            **options,
        ).cpu()


@pytest.mark.parametrize("target", KERNELS)
@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("eos", [False, True], ids=["fixed-length", "eos"])
def test_float32_roll_outs_match_the_torch_path(target, shape, eos):
    """On the target's device, so that both start from one learned roll-in: float32 roll-ins on
    two devices may break a near-tie differently, and then differ in which cells count."""
    model, data = case(shape, eos)
    model.float()
    want = costs_of(model, data, "torch", target.device)
    costs = costs_of(model, data, target.backend, target.device)
    assert torch.equal(costs.isinf(), want.isinf())
    finite = want.isfinite()
    assert finite.any() and (costs[finite] == want[finite]).double().mean() >= 0.97


@pytest.mark.parametrize("target", KERNELS)
@pytest.mark.parametrize("eos", [False, True], ids=["fixed-length", "eos"])
@pytest.mark.parametrize("autocast", [False, True], ids=["model", "autocast"])
def test_bfloat16_counts_the_float32_cells(target, eos, autocast):
    """A bfloat16 model, or a float32 one under autocast: costs +inf exactly where float32's are,
    and equal to them but for near-ties. bfloat16's coarse logits tie often, and any change of
    summation order moves which ties flip: one model's share of equal costs ranges from 0.89 to
    0.99 across seeds, so the share is taken over three models."""
    equal = []
    for seed in range(3):
        model, data = case("two-heads", eos, seed=seed)
        model.float()
        full = costs_of(model, data, "torch")
        low_model, low_autocast = (model, torch.bfloat16) if autocast else (model.bfloat16(), None)
        low = costs_of(low_model, data, target.backend, target.device, autocast=low_autocast)
        assert low.dtype == torch.float32
        assert torch.equal(low.isinf(), full.isinf())
        finite = full.isfinite()
        equal.append(low[finite] == full[finite])
    assert torch.cat(equal).double().mean() >= 0.9


@pytest.mark.parametrize("target", KERNELS)
def test_max_rows_chunks_give_identical_costs(target):
    model, data = case("small", eos=True, seed=2)
    whole = costs_of(model, data, target.backend, target.device)
    assert torch.equal(costs_of(model, data, target.backend, target.device, max_rows=7), whole)


@pytest.mark.parametrize("target", KERNELS)
def test_one_layer_and_length_one_targets(target):
    model, (src, src_lengths, target_tokens, target_lengths) = case("small", True, layers=1)
    target_lengths = torch.ones_like(target_lengths)
    target_tokens[:, 0] = model.eos_id
    data = (src, src_lengths, target_tokens, target_lengths)
    assert torch.equal(
        costs_of(model, data, target.backend, target.device), costs_of(model, data, "torch")
    )


def op_arguments(eos=True):
    model, (src, src_lengths, target, target_lengths) = case("small", eos)
    memory = model.encode(src, src_lengths)
    rollin = searnn_ext.roll_in(model, memory, target, target_lengths)
    with eval_mode(model), torch.no_grad():
        cache = _prefix_states(model, rollin)[-1]
    return [
        cache.keys.detach(),
        cache.values.detach(),
        torch.tensor([0, 1, 4, 4]),
        torch.tensor([7, 3, 1, 2]),
        torch.tensor([1, 3, 4, 0]),
        torch.tensor([4, 3, 3, 1]),
        memory.keys.detach(),
        memory.values.detach(),
        memory.lengths,
        rollout_transformer.decoder_weights(model),
        model.heads,
        model.eos_id if eos else -1,
    ]


@pytest.mark.parametrize("namespace, device", NAMESPACES)
@pytest.mark.parametrize("eos", [False, True], ids=["fixed-length", "eos"])
def test_opcheck(namespace, device, eos):
    torch.library.opcheck(
        getattr(torch.ops, namespace).transformer_rollout,
        on_device(op_arguments(eos), device),
        test_utils=("test_schema", "test_autograd_registration", "test_faketensor"),
    )


@pytest.mark.parametrize("namespace", ["searnn", "searnn_emulated"])
@pytest.mark.parametrize(
    "position, value, error, message",
    [
        (9, [], ValueError, "expected 46 weights for 2 layers, got 0"),
        (5, torch.tensor([1, 3, 3, 4]), ValueError, "budgets must be sorted in non-increasing"),
        (5, torch.tensor([2**40, 3, 3, 1]), ValueError, "budgets values must lie in [0, 1048577)"),
        (5, torch.tensor([1020, 3, 3, 1]), ValueError, "past the positions table (1024 rows)"),
        (4, torch.tensor([1, 3, 9, 0]), ValueError, "first_tokens values must lie in [0, 7)"),
        (3, torch.tensor([0, 1, 2, 3]), ValueError, "row_prefix values must lie in [1, 7]"),
        (3, torch.tensor([9, 1, 2, 3]), ValueError, "row_prefix values must lie in [0, 8)"),
        (2, torch.tensor([0, 1, 2, 5]), ValueError, "row_batch values must lie in [0, 5)"),
        (2, torch.tensor([0, 1, 2]), ValueError, "row_batch must have shape [4]"),
        (2, torch.tensor([0, 1, 2, 2], dtype=torch.int32), TypeError, "row_batch must be int64"),
        (11, 6, ValueError, "eos_id must be below the vocabulary size 6"),
        (10, 3, ValueError, "heads (3) must be positive and divide the model size 16"),
        (10, 0, ValueError, "heads (0) must be positive"),
        (8, torch.tensor([0, 5, 5, 5, 5]), ValueError, "memory_lengths must lie in [1, 6]"),
        (8, torch.tensor([5, 5]), ValueError, "memory_lengths must have shape [5], got [2]"),
        (0, torch.zeros((5, 2, 8, 16), dtype=torch.int64), TypeError, "prefix_keys must be float"),
        (1, torch.zeros((5, 2, 7, 16)), TypeError, "prefix_values must be Double like prefix_keys"),
        (1, torch.zeros((5, 2, 6, 16), dtype=torch.double), ValueError, "prefix_values must have"),
        (6, torch.zeros((5, 1, 6, 16), dtype=torch.double), ValueError, "memory_keys must share"),
        (0, torch.zeros((5, 2, 0, 16), dtype=torch.double), ValueError, "at least one layer"),
    ],
)
def test_bad_arguments_are_named(namespace, position, value, error, message):
    arguments = op_arguments()
    arguments[position] = value
    with pytest.raises(error, match=re.escape(message)):
        getattr(torch.ops, namespace).transformer_rollout(*arguments)


@pytest.mark.parametrize("namespace", ["searnn", "searnn_emulated"])
def test_each_rows_last_position_bounds_the_positions_table(namespace):
    """Row 0 reaches position 1020 and row 1 position 9 of 1024: the call is valid, though the
    longest prefix (7) plus the largest budget (1020) would pass the table's end."""
    arguments = op_arguments()
    arguments[3] = torch.tensor([1, 7, 1, 2])
    arguments[5] = torch.tensor([1020, 3, 3, 1])
    tokens, lengths = getattr(torch.ops, namespace).transformer_rollout(*arguments)
    assert tokens.shape == (4, 1020) and bool((lengths <= torch.tensor([1020, 3, 3, 1])).all())


@pytest.mark.parametrize("namespace", ["searnn", "searnn_emulated"])
def test_a_weight_of_the_wrong_shape_is_named(namespace):
    arguments = op_arguments()
    arguments[9][4] = arguments[9][4][:, :5]  # layer 0's self_query.weight
    message = "layers[0].self_query.weight must have shape [16, 16]"
    with pytest.raises(ValueError, match=re.escape(message)):
        getattr(torch.ops, namespace).transformer_rollout(*arguments)


@pytest.mark.parametrize("target", KERNELS)
@pytest.mark.parametrize("limit", [1, 3000], ids=["a-row-per-call", "a-few-rows-per-call"])
@pytest.mark.parametrize("block", [1, 4], ids=["rows", "blocks-of-4"])
def test_rows_split_by_the_own_cache_limit_give_identical_costs(target, limit, block, monkeypatch):
    """The op's calls each hold at most OWN_CACHE_BYTES of the rows' own keys and values, in
    whole blocks of rows where they fit; how the rows are split changes no cost."""
    model, data = case("small", eos=True, seed=3)
    whole = costs_of(model, data, target.backend, target.device)
    calls = []
    op = rollout_transformer._runs

    def counted(*arguments):
        runs = op(*arguments)
        calls.append(len(runs))
        return runs

    monkeypatch.setattr(rollout_transformer, "_runs", counted)
    monkeypatch.setattr(rollout_transformer, "_rows_per_block", lambda device: block)
    monkeypatch.setitem(
        rollout_transformer.OWN_CACHE_BYTES, torch.device(target.device).type, limit
    )
    assert torch.equal(costs_of(model, data, target.backend, target.device), whole)
    assert calls and calls[0] > 1


@given(
    budgets=st.lists(st.integers(0, 40), max_size=80),
    limit=st.integers(1, 600),
    block=st.integers(1, 9),
)
def test_runs_take_as_many_whole_blocks_as_fit(budgets, limit, block):
    budgets = sorted(budgets, reverse=True)
    runs = rollout_transformer.runs_within(budgets, limit, block)
    assert [r.start for r in runs] == [0, *[r.stop for r in runs[:-1]]][: len(runs)]
    assert (runs[-1].stop if runs else 0) == len(budgets)

    def fits(start, stop):
        return stop <= len(budgets) and sum(budgets[start:stop]) <= limit

    for run in runs:
        rows = run.stop - run.start
        assert fits(run.start, run.stop) or rows == 1
        if run.stop == len(budgets) and fits(run.start, run.stop):
            continue  # all the rows left
        assert not fits(run.start, len(budgets))
        size = block if fits(run.start, run.start + block) else 1
        assert rows % size == 0 and not fits(run.start, run.stop + size)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(
    "blocks_that_fit, runs_of_blocks", [(2.5, 2), (1.5, 1), (0.5, 0)], ids=["2", "1", "0"]
)
def test_runs_on_the_cpu_give_every_thread_whole_blocks(threads, blocks_that_fit, runs_of_blocks):
    """Runs of whole blocks for every thread, as many as fit OWN_CACHE_BYTES per thread (its
    positions from the model's size), else of as many rows as fit."""
    model, _ = case("small", eos=True)
    block = searnn_ext.build_info()["cpu_rows_per_block"] * threads
    budgets = torch.full((5 * block + 3,), 2)
    like = torch.zeros(1, dtype=torch.float64)
    per_position = 2 * model.layers * model.d_model * 8
    rows_that_fit = int(blocks_that_fit * block)
    before = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as patch:
        per_thread = 2 * rows_that_fit * per_position // threads  # budgets of 2 positions
        patch.setitem(rollout_transformer.OWN_CACHE_BYTES, "cpu", per_thread)
        torch.set_num_threads(threads)
        try:
            runs = rollout_transformer._runs(budgets, model, like)
        finally:
            torch.set_num_threads(before)
    rows = [r.stop - r.start for r in runs]
    expected = runs_of_blocks * block or rows_that_fit
    assert rows[:-1] == [expected] * (len(rows) - 1)
    assert sum(rows) == len(budgets) and rows[-1] <= rows_that_fit
