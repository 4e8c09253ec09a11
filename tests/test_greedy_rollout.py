"""The compiled decode loop behind rollout_costs(backend="ext"): its op contract, its checks,
and the fallback for models it cannot run."""

import re

import pytest
import torch
from seq2seq_cases import make_task

import searnn_ext
from searnn_ext import rollout_ext, rollout_torch
from searnn_ext.rollout import _prefix_states, eval_mode


def op_arguments(config="spelling-feeding"):
    task = make_task(config, batch=3, length=5)
    model = task.model
    memory = model.encode(task.src, task.src_lengths).detach()
    rollin = model.roll_in(memory, task.target, task.target_lengths)
    with eval_mode(model):
        states = _prefix_states(model, rollin)
    cells = states.hidden.shape[2]
    cell_hidden = states.hidden[0].contiguous()
    cell_feed = None if states.feed is None else states.feed[0]
    row_cell = torch.tensor([0, 1, 2, 2])
    first = torch.tensor([1, 3, 4, 0])
    budgets = torch.tensor([4, 3, 3, 1])
    attention = model.attention is not None
    return [
        cell_hidden,
        cell_feed,
        row_cell,
        row_cell.clamp(max=cells - 1),
        first,
        budgets,
        memory.outputs if attention else None,
        memory.keys,
        memory.lengths,
        rollout_ext.decoder_weights(model),
        -1 if model.eos_id is None else model.eos_id,
    ]


@pytest.mark.parametrize("config", ["ocr-2layers", "spelling-feeding", "chunking"])
def test_opcheck(config):
    torch.library.opcheck(
        torch.ops.searnn.greedy_rollout,
        op_arguments(config),
        test_utils=("test_schema", "test_autograd_registration", "test_faketensor"),
    )


@pytest.mark.parametrize(
    "position, value, message",
    [
        (9, [], "expected 11 weights for 1 layers with attention, got 0"),
        (5, torch.tensor([1, 3, 3, 4]), "budgets must be sorted in non-increasing order"),
        (4, torch.tensor([1, 3, 9, 0]), "first_tokens values must lie in [0, 6)"),
        (2, torch.tensor([0, 1, 2, 3]), "row_cell values must lie in [0, 3)"),
        (2, torch.tensor([0, 1, 2]), "row_cell must have shape [4]"),
        (10, 7, "eos_id must be below the vocabulary size 5"),
        (8, torch.tensor([0, 5, 5]), "memory_lengths must lie in [1, 5] with attention"),
    ],
)
def test_bad_arguments_are_named(position, value, message):
    arguments = op_arguments()
    arguments[position] = value
    with pytest.raises(ValueError, match=re.escape(message)):
        torch.ops.searnn.greedy_rollout(*arguments)


class ScaledLogits(searnn_ext.Seq2Seq):
    """A model whose step the compiled loop does not know."""

    def step(self, prev_tokens, state, memory):
        logits, state = super().step(prev_tokens, state, memory)
        return -logits, state


def test_unsupported_model_is_refused_by_ext_and_falls_back_with_auto():
    task = make_task("ocr")
    model = ScaledLogits(target_vocab=5, source_features=6, hidden_size=12).double()
    model.load_state_dict(task.model.state_dict())
    memory = model.encode(task.src, task.src_lengths)
    rollin = model.roll_in(memory, task.target, task.target_lengths)
    candidates = torch.arange(5).expand(*rollin.tokens.shape, 5).clone()
    args = (model, rollin, candidates, task.target, task.target_lengths)
    with pytest.raises(ValueError, match="ScaledLogits overrides Seq2Seq.step"):
        searnn_ext.rollout_costs(*args, backend="ext")
    auto = searnn_ext.rollout_costs(*args, backend="auto")
    assert torch.equal(auto, searnn_ext.rollout_costs(*args, backend="torch"))


@pytest.mark.parametrize("config", ["ocr-2layers", "spelling", "chunking"])
def test_float32_decodes_match_the_torch_path(config):
    """float32 takes the CPU's AVX2 kernels where the CPU has them (3.5-ULP tanh, fused GRU and
    attention): its roll-outs must still be the pure-PyTorch path's, but for rare near-ties."""
    task = make_task(config, batch=12, length=9, vocab=7)
    model = task.model.float()
    src = task.src.float() if task.src.is_floating_point() else task.src
    memory = model.encode(src, task.src_lengths).detach()
    rollin = model.roll_in(memory, task.target, task.target_lengths)
    batch, steps = rollin.tokens.shape
    cell_b, cell_t, first = (
        grid.flatten()
        for grid in torch.meshgrid(
            torch.arange(batch), torch.arange(steps), torch.arange(7), indexing="ij"
        )
    )
    budgets = (2 * steps if model.eos_id is not None else steps) - cell_t - 1
    order = torch.argsort(budgets, descending=True, stable=True)
    with eval_mode(model):
        states = _prefix_states(model, rollin)
        arguments = (model, memory, states, cell_b[order], cell_t[order], first[order])
        ext_tokens, ext_lengths = rollout_ext.greedy_decode(*arguments, budgets[order])
        torch_tokens, torch_lengths = rollout_torch.greedy_decode(*arguments, budgets[order])
    width = min(ext_tokens.shape[1], torch_tokens.shape[1])
    positions = torch.arange(width)
    same = (ext_lengths == torch_lengths) & (
        (ext_tokens[:, :width] == torch_tokens[:, :width]) | (positions >= ext_lengths[:, None])
    ).all(1)
    assert same.double().mean() >= 0.97
