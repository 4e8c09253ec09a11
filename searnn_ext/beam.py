"""Beam search decoding: the `beam` output sequences of highest total log-probability
(no length normalisation) kept at every step; the best at the end is the result. Fixed-length
tasks decode each row's source length; EOS tasks end a hypothesis at its first EOS."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from searnn_ext.decoding import select_rows, tokens_before_eos
from searnn_ext.model import Seq2Seq


@torch.no_grad()
def beam_search(
    model: Seq2Seq, src: Tensor, src_lengths: Tensor, output_width: int, beam: int
) -> tuple[Tensor, Tensor]:
    """Like greedy_outputs: tokens int64 [B, W] and their counts [B] (EOS excluded); beam=1
    is greedy decoding."""
    if beam < 1:
        raise ValueError(f"beam_search: beam must be positive, got {beam}")
    batch, vocab, device = src.shape[0], model.target_vocab, src.device
    memory = select_rows(
        model.encode(src, src_lengths), torch.arange(batch, device=device).repeat_interleave(beam)
    )
    state = model.initial_state(memory)
    prev = torch.full((batch * beam,), model.bos_id, dtype=torch.long, device=device)
    scores = torch.full((batch, beam), float("-inf"), device=device)
    scores[:, 0] = 0.0  # one live hypothesis at first, so the beam holds no duplicates
    tokens = torch.zeros((batch, beam, 0), dtype=torch.long, device=device)
    ended = torch.zeros((batch, beam), dtype=torch.bool, device=device)
    fixed_lengths = src_lengths.long().clamp(max=output_width)
    # An ended hypothesis (or a fixed-length row past its length) only repeats `filler`, free.
    filler = model.eos_id if model.eos_id is not None else 0
    only_filler = torch.full((vocab,), float("-inf"), device=device)
    only_filler[filler] = 0.0
    rows = torch.arange(batch, device=device)[:, None] * beam
    for t in range(output_width):
        logits, state = model.step(prev, state, memory)
        log_probs = F.log_softmax(logits.float(), dim=-1).view(batch, beam, vocab)
        if model.eos_id is None:
            ended = (t >= fixed_lengths)[:, None].expand(batch, beam)
        log_probs = torch.where(ended[..., None], only_filler, log_probs)
        scores, best = (scores[..., None] + log_probs).flatten(1).topk(beam, dim=1)
        origin, token = best // vocab, best % vocab
        tokens = torch.cat(
            [tokens.gather(1, origin[..., None].expand(-1, -1, t)), token[..., None]], 2
        )
        if model.eos_id is not None:
            ended = ended.gather(1, origin) | (token == model.eos_id)
        state = select_rows(state, (rows + origin).flatten())
        prev = token.flatten()
    best_tokens = tokens[torch.arange(batch, device=device), scores.argmax(1)]
    if model.eos_id is None:
        return best_tokens, fixed_lengths
    return best_tokens, tokens_before_eos(best_tokens, model.eos_id)
