"""Inputs a hostile probe found mishandled, one test per finding: an eos_id beyond the tokens'
dtype or beyond int64, non-integer lengths, meta tensors on the pure-PyTorch path, a roll-out
token buffer too large to allocate, and the public cost ops under torch.compile(fullgraph=True).
"""

import dataclasses
import re

import pytest
import torch
from conftest import BACKENDS
from seq2seq_cases import make_task
from test_greedy_rollout import op_arguments

import searnn_ext

HUGE = 2**70  # beyond int64: no kernel can take it


def completion_inputs(dtype=torch.int64):
    """optimal_completion_distance inputs whose candidates hold 5, and 5 + 2**32 wraps to 5 in
    int32."""
    generator = torch.Generator().manual_seed(0)
    prefix = torch.randint(0, 5, (3, 4), generator=generator)
    candidates = torch.randint(0, 7, (3, 4, 3), generator=generator)
    candidates[:, :, 0] = 5
    ref = torch.randint(0, 5, (3, 6), generator=generator)
    ref_lengths = torch.tensor([6, 0, 3])
    return [t.to(dtype) for t in (prefix, candidates, ref)] + [ref_lengths.to(dtype)]


@pytest.mark.parametrize("eos_id", [5 + 2**32, 5 - 2**32, 2**63 - 1, -(2**63)])
@pytest.mark.parametrize("dtype", [torch.int32, torch.int64])
def test_an_eos_id_beyond_the_tokens_dtype_never_matches(eos_id, dtype):
    inputs = completion_inputs(dtype)
    expected = searnn_ext.optimal_completion_distance(*inputs, eos_id=eos_id, backend="ext")
    # An EOS task whose EOS is none of the candidates: the answer of an eos_id they lack.
    assert torch.equal(
        expected, searnn_ext.optimal_completion_distance(*inputs, eos_id=-1, backend="ext")
    )
    for backend in ("torch", "cuda_emulated"):
        got = searnn_ext.optimal_completion_distance(*inputs, eos_id=eos_id, backend=backend)
        assert torch.equal(got, expected), backend


def rolled_in():
    task = make_task("spelling")
    memory = task.model.encode(task.src, task.src_lengths)
    rollin = task.model.roll_in(memory, task.target, task.target_lengths, policy="learned")
    vocab = task.model.target_vocab
    candidates = torch.arange(vocab).expand(*rollin.tokens.shape, vocab).clone()
    return task, rollin, candidates


INTEGER_ARGUMENTS = [
    ("target_lengths", lambda task, rollin: {"target_lengths": task.target_lengths.float()}),
    ("target_lengths", lambda task, rollin: {"target_lengths": task.target_lengths.bool()}),
    ("target_lengths", lambda task, rollin: {"target_lengths": task.target_lengths.tolist()}),
    ("target", lambda task, rollin: {"target": task.target.double()}),
    (
        "rollin.lengths",
        lambda task, rollin: {"rollin": dataclasses.replace(rollin, lengths=rollin.lengths + 0.5)},
    ),
    (
        "rollin.tokens",
        lambda task, rollin: {"rollin": dataclasses.replace(rollin, tokens=rollin.tokens.half())},
    ),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, change", INTEGER_ARGUMENTS)
def test_rollout_costs_refuses_non_integer_index_tensors(backend, name, change):
    """Not truncated (3.5 taken as 3): the TypeError the cost ops give for float lengths."""
    task, rollin, candidates = rolled_in()
    arguments = dict(
        model=task.model,
        rollin=rollin,
        candidates=candidates,
        target=task.target,
        target_lengths=task.target_lengths,
    )
    arguments.update(change(task, rollin))
    message = f"rollout_costs: {name} must be an int32 or int64 tensor, got "
    with pytest.raises(TypeError, match=re.escape(message)):
        searnn_ext.rollout_costs(**arguments, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("eos_id", [HUGE, -HUGE])
def test_an_eos_id_beyond_int64_is_a_value_error(backend, eos_id):
    message = "optimal_completion_distance: eos_id must lie in [-9223372036854775808, "
    with pytest.raises(ValueError, match=re.escape(message) + ".* or be None, got "):
        searnn_ext.optimal_completion_distance(*completion_inputs(), eos_id=eos_id, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("eos_id", [HUGE, 5, -1])
def test_rollout_costs_refuses_a_model_eos_id_outside_its_vocabulary(backend, eos_id):
    task, rollin, candidates = rolled_in()
    task.model.eos_id = eos_id
    message = (
        f"rollout_costs: model.eos_id must lie in [0, 4] (the model's tokens) or be None, "
        f"got {eos_id}"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        searnn_ext.rollout_costs(
            task.model, rollin, candidates, task.target, task.target_lengths, backend=backend
        )


@pytest.mark.parametrize("namespace", ["searnn", "searnn_emulated"])
def test_raw_ops_name_an_eos_id_beyond_int64(namespace):
    """The dispatcher refuses it before any kernel runs; its message names the argument."""
    ops = getattr(torch.ops, namespace)
    with pytest.raises(RuntimeError, match="argument 'eos_id'"):
        ops.optimal_completion_distance(*completion_inputs(), HUGE)
    with pytest.raises(RuntimeError, match="argument 'eos_id'"):
        ops.greedy_rollout(*op_arguments()[:10], HUGE)


@pytest.mark.parametrize(
    "name, shape",
    [("edit_distance", (4,)), ("hamming_distance", (4,)), ("optimal_completion_distance", None)],
)
def test_meta_tensors_on_the_torch_path_give_the_fake_kernels_shapes(name, shape):
    """Shapes only, no values to read: as the ext backend's fake kernels answer."""
    if name == "optimal_completion_distance":
        inputs = [t.to("meta") for t in completion_inputs()]
        call = lambda backend: searnn_ext.optimal_completion_distance(  # noqa: E731
            *inputs, eos_id=5, backend=backend
        )
    else:
        hyp, ref = torch.zeros((4, 6), dtype=torch.int32), torch.zeros((3, 7), dtype=torch.int32)
        inputs = [hyp, torch.zeros(4), ref, torch.zeros(3), torch.zeros(4)]
        inputs = [t.long().to("meta") if t.dim() == 1 else t.to("meta") for t in inputs]
        call = lambda backend: getattr(searnn_ext, name)(*inputs, backend=backend)  # noqa: E731
    fake, torch_path = call("ext"), call("torch")
    assert torch_path.device.type == "meta"
    assert (torch_path.shape, torch_path.dtype) == (fake.shape, fake.dtype)
    if shape is not None:
        assert fake.shape == shape


def rollout_rows(rows, budget):
    """greedy_rollout arguments for `rows` roll-outs with `budget` steps each, whose model emits
    EOS at once (so that the decode itself is one step)."""
    arguments = op_arguments()
    eos_id = arguments[10]
    weights = list(arguments[9])
    weights[-1] = weights[-1].clone()
    weights[-1][eos_id] = 1e6  # the output bias: EOS wins every argmax
    arguments[9] = weights
    zeros = torch.zeros(rows, dtype=torch.int64)
    arguments[2:6] = [zeros, zeros, zeros, torch.full((rows,), budget)]
    return arguments


@pytest.mark.parametrize("namespace", ["searnn", "searnn_emulated"])
def test_greedy_rollout_bounds_its_whole_token_buffer(namespace):
    """Each budget is within the per-row bound (2**20), but 300 rows of it would need 2.5 GB."""
    message = (
        "greedy_rollout: the token buffer [rows, largest budget] = [300, 1048576] would hold "
        "314572800 tokens, more than the limit of 268435456"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        getattr(torch.ops, namespace).greedy_rollout(*rollout_rows(300, 2**20))


def test_greedy_rollout_of_many_short_rows_passes():
    tokens, lengths = torch.ops.searnn.greedy_rollout(*rollout_rows(100_000, 100))
    assert tokens.shape == (100_000, 100)
    assert not lengths.any()


def cost_ops(hyp, hyp_lengths, ref, ref_lengths, ref_index, candidates):
    return (
        searnn_ext.edit_distance(hyp, hyp_lengths, ref, ref_lengths, ref_index),
        searnn_ext.hamming_distance(hyp, hyp_lengths, ref, ref_lengths, ref_index),
        searnn_ext.optimal_completion_distance(
            hyp, candidates, ref[ref_index], ref_lengths[ref_index], eos_id=3
        ),
    )


@pytest.mark.parametrize("compile_backend", ["eager", "aot_eager"])
def test_public_cost_ops_compile_with_fullgraph(compile_backend):
    generator = torch.Generator().manual_seed(0)
    inputs = (
        torch.randint(0, 5, (4, 6), generator=generator),
        torch.tensor([0, 6, 3, 1]),
        torch.randint(0, 5, (3, 7), generator=generator),
        torch.tensor([7, 0, 2]),
        torch.tensor([0, 2, 1, 2]),
        torch.randint(0, 5, (4, 6, 3), generator=generator),
    )
    torch._dynamo.reset()
    compiled = torch.compile(cost_ops, fullgraph=True, backend=compile_backend)
    for got, want in zip(compiled(*inputs), cost_ops(*inputs), strict=True):
        assert torch.equal(got, want)
