"""searnn_ext: SEARNN (Leblond et al., ICLR 2018) for PyTorch, with the roll-out costs in
compiled CPU/CUDA kernels."""

from searnn_ext._extension import build_info
from searnn_ext.ops import edit_distance, hamming_distance

__all__ = ["build_info", "edit_distance", "hamming_distance"]
__version__ = "0.1.0"
