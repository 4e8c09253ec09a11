"""Bad inputs to the cost ops: a TypeError or ValueError naming the argument, on every path
(the Python wrappers with either backend, and torch.ops.searnn directly)."""

import re

import pytest
import torch

import searnn_ext


def call_wrapper(name, backend):
    op = getattr(searnn_ext, name)
    return lambda *args: op(*args, backend=backend)


def call_registered(name):
    return getattr(torch.ops.searnn, name)


PATHS = [
    pytest.param(call_wrapper(name, backend), id=f"{name}-{backend}")
    for name in ("edit_distance", "hamming_distance")
    for backend in ("ext", "torch")
] + [
    pytest.param(call_registered(name), id=f"torch.ops.searnn.{name}")
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


@pytest.mark.parametrize("call", PATHS[:4])
def test_non_tensor_argument(call):
    inputs = good_inputs()
    inputs["hyp_lengths"] = [0, 6, 3, 1]
    with pytest.raises(TypeError):
        call(*inputs.values())


@pytest.mark.parametrize("name", ["edit_distance", "hamming_distance"])
def test_inputs_on_different_devices(name):
    """Without a GPU the torch path is tried with a meta tensor; the ext path with CUDA below."""
    inputs = good_inputs()
    inputs["ref"] = inputs["ref"].to("meta")
    with pytest.raises(ValueError, match="ref is on meta but hyp is on cpu"):
        getattr(searnn_ext, name)(*inputs.values(), backend="torch")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU is visible")
@pytest.mark.parametrize("name", ["edit_distance", "hamming_distance"])
@pytest.mark.parametrize("argument", ["hyp_lengths", "ref", "ref_lengths", "ref_index"])
def test_inputs_on_different_devices_cuda(name, argument):
    inputs = {key: value.cuda() for key, value in good_inputs().items()}
    inputs[argument] = inputs[argument].cpu()
    with pytest.raises(ValueError, match=f"{argument} is on cpu but hyp is on cuda"):
        getattr(searnn_ext, name)(*inputs.values(), backend="ext")


@pytest.mark.parametrize("name", ["edit_distance", "hamming_distance"])
def test_unknown_backend(name):
    with pytest.raises(ValueError, match=r"backend must be one of \('ext', 'torch', 'auto'\)"):
        getattr(searnn_ext, name)(*good_inputs().values(), backend="cuda")
