"""searnn_ext: SEARNN (Leblond et al., ICLR 2018) for PyTorch, with the roll-out costs in
compiled CPU/CUDA kernels."""

from searnn_ext._extension import build_info
from searnn_ext.model import DecoderState, Memory, Seq2Seq
from searnn_ext.ops import edit_distance, hamming_distance
from searnn_ext.rollin import RollIn, roll_in
from searnn_ext.rollout import rollout_costs

__all__ = [
    "DecoderState",
    "Memory",
    "RollIn",
    "Seq2Seq",
    "build_info",
    "edit_distance",
    "hamming_distance",
    "roll_in",
    "rollout_costs",
]
__version__ = "0.1.0"
