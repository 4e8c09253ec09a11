"""searnn_ext._C.cpu_linear_out, the CPU decode loops' GEMM (oneDNN's float32 matmul where it
runs, else ATen's), against a float64 product."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from searnn_ext._extension import _C

pytestmark = pytest.mark.skipif(_C is None, reason="the extension is not built")

TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-12, torch.bfloat16: 2e-2}


def check_product(out, left, weight, bias=None):
    expected = left.double() @ weight.double().t()
    if bias is not None:
        expected += bias.double()
    tolerance = TOLERANCE[out.dtype]
    scale = max(left.shape[1], 1) ** 0.5
    torch.testing.assert_close(out.double(), expected, rtol=tolerance, atol=tolerance * scale)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(0, 300),
    inputs=st.integers(0, 70),
    outputs=st.integers(0, 70),
    dtype=st.sampled_from(list(TOLERANCE)),
    with_bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_cpu_linear_out_is_the_product(rows, inputs, outputs, dtype, with_bias, seed):
    generator = torch.Generator().manual_seed(seed)
    left = torch.randn(rows, inputs, generator=generator).to(dtype)
    weight = torch.randn(outputs, inputs, generator=generator).to(dtype)
    bias = torch.randn(outputs, generator=generator).to(dtype) if with_bias else None
    out = torch.full((rows, outputs), float("nan"), dtype=dtype)  # every entry must be written
    _C.cpu_linear_out(out, left, weight, bias)
    check_product(out, left, weight, bias)


def test_cpu_linear_out_reads_strided_operands():
    """A transposed input, the first H columns of [h | c] rows (as an LSTM's output is read),
    and a column slice of a weight (as input feeding's)."""
    state, weight = torch.randn(300, 2 * 48), torch.randn(64, 3 * 48)
    for left in (torch.randn(40, 48).t().contiguous().t(), state[:, :48]):
        for right in (weight[:, :48], weight[:, 48:96].contiguous()):
            out = torch.empty(left.shape[0], right.shape[0])
            _C.cpu_linear_out(out, left, right)
            check_product(out, left, right)


@pytest.mark.parametrize(
    "out, left, weight, message",
    [
        ((5, 4), (5, 3), (4, 2), "expected input [m, k], weight [n, k] and out [m, n]"),
        ((4, 5), (5, 3), (4, 3), "expected input [m, k], weight [n, k] and out [m, n]"),
        ((5, 4), (5, 3), (4,), "weight must be 2-D, got 1-D"),
        ((5, 4), (5, 3, 1), (4, 3), "input must be 2-D, got 3-D"),
    ],
)
def test_cpu_linear_out_names_a_wrong_shape(out, left, weight, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _C.cpu_linear_out(torch.empty(out), torch.randn(left), torch.randn(weight))


def test_cpu_linear_out_names_a_wrong_dtype_layout_or_bias():
    left, weight, out = torch.randn(5, 3), torch.randn(4, 3), torch.empty(5, 4)
    with pytest.raises(TypeError, match="share a floating dtype, got Float, Double and Float"):
        _C.cpu_linear_out(out, left.double(), weight)
    with pytest.raises(TypeError, match="share a floating dtype"):
        _C.cpu_linear_out(out.long(), left.long(), weight.long())
    with pytest.raises(ValueError, match="out must be contiguous"):
        _C.cpu_linear_out(torch.empty(4, 5).t(), left, weight)
    with pytest.raises(ValueError, match="out must not require grad"):
        _C.cpu_linear_out(out.requires_grad_(), left, weight)
    with pytest.raises(ValueError, match=r"bias must be a CPU tensor \[n\] = \[4\], got \[5\]"):
        _C.cpu_linear_out(torch.empty(5, 4), left, weight, torch.randn(5))
    with pytest.raises(TypeError, match="bias must have the input's dtype Float, got Double"):
        _C.cpu_linear_out(torch.empty(5, 4), left, weight, torch.randn(4, dtype=torch.double))


def test_cpu_linear_out_refuses_an_out_that_overlaps_an_operand():
    square = torch.randn(6, 6)
    with pytest.raises(RuntimeError, match="refer to a single memory location"):
        _C.cpu_linear_out(square, square, torch.randn(6, 6))
    with pytest.raises(RuntimeError, match="refer to a single memory location"):
        _C.cpu_linear_out(square, torch.randn(6, 6), square)
