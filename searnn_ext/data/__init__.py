"""The paper's datasets and a synthetic task, as TaskData: splits of (source, target) examples
and the Seq2Seq options they imply. Loaders take their paths from the caller (an argument, or
the SEARNN_DATA environment variable as the root of the data folders); none assumes a path."""

from searnn_ext.data.batching import Batch, Example, TaskData, batches, collate
from searnn_ext.data.conll import load_conll, load_embeddings
from searnn_ext.data.ocr import load_ocr
from searnn_ext.data.spelling import SPELLING_ALPHABET, load_spelling
from searnn_ext.data.synthetic import load_synthetic

__all__ = [
    "SPELLING_ALPHABET",
    "Batch",
    "Example",
    "TaskData",
    "batches",
    "collate",
    "load_conll",
    "load_embeddings",
    "load_ocr",
    "load_spelling",
    "load_synthetic",
]
