"""Bad inputs to the cost ops (edit_distance, hamming_distance, bleu_cost, gleu_cost, and
optimal_completion_distance): a TypeError or ValueError naming the argument, on every path (the
Python wrappers with every backend, and torch.ops.searnn / searnn_emulated directly)."""

import re

import pytest
import torch
from conftest import BACKENDS, needs_gpu

import searnn_ext

PAIR_OPS = ("edit_distance", "hamming_distance", "bleu_cost", "gleu_cost")


def call_wrapper(name, backend):
    op = getattr(searnn_ext, name)
    return lambda *args: op(*args, backend=backend)


def call_registered(namespace, name):
    return getattr(getattr(torch.ops, namespace), name)


WRAPPERS = [
    pytest.param(call_wrapper(name, backend), id=f"{name}-{backend}")
    for name in PAIR_OPS
    for backend in BACKENDS
]
PATHS = WRAPPERS + [
    pytest.param(call_registered(namespace, name), id=f"torch.ops.{namespace}.{name}")
    for namespace in ("searnn", "searnn_emulated")
    for name in PAIR_OPS
]
COMPLETION_PATHS = [
    pytest.param(
        lambda *args, backend=backend: searnn_ext.optimal_completion_distance(
            *args, eos_id=0, backend=backend
        ),
        id=f"optimal_completion_distance-{backend}",
    )
    for backend in BACKENDS
] + [
    pytest.param(
        lambda *args, namespace=namespace: call_registered(
            namespace, "optimal_completion_distance"
        )(*args, 0),
        id=f"torch.ops.{namespace}.optimal_completion_distance",
    )
    for namespace in ("searnn", "searnn_emulated")
]


def good_inputs():
    hyp = torch.randint(0, 5, (4, 6))
    ref = torch.randint(0, 5, (3, 7))
    return {
        "hyp": hyp,
        "hyp_lengths": torch.tensor([0, 6, 3, 1]),
        "ref": ref,
        "ref_lengths": torch.tensor([7, 0, 2]),
        "ref_index": torch.tensor([0, 2, 1, 2]),
    }


BAD_INPUTS = [
    ("hyp", torch.rand(4, 6), TypeError, "hyp must be an int32 or int64 tensor, got torch.float32"),
    ("hyp_lengths", torch.tensor([0.0, 6, 3, 1]), TypeError, "hyp_lengths must be an int32"),
    ("ref", torch.ones((3, 7), dtype=torch.bool), TypeError, "ref must be an int32 or int64"),
    ("ref_lengths", torch.tensor([7, 0, 2], dtype=torch.int16), TypeError, "ref_lengths must"),
    ("ref_index", torch.tensor([0.0, 2, 1, 2]), TypeError, "ref_index must be an int32"),
    ("hyp", torch.randint(0, 5, (4, 6, 1)), ValueError, "hyp must be 2-D, got shape [4, 6, 1]"),
    ("hyp", torch.randint(0, 5, (24,)), ValueError, "hyp must be 2-D"),
    ("ref", torch.tensor(3), ValueError, "ref must be 2-D, got shape []"),
    ("hyp_lengths", torch.tensor([[0, 6, 3, 1]]), ValueError, "hyp_lengths must be 1-D"),
    ("ref_index", torch.tensor([[0, 2, 1, 2]]), ValueError, "ref_index must be 1-D"),
    (
        "hyp_lengths",
        torch.tensor([0, 6, 3]),
        ValueError,
        "hyp_lengths must have one entry per hyp row (4), got 3",
    ),
    (
        "ref_lengths",
        torch.tensor([7, 0]),
        ValueError,
        "ref_lengths must have one entry per ref row (3), got 2",
    ),
    (
        "ref_index",
        torch.tensor([0, 2, 1]),
        ValueError,
        "ref_index must have one entry per hyp row (4), got 3",
    ),
    (
        "hyp_lengths",
        torch.tensor([0, 6, -1, 1]),
        ValueError,
        "hyp_lengths values must lie in [0, 6] (the width of hyp), got values in [-1, 6]",
    ),
    (
        "hyp_lengths",
        torch.tensor([0, 7, 3, 1]),
        ValueError,
        "hyp_lengths values must lie in [0, 6]",
    ),
    ("ref_lengths", torch.tensor([8, 0, 2]), ValueError, "ref_lengths values must lie in [0, 7]"),
    ("ref_lengths", torch.tensor([7, -3, 2]), ValueError, "ref_lengths values must lie in [0, 7]"),
    (
        "ref_index",
        torch.tensor([0, 3, 1, 2]),
        ValueError,
        "ref_index values must lie in [0, 2] (rows of ref), got values in [0, 3]",
    ),
    ("ref_index", torch.tensor([0, -1, 1, 2]), ValueError, "ref_index values must lie in [0, 2]"),
    (
        "ref_index",
        None,
        ValueError,
        "without ref_index, ref must have as many rows as hyp (4), got 3",
    ),
]


def good_completion_inputs():
    return {
        "prefix": torch.randint(0, 5, (4, 6)),
        "candidates": torch.randint(0, 5, (4, 6, 3)),
        "ref": torch.randint(0, 5, (4, 7)),
        "ref_lengths": torch.tensor([7, 0, 2, 5]),
    }


COMPLETION_BAD_INPUTS = [
    ("prefix", torch.rand(4, 6), TypeError, "prefix must be an int32 or int64 tensor, got torch."),
    ("candidates", torch.rand(4, 6, 3), TypeError, "candidates must be an int32 or int64"),
    ("ref", torch.ones((4, 7), dtype=torch.bool), TypeError, "ref must be an int32 or int64"),
    ("ref_lengths", torch.tensor([7, 0, 2, 5], dtype=torch.int16), TypeError, "ref_lengths must"),
    ("prefix", torch.randint(0, 5, (4, 6, 1)), ValueError, "prefix must be 2-D, got shape"),
    ("candidates", torch.randint(0, 5, (4, 6)), ValueError, "candidates must be 3-D, got shape"),
    ("ref", torch.randint(0, 5, (28,)), ValueError, "ref must be 2-D, got shape [28]"),
    ("ref_lengths", torch.tensor([[7, 0, 2, 5]]), ValueError, "ref_lengths must be 1-D"),
    (
        "candidates",
        torch.randint(0, 5, (4, 5, 3)),
        ValueError,
        "candidates must have shape [4, 6, K] (prefix's rows and steps), got [4, 5, 3]",
    ),
    (
        "candidates",
        torch.randint(0, 5, (3, 6, 3)),
        ValueError,
        "candidates must have shape [4, 6, K]",
    ),
    ("ref", torch.randint(0, 5, (3, 7)), ValueError, "ref must have one row per prefix row (4)"),
    (
        "ref_lengths",
        torch.tensor([7, 0, 2]),
        ValueError,
        "ref_lengths must have one entry per prefix row (4), got 3",
    ),
    (
        "ref_lengths",
        torch.tensor([7, 0, 8, 5]),
        ValueError,
        "ref_lengths values must lie in [0, 7] (the width of ref), got values in [0, 8]",
    ),
    ("ref_lengths", torch.tensor([7, -1, 2, 5]), ValueError, "ref_lengths values must lie in"),
]
# (paths, good inputs, bad inputs) of each family of ops that share their arguments.
FAMILIES = [
    (PATHS, good_inputs, BAD_INPUTS),
    (COMPLETION_PATHS, good_completion_inputs, COMPLETION_BAD_INPUTS),
]


def bad_input_cases():
    for paths, good, bad_inputs in FAMILIES:
        for path in paths:
            for i, (name, value, error, message) in enumerate(bad_inputs):
                yield pytest.param(
                    path.values[0], good, name, value, error, message, id=f"{path.id}-{name}-{i}"
                )


@pytest.mark.parametrize("call, good, name, value, error, message", list(bad_input_cases()))
def test_bad_input_is_named(call, good, name, value, error, message):
    inputs = good()
    inputs[name] = value
    with pytest.raises(error, match=re.escape(message)):
        call(*inputs.values())


@pytest.mark.parametrize(
    "call, good, shape",
    [
        pytest.param(path.values[0], good, shape, id=path.id)
        for (paths, good, _), shape in zip(FAMILIES, [(4,), (4, 6, 3)], strict=True)
        for path in paths
    ],
)
def test_good_inputs_pass(call, good, shape):
    """The baseline every bad-input case changes one argument of."""
    assert call(*good().values()).shape == shape


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_eos_id_and_non_tensor_completion_inputs(backend):
    inputs = good_completion_inputs()
    with pytest.raises(TypeError, match="eos_id must be an int or None, got float"):
        searnn_ext.optimal_completion_distance(*inputs.values(), eos_id=0.5, backend=backend)
    inputs["ref_lengths"] = [7, 0, 2, 5]
    with pytest.raises(TypeError, match="ref_lengths must be an int32 or int64 tensor, got list"):
        searnn_ext.optimal_completion_distance(*inputs.values(), eos_id=None, backend=backend)


@pytest.mark.parametrize("call", WRAPPERS)
def test_non_tensor_argument(call):
    inputs = good_inputs()
    inputs["hyp_lengths"] = [0, 6, 3, 1]
    with pytest.raises(TypeError):
        call(*inputs.values())


def meta_tensor_cases():
    """(call, good inputs, argument) for every path and tensor argument of every family."""
    for paths, good, _ in FAMILIES:
        for path in paths:
            for argument in good():
                yield pytest.param(path.values[0], good, argument, id=f"{path.id}-{argument}")


@pytest.mark.parametrize("call, good, argument", list(meta_tensor_cases()))
def test_a_meta_tensor_among_cpu_inputs_is_named(call, good, argument):
    """Not uninitialised memory from the fake kernel (which runs when any input is meta). The
    first argument is the one the others are compared with."""
    inputs = good()
    first, second = list(inputs)[:2]
    inputs[argument] = inputs[argument].to("meta")
    if argument == first:
        message = f"{second} is on cpu but {first} is on meta"
    else:
        message = f"{argument} is on meta but {first} is on cpu"
    with pytest.raises(ValueError, match=re.escape(message)):
        call(*inputs.values())


@needs_gpu
@pytest.mark.cuda
@pytest.mark.parametrize("name", PAIR_OPS)
@pytest.mark.parametrize("argument", ["hyp", "hyp_lengths", "ref", "ref_lengths", "ref_index"])
def test_inputs_on_different_devices_cuda(name, argument):
    inputs = {key: value.cuda() for key, value in good_inputs().items()}
    inputs[argument] = inputs[argument].cpu()
    named, other = (argument, "hyp") if argument != "hyp" else ("hyp_lengths", "hyp")
    devices = ("cpu", "cuda:0") if argument != "hyp" else ("cuda:0", "cpu")
    message = f"{named} is on {devices[0]} but {other} is on {devices[1]}"
    for call in (getattr(searnn_ext, name), getattr(torch.ops.searnn, name)):
        with pytest.raises(ValueError, match=re.escape(message)):
            call(*inputs.values())


@pytest.mark.parametrize("name", PAIR_OPS)
def test_unknown_backend(name):
    with pytest.raises(ValueError, match=r"backend must be one of \('ext', 'torch', 'auto', "):
        getattr(searnn_ext, name)(*good_inputs().values(), backend="cuda")


@needs_gpu
@pytest.mark.cuda
@pytest.mark.parametrize("argument", ["candidates", "ref", "ref_lengths"])
def test_completion_inputs_on_different_devices_cuda(argument):
    inputs = {key: value.cuda() for key, value in good_completion_inputs().items()}
    inputs[argument] = inputs[argument].cpu()
    with pytest.raises(ValueError, match=f"{argument} is on cpu but prefix is on cuda"):
        searnn_ext.optimal_completion_distance(*inputs.values(), eos_id=None, backend="ext")
