"""Loads the compiled module searnn_ext._C, which registers the torch.ops.searnn ops."""

from __future__ import annotations

import logging

import torch

logger = logging.getLogger(__name__)

try:
    from searnn_ext import _C
except ImportError as error:  # a source checkout that was never built, or a broken build
    _C = None
    LOAD_ERROR: str | None = str(error)
    logger.debug("searnn_ext._C is not available: %s", error)
else:
    LOAD_ERROR = None


def available() -> bool:
    """Whether the compiled kernels are loaded."""
    return _C is not None


def require(what: str) -> None:
    """Raises a RuntimeError that says how to get the compiled kernels."""
    if _C is None:
        raise RuntimeError(
            f"{what} needs the compiled extension searnn_ext._C, which did not load "
            f"({LOAD_ERROR}). Build it with `pip install --no-build-isolation .` from the "
            "source tree, or pass backend='torch' (or 'auto') to use the pure-PyTorch path."
        )


def build_info() -> dict:
    """How the extension was built: torch versions, CUDA kernels and architectures, CPU threads.

    Keys: ``torch_version`` (the running torch), ``extension_loaded``, and when it is loaded
    ``compiled_torch_version``, ``cuda_compiled``, ``cuda_archs`` (list of ``sm_XX`` names),
    ``openmp``, ``num_threads`` (intra-op threads the CPU kernels use) and
    ``cpu_decoder_kernels`` (per dtype, the CPU roll-outs' element-wise kernels on this CPU:
    "avx512", "avx2", "portable" or "aten"; ATEN_CPU_CAPABILITY caps them), ``cpu_gemms``
    (per dtype, their matrix products: "onednn", oneDNN's float32 matmul, or "aten", ATen's
    GEMM; SEARNN_CPU_GEMM=aten or =onednn chooses; oneDNN takes whole blocks of rows),
    ``cpu_rows_per_block`` (the rows of one such block: the CPU decode loops run each step on
    blocks of this many rows) and ``compiled_cells`` (the recurrent cells the compiled roll-outs
    decode, by name).
    """
    info: dict = {"torch_version": torch.__version__, "extension_loaded": _C is not None}
    if _C is None:
        info.update(load_error=LOAD_ERROR, cuda_compiled=False, cuda_archs=[])
        info["num_threads"] = torch.get_num_threads()
        return info
    compiled = _C.build_info()
    compiled["cuda_archs"] = [arch for arch in compiled["cuda_archs"].split(",") if arch]
    info.update(compiled)
    return info
