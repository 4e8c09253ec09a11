"""Builds searnn_ext._C: CPU kernels always, CUDA kernels when a CUDA toolkit and a CUDA build of
torch are present (FORCE_CUDA=1 insists, FORCE_ONLY_CPU=1 declines). TORCH_CUDA_ARCH_LIST picks
the GPU architectures and MAX_JOBS the parallel compile jobs, as for any torch extension."""

import glob
import importlib.util
import os
import re
import sys
from pathlib import Path

import torch
from setuptools import find_packages, setup
from torch.utils import cpp_extension

ROOT = Path(__file__).resolve().parent
CSRC = Path("csrc")


def log(message: str) -> None:
    print(f"searnn_ext setup: {message}", file=sys.stderr)


def fail(message: str) -> None:
    sys.exit(f"searnn_ext setup: {message}")


def flag(name: str) -> bool:
    return os.environ.get(name, "0") not in ("", "0")


def cuda_toolkit_problem() -> str | None:
    """Why the CUDA kernels cannot be built here, or None when they can."""
    if torch.version.cuda is None:
        return f"torch {torch.__version__} is a CPU-only build"
    home = cpp_extension.CUDA_HOME
    if home is None:
        return "no CUDA toolkit was found (set CUDA_HOME to the folder holding bin/nvcc)"
    if not (Path(home) / "include" / "cuda_runtime.h").exists():
        return (
            f"CUDA_HOME={home} holds no include/cuda_runtime.h; set CUDA_HOME to the CUDA "
            "toolkit's own folder (the one with bin/nvcc and include/)"
        )
    return None


def build_cuda() -> bool:
    if flag("FORCE_ONLY_CPU"):
        log("FORCE_ONLY_CPU is set: building the CPU kernels only")
        return False
    problem = cuda_toolkit_problem()
    if flag("FORCE_CUDA"):
        if problem:
            fail(f"FORCE_CUDA=1 but {problem}")
        if not os.environ.get("TORCH_CUDA_ARCH_LIST") and not torch.cuda.is_available():
            fail(
                "FORCE_CUDA=1 without a visible GPU needs TORCH_CUDA_ARCH_LIST, the GPU "
                "architectures to compile for (e.g. '9.0' for H100, '8.0;8.6' for A100/A10)"
            )
        return True
    if problem:
        log(f"building the CPU kernels only: {problem}")
        return False
    if not os.environ.get("TORCH_CUDA_ARCH_LIST") and not torch.cuda.is_available():
        log("building the CPU kernels only: no GPU is visible and TORCH_CUDA_ARCH_LIST is unset")
        return False
    return True


def nvidia_wheel_include_dirs() -> list[str]:
    """Headers of the CUDA math libraries (cublas_v2.h, cusparse.h, ...) that torch's CUDA headers
    include; recent CUDA builds of torch take them from the `nvidia` pip packages, not the
    toolkit."""
    spec = importlib.util.find_spec("nvidia")
    if spec is None or not spec.submodule_search_locations:
        return []
    found = []
    for location in spec.submodule_search_locations:
        found += glob.glob(os.path.join(location, "cu*", "include"))
    return sorted(found)


def compiled_cuda_archs() -> str:
    # The same -gencode flags torch's build will pass to nvcc, read back as sm_XX names.
    flags = cpp_extension._get_cuda_arch_flags()
    return ",".join(sorted(set(re.findall(r"code=(sm_\w+|compute_\w+)", " ".join(flags)))))


def extension():
    # The emulated CUDA backend (csrc/emulated) is built everywhere, CPU-only builds included.
    sources = sorted(
        str(p) for folder in ("", "cpu/", "emulated/") for p in CSRC.glob(f"{folder}*.cpp")
    )
    include_dirs = [str(ROOT / CSRC / "include")]
    # at::parallel_for is an inline OpenMP template: without -fopenmp here it runs serially.
    # The libgomp it links is the one torch has already loaded (same soname).
    cxx_flags = ["-O3", "-fopenmp"]
    link_flags = ["-fopenmp"]
    if not build_cuda():
        return cpp_extension.CppExtension(
            "searnn_ext._C",
            sources,
            include_dirs=include_dirs,
            extra_compile_args={"cxx": cxx_flags},
            extra_link_args=link_flags,
        )
    archs = compiled_cuda_archs()
    log(f"building the CPU and CUDA kernels for {archs} with {cpp_extension.CUDA_HOME}")
    defines = ["-DSEARNN_WITH_CUDA", f'-DSEARNN_CUDA_ARCHS="{archs}"']
    return cpp_extension.CUDAExtension(
        "searnn_ext._C",
        sources + sorted(str(p) for p in CSRC.glob("cuda/*.cu")),
        include_dirs=include_dirs + nvidia_wheel_include_dirs(),
        extra_compile_args={
            "cxx": cxx_flags + defines,
            "nvcc": ["-O3", "--Werror=all-warnings"] + defines,
        },
        extra_link_args=link_flags,
    )


class BuildKeepingObjects(cpp_extension.BuildExtension):
    """Compiles into build/ beside this file, not into the fresh temporary folder that pip's
    editable installs give each build: a second install (the README's test command after its
    demo command, or after a pull) recompiles only the sources that changed, as ninja sees them
    (their headers and compile flags included)."""

    def finalize_options(self) -> None:
        super().finalize_options()
        self.build_temp = str(ROOT / "build" / f"objects-{sys.implementation.cache_tag}")


setup(
    packages=find_packages(include=["searnn_ext", "searnn_ext.*"]),
    ext_modules=[extension()],
    cmdclass={"build_ext": BuildKeepingObjects},
)
