import ast
import os
import subprocess
import sys

import torch

import searnn_ext
from searnn_ext.cells import CELLS


def test_build_info_describes_the_build():
    info = searnn_ext.build_info()
    assert info["torch_version"] == torch.__version__
    assert info["extension_loaded"] is True
    assert info["compiled_torch_version"] == torch.__version__.split("+")[0]
    assert isinstance(info["cuda_compiled"], bool)
    assert isinstance(info["cuda_archs"], list)
    assert info["cuda_compiled"] == bool(info["cuda_archs"])
    assert all(arch.startswith(("sm_", "compute_")) for arch in info["cuda_archs"])
    assert info["num_threads"] == torch.get_num_threads()
    assert info["openmp"] is True, "the CPU kernels must be compiled with OpenMP"


def test_the_compiled_cells_are_the_python_records():
    """A cell is registered on both sides (csrc/include/searnn_ext/cells.h, searnn_ext/cells.py):
    neither may miss one."""
    assert sorted(searnn_ext.build_info()["compiled_cells"]) == sorted(CELLS)


def test_cuda_ops_are_registered_when_compiled():
    info = searnn_ext.build_info()
    has_cuda_kernel = torch._C._dispatch_has_kernel_for_dispatch_key(
        "searnn::edit_distance", "CUDA"
    )
    assert has_cuda_kernel == info["cuda_compiled"]


def test_module_prints_build_info():
    output = subprocess.run(
        [sys.executable, "-m", "searnn_ext"], check=True, capture_output=True, text=True
    ).stdout
    assert "cuda_compiled:" in output and "torch_version:" in output


def decoder_kernels(capability: str | None) -> dict:
    """build_info()'s CPU decoder kernels in a fresh process capped at `capability`."""
    environment = {k: v for k, v in os.environ.items() if k != "ATEN_CPU_CAPABILITY"}
    if capability:
        environment["ATEN_CPU_CAPABILITY"] = capability
    code = "import searnn_ext; print(searnn_ext.build_info()['cpu_decoder_kernels'])"
    output = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=environment
    ).stdout
    return ast.literal_eval(output)


def test_cpu_decoder_kernels_follow_aten_cpu_capability():
    widest = decoder_kernels(None)
    assert set(widest) == {"float32", "bfloat16", "float64"}
    assert widest["float64"] == "aten"  # float64 keeps ATen's own rounding
    assert widest["float32"] in ("avx512", "avx2", "aten")
    assert widest["bfloat16"] in ("avx512", "portable")
    none = {"float32": "aten", "bfloat16": "portable", "float64": "aten"}
    assert decoder_kernels("default") == none
    if widest["float32"] == "avx512":
        capped = decoder_kernels("avx2")
        assert capped == {"float32": "avx2", "bfloat16": "portable", "float64": "aten"}
