"""searnn_ext._C.cpu_linear_out, the CPU decode loops' GEMM (oneDNN's float32 matmul where it
runs, else ATen's), against a float64 product."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from searnn_ext._extension import _C

pytestmark = pytest.mark.skipif(_C is None, reason="the extension is not built")

TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-12, torch.bfloat16: 2e-2}


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(0, 300),
    inputs=st.integers(0, 70),
    outputs=st.integers(0, 70),
    dtype=st.sampled_from(list(TOLERANCE)),
    seed=st.integers(0, 2**16),
)
def test_cpu_linear_out_is_the_product(rows, inputs, outputs, dtype, seed):
    generator = torch.Generator().manual_seed(seed)
    left = torch.randn(rows, inputs, generator=generator).to(dtype)
    weight = torch.randn(outputs, inputs, generator=generator).to(dtype)
    out = torch.full((rows, outputs), float("nan"), dtype=dtype)  # every entry must be written
    _C.cpu_linear_out(out, left, weight)
    expected = left.double() @ weight.double().t()
    scale = max(inputs, 1) ** 0.5
    torch.testing.assert_close(
        out.double(), expected, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype] * scale
    )


def test_cpu_linear_out_reads_a_transposed_input():
    left, weight = torch.randn(40, 16).t().contiguous().t(), torch.randn(24, 16)
    out = torch.empty(40, 24)
    _C.cpu_linear_out(out, left, weight)
    torch.testing.assert_close(out, left @ weight.t(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "out, left, weight, error, message",
    [
        ((5, 4), (5, 3), (4, 2), ValueError, "expected input [m, k], weight [n, k] and out [m, n]"),
        ((4, 5), (5, 3), (4, 3), ValueError, "expected input [m, k], weight [n, k] and out [m, n]"),
        ((5, 4), (5, 3), (4,), ValueError, "weight must be 2-D, got 1-D"),
        ((5, 4), (5, 3, 1), (4, 3), ValueError, "input must be 2-D, got 3-D"),
    ],
)
def test_cpu_linear_out_names_a_wrong_shape(out, left, weight, error, message):
    with pytest.raises(error, match=message.replace("[", r"\[").replace("]", r"\]")):
        _C.cpu_linear_out(torch.empty(out), torch.randn(left), torch.randn(weight))


def test_cpu_linear_out_names_a_wrong_dtype_or_layout():
    left, weight = torch.randn(5, 3), torch.randn(4, 3)
    with pytest.raises(TypeError, match="share a floating dtype, got Float, Double and Float"):
        _C.cpu_linear_out(torch.empty(5, 4), left.double(), weight)
    with pytest.raises(TypeError, match="share a floating dtype"):
        _C.cpu_linear_out(torch.empty(5, 4, dtype=torch.long), left.long(), weight.long())
    with pytest.raises(ValueError, match="out must be contiguous"):
        _C.cpu_linear_out(torch.empty(4, 5).t(), left, weight)
