"""Bad inputs to the cost ops: a TypeError or ValueError naming the argument, on every path
(the Python wrappers with every backend, and torch.ops.searnn / searnn_emulated directly)."""

import re

import pytest
import torch
from conftest import BACKENDS, needs_gpu

import searnn_ext


def call_wrapper(name, backend):
    op = getattr(searnn_ext, name)
    return lambda *args: op(*args, backend=backend)


def call_registered(namespace, name):
    return getattr(getattr(torch.ops, namespace), name)


WRAPPERS = [
    pytest.param(call_wrapper(name, backend), id=f"{name}-{backend}")
    for name in ("edit_distance", "hamming_distance")
    for backend in BACKENDS
]
PATHS = WRAPPERS + [
    pytest.param(call_registered(namespace, name), id=f"torch.ops.{namespace}.{name}")
    for namespace in ("searnn", "searnn_emulated")
    for name in ("edit_distance", "hamming_distance")
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


@pytest.mark.parametrize("call", PATHS)
@pytest.mark.parametrize(
    "name, value, error, message", BAD_INPUTS, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD_INPUTS)]
)
def test_bad_input_is_named(call, name, value, error, message):
    inputs = good_inputs()
    inputs[name] = value
    with pytest.raises(error, match=re.escape(message)):
        call(*inputs.values())


@pytest.mark.parametrize("call", PATHS)
def test_good_inputs_pass(call):
    """The baseline every bad-input case changes one argument of."""
    assert call(*good_inputs().values()).shape == (4,)


@pytest.mark.parametrize("call", WRAPPERS)
def test_non_tensor_argument(call):
    inputs = good_inputs()
    inputs["hyp_lengths"] = [0, 6, 3, 1]
    with pytest.raises(TypeError):
        call(*inputs.values())


@pytest.mark.parametrize("call", PATHS)
@pytest.mark.parametrize("argument", ["hyp", "hyp_lengths", "ref", "ref_lengths", "ref_index"])
def test_a_meta_tensor_among_cpu_inputs_is_named(call, argument):
    """Not uninitialised memory from the fake kernel (which runs when any input is meta)."""
    inputs = good_inputs()
    inputs[argument] = inputs[argument].to("meta")
    named, other = (argument, "hyp") if argument != "hyp" else ("hyp_lengths", "hyp")
    devices = ("meta", "cpu") if argument != "hyp" else ("cpu", "meta")
    message = f"{named} is on {devices[0]} but {other} is on {devices[1]}"
    with pytest.raises(ValueError, match=re.escape(message)):
        call(*inputs.values())


@needs_gpu
@pytest.mark.cuda
@pytest.mark.parametrize("name", ["edit_distance", "hamming_distance"])
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


@pytest.mark.parametrize("name", ["edit_distance", "hamming_distance"])
def test_unknown_backend(name):
    with pytest.raises(ValueError, match=r"backend must be one of \('ext', 'torch', 'auto', "):
        getattr(searnn_ext, name)(*good_inputs().values(), backend="cuda")
