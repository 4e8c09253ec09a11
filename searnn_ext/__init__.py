"""searnn_ext: SEARNN (Leblond et al., ICLR 2018) for PyTorch, with the roll-out costs in
compiled CPU/CUDA kernels."""

from searnn_ext._extension import build_info
from searnn_ext.config import ModelConfig, OptimizerConfig, RunConfig, SearnnConfig
from searnn_ext.evaluation import error_rate
from searnn_ext.fit import Diverged, fit
from searnn_ext.inference import evaluate, predict
from searnn_ext.losses import mle_loss, searnn_loss
from searnn_ext.model import DecoderState, Memory, Seq2Seq
from searnn_ext.ops import (
    bleu_cost,
    edit_distance,
    gleu_cost,
    hamming_distance,
    optimal_completion_distance,
)
from searnn_ext.rollin import RollIn, roll_in
from searnn_ext.rollout import rollout_costs
from searnn_ext.sampling import sample_candidates, subsample_cells
from searnn_ext.trainer import SearnnTrainer
from searnn_ext.transformer import TransformerSeq2Seq

__all__ = [
    "bleu_cost",
    "gleu_cost",
    "DecoderState",
    "Diverged",
    "Memory",
    "ModelConfig",
    "OptimizerConfig",
    "RollIn",
    "RunConfig",
    "SearnnConfig",
    "SearnnTrainer",
    "Seq2Seq",
    "TransformerSeq2Seq",
    "build_info",
    "edit_distance",
    "error_rate",
    "evaluate",
    "fit",
    "hamming_distance",
    "mle_loss",
    "optimal_completion_distance",
    "predict",
    "roll_in",
    "rollout_costs",
    "sample_candidates",
    "searnn_loss",
    "subsample_cells",
]
__version__ = "0.1.0"
