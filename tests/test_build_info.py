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
    assert isinstance(info["cpu_rows_per_block"], int) and info["cpu_rows_per_block"] > 0


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


def in_fresh_process(code: str, **variables: str | None) -> subprocess.CompletedProcess:
    """`code` run by a new interpreter with the environment `variables` set (None: unset)."""
    environment = {k: v for k, v in os.environ.items() if k not in variables}
    environment.update({k: v for k, v in variables.items() if v is not None})
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment
    )


def printed_build_info(key: str, **variables: str | None) -> subprocess.CompletedProcess:
    """A fresh process (see in_fresh_process) that prints build_info()[key]."""
    return in_fresh_process(
        f"import searnn_ext; print(searnn_ext.build_info()[{key!r}])", **variables
    )


def build_info_entry(key: str, **variables: str | None):
    printed = printed_build_info(key, **variables)
    assert printed.returncode == 0, printed.stderr
    return ast.literal_eval(printed.stdout)


def decoder_kernels(capability: str | None) -> dict:
    """build_info()'s CPU decoder kernels in a fresh process capped at `capability`."""
    return build_info_entry("cpu_decoder_kernels", ATEN_CPU_CAPABILITY=capability or None)


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


def cpu_gemms(cpu_gemm: str | None) -> dict:
    return build_info_entry("cpu_gemms", SEARNN_CPU_GEMM=cpu_gemm)


def test_cpu_gemms_follow_searnn_cpu_gemm():
    """float32 takes oneDNN's GEMM where it runs (torch's x86 wheels, on CPUs with AVX-512),
    unless SEARNN_CPU_GEMM=aten; where it does not, SEARNN_CPU_GEMM=onednn is an error.
    bfloat16 and float64 always take ATen's."""
    aten = {"float32": "aten", "bfloat16": "aten", "float64": "aten"}
    default = cpu_gemms(None)
    assert default in (aten, {**aten, "float32": "onednn"})
    if torch.backends.mkldnn.is_available() and torch.backends.cpu.get_cpu_capability() == "AVX512":
        assert default["float32"] == "onednn"
    assert cpu_gemms("aten") == aten
    insisted = printed_build_info("cpu_gemms", SEARNN_CPU_GEMM="onednn")
    if default["float32"] == "onednn":
        assert ast.literal_eval(insisted.stdout) == default
    else:
        assert insisted.returncode != 0
        assert "SEARNN_CPU_GEMM=onednn, but this torch's oneDNN matmul" in insisted.stderr


def test_cpu_gemms_follow_torch_backends_mkldnn():
    code = (
        "import torch, searnn_ext; torch.backends.mkldnn.enabled = False; "
        "print(searnn_ext.build_info()['cpu_gemms'])"
    )
    assert ast.literal_eval(in_fresh_process(code).stdout)["float32"] == "aten"


def test_a_wrong_searnn_cpu_gemm_is_an_error_naming_it():
    code = "import searnn_ext; searnn_ext.build_info()"
    failed = in_fresh_process(code, SEARNN_CPU_GEMM="mkl")
    assert failed.returncode != 0
    assert "SEARNN_CPU_GEMM must be 'onednn', 'aten' or unset, got 'mkl'" in failed.stderr


ROLLOUT_COSTS = """
import dataclasses, torch, searnn_ext
from searnn_ext.bench.rollout import SHAPES, make_problem
torch.set_num_threads(2)  # the GEMMs run inside the decode loop's parallel region
costs = []
for name in ("OCR", "Spelling-LSTM", "OCR-Transformer"):
    shape = dataclasses.replace(next(s for s in SHAPES if s.name == name), batch=8)
    model, rollin, candidates, target, lengths = make_problem(shape, torch.device("cpu"))
    costs += searnn_ext.rollout_costs(
        model, rollin, candidates, target, lengths, rollout="learned", cost=shape.cost
    ).flatten().tolist()
print(costs)
"""


def test_roll_outs_are_the_same_with_either_cpu_gemm():
    """The float32 roll-outs' costs through oneDNN's GEMMs are those through ATen's, on a GRU,
    an LSTM with attention (strided state columns as GEMM inputs) and a transformer: the oracle
    tests check the default choice; this checks that the other decodes the same. The two GEMMs
    round differently, which may flip a near-tie between two tokens: nearly all must agree."""
    default, aten = (
        in_fresh_process(ROLLOUT_COSTS, SEARNN_CPU_GEMM=gemm) for gemm in (None, "aten")
    )
    assert default.returncode == 0 and aten.returncode == 0, default.stderr + aten.stderr
    ours, theirs = (ast.literal_eval(run.stdout) for run in (default, aten))
    assert len(ours) == len(theirs) > 1000
    assert sum(a == b for a, b in zip(ours, theirs, strict=True)) >= 0.99 * len(ours)
