"""The compiled learned roll-out: torch.ops.searnn.greedy_rollout runs the whole decode loop in
C++ (CPU) or C++/CUDA (torch.ops.searnn_emulated.greedy_rollout: the CUDA kernels' code on the
CPU), with the same semantics as rollout_torch.greedy_rollout."""

from __future__ import annotations

import dataclasses
from types import ModuleType

import torch
from torch import Tensor

from searnn_ext import _extension
from searnn_ext.cells import CELLS, LayerWeights
from searnn_ext.model import DecoderState, Memory, Seq2Seq
from searnn_ext.torch_path import check_same_device

if _extension.available():
    for _namespace in ("searnn", "searnn_emulated"):

        @torch.library.register_fake(f"{_namespace}::greedy_rollout")
        def _greedy_rollout_fake(
            cell_hidden,
            cell_feed,
            row_cell,
            row_batch,
            first_tokens,
            budgets,
            memory_values,
            memory_keys,
            memory_lengths,
            weights,
            eos_id,
            cell="gru",
        ):
            # Also run for a call mixing meta and real tensors: check devices as the kernels do.
            check_same_device(
                "greedy_rollout",
                "cell_hidden",
                cell_hidden,
                cell_feed=cell_feed,
                row_cell=row_cell,
                row_batch=row_batch,
                first_tokens=first_tokens,
                budgets=budgets,
                memory_values=memory_values,
                memory_keys=memory_keys,
                memory_lengths=memory_lengths,
                **{f"weights[{i}]": weight for i, weight in enumerate(weights)},
            )
            steps = torch.library.get_ctx().new_dynamic_size()
            rows = first_tokens.shape[0]
            return first_tokens.new_empty((rows, steps)), first_tokens.new_empty((rows,))


def unsupported(model: Seq2Seq) -> str | None:
    """Why the compiled loop cannot decode this model, or None. It implements Seq2Seq.step for
    the cells of searnn_ext.cells; a subclass that changes the step (or its submodules) needs the
    pure-PyTorch path."""
    if not isinstance(model, Seq2Seq):
        return f"{type(model).__name__} is not a Seq2Seq"
    if type(model).step is not Seq2Seq.step or type(model).attend is not Seq2Seq.attend:
        return f"{type(model).__name__} overrides Seq2Seq.step or Seq2Seq.attend"
    layer = CELLS[model.cell].layer
    modules = [model.target_embedding, *model.decoder, model.output]
    expected = [torch.nn.Embedding, *[layer] * model.num_layers, torch.nn.Linear]
    if any(type(module) is not kind for module, kind in zip(modules, expected, strict=True)):
        return f"its decoder modules are not the Embedding, {layer.__name__} and Linear of Seq2Seq"
    return None


@dataclasses.dataclass(frozen=True)
class DecoderWeights:
    """The decoder's parameters by name, as csrc/greedy_rollout_inputs.h names them."""

    embedding: Tensor  # [A + 1, E], the last row is BOS
    layers: list[LayerWeights]
    attention: tuple[Tensor, Tensor, Tensor, Tensor] | None  # query, score, output weight, bias
    output_weight: Tensor  # [A, H]
    output_bias: Tensor  # [A]

    @classmethod
    def of(cls, model: Seq2Seq) -> DecoderWeights:
        attention = None
        if model.attention:
            attention = (
                model.attention_query.weight,
                model.attention_score.weight,
                model.attention_output.weight,
                model.attention_output.bias,
            )
        layers = [LayerWeights.of(layer) for layer in model.decoder]
        return cls(
            model.target_embedding.weight, layers, attention, model.output.weight, model.output.bias
        )

    def as_list(self) -> list[Tensor]:
        """The op's `weights` argument: the fields in order, each layer's as LayerWeights
        orders them, without grad."""
        weights = [self.embedding]
        for layer in self.layers:
            weights += [getattr(layer, field.name) for field in dataclasses.fields(layer)]
        weights += [*(self.attention or ()), self.output_weight, self.output_bias]
        return [w.detach() for w in weights]


def decoder_weights(model: Seq2Seq) -> list[Tensor]:
    """The op's `weights` argument for this model."""
    return DecoderWeights.of(model).as_list()


def greedy_rollout(
    model: Seq2Seq,
    memory: Memory,
    states: DecoderState,
    row_b: Tensor,
    row_t: Tensor,
    first: Tensor,
    budgets: Tensor,
    *,
    ops: ModuleType = torch.ops.searnn,
) -> tuple[Tensor, Tensor]:
    """As rollout_torch.greedy_rollout; the roll-outs of one cell share its prefix state,
    passed once per cell. ops: the namespace of the greedy_rollout op that runs (see
    searnn_ext.backends)."""
    batch = states.hidden.shape[2]
    cells, row_cell = torch.unique(row_t * batch + row_b, return_inverse=True)
    cell_t, cell_b = cells // batch, cells % batch
    cell_hidden = states.hidden[cell_t, :, cell_b].transpose(0, 1).contiguous()
    cell_feed = None if states.feed is None else states.feed[cell_t, cell_b]
    attention = model.attention is not None
    return ops.greedy_rollout(
        cell_hidden,
        cell_feed,
        row_cell,
        row_b,
        first,
        budgets,
        memory.outputs if attention else None,
        memory.keys,
        memory.lengths,
        decoder_weights(model),
        -1 if model.eos_id is None else model.eos_id,
        model.cell,
    )
