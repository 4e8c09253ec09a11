"""The recurrent cells of Seq2Seq, one record each: Seq2Seq builds its encoder and decoder from
the record and steps through it, and the compiled loop (searnn_ext.rollout_ext) reads its name,
gate count and weights. A layer's state is one row per sequence with the cell's vectors side by
side (a GRU's [h], an LSTM's [h | c]), h first. The kernels' side of a cell is its folder of
csrc/include/searnn_ext/cells/, registered in csrc/include/searnn_ext/cells.h."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch
from torch import Tensor, nn


@dataclasses.dataclass(frozen=True)
class LayerWeights:
    """One decoder layer's parameters, as torch.nn.GRUCell and torch.nn.LSTMCell name them:
    weight_ih [G * H, I], weight_hh [G * H, H], bias_ih and bias_hh [G * H], G the gates."""

    input_weight: Tensor
    hidden_weight: Tensor
    input_bias: Tensor
    hidden_bias: Tensor

    @classmethod
    def of(cls, module: nn.Module) -> LayerWeights:
        return cls(module.weight_ih, module.weight_hh, module.bias_ih, module.bias_hh)


@dataclasses.dataclass(frozen=True)
class Cell:
    """name: as --cell and the compiled op spell it; gates: G, gate rows per hidden unit;
    state_vectors: the vectors of a layer's state row; encoder, layer: the torch modules of the
    encoder and of one decoder layer; advance(layer, inputs [B, I], state [B, state_vectors *
    H]) -> the new state."""

    name: str
    gates: int
    state_vectors: int
    encoder: type[nn.Module]
    layer: type[nn.Module]
    advance: Callable[[nn.Module, Tensor, Tensor], Tensor]

    def output(self, state: Tensor) -> Tensor:
        """h, the layer's output: the first of the state's vectors."""
        return state[..., : state.shape[-1] // self.state_vectors]


def _advance_lstm(layer: nn.LSTMCell, inputs: Tensor, state: Tensor) -> Tensor:
    hidden, cell = layer(inputs, state.chunk(2, dim=-1))
    return torch.cat([hidden, cell], dim=-1)


CELLS = {
    "gru": Cell("gru", 3, 1, nn.GRU, nn.GRUCell, lambda layer, inputs, state: layer(inputs, state)),
    "lstm": Cell("lstm", 4, 2, nn.LSTM, nn.LSTMCell, _advance_lstm),
}
