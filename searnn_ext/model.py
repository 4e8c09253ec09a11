"""Seq2Seq: the encoder-decoder RNNs of the paper's three tasks (GRUs, or LSTMs: see
searnn_ext.cells). It implements the step protocol of searnn_ext.decoding (encode,
initial_state, step), which roll-ins, roll-outs and evaluation are written against; Memory and
DecoderState are importable from here too."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from searnn_ext import rollin
from searnn_ext.cells import CELLS
from searnn_ext.decoding import DecoderState, Memory


class Seq2Seq(nn.Module):
    """GRU (or LSTM) encoder (token streams or dense features, optionally bidirectional) and a
    decoder of the same cell (optional additive attention and input feeding) over
    `target_vocab` output tokens.

    Args:
        target_vocab: A, the number of output tokens. The decoder's first input is `bos_id` = A,
            an extra embedding row that is never predicted.
        source_vocab: int, or a tuple of ints with one vocabulary per input stream (`src` is
            then int64 [B, S, streams]); their embeddings are concatenated.
        source_features: F, for dense inputs (`src` float [B, S, F]). Exactly one of
            `source_vocab` and `source_features`.
        hidden_size: H of every recurrent layer (per direction in the encoder).
        embedding_size: size of every token embedding (default: hidden_size).
        num_layers: layers of the encoder and of the decoder.
        bidirectional: a bidirectional encoder; its final states are projected to H.
        attention: None or "additive" (Bahdanau), with source-length masking.
        input_feeding: feed the previous attentional vector to the decoder (Luong); needs
            attention.
        dropout: between recurrent layers and on the attention output.
        eos_id: the end-of-sequence token of EOS-terminated tasks; None for fixed-length tasks,
            whose output has the target's length.
        cell: "gru" (the paper's) or "lstm". An LSTM's state is its hidden and cell vectors
            side by side: DecoderState.hidden and Memory.final are [L, B, 2H].
    """

    def __init__(
        self,
        *,
        target_vocab: int,
        source_vocab: int | tuple[int, ...] | None = None,
        source_features: int | None = None,
        hidden_size: int = 128,
        embedding_size: int | None = None,
        num_layers: int = 1,
        bidirectional: bool = False,
        attention: str | None = None,
        input_feeding: bool = False,
        dropout: float = 0.0,
        eos_id: int | None = None,
        cell: str = "gru",
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"Seq2Seq: cell must be one of {tuple(CELLS)}, got {cell!r}")
        if (source_vocab is None) == (source_features is None):
            raise ValueError("Seq2Seq: give exactly one of source_vocab and source_features")
        if target_vocab < 1:
            raise ValueError(f"Seq2Seq: target_vocab must be positive, got {target_vocab}")
        if attention not in (None, "additive"):
            raise ValueError(f"Seq2Seq: attention must be None or 'additive', got {attention!r}")
        if input_feeding and attention is None:
            raise ValueError(
                "Seq2Seq: input_feeding feeds the attentional vector; it needs attention"
            )
        if eos_id is not None and not 0 <= eos_id < target_vocab:
            raise ValueError(f"Seq2Seq: eos_id must be in [0, {target_vocab}), got {eos_id}")
        if num_layers < 1:
            raise ValueError(f"Seq2Seq: num_layers must be at least 1, got {num_layers}")
        embedding_size = embedding_size or hidden_size
        self.target_vocab = target_vocab
        self.bos_id = target_vocab
        self.eos_id = eos_id
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.attention = attention
        self.input_feeding = input_feeding
        self.dropout = dropout
        self.cell = cell
        record = CELLS[cell]

        if source_features is not None:
            self.source_embeddings = nn.ModuleList()
            encoder_input = source_features
        else:
            vocabs = (source_vocab,) if isinstance(source_vocab, int) else tuple(source_vocab)
            self.source_embeddings = nn.ModuleList(nn.Embedding(v, embedding_size) for v in vocabs)
            encoder_input = embedding_size * len(vocabs)
        self.encoder = record.encoder(
            encoder_input,
            hidden_size,
            num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        directions = 2 if bidirectional else 1
        self.bridge = nn.Linear(directions * hidden_size, hidden_size) if bidirectional else None
        # An LSTM's cell vectors are bridged by their own projection.
        self.cell_bridge = (
            nn.Linear(directions * hidden_size, hidden_size)
            if bidirectional and cell == "lstm"
            else None
        )

        self.target_embedding = nn.Embedding(target_vocab + 1, embedding_size)
        decoder_input = embedding_size + (hidden_size if input_feeding else 0)
        self.decoder = nn.ModuleList(
            record.layer(decoder_input if layer == 0 else hidden_size, hidden_size)
            for layer in range(num_layers)
        )
        if attention is not None:
            memory_size = directions * hidden_size
            self.attention_keys = nn.Linear(memory_size, hidden_size)
            self.attention_query = nn.Linear(hidden_size, hidden_size, bias=False)
            self.attention_score = nn.Linear(hidden_size, 1, bias=False)
            self.attention_output = nn.Linear(hidden_size + memory_size, hidden_size)
        self.output = nn.Linear(hidden_size, target_vocab)

    def encode(self, src: Tensor, src_lengths: Tensor) -> Memory:
        """src: int64 [B, S] / [B, S, streams] token ids, or float [B, S, F] features;
        src_lengths: [B], each in [1, S]."""
        if self.source_embeddings:
            streams = src.unsqueeze(-1) if src.dim() == 2 else src
            if streams.shape[-1] != len(self.source_embeddings):
                raise ValueError(
                    f"Seq2Seq.encode: src has {streams.shape[-1]} streams, the model "
                    f"{len(self.source_embeddings)}"
                )
            inputs = torch.cat(
                [emb(streams[..., i]) for i, emb in enumerate(self.source_embeddings)], dim=-1
            )
        else:
            inputs = src
        lengths = src_lengths.long()
        packed = nn.utils.rnn.pack_padded_sequence(
            inputs, lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        packed_outputs, final = self.encoder(packed)
        outputs, _ = nn.utils.rnn.pad_packed_sequence(
            packed_outputs, batch_first=True, total_length=inputs.shape[1]
        )
        if self.cell == "gru":
            final = self._bridged(final, self.bridge, torch.tanh)
        else:
            hidden, cells = final
            hidden = self._bridged(hidden, self.bridge, torch.tanh)
            final = torch.cat([hidden, self._bridged(cells, self.cell_bridge, None)], dim=-1)
        keys = self.attention_keys(outputs) if self.attention else None
        return Memory(outputs, keys, lengths, final)

    def _bridged(self, final: Tensor, bridge: nn.Linear | None, squash) -> Tensor:
        """An encoder's final states [L * directions, B, H] as the decoder's [L, B, H]: a
        bidirectional encoder's two directions projected to one."""
        if bridge is None:
            return final
        layers, batch = self.num_layers, final.shape[1]
        both = final.view(layers, 2, batch, self.hidden_size).transpose(1, 2)
        projected = bridge(both.reshape(layers, batch, 2 * self.hidden_size))
        return projected if squash is None else squash(projected)

    def initial_state(self, memory: Memory) -> DecoderState:
        feed = None
        if self.input_feeding:
            feed = memory.final.new_zeros((memory.final.shape[1], self.hidden_size))
        return DecoderState(memory.final, feed)

    def step(
        self, prev_tokens: Tensor, state: DecoderState, memory: Memory
    ) -> tuple[Tensor, DecoderState]:
        """One decoder step for every row: prev_tokens int64 [B] (`bos_id` first) ->
        logits [B, A] over the next token, and the new state."""
        inputs = self.target_embedding(prev_tokens)
        if self.input_feeding:
            inputs = torch.cat([inputs, state.feed], dim=-1)
        record, hidden = CELLS[self.cell], []
        for layer, module in enumerate(self.decoder):
            if layer > 0:
                inputs = F.dropout(inputs, self.dropout, self.training)
            hidden.append(record.advance(module, inputs, state.hidden[layer]))
            inputs = record.output(hidden[-1])
        output = inputs
        feed = None
        if self.attention:
            context = self.attend(output, memory)
            output = torch.tanh(self.attention_output(torch.cat([output, context], dim=-1)))
            output = F.dropout(output, self.dropout, self.training)
            feed = output if self.input_feeding else None
        return self.output(output), DecoderState(torch.stack(hidden), feed)

    def attend(self, query: Tensor, memory: Memory) -> Tensor:
        """Additive attention: context [B, D] of query [B, H] over the source positions."""
        energy = torch.tanh(memory.keys + self.attention_query(query).unsqueeze(1))
        scores = self.attention_score(energy).squeeze(-1)
        positions = torch.arange(scores.shape[1], device=scores.device)
        scores = scores.masked_fill(positions >= memory.lengths[:, None], float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        return torch.bmm(weights.unsqueeze(1), memory.outputs).squeeze(1)

    def roll_in(
        self, memory: Memory, target: Tensor, target_lengths: Tensor, **options
    ) -> rollin.RollIn:
        """The roll-in trajectory; options and result as in :func:`searnn_ext.rollin.roll_in`."""
        return rollin.roll_in(self, memory, target, target_lengths, **options)
