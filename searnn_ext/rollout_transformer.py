"""The compiled learned roll-out of a TransformerSeq2Seq: torch.ops.searnn.transformer_rollout
runs the whole decode loop in C++ (CPU) or C++/CUDA (torch.ops.searnn_emulated: the CUDA kernels'
code on the CPU), with the semantics of rollout_torch.greedy_rollout. The roll-outs of a
sequence read its roll-in's KV cache in place instead of copying it per row."""

from __future__ import annotations

import bisect
import itertools
from types import ModuleType

import torch
from torch import Tensor, nn

from searnn_ext import _extension
from searnn_ext.torch_path import check_same_device
from searnn_ext.transformer import KVCache, TransformerMemory, TransformerSeq2Seq, _Block

if _extension.available():
    for _namespace in ("searnn", "searnn_emulated"):

        @torch.library.register_fake(f"{_namespace}::transformer_rollout")
        def _transformer_rollout_fake(
            prefix_keys,
            prefix_values,
            row_batch,
            row_prefix,
            first_tokens,
            budgets,
            memory_keys,
            memory_values,
            memory_lengths,
            weights,
            heads,
            eos_id,
        ):
            # Also run for a call mixing meta and real tensors: check devices as the kernels do.
            check_same_device(
                "transformer_rollout",
                "prefix_keys",
                prefix_keys,
                prefix_values=prefix_values,
                row_batch=row_batch,
                row_prefix=row_prefix,
                first_tokens=first_tokens,
                budgets=budgets,
                memory_keys=memory_keys,
                memory_values=memory_values,
                memory_lengths=memory_lengths,
                **{f"weights[{i}]": weight for i, weight in enumerate(weights)},
            )
            steps = torch.library.get_ctx().new_dynamic_size()
            rows = first_tokens.shape[0]
            return first_tokens.new_empty((rows, steps)), first_tokens.new_empty((rows,))


# The layer norm the op computes: torch.nn.LayerNorm's default, with its weight and bias.
_LAYER_NORM_EPS = 1e-5


def unsupported(model: TransformerSeq2Seq) -> str | None:
    """Why the compiled loop cannot decode this model, or None. It implements
    TransformerSeq2Seq.step with its own modules; a subclass that changes the step, the
    positions, its blocks or their modules needs the pure-PyTorch path."""
    kind = type(model)
    for method in ("step", "initial_state", "_positions"):
        if getattr(kind, method) is not getattr(TransformerSeq2Seq, method):
            return f"{kind.__name__} overrides TransformerSeq2Seq.{method}"
    if type(model.target_embedding) is not nn.Embedding:
        return "its target embedding is not an nn.Embedding"
    norms, linears = [model.decoder_norm], [model.output]
    for block in model.decoder:
        if type(block) is not _Block:
            return f"its decoder blocks are not TransformerSeq2Seq's own ({type(block).__name__})"
        norms += [block.self_norm, block.cross_norm, block.ffn_norm]
        linears += [block.self_query, block.self_key_value, block.self_output]
        linears += [block.cross_query, block.cross_output]
        if [type(module) for module in block.ffn] != [nn.Linear, nn.ReLU, nn.Linear]:
            return "its feed-forward networks are not Linear, ReLU, Linear"
        linears += [block.ffn[0], block.ffn[2]]
    if any(type(linear) is not nn.Linear or linear.bias is None for linear in linears):
        return "its decoder's projections are not nn.Linear layers with biases"
    for norm in norms:
        if (
            type(norm) is not nn.LayerNorm
            or norm.eps != _LAYER_NORM_EPS
            or not (norm.elementwise_affine and norm.bias is not None)
        ):
            return (
                f"its layer norms are not nn.LayerNorm(eps={_LAYER_NORM_EPS}) with affine weights"
            )
    return None


def _linear(module: nn.Linear) -> list[Tensor]:
    return [module.weight, module.bias]


def decoder_weights(model: TransformerSeq2Seq) -> list[Tensor]:
    """The op's `weights` argument, in the order of csrc/transformer_rollout_inputs.h's
    TransformerWeights, without grad."""
    weights = [model.target_embedding.weight, model.positions]
    for block in model.decoder:
        weights += [
            *_linear(block.self_norm),
            *_linear(block.self_query),
            *_linear(block.self_key_value),
            *_linear(block.self_output),
            *_linear(block.cross_norm),
            *_linear(block.cross_query),
            *_linear(block.cross_output),
            *_linear(block.ffn_norm),
            *_linear(block.ffn[0]),
            *_linear(block.ffn[2]),
        ]
    weights += [*_linear(model.decoder_norm), *_linear(model.output)]
    return [w.detach() for w in weights]


# The most memory the rows' own keys and values may take in one call of the op, by device (on
# the CPU, per thread): all rows at once would hold O(rows x budget) of them (gigabytes on the
# Spelling shape). The CPU's loop runs each block of build_info()["cpu_rows_per_block"] rows
# through all its steps whatever the call's size, so small calls cost it nothing as long as they
# give every thread whole blocks; a GPU needs many rows in flight.
OWN_CACHE_BYTES = {"cpu": 16 << 20, "cuda": 1 << 30}


def greedy_rollout(
    model: TransformerSeq2Seq,
    memory: TransformerMemory,
    states: list[KVCache],
    row_b: Tensor,
    row_t: Tensor,
    first: Tensor,
    budgets: Tensor,
    *,
    ops: ModuleType = torch.ops.searnn,
) -> tuple[Tensor, Tensor]:
    """As rollout_torch.greedy_rollout. states[t] is the cache after the roll-in's first t
    tokens (BOS first, t + 1 positions); each is a prefix of the last, which every roll-out
    reads: the roll-out of cell (b, t) its first t + 1 positions. The rows go to the op in
    consecutive runs whose own keys and values fit OWN_CACHE_BYTES (budgets are sorted, so
    each run's rows still decoding stay a prefix of it)."""
    cache = states[-1]
    weights = decoder_weights(model)
    eos_id = -1 if model.eos_id is None else model.eos_id
    tokens = first.new_zeros((first.shape[0], int(budgets[0]) if len(budgets) else 0))
    lengths = first.new_zeros((first.shape[0],))
    for rows in _runs(budgets, model, cache.keys):
        run_tokens, lengths[rows] = ops.transformer_rollout(
            cache.keys,
            cache.values,
            row_b[rows],
            row_t[rows] + 1,
            first[rows],
            budgets[rows],
            memory.keys,
            memory.values,
            memory.lengths,
            weights,
            model.heads,
            eos_id,
        )
        tokens[rows, : run_tokens.shape[1]] = run_tokens
    return tokens, lengths


def _runs(budgets: Tensor, model: TransformerSeq2Seq, like: Tensor) -> list[slice]:
    """Consecutive slices of the rows, each of whose budgets sum to at most the positions
    OWN_CACHE_BYTES holds (a row alone may exceed it), cut after whole blocks of
    _rows_per_block(like.device) rows where at least one block fits."""
    device = like.device.type
    # Keys and values; the CPU decodes float16 in float32.
    element = 4 if device == "cpu" and like.dtype == torch.float16 else like.element_size()
    per_position = 2 * model.layers * model.d_model * element
    cap = OWN_CACHE_BYTES.get(device, OWN_CACHE_BYTES["cuda"])
    if device == "cpu":
        cap *= torch.get_num_threads()
    limit = max(cap // per_position, 1)
    return runs_within(budgets.tolist(), limit, _rows_per_block(like.device))


def runs_within(budgets: list[int], limit: int, block: int) -> list[slice]:
    """Consecutive slices covering the rows: each takes all the rows left where they fit in
    `limit` positions (budgets summed), else as many whole blocks of `block` rows as fit, else
    (not even one block fits) as many rows as fit, at least one."""
    ends = list(itertools.accumulate(budgets, initial=0))
    runs, start = [], 0
    while start < len(budgets):
        most = max(bisect.bisect_right(ends, ends[start] + limit) - 1, start + 1)
        whole_blocks = (most - start) // block * block
        stop = start + whole_blocks if whole_blocks and most < len(budgets) else most
        runs.append(slice(start, stop))
        start = stop
    return runs


def _rows_per_block(device: torch.device) -> int:
    """The rows that give each of the CPU loop's threads a whole block of its step (where its
    float32 GEMMs run through oneDNN, about twice ATen's speed on AVX-512 CPUs): at::parallel_for
    gives each thread an equal share. 1 elsewhere."""
    if device.type != "cpu":
        return 1
    return _extension.build_info()["cpu_rows_per_block"] * torch.get_num_threads()
