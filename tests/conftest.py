import pytest
import torch

from searnn_ext import _extension

BACKENDS = ["ext", "torch"]
DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU is visible"),
    ),
]


def pytest_report_header(config):
    return f"searnn_ext build: {_extension.build_info()}"


@pytest.fixture
def generator():
    return torch.Generator().manual_seed(0)
