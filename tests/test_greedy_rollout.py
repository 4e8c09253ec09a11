"""The compiled decode loop behind rollout_costs(backend="ext"): its op contract (on the CPU, in
emulated CUDA and on CUDA), its checks, autocast, and the fallback for models it cannot run."""

import re

import pytest
import torch
from conftest import KERNELS, needs_gpu
from seq2seq_cases import make_task

import searnn_ext
from searnn_ext import backends, rollout_ext, rollout_torch
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
        model.cell,
    ]


NAMESPACES = [
    pytest.param("searnn", "cpu", id="searnn-cpu"),
    pytest.param("searnn_emulated", "cpu", id="searnn_emulated-cpu"),
    pytest.param("searnn", "cuda", id="searnn-cuda", marks=[pytest.mark.cuda, needs_gpu]),
]


def on_device(arguments, device):
    return [
        [w.to(device) for w in a]
        if isinstance(a, list)
        else a.to(device)
        if isinstance(a, torch.Tensor)
        else a
        for a in arguments
    ]


@pytest.mark.parametrize("namespace, device", NAMESPACES)
@pytest.mark.parametrize(
    "config", ["ocr-2layers", "spelling-feeding", "chunking", "chunking-lstm", "ocr-2layers-lstm"]
)
def test_opcheck(namespace, device, config):
    torch.library.opcheck(
        getattr(torch.ops, namespace).greedy_rollout,
        on_device(op_arguments(config), device),
        test_utils=("test_schema", "test_autograd_registration", "test_faketensor"),
    )


@pytest.mark.parametrize("namespace", ["searnn", "searnn_emulated"])
@pytest.mark.parametrize(
    "position, value, error, message",
    [
        (9, [], ValueError, "expected 11 weights for 1 layers with attention, got 0"),
        (5, torch.tensor([1, 3, 3, 4]), ValueError, "budgets must be sorted in non-increasing"),
        (5, torch.tensor([2**40, 3, 3, 1]), ValueError, "budgets values must lie in [0, 1048577)"),
        (4, torch.tensor([1, 3, 9, 0]), ValueError, "first_tokens values must lie in [0, 6)"),
        (2, torch.tensor([0, 1, 2, 3]), ValueError, "row_cell values must lie in [0, 3)"),
        (2, torch.tensor([0, 1, 2]), ValueError, "row_cell must have shape [4]"),
        (2, torch.tensor([0, 1, 2, 2], dtype=torch.int32), TypeError, "row_cell must be int64"),
        (10, 7, ValueError, "eos_id must be below the vocabulary size 5"),
        (
            8,
            torch.tensor([0, 5, 5]),
            ValueError,
            "memory_lengths must lie in [1, 5] with attention",
        ),
        (8, torch.tensor([5, 5]), ValueError, "memory_lengths must have shape [3], got [2]"),
        (8, torch.tensor([5, 5, 9]), ValueError, "memory_lengths values must lie in [0, 6)"),
        (0, torch.zeros((0, 3, 8)), ValueError, "cell_hidden must be [L, C, H] with at least one"),
        (0, torch.zeros((1, 3, 8), dtype=torch.int64), TypeError, "cell_hidden must be float32"),
        (1, torch.zeros((3, 7)), ValueError, "cell_feed must have shape [3, 8], got [3, 7]"),
        (6, None, ValueError, "memory_keys and memory_values come together"),
        (11, "rnn", ValueError, "cell must be one of 'gru', 'lstm', got 'rnn'"),
        # A GRU's weights given as an LSTM's: 4 gates of H = 8 / 2.
        (11, "lstm", ValueError, "weight_ih must have shape [16, 12], got [24, 16]"),
    ],
)
def test_bad_arguments_are_named(namespace, position, value, error, message):
    arguments = op_arguments()
    arguments[position] = value
    with pytest.raises(error, match=re.escape(message)):
        getattr(torch.ops, namespace).greedy_rollout(*arguments)


@pytest.mark.parametrize("namespace", ["searnn", "searnn_emulated"])
def test_an_lstm_state_of_odd_width_is_named(namespace):
    arguments = op_arguments("spelling-feeding-lstm")
    arguments[0] = arguments[0][..., :-1]
    message = "cell_hidden must be [L, C, 2H] with at least one layer (an LSTM's [h | c]), got"
    with pytest.raises(ValueError, match=re.escape(message)):
        getattr(torch.ops, namespace).greedy_rollout(*arguments)


@pytest.mark.parametrize("namespace", ["searnn", "searnn_emulated"])
@pytest.mark.parametrize("position", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
def test_a_meta_tensor_among_cpu_inputs_is_named(namespace, position):
    """Not uninitialised memory from the fake kernel, which runs when any input is meta."""
    names = [
        "cell_hidden",
        "cell_feed",
        "row_cell",
        "row_batch",
        "first_tokens",
        "budgets",
        "memory_values",
        "memory_keys",
        "memory_lengths",
        "weights[3]",
    ]
    arguments = op_arguments()
    if position == 9:
        arguments[9] = [*arguments[9][:3], arguments[9][3].to("meta"), *arguments[9][4:]]
    else:
        arguments[position] = arguments[position].to("meta")
    named, anchor = (names[position], "cell_hidden") if position else ("cell_feed", "cell_hidden")
    devices = ("meta", "cpu") if position else ("cpu", "meta")
    message = f"{named} is on {devices[0]} but {anchor} is on {devices[1]}"
    with pytest.raises(ValueError, match=re.escape(message)):
        getattr(torch.ops, namespace).greedy_rollout(*arguments)


@needs_gpu
@pytest.mark.cuda
@pytest.mark.parametrize("position", [1, 2, 5, 7, 8])
def test_a_cpu_tensor_among_cuda_inputs_is_named(position):
    names = {1: "cell_feed", 2: "row_cell", 5: "budgets", 7: "memory_keys", 8: "memory_lengths"}
    arguments = on_device(op_arguments(), "cuda")
    arguments[position] = arguments[position].cpu()
    message = f"{names[position]} is on cpu but cell_hidden is on cuda:0"
    with pytest.raises(ValueError, match=re.escape(message)):
        torch.ops.searnn.greedy_rollout(*arguments)


def autocast_namespaces():
    return [
        pytest.param("searnn", "cpu", id="searnn-cpu"),
        pytest.param("searnn_emulated", "cpu", id="searnn_emulated-cpu"),
        pytest.param("searnn", "cuda", id="searnn-cuda", marks=[pytest.mark.cuda, needs_gpu]),
    ]


@pytest.mark.parametrize("namespace, device", autocast_namespaces())
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("config", ["ocr-2layers", "spelling-feeding"])
def test_autocast_runs_the_loop_in_its_dtype(namespace, device, dtype, config):
    """Inside torch.autocast the op decodes exactly as with its float inputs cast by hand."""
    op = getattr(torch.ops, namespace).greedy_rollout
    arguments = on_device(op_arguments(config), device)
    arguments = [
        [w.float() for w in a]
        if isinstance(a, list)
        else a.float()
        if isinstance(a, torch.Tensor) and a.is_floating_point()
        else a
        for a in arguments
    ]
    cast = [
        [w.to(dtype) for w in a]
        if isinstance(a, list)
        else a.to(dtype)
        if isinstance(a, torch.Tensor) and a.is_floating_point()
        else a
        for a in arguments
    ]
    with torch.autocast(device, dtype=dtype):
        tokens, lengths = op(*arguments)
    want_tokens, want_lengths = op(*cast)
    assert torch.equal(tokens, want_tokens) and torch.equal(lengths, want_lengths)


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


@pytest.mark.parametrize("target", KERNELS)
@pytest.mark.parametrize(
    "config", ["ocr-2layers", "spelling", "chunking", "ocr-2layers-lstm", "chunking-lstm"]
)
def test_float32_decodes_match_the_torch_path(target, config):
    """float32 takes the CPU's AVX2 kernels where the CPU has them (3.5-ULP tanh, fused GRU and
    attention), and the GPU's warp reductions sum in another order: their roll-outs must still
    be the pure-PyTorch path's, but for rare near-ties."""
    task = make_task(config, batch=12, length=9, vocab=7).to(target.device)
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
    cell_b, cell_t, first = (target.put(x) for x in (cell_b, cell_t, first))
    budgets = (2 * steps if model.eos_id is not None else steps) - cell_t - 1
    order = torch.argsort(budgets, descending=True, stable=True)
    with eval_mode(model):
        states = _prefix_states(model, rollin)
        arguments = (model, memory, states, cell_b[order], cell_t[order], first[order])
        compiled = backends.compiled_ops("greedy_rollout", target.backend, first.device)
        ext_tokens, ext_lengths = rollout_ext.greedy_rollout(
            *arguments, budgets[order], ops=compiled
        )
        torch_tokens, torch_lengths = rollout_torch.greedy_rollout(*arguments, budgets[order])
    width = min(ext_tokens.shape[1], torch_tokens.shape[1])
    positions = torch.arange(width, device=first.device)
    same = (ext_lengths == torch_lengths) & (
        (ext_tokens[:, :width] == torch_tokens[:, :width]) | (positions >= ext_lengths[:, None])
    ).all(1)
    assert same.double().mean() >= 0.97
