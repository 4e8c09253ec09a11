"""Which implementation runs an op: the compiled kernels of the inputs' device, the CUDA kernels'
code emulated on the CPU, or the pure-PyTorch path. The one place where `backend` is read, and
where its choices are described for every function that takes it (the cost ops, rollout_costs,
the trainer and evaluation):

- ``"auto"`` (the default everywhere): the compiled kernels where they can run, else the
  pure-PyTorch path, with a log line (once) saying why.
- ``"ext"``: the compiled kernels; an error says why when they cannot run these inputs.
- ``"torch"``: the pure-PyTorch path (torch_path.py, rollout_torch.py).
- ``"cuda_emulated"``: the CUDA kernels' own code run on CPU tensors, every thread of the same
  launches: the GPU path's test bench on machines without a GPU (slow; not for training).

The compiled kernels cannot run where searnn_ext._C did not load, on a device it has no kernel
for, or (rollout_costs' decode loop) for a model whose decoder step is not Seq2Seq's own
(rollout_ext.unsupported says why).
"""

from __future__ import annotations

import functools
import logging
from types import ModuleType

import torch

from searnn_ext import _extension

logger = logging.getLogger(__name__)

BACKENDS = ("ext", "torch", "auto", "cuda_emulated")
_DISPATCH_KEYS = {"cpu": "CPU", "cuda": "CUDA"}


def compiled_ops(op: str, backend: str, device: torch.device) -> ModuleType | None:
    """The torch.ops namespace (``torch.ops.searnn`` or ``torch.ops.searnn_emulated``) whose `op`
    runs a call on `device` with this backend, or None for the pure-PyTorch path."""
    if backend not in BACKENDS:
        raise ValueError(f"{op}: backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "torch":
        return None
    if backend == "cuda_emulated":
        _extension.require(f"{op}(backend='cuda_emulated')")
        if device.type not in ("cpu", "meta"):
            raise ValueError(
                f"{op}(backend='cuda_emulated') runs the CUDA kernels' code on the CPU: its "
                f"inputs must be CPU tensors, got {device}"
            )
        return torch.ops.searnn_emulated
    if backend == "ext":
        _extension.require(f"{op}(backend='ext')")
    problem = missing_kernel(op, device)
    if problem is None:
        return torch.ops.searnn
    if backend == "auto":
        log_once(f"{op}: the pure-PyTorch path runs, because {problem}")
        return None
    raise RuntimeError(
        f"{op}(backend='ext'): {problem}. Pass backend='auto' to fall back to the pure-PyTorch "
        "path, or backend='torch'."
    )


def missing_kernel(op: str, device: torch.device) -> str | None:
    """Why the compiled `op` cannot run on `device`, or None when it can."""
    if not _extension.available():
        return f"the compiled extension searnn_ext._C did not load ({_extension.LOAD_ERROR})"
    if device.type == "meta":
        return None  # shapes only: the fake kernels
    key = _DISPATCH_KEYS.get(device.type)
    if key is None or not _has_kernel(op, key):
        cuda = "with" if _extension.build_info()["cuda_compiled"] else "without"
        return f"searnn_ext was built {cuda} CUDA kernels and has no {device.type} kernel"
    return None


# Dynamo cannot trace the dispatcher query, and its answer is fixed once the extension has
# loaded: torch.compile takes it at trace time, so the public ops compile with fullgraph=True.
@torch.compiler.assume_constant_result
def _has_kernel(op: str, dispatch_key: str) -> bool:
    return torch._C._dispatch_has_kernel_for_dispatch_key(f"searnn::{op}", dispatch_key)


@functools.cache
def log_once(message: str) -> None:
    logger.info(message)


# What a CPU needs for the compiled roll-outs of a reduced precision to beat float32.
_FAST_CPU_KERNELS = {"bfloat16": ("avx512", "AVX-512 with BF16 instructions (avx512_bf16)")}


def slow_rollout_dtype(dtype: str, device: torch.device) -> str | None:
    """Why roll-outs in `dtype` ("bfloat16", "float16") are slower than float32 ones on
    `device`, or None where they are not known to be: on a CPU without the instructions of
    their vectorised kernels, only the portable ones (or none: float16) run them."""
    if dtype == "float32" or device.type != "cpu" or not _extension.available():
        return None
    kernels = _extension.build_info()["cpu_decoder_kernels"].get(dtype)
    fast, needs = _FAST_CPU_KERNELS.get(dtype, (None, f"vectorised {dtype} kernels (none exist)"))
    if fast is not None and kernels == fast:
        return None
    return (
        f"rollout_dtype {dtype}: this CPU lacks {needs}, so {dtype} roll-outs run "
        f"{'the portable kernels' if kernels == 'portable' else 'generic ops'} here; float32 is "
        "faster on it (`searnn bench rollout` measures both)"
    )
