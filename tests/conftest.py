import copy
import dataclasses

import pytest
import torch

from searnn_ext import _extension

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU is visible")


@dataclasses.dataclass(frozen=True)
class Target:
    """Where an op runs: a backend (searnn_ext.backends) and the device of its tensors."""

    backend: str
    device: str

    def put(self, value):
        """A tensor, or a copy of a module, on this target's device (None passes). Modules are
        copied since Module.to moves in place: the caller's model stays where its oracle runs."""
        if isinstance(value, torch.nn.Module):
            value = copy.deepcopy(value)
        return None if value is None else value.to(self.device)


def _param(target: Target, name: str):
    marks = [pytest.mark.cuda, needs_gpu] if target.device == "cuda" else []
    return pytest.param(target, id=name, marks=marks)


# The compiled kernels on every device: the CPU's, the CUDA kernels' own code emulated on the
# CPU (every CI run), and the GPU's (when one is visible; `pytest -m cuda` runs those alone).
KERNELS = [
    _param(Target("ext", "cpu"), "cpu"),
    _param(Target("cuda_emulated", "cpu"), "cuda_emulated"),
    _param(Target("ext", "cuda"), "cuda"),
]
# The kernels and the pure-PyTorch path, each tested against the same oracles.
TARGETS = KERNELS + [
    _param(Target("torch", "cpu"), "torch-cpu"),
    _param(Target("torch", "cuda"), "torch-cuda"),
]
BACKENDS = ["ext", "cuda_emulated", "torch"]  # on CPU tensors


def pytest_report_header(config):
    return f"searnn_ext build: {_extension.build_info()}"


@pytest.fixture
def generator():
    return torch.Generator().manual_seed(0)
