"""TransformerSeq2Seq: a pre-LayerNorm encoder-decoder transformer (Vaswani et al. 2017, with the
LayerNorm before each block as in Xiong et al. 2020) and sinusoidal positions, implementing the
step protocol of searnn_ext.decoding. Its decoder state is a KV cache: each layer's keys and
values of every token decoded so far, so that a step attends over the prefix without running
the decoder over it again. Sources as Seq2Seq takes them: token streams or dense features."""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclasses.dataclass
class TransformerMemory:
    """outputs: [B, S, D] the encoder's; lengths: int64 [B]; keys, values: [B, L, S, D] each
    decoder layer's cross-attention projections of the outputs, computed once."""

    outputs: Tensor
    lengths: Tensor
    keys: Tensor
    values: Tensor

    def select(self, rows: Tensor | slice) -> TransformerMemory:
        return TransformerMemory(
            self.outputs[rows], self.lengths[rows], self.keys[rows], self.values[rows]
        )


@dataclasses.dataclass
class KVCache:
    """keys, values: [B, L, t, D], each decoder layer's self-attention projections of the t
    tokens fed so far (BOS first)."""

    keys: Tensor
    values: Tensor

    def select(self, rows: Tensor | slice) -> KVCache:
        return KVCache(self.keys[rows], self.values[rows])


def sinusoids(positions: int, size: int) -> Tensor:
    """[positions, size]: sin at even, cos at odd features (Vaswani et al. 2017, 3.5)."""
    position = torch.arange(positions, dtype=torch.float64)[:, None]
    rate = torch.exp(torch.arange(0, size, 2, dtype=torch.float64) * (-math.log(10000.0) / size))
    table = torch.zeros(positions, size, dtype=torch.float64)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate)[:, : size // 2]
    return table


class _Block(nn.Module):
    """One layer: self-attention, optionally cross-attention, and a feed-forward network, each
    behind a LayerNorm and added back (pre-LN)."""

    def __init__(self, d_model: int, heads: int, ffn_size: int, dropout: float, cross: bool):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.self_norm = nn.LayerNorm(d_model)
        self.self_query = nn.Linear(d_model, d_model)
        self.self_key_value = nn.Linear(d_model, 2 * d_model)
        self.self_output = nn.Linear(d_model, d_model)
        if cross:
            self.cross_norm = nn.LayerNorm(d_model)
            self.cross_query = nn.Linear(d_model, d_model)
            self.cross_key_value = nn.Linear(d_model, 2 * d_model)
            self.cross_output = nn.Linear(d_model, d_model)
        self.ffn_norm = nn.LayerNorm(d_model)
        self.ffn = nn.Sequential(
            nn.Linear(d_model, ffn_size), nn.ReLU(), nn.Linear(ffn_size, d_model)
        )

    def _drop(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.dropout, self.training)

    def attend(self, query: Tensor, keys: Tensor, values: Tensor, visible: Tensor | None):
        """Multi-head attention of query [B, Q, D] over keys and values [B, K, D]; visible:
        bool [B, Q, K] or broadcastable, None for all."""
        batch, width = query.shape[0], query.shape[-1]
        size = width // self.heads

        def heads(x: Tensor) -> Tensor:
            return x.reshape(batch, x.shape[1], self.heads, size).transpose(1, 2)

        scores = heads(query) @ heads(keys).transpose(-1, -2) / math.sqrt(size)
        if visible is not None:
            scores = scores.masked_fill(~visible[:, None], float("-inf"))
        mixed = torch.softmax(scores, dim=-1) @ heads(values)
        return mixed.transpose(1, 2).reshape(batch, -1, width)

    def feed_forward(self, x: Tensor) -> Tensor:
        return x + self._drop(self.ffn(self.ffn_norm(x)))


class TransformerSeq2Seq(nn.Module):
    """A pre-LayerNorm encoder-decoder transformer over `target_vocab` output tokens.

    Args:
        target_vocab: A; the decoder's first input is `bos_id` = A, never predicted.
        source_vocab: int, or a tuple of ints, one vocabulary per input stream (`src` int64
            [B, S, streams]; the streams' embeddings are summed). source_features: F, for dense
            inputs (`src` float [B, S, F], projected to d_model). Exactly one of the two.
        d_model, heads, layers (of the encoder and of the decoder), ffn_size, dropout.
        eos_id: the end-of-sequence token, or None for fixed-length outputs.
        max_positions: the longest source or output it embeds positions for.
    """

    cell = "transformer"

    def __init__(
        self,
        *,
        target_vocab: int,
        source_vocab: int | tuple[int, ...] | None = None,
        source_features: int | None = None,
        d_model: int = 128,
        heads: int = 4,
        layers: int = 2,
        ffn_size: int = 512,
        dropout: float = 0.0,
        eos_id: int | None = None,
        max_positions: int = 1024,
    ) -> None:
        super().__init__()
        if (source_vocab is None) == (source_features is None):
            raise ValueError(
                "TransformerSeq2Seq: give exactly one of source_vocab and source_features"
            )
        if target_vocab < 1:
            raise ValueError(
                f"TransformerSeq2Seq: target_vocab must be positive, got {target_vocab}"
            )
        if heads < 1 or d_model % heads:
            raise ValueError(
                f"TransformerSeq2Seq: d_model ({d_model}) must be a multiple of heads ({heads})"
            )
        if layers < 1:
            raise ValueError(f"TransformerSeq2Seq: layers must be at least 1, got {layers}")
        if eos_id is not None and not 0 <= eos_id < target_vocab:
            raise ValueError(
                f"TransformerSeq2Seq: eos_id must be in [0, {target_vocab}), got {eos_id}"
            )
        self.target_vocab, self.bos_id, self.eos_id = target_vocab, target_vocab, eos_id
        self.d_model, self.heads, self.layers, self.dropout = d_model, heads, layers, dropout
        if source_features is not None:
            self.source_embeddings = nn.ModuleList()
            self.source_projection = nn.Linear(source_features, d_model)
        else:
            vocabs = (source_vocab,) if isinstance(source_vocab, int) else tuple(source_vocab)
            self.source_embeddings = nn.ModuleList(nn.Embedding(v, d_model) for v in vocabs)
            self.source_projection = None
        self.register_buffer("positions", sinusoids(max_positions, d_model).float(), False)
        self.encoder = nn.ModuleList(
            _Block(d_model, heads, ffn_size, dropout, cross=False) for _ in range(layers)
        )
        self.encoder_norm = nn.LayerNorm(d_model)
        self.target_embedding = nn.Embedding(target_vocab + 1, d_model)
        self.decoder = nn.ModuleList(
            _Block(d_model, heads, ffn_size, dropout, cross=True) for _ in range(layers)
        )
        self.decoder_norm = nn.LayerNorm(d_model)
        self.output = nn.Linear(d_model, target_vocab)
        # N(0, 1 / d_model), scaled by sqrt(d_model) when looked up: unit-sized, as the
        # positions are (Vaswani et al. 2017, 3.4).
        for embedding in [*self.source_embeddings, self.target_embedding]:
            nn.init.normal_(embedding.weight, std=d_model**-0.5)

    def _positions(self, start: int, count: int, like: Tensor) -> Tensor:
        if start + count > self.positions.shape[0]:
            raise ValueError(
                f"TransformerSeq2Seq: position {start + count - 1} is past max_positions "
                f"({self.positions.shape[0]})"
            )
        return self.positions[start : start + count].to(like.dtype)

    def encode(self, src: Tensor, src_lengths: Tensor) -> TransformerMemory:
        """src: int64 [B, S] / [B, S, streams] token ids, or float [B, S, F] features;
        src_lengths: [B], each in [1, S]."""
        if self.source_projection is not None:
            x = self.source_projection(src)
        else:
            streams = src.unsqueeze(-1) if src.dim() == 2 else src
            if streams.shape[-1] != len(self.source_embeddings):
                raise ValueError(
                    f"TransformerSeq2Seq.encode: src has {streams.shape[-1]} streams, the model "
                    f"{len(self.source_embeddings)}"
                )
            x = sum(emb(streams[..., i]) for i, emb in enumerate(self.source_embeddings))
            x = x * math.sqrt(self.d_model)
        x = F.dropout(x + self._positions(0, x.shape[1], x), self.dropout, self.training)
        lengths = src_lengths.long()
        visible = (torch.arange(x.shape[1], device=x.device) < lengths[:, None])[:, None, :]
        for block in self.encoder:
            normed = block.self_norm(x)
            keys, values = block.self_key_value(normed).chunk(2, dim=-1)
            mixed = block.attend(block.self_query(normed), keys, values, visible)
            x = block.feed_forward(x + block._drop(block.self_output(mixed)))
        outputs = self.encoder_norm(x)
        cross = [block.cross_key_value(outputs).chunk(2, dim=-1) for block in self.decoder]
        keys = torch.stack([k for k, _ in cross], dim=1)
        values = torch.stack([v for _, v in cross], dim=1)
        return TransformerMemory(outputs, lengths, keys, values)

    def initial_state(self, memory: TransformerMemory) -> KVCache:
        batch = memory.outputs.shape[0]
        empty = memory.outputs.new_zeros((batch, self.layers, 0, self.d_model))
        return KVCache(empty, empty)

    def step(
        self, prev_tokens: Tensor, state: KVCache, memory: TransformerMemory
    ) -> tuple[Tensor, KVCache]:
        """One decoder step for every row: prev_tokens int64 [B] (`bos_id` first) -> logits
        [B, A] over the next token, and the cache with this step's keys and values."""
        position = state.keys.shape[2]
        x = self.target_embedding(prev_tokens)[:, None] * math.sqrt(self.d_model)
        x = F.dropout(x + self._positions(position, 1, x), self.dropout, self.training)
        source = torch.arange(memory.outputs.shape[1], device=x.device)
        visible = (source < memory.lengths[:, None])[:, None, :]
        new_keys, new_values = [], []
        for layer, block in enumerate(self.decoder):
            normed = block.self_norm(x)
            key, value = block.self_key_value(normed).chunk(2, dim=-1)
            keys = torch.cat([state.keys[:, layer], key], dim=1)
            values = torch.cat([state.values[:, layer], value], dim=1)
            new_keys.append(keys)
            new_values.append(values)
            mixed = block.attend(block.self_query(normed), keys, values, None)
            x = x + block._drop(block.self_output(mixed))
            query = block.cross_query(block.cross_norm(x))
            mixed = block.attend(query, memory.keys[:, layer], memory.values[:, layer], visible)
            x = block.feed_forward(x + block._drop(block.cross_output(mixed)))
        logits = self.output(self.decoder_norm(x))[:, 0]
        return logits, KVCache(torch.stack(new_keys, dim=1), torch.stack(new_values, dim=1))

    def decode(self, memory: TransformerMemory, inputs: Tensor) -> Tensor:
        """The logits [B, T, A] after each of `inputs` (int64 [B, T], `bos_id` first), all
        positions at once with a causal mask: what T steps from initial_state compute, without
        a cache (teacher forcing in one pass, and the recomputation that checks the cache)."""
        steps = inputs.shape[1]
        x = self.target_embedding(inputs) * math.sqrt(self.d_model)
        x = F.dropout(x + self._positions(0, steps, x), self.dropout, self.training)
        causal = torch.ones(steps, steps, dtype=torch.bool, device=x.device).tril()[None]
        source = torch.arange(memory.outputs.shape[1], device=x.device)
        visible = (source < memory.lengths[:, None])[:, None, :]
        for layer, block in enumerate(self.decoder):
            normed = block.self_norm(x)
            keys, values = block.self_key_value(normed).chunk(2, dim=-1)
            mixed = block.attend(block.self_query(normed), keys, values, causal)
            x = x + block._drop(block.self_output(mixed))
            query = block.cross_query(block.cross_norm(x))
            mixed = block.attend(query, memory.keys[:, layer], memory.values[:, layer], visible)
            x = block.feed_forward(x + block._drop(block.cross_output(mixed)))
        return self.output(self.decoder_norm(x))
